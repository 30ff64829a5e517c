package ingest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkIngestCSV ingests the tiny lake's day of jar telemetry (311 K
// rows at 1 min, one site) from CSV into a lake holding its master data:
// rows/s of the whole path (parse, validate, sort, merge, write, commit).
func BenchmarkIngestCSV(b *testing.B) {
	src := synthLake(b)
	dir := b.TempDir()
	csv := filepath.Join(dir, "jar.csv")
	n := exportCSV(b, src, "telemetry_jar_raw", csv)
	fi, _ := os.Stat(csv)
	b.SetBytes(fi.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst := filepath.Join(dir, "lake", string(rune('a'+i%26)))
		os.RemoveAll(dst)
		copyDir(b, src, dst, "battery")
		b.StartTimer()
		s, err := Run(b.Context(), Config{Lake: dst, Table: "telemetry_jar_raw", Source: csv})
		if err != nil || s.Accepted != int64(n) {
			b.Fatal(err, s)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func copyDir(t testing.TB, src, dst, sub string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(src, sub), filepath.Join(dst, sub)).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

// BenchmarkIngestFile ingests $INGEST_BENCH_CSV (jar telemetry) into a
// fresh copy of $INGEST_BENCH_LAKE's battery table (for profiling at scale).
func BenchmarkIngestFile(b *testing.B) {
	csv, src := os.Getenv("INGEST_BENCH_CSV"), os.Getenv("INGEST_BENCH_LAKE")
	if csv == "" || src == "" {
		b.Skip("INGEST_BENCH_CSV and INGEST_BENCH_LAKE not set")
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst := filepath.Join(b.TempDir(), "lake")
		copyDir(b, src, dst, "battery")
		b.StartTimer()
		s, err := Run(b.Context(), Config{Lake: dst, Table: "telemetry_jar_raw", Source: csv})
		if err != nil || s.Rejected != 0 {
			b.Fatal(err, s)
		}
		b.ReportMetric(float64(s.Rows)/b.Elapsed().Seconds(), "rows/s")
	}
}
