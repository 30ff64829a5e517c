package ingest

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/schema"
)

var (
	synthOnce sync.Once
	synthDir  string
	synthErr  error
)

// synthLake is a tiny synthetic lake (one site, one day at 1 min, master
// and telemetry), built once per test binary.
func synthLake(t testing.TB) string {
	t.Helper()
	synthOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ingest-synth-")
		if err != nil {
			synthErr = err
			return
		}
		sc := jobs.DefaultScenario()
		sc.Sites = []string{"DC-BKK-01"}
		d, _ := jobs.ParseDate("2026-10-25")
		sc.Start, sc.DetailFrom = d, jobs.Date{}
		sc.End = jobs.Date{Time: d.AddDate(0, 0, 1)}
		sc.SampleInterval = jobs.Duration{Duration: time.Minute}
		_, synthErr = jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 8, Stages: []string{"master", "telemetry", "transactions"}, Workers: 2})
		synthDir = dir
	})
	if synthErr != nil {
		t.Fatal(synthErr)
	}
	return synthDir
}

func openLake(t testing.TB, dir string) *lake.Lake {
	t.Helper()
	lk, err := pipeline.OpenLake(t.Context(), dir, pipeline.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lk.Store.Close() })
	return lk
}

// exportCSV writes every row of table from the lake at dir as CSV per the
// package contract (header in schema order).
func exportCSV(t testing.TB, dir, table, out string) int {
	t.Helper()
	tb := schema.MustLookup(table)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i, c := range tb.Columns {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(c.Name)
	}
	w.WriteByte('\n')
	n := 0
	var line []byte
	err = readTable(t.Context(), openLake(t, dir), tb, func(_ lake.Partition, _ string, vals []val) error {
		line = line[:0]
		for i := range vals {
			if i > 0 {
				line = append(line, ',')
			}
			line = formatVal(line, &tb.Columns[i], &vals[i])
		}
		line = append(line, '\n')
		_, err := w.Write(line)
		n++
		return err
	})
	if err := errors.Join(err, w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExportForMeasurement writes a table of the lake at $INGEST_EXPORT_LAKE
// to $INGEST_EXPORT_CSV (a helper for measuring the command by hand).
func TestExportForMeasurement(t *testing.T) {
	dir, out := os.Getenv("INGEST_EXPORT_LAKE"), os.Getenv("INGEST_EXPORT_CSV")
	if dir == "" || out == "" {
		t.Skip("INGEST_EXPORT_LAKE and INGEST_EXPORT_CSV not set")
	}
	t.Logf("%d rows", exportCSV(t, dir, "telemetry_jar_raw", out))
}

var masterOrder = []string{"location", "battery_model", "battery_system", "string", "battery", "environmental_sensor", "user"}

func ingestOK(t *testing.T, cfg Config) Summary {
	t.Helper()
	if cfg.Now.IsZero() {
		cfg.Now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	}
	cfg.Workers = 2
	s, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("ingest %s from %s: %v", cfg.Table, cfg.Source, err)
	}
	return s
}

// TestRoundTripBytes exports the synthetic master data and jar telemetry
// to CSV, ingests them into an empty lake, and expects the very same
// Parquet bytes as the synthesizer's (same sort, writer and settings). A
// blob parent is checked after its samples are loaded (until then its
// URLs are NULL: the objects are in the other lake).
func TestRoundTripBytes(t *testing.T) {
	src := synthLake(t)
	dst := t.TempDir()
	if os.Getenv("KEEP") != "" {
		dst, _ = os.MkdirTemp("", "keep")
	}
	t.Logf("src %s dst %s", src, dst)
	csvDir := t.TempDir()
	for _, table := range append(append([]string{}, masterOrder...), "telemetry_jar_raw", "telemetry_string_raw", "telemetry_env", "telemetry_event_window", "event_window_sample", "ripple_capture", "maintenance_event", "capacity_test_raw", "capacity_test_curve", "impedance_measurement_raw", "audit_log") {
		path := filepath.Join(csvDir, table+".csv")
		tb := schema.MustLookup(table)
		var n int
		if tb.Blob() != nil {
			n = len(exportBlobCSV(t, src, table, path)) - 1
		} else {
			n = exportCSV(t, src, table, path)
		}
		s := ingestOK(t, Config{Lake: dst, Table: table, Source: path})
		if s.Rows != int64(n) || s.Accepted != int64(n) || s.Rejected != 0 {
			t.Fatalf("%s: %d rows exported, summary %+v", table, n, s)
		}
		switch {
		case tb.Blob() != nil:
			checkSameData(t, src, dst, tb.Blob().Parent)
		case blobParentOf(tb) == nil:
			checkSameData(t, src, dst, table)
		}
		if os.Getenv("KEEP") != "" && table == "string" {
			t.Fatal("stop")
		}
	}
}

// checkSameData compares table in two lakes: the same rows, and for the
// time series and master data (which the synthesizer writes in SortBy
// order) the same bytes, blob objects included. Transactional files are
// written in the fleet's order, not SortBy order, so only their rows can
// match.
func checkSameData(t *testing.T, a, b, table string) {
	t.Helper()
	tb := schema.MustLookup(table)
	rows := func(dir string) []string {
		var out []string
		if err := readTable(t.Context(), openLake(t, dir), tb, func(_ lake.Partition, _ string, v []val) error {
			out = append(out, formatRecord(tb, v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	ra, rb := rows(a), rows(b)
	if !slices.Equal(ra, rb) {
		t.Errorf("%s: rows differ: %d synthesized, %d ingested", table, len(ra), len(rb))
	}
	if tb.Class != schema.ClassMaster && (tb.Partition.MonthOf == "" || !daySegmented(tb)) {
		return
	}
	pa, err := openLake(t, a).Partitions(t.Context(), tb)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := openLake(t, b).Partitions(t.Context(), tb)
	if err != nil {
		t.Fatal(err)
	}
	files := func(ps []lake.Committed) map[string]string {
		m := map[string]string{}
		for _, p := range ps {
			for _, f := range p.Manifest.Files {
				if f.Rows > 0 && (f.Role == "data" || f.Role == "blob") {
					m[f.Key] = f.SHA256
				}
			}
		}
		return m
	}
	fa, fb := files(pa), files(pb)
	if len(fa) != len(fb) || len(fa) == 0 {
		t.Errorf("%s: %d non-empty files synthesized, %d ingested", table, len(fa), len(fb))
	}
	for k, h := range fa {
		if fb[k] != h {
			t.Errorf("%s: %s differs (synth %s, ingested %.12s)", table, k, h[:12], fb[k])
		}
	}
}

func mustUUID(s string) [16]byte {
	u, fe := parseUUID([]byte(s))
	if fe != nil {
		panic(fe.msg)
	}
	return u
}

// TestSpilledRunsGiveTheSameBytes: with rows out of order (so no segment
// streams presorted) and a buffer far smaller than the input, records go
// through sorted run files and the k-way merge (and the lake's current
// rows too): the files equal the synthesizer's, and a rerun over the
// lake's rows changes nothing.
func TestSpilledRunsGiveTheSameBytes(t *testing.T) {
	src := synthLake(t)
	dst := t.TempDir()
	copyDir(t, src, dst, "battery")
	header, byBucket := jarLines(t)
	var all []string
	for _, ls := range byBucket {
		all = append(all, ls...)
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	path, n := writeLines(t, header, all), len(all)
	tmpDir := t.TempDir()
	cfg := Config{Lake: dst, Table: "telemetry_jar_raw", Source: path, MemoryRows: 20000, Workers: 2, Now: pinnedNow, TempDir: tmpDir}
	s, err := Run(t.Context(), cfg)
	if err != nil || s.Accepted != int64(n) || s.Presorted != 0 {
		t.Fatal(err, s)
	}
	checkSameData(t, src, dst, "telemetry_jar_raw")
	s, err = Run(t.Context(), cfg)
	if err != nil || !s.Unchanged || s.Accepted != int64(n) {
		t.Fatalf("rerun with spills: %v %+v", err, s)
	}
	// Run files and staged outputs are removed.
	if left, _ := os.ReadDir(tmpDir); len(left) != 0 {
		t.Errorf("%d temp entries left behind", len(left))
	}
}
