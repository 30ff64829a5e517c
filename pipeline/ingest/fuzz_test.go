package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/battlake/battlake/schema"
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

// FuzzCSVParse is the parse and validation layer alone (no lake I/O), so
// it runs thousands of inputs a second: the quote-aware splitter, record
// ends, field splitting, every value parser and the row checks of a
// telemetry table with an enum, decimals, booleans and a bucketed key.
// Every record is counted once: buffered for the merge or rejected.
func FuzzCSVParse(f *testing.F) {
	hdr := "ts,string_id,voltage_v,current_a,mode,ripple_voltage_rms_v,ripple_current_rms_a,equalize_flag,generator_test_flag,transfer_event_flag\n"
	f.Add([]byte(hdr+"2026-10-26T00:00:00Z,a5593ae5-fee9-52a9-9b3f-d9240bad16b8,327.40,0.512,float,0.120,1.200,false,false,false\n"), 1)
	f.Add([]byte("\ufeff"+hdr+"2026-10-26T07:00:00+07:00,a5593ae5-fee9-52a9-9b3f-d9240bad16b8,327.4,-1.5,\"float\",,,true,0,1\r\n"), 2)
	f.Add([]byte(hdr+"2026-10-26T00:00:00.123456789Z,A5593AE5-FEE9-52A9-9B3F-D9240BAD16B8,1e2,NaN,idle,0,0,TRUE,f,t\n\"x\ny\",2"), 3)
	f.Fuzz(func(t *testing.T, data []byte, workers int) {
		tb := schema.MustLookup("telemetry_string_raw")
		cfg := Config{Workers: 1 + (workers&3)%2, MemoryRows: 64, TempDir: t.TempDir(), Now: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)}
		e := newEngine(cfg, tb)
		e.fast = nil // no lake here: every record goes to the sorted runs (FuzzIngest covers the fast path)
		defer e.out.cleanup()
		defer e.rej.cleanup()
		e.fkSets = map[int]map[[16]byte]struct{}{}
		e.files = []srcFile{{name: "fuzz.csv", format: "csv", open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}}}
		e.hashes = make([]string, 1)
		if err := e.readFile(t.Context(), 0); err != nil {
			if errors.Is(err, ErrHeader) {
				return
			}
			t.Fatalf("parse failed on malformed input: %v", err)
		}
		var buffered int64
		for _, k := range e.out.keys() {
			m, err := e.out.openMerge(k)
			if err != nil {
				t.Fatal(err)
			}
			for {
				r, err := m.next()
				if err != nil {
					break
				}
				vals := make([]val, len(tb.Columns))
				e.c.decode(r, vals)
				buffered++
			}
			m.close()
		}
		if buffered+e.rejected.Load() != e.rows.Load() {
			t.Fatalf("buffered %d + rejected %d != rows %d", buffered, e.rejected.Load(), e.rows.Load())
		}
	})
}
