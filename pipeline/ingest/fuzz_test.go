package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzCSV feeds arbitrary bytes as a location export (enum, decimals,
// dates, timestamps, booleans, text) into an empty lake: ingest must never
// panic, fail only on an unusable header, and account for every row.
func FuzzCSV(f *testing.F) {
	hdr := "location_id,location_code,location_name,region,city,latitude,longitude,timezone,commissioned_date,is_active,created_at,updated_at\n"
	good := "0af1ce57-9d12-5ac0-b45a-5054fa862f18,DC-BKK-01,\"Bangrak, Data Center\",central,Bangkok,13.7246000,100.5296000,Asia/Bangkok,2016-04-01,true,2016-04-01T00:00:00,2016-04-01T00:00:00\n"
	f.Add([]byte(hdr + good))
	f.Add([]byte("\ufeff" + hdr + good + good))
	f.Add([]byte(hdr + "0af1ce57-9d12-5ac0-b45a-5054fa862f18,DC-BKK-01,\"multi\nline \"\"name\"\"\",central,Bangkok,,,Asia/Bangkok,,,2016-04-01T00:00:00,2016-04-01T00:00:00\r\n"))
	f.Add([]byte(hdr + "0af1ce57-9d12-5ac0-b45a-5054fa862f18,DC,\"unterminated"))
	f.Add([]byte(hdr + "x,y,z\n,,,,,,,,,,,\n\n"))
	f.Add([]byte("\"a\"b,c\n1,2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		src := filepath.Join(dir, "in.csv")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Run(t.Context(), Config{Lake: filepath.Join(dir, "lake"), Table: "location", Source: src, Workers: 2, MemoryRows: 4,
			Now: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC), TempDir: dir})
		if err != nil {
			if errors.Is(err, ErrHeader) {
				return
			}
			t.Fatalf("ingest failed on malformed input: %v", err)
		}
		if s.Accepted+s.Rejected != s.Rows {
			t.Fatalf("accepted %d + rejected %d != rows %d (%v)", s.Accepted, s.Rejected, s.Rows, s.ByReason)
		}
	})
}
