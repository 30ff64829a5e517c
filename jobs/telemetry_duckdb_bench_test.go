package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/internal/benchutil"
	"github.com/battlake/battlake/pipeline/lake"
)

// BenchmarkTelemetryStageVsDuckDB races the whole telemetry stage (every
// table it writes, the truth and the event-window sample blobs included)
// for one fleet-day at 5 s against DuckDB writing the same rows: each
// table's files are read back into an in-memory DuckDB table (untimed),
// then `COPY t TO 'x.parquet' (FORMAT parquet)` is timed for every table,
// once with DuckDB's default compression (Snappy) and once with ZSTD, as
// ours. DuckDB runs with `SET threads` = GOMAXPROCS, like our workers. It
// logs a line per table and reports both totals and their ratios in wall
// time and in process CPU time (the stage and DuckDB run in this process,
// one after the other; on a shared machine CPU time is the steadier
// figure), rows/s and bytes/row. BENCH_SITES (comma-separated codes)
// shrinks the fleet.
//
// Two runs of the stage are raced:
//   - fresh: the fleet-day into an empty lake (master data only), which
//     also writes the hidden daily truth of every battery back to the
//     fleet's first installation (5.7 M rows, 169 month partitions): a
//     lake's first run;
//   - daily: the next day into the lake that holds the previous one, as a
//     scheduled daily run does: it writes the day's files and rewrites the
//     truth's current month, and skips every partition whose inputs did
//     not change. DuckDB copies exactly the files that run wrote.
func BenchmarkTelemetryStageVsDuckDB(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	db, exec := openDuckDB(b)
	exec(fmt.Sprintf("SET threads = %d", workers))
	exec("SET preserve_insertion_order = true") // the default, stated: rows stay in our order
	b.Run("fresh", func(b *testing.B) {
		var best raceResult
		for i := 0; i < b.N; i++ {
			dir := b.TempDir()
			best.keepBest(raceTelemetryStage(b, db, exec, dir, fleetDayScenario(), nil))
		}
		best.report(b)
	})
	b.Run("daily", func(b *testing.B) {
		var best raceResult
		for i := 0; i < b.N; i++ {
			dir := b.TempDir()
			prev := fleetDayScenario()
			if _, err := Run(context.Background(), RunConfig{Lake: dir, Scenario: prev, Seed: DefaultSeed, Stages: []string{"master", "telemetry"}, Workers: workers}); err != nil {
				b.Fatal(err)
			}
			sc := prev
			sc.Start, sc.End = Date{prev.Start.AddDate(0, 0, 1)}, Date{prev.End.AddDate(0, 0, 1)}
			best.keepBest(raceTelemetryStage(b, db, exec, dir, sc, snapshotFiles(b, dir)))
		}
		best.report(b)
	})
}

// raceTelemetryStage runs the telemetry stage of sc on the lake in dir and
// DuckDB's COPY of the rows it wrote: the files not in before (new, or
// rewritten: another size or time), or every file when before is nil.
func raceTelemetryStage(b *testing.B, db *sql.DB, exec func(string) time.Duration, dir string, sc Scenario, before map[string]fileStamp) raceResult {
	workers := runtime.GOMAXPROCS(0)
	start, cpu0 := time.Now(), benchutil.CPUTime()
	sum, err := Run(context.Background(), RunConfig{Lake: dir, Scenario: sc, Seed: DefaultSeed, Stages: []string{"telemetry"}, Workers: workers, Force: before == nil})
	ours, oursCPU := time.Since(start), benchutil.CPUTime()-cpu0
	if err != nil {
		b.Fatal(err)
	}
	tables := map[string]int64{} // rows written, by table
	var rows, tableBytes int64
	var skipped int
	for _, t := range sum.Tables {
		if t.Segments == 0 {
			skipped += t.Skipped
			continue
		}
		tables[t.Table] = t.Rows
		rows += t.Rows
		tableBytes += t.Bytes
		skipped += t.Skipped
	}
	files := telemetryFiles(b, dir)
	if before != nil {
		after := snapshotFiles(b, dir)
		for name, list := range files {
			files[name] = slices.DeleteFunc(list, func(p string) bool { st, ok := before[p]; return ok && st == after[p] })
			if len(files[name]) == 0 {
				delete(files, name)
			}
		}
	}
	for name := range tables {
		if len(files[name]) == 0 {
			b.Fatalf("no files of %s written under %s", name, dir)
		}
	}
	out := b.TempDir()
	var snappy, zstd, snappyCPU, zstdCPU time.Duration
	var duckRows, blobBytes int64
	for _, name := range sortedKeys(files) {
		list := "['" + strings.Join(files[name], "','") + "']"
		exec(fmt.Sprintf("CREATE OR REPLACE TABLE t AS SELECT * FROM read_parquet(%s, hive_partitioning = false)", list))
		var n int64
		if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
			b.Fatal(err)
		}
		want, ok := tables[name]
		switch {
		case ok && n != want:
			b.Fatalf("%s: DuckDB loaded %d rows, the run wrote %d", name, n, want)
		case !ok && name != "event_window_sample":
			b.Fatalf("%s: files changed, but the run wrote no rows of it", name)
		case !ok:
			rows += n // the blobs' rows are not in the run's summary
			blobBytes += filesBytes(b, files[name])
		}
		duckRows += n
		c0 := benchutil.CPUTime()
		s := exec(fmt.Sprintf("COPY t TO '%s' (FORMAT parquet)", filepath.Join(out, name+".parquet")))
		c1 := benchutil.CPUTime()
		z := exec(fmt.Sprintf("COPY t TO '%s' (FORMAT parquet, COMPRESSION zstd)", filepath.Join(out, name+".zstd.parquet")))
		snappy, zstd = snappy+s, zstd+z
		snappyCPU, zstdCPU = snappyCPU+c1-c0, zstdCPU+benchutil.CPUTime()-c1
		b.Logf("%-24s %10d rows  duckdb snappy %6.2fs  zstd %6.2fs  (%.2f / %.2f bytes/row)", name, n, s.Seconds(), z.Seconds(),
			float64(fileSize(b, filepath.Join(out, name+".parquet")))/float64(max(n, 1)),
			float64(fileSize(b, filepath.Join(out, name+".zstd.parquet")))/float64(max(n, 1)))
		exec("DROP TABLE t")
	}
	if duckRows != rows {
		b.Fatalf("DuckDB copied %d rows, the stage wrote %d", duckRows, rows)
	}
	for _, t := range sum.Tables {
		b.Logf("ours %-24s %10d rows %11d bytes %6.2f bytes/row %6.2f task-s  (%d partitions skipped)", t.Table, t.Rows, t.Bytes, float64(t.Bytes)/float64(max(t.Rows, 1)), t.Seconds, t.Skipped)
		if t.Table == "telemetry_jar_raw" {
			b.ReportMetric(float64(t.Bytes)/float64(t.Rows), "jar_bytes/row")
		}
	}
	b.Logf("wall: telemetry stage %.2fs  duckdb COPY snappy %.2fs (ratio %.2f)  zstd %.2fs (ratio %.2f)  %d rows, %d partitions skipped",
		ours.Seconds(), snappy.Seconds(), ours.Seconds()/snappy.Seconds(), zstd.Seconds(), ours.Seconds()/zstd.Seconds(), rows, skipped)
	b.Logf("CPU:  telemetry stage %.2fs  duckdb COPY snappy %.2fs (ratio %.2f)  zstd %.2fs (ratio %.2f)",
		oursCPU.Seconds(), snappyCPU.Seconds(), oursCPU.Seconds()/snappyCPU.Seconds(), zstdCPU.Seconds(), oursCPU.Seconds()/zstdCPU.Seconds())
	return raceResult{ours, oursCPU, snappy, snappyCPU, zstd, zstdCPU, rows, tableBytes + blobBytes}
}

// raceResult is one race's times; over iterations (-benchtime Nx) the
// report keeps each side's fastest, so a machine whose load varies does
// not favour whichever side ran in a quiet moment.
type raceResult struct {
	ours, oursCPU, snappy, snappyCPU, zstd, zstdCPU time.Duration
	rows, bytes                                     int64
}

func (r *raceResult) keepBest(x raceResult) {
	if r.rows == 0 {
		*r = x
		return
	}
	r.ours, r.oursCPU = min(r.ours, x.ours), min(r.oursCPU, x.oursCPU)
	r.snappy, r.snappyCPU = min(r.snappy, x.snappy), min(r.snappyCPU, x.snappyCPU)
	r.zstd, r.zstdCPU = min(r.zstd, x.zstd), min(r.zstdCPU, x.zstdCPU)
}

func (r *raceResult) report(b *testing.B) {
	if b.N > 1 {
		b.Logf("best of %d: wall: telemetry stage %.2fs  duckdb COPY snappy %.2fs (ratio %.2f)  zstd %.2fs (ratio %.2f)", b.N,
			r.ours.Seconds(), r.snappy.Seconds(), r.ours.Seconds()/r.snappy.Seconds(), r.zstd.Seconds(), r.ours.Seconds()/r.zstd.Seconds())
		b.Logf("best of %d: CPU:  telemetry stage %.2fs  duckdb COPY snappy %.2fs (ratio %.2f)  zstd %.2fs (ratio %.2f)", b.N,
			r.oursCPU.Seconds(), r.snappyCPU.Seconds(), r.oursCPU.Seconds()/r.snappyCPU.Seconds(), r.zstdCPU.Seconds(), r.oursCPU.Seconds()/r.zstdCPU.Seconds())
	}
	b.ReportMetric(r.ours.Seconds(), "stage_s")
	b.ReportMetric(r.snappy.Seconds(), "duckdb_snappy_s")
	b.ReportMetric(r.zstd.Seconds(), "duckdb_zstd_s")
	b.ReportMetric(r.ours.Seconds()/r.snappy.Seconds(), "stage/duckdb_snappy")
	b.ReportMetric(r.ours.Seconds()/r.zstd.Seconds(), "stage/duckdb_zstd")
	b.ReportMetric(r.oursCPU.Seconds()/r.snappyCPU.Seconds(), "cpu_stage/duckdb_snappy")
	b.ReportMetric(r.oursCPU.Seconds()/r.zstdCPU.Seconds(), "cpu_stage/duckdb_zstd")
	b.ReportMetric(float64(r.rows)/r.ours.Seconds(), "rows/s")
	b.ReportMetric(float64(r.rows)/r.zstd.Seconds(), "duckdb_zstd_rows/s")
	b.ReportMetric(float64(r.bytes)/float64(r.rows), "bytes/row")
	b.ReportMetric(float64(r.rows), "rows")
}

// fileStamp tells a rewritten file from an untouched one.
type fileStamp struct {
	size int64
	mod  time.Time
}

func snapshotFiles(b *testing.B, dir string) map[string]fileStamp {
	out := map[string]fileStamp{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fileStamp{info.Size(), info.ModTime()}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// telemetryFiles lists the Parquet files under dir by table: a table's
// directory (under _truth/ for the hidden ones), and the event windows'
// sample blobs as event_window_sample. Staging, state and manifests are
// not rows.
func telemetryFiles(b *testing.B, dir string) map[string][]string {
	out := map[string][]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		switch {
		case parts[0] == lake.BlobArea && len(parts) > 1 && parts[1] == "telemetry_event_window":
			out["event_window_sample"] = append(out["event_window_sample"], p)
		case parts[0] == "_truth" && len(parts) > 1:
			out[parts[1]] = append(out[parts[1]], p)
		case !strings.HasPrefix(parts[0], "_"):
			out[parts[0]] = append(out[parts[0]], p)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func fileSize(b *testing.B, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

func filesBytes(b *testing.B, ps []string) int64 {
	var n int64
	for _, p := range ps {
		n += fileSize(b, p)
	}
	return n
}
