package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// TestParquetInput: a lake's own day file ingested back changes nothing;
// a Parquet export with other compatible types (millisecond timestamps,
// string UUIDs, DOUBLE measurements) lands like its CSV text would.
func TestParquetInput(t *testing.T) {
	dir := copyLake(t)
	tb := schema.MustLookup("telemetry_jar_raw")
	parts, err := openLake(t, dir).Partitions(t.Context(), tb)
	if err != nil || len(parts) == 0 {
		t.Fatal(err, len(parts))
	}
	var key string
	for _, f := range parts[0].Manifest.Files {
		if f.Role == "data" && f.Rows > 0 {
			key = f.Key
		}
	}
	before := dirHashes(t, dir)
	s := ingestOK(t, Config{Lake: dir, Table: tb.Name, Source: filepath.Join(dir, key)})
	if !s.Unchanged || s.Rejected != 0 || s.Accepted == 0 || s.Accepted != s.Rows {
		t.Errorf("own file back: %+v, want every row accepted and nothing written", s)
	}
	if !sameHashes(before, dirHashes(t, dir)) {
		t.Error("ingesting the lake's own file changed the lake")
	}

	type exportRow struct {
		TS        time.Time `parquet:"ts,timestamp(millisecond)"`
		BatteryID string    `parquet:"battery_id"`
		VoltageV  float64   `parquet:"voltage_v"`
		TempC     *float64  `parquet:"temperature_c,optional"`
	}
	temp := 22.5
	rows := []exportRow{
		{time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC), "102c7af1-4f7f-51de-963a-f1e38dd3ba09", 13.68, &temp},
		{time.Date(2026, 10, 28, 0, 0, 5, 0, time.UTC), "102c7af1-4f7f-51de-963a-f1e38dd3ba09", 13.6805, nil},
		{time.Date(2026, 10, 28, 0, 0, 10, 0, time.UTC), "not-a-uuid", 13.68, nil},
	}
	path := filepath.Join(t.TempDir(), "export.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := parquet.Write(f, rows); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s = ingestOK(t, Config{Lake: dir, Table: tb.Name, Source: path, Now: pinnedNow})
	if s.Rows != 3 || s.Accepted != 1 || s.Rejected != 2 || s.ByReason[ReasonDecimal] != 1 || s.ByReason[ReasonType] != 1 {
		t.Fatalf("summary %+v", s)
	}
	got := rowsOf(t, dir, tb.Name, "2026-10-28")
	if want := "2026-10-28T00:00:00Z,102c7af1-4f7f-51de-963a-f1e38dd3ba09,13.680,22.5,,"; len(got) != 1 || got[0] != want {
		t.Errorf("rows %v, want [%s]", got, want)
	}
	for _, r := range readRejects(t, dir) {
		if r.file == path && r.line == 3 && (r.column != "battery_id" || !strings.Contains(r.raw, "not-a-uuid")) {
			t.Errorf("reject of row 3: %+v", r)
		}
	}
}
