package export_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/battlake/battlake/internal/benchutil"
	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/export"
	"github.com/battlake/battlake/pipeline/ingest"
	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/schema"
)

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs fn once per b.N and reports rows/s (fn returns the rows it
// handled), CPU seconds per wall second (2 = both cores of this machine
// busy), rows per CPU second and the phase's peak RSS. CPU time is the
// whole process's: run the phases alone (no -cpu list, no other test).
func measure(b *testing.B, fn func() int64) {
	benchutil.ResetPeakRSS()
	cpu0 := cpuTime()
	var rows int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows = fn()
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(rows)/sec, "rows/s")
	cpu := (cpuTime() - cpu0).Seconds() / float64(b.N)
	b.ReportMetric(cpu/sec, "cpu/wall")
	b.ReportMetric(float64(rows)/cpu, "rows/cpu_s") // steadier than rows/s on a shared machine
	b.ReportMetric(float64(benchutil.PeakRSS())/(1<<20), "peakRSS_MB")
	b.ReportMetric(float64(rows), "rows")
}

// BenchmarkIngestFleetDayCSV races `battlake ingest` against DuckDB on one
// fleet-day of telemetry_jar_raw as CSV (the whole fleet at 5 s: 1,944 jars
// x 17,280 samples = 33.6 M rows, ~2.4 GB), on the same file and machine:
//
//   - export: battlake export of the day to the CSV file;
//   - ingest: ingest.Run of that file into a lake that already holds the
//     master data (parse, validate types, ranges, keys and foreign keys,
//     sort by battery and time, bucket, write Parquet, commit manifests);
//   - duckdb: DuckDB in this process, threads = GOMAXPROCS, COPY (SELECT *
//     FROM read_csv(file, columns = the registry's types)) TO one Parquet
//     file with ZSTD (the lake's codec): parse and write only, no
//     validation, sort or partitioning.
//
// Each reports rows/s, CPU/wall and peak RSS. BENCH_SITES (comma-separated
// codes) shrinks the fleet, BENCH_HOURS (1-24) keeps the day's first
// hours of the CSV. The setup (generation) is not timed.
func BenchmarkIngestFleetDayCSV(b *testing.B) {
	ctx := context.Background()
	sc := jobs.DefaultScenario()
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sc.Start, sc.End, sc.DetailFrom = jobs.Date{Time: day}, jobs.Date{Time: day.AddDate(0, 0, 1)}, jobs.Date{} // a detail day at 5 s
	if s := os.Getenv("BENCH_SITES"); s != "" {
		sc.Sites = strings.Split(s, ",")
	}
	hours := 24
	if v, err := strconv.Atoi(os.Getenv("BENCH_HOURS")); err == nil && v >= 1 && v <= 24 {
		hours = v
	}
	dir := b.TempDir()
	synth, masterOnly := filepath.Join(dir, "synth"), filepath.Join(dir, "master")
	for _, x := range []struct {
		dir    string
		stages []string
	}{{masterOnly, []string{"master"}}, {synth, []string{"master", "telemetry"}}} {
		if _, err := jobs.Run(ctx, jobs.RunConfig{Lake: x.dir, Scenario: sc, Seed: jobs.DefaultSeed, Stages: x.stages}); err != nil {
			b.Fatal(err)
		}
	}
	jar := schema.MustLookup("telemetry_jar_raw")
	src := openLake(b, synth)
	full := filepath.Join(dir, "jar-day.csv")
	var st export.Stats
	b.Run("export", func(b *testing.B) {
		measure(b, func() int64 {
			var err error
			if st, err = export.CSVFile(ctx, src, jar, full, export.Options{}); err != nil {
				b.Fatal(err)
			}
			return st.Rows
		})
	})
	if st.Rows == 0 { // -bench filtered the export out: make the file untimed
		var err error
		if st, err = export.CSVFile(ctx, src, jar, full, export.Options{}); err != nil || st.Rows == 0 {
			b.Fatalf("export: %d rows, %v", st.Rows, err)
		}
	}
	csvPath, rows := full, st.Rows
	if hours < 24 {
		csvPath = filepath.Join(dir, fmt.Sprintf("jar-%dh.csv", hours))
		var err error
		if rows, err = keepHours(full, csvPath, day.Add(time.Duration(hours)*time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	fi, err := os.Stat(csvPath)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %d rows, %.0f MB; GOMAXPROCS %d; load average %s", filepath.Base(csvPath), rows, float64(fi.Size())/1e6, runtime.GOMAXPROCS(0), loadAvg())

	b.Run("ingest", func(b *testing.B) {
		benchIngest(b, ctx, masterOnly, jar.Name, csvPath, func(sum ingest.Summary) {
			if sum.Accepted != rows || sum.Rejected != 0 {
				b.Fatalf("ingest accepted %d, rejected %d %v of %d rows", sum.Accepted, sum.Rejected, sum.ByReason, rows)
			}
		})
	})

	// The out-of-order path: the same rows with the day's hours in a
	// shuffled order (rows of one hour keep the export's order), as a
	// historian that flushes hour batches out of turn writes them. Every
	// segment falls back from the fast path at its first row out of order,
	// so the rows go through sorted runs spilled to disk and the k-way
	// merge.
	b.Run("ingest-shuffled", func(b *testing.B) {
		if hours < 2 {
			b.Skip("one hour has no hours to shuffle")
		}
		shuffled := filepath.Join(dir, "jar-shuffled.csv")
		if err := shuffleHours(csvPath, shuffled, 42); err != nil {
			b.Fatal(err)
		}
		benchIngest(b, ctx, masterOnly, jar.Name, shuffled, func(sum ingest.Summary) {
			if sum.Accepted != rows || sum.Rejected != 0 || sum.Presorted != 0 {
				b.Fatalf("ingest accepted %d, rejected %d %v of %d rows; %d segments presorted", sum.Accepted, sum.Rejected, sum.ByReason, rows, sum.Presorted)
			}
			b.Logf("segments fallen back to sorted runs: %d", sum.FellBack)
		})
	})

	b.Run("duckdb", func(b *testing.B) {
		db, err := lakecheck.Open()
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(fmt.Sprintf("SET threads TO %d", runtime.GOMAXPROCS(0))); err != nil {
			b.Fatal(err)
		}
		cols := make([]string, len(jar.Columns))
		for i, c := range jar.Columns {
			cols[i] = fmt.Sprintf("'%s': '%s'", c.Name, lakecheck.DuckType(c.Type))
		}
		out := filepath.Join(b.TempDir(), "x.parquet")
		q := fmt.Sprintf("COPY (SELECT * FROM read_csv('%s', header=true, columns={%s})) TO '%s' (FORMAT parquet, COMPRESSION zstd)",
			csvPath, strings.Join(cols, ", "), out)
		measure(b, func() int64 {
			res, err := db.Exec(q)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := res.RowsAffected()
			return n
		})
		if n := duckCount(b, db, out); n != rows {
			b.Fatalf("duckdb wrote %d rows, want %d", n, rows)
		}
	})
}

func duckCount(b *testing.B, db *sql.DB, path string) int64 {
	var n int64
	if err := db.QueryRow(fmt.Sprintf("SELECT count(*) FROM read_parquet('%s')", path)).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// keepHours copies the header and the rows of CSV file from whose ts (the
// first field, fixed-width RFC 3339) is before end into to.
func keepHours(from, to string, end time.Time) (int64, error) {
	in, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	limit := []byte(end.Format(time.RFC3339))
	var n int64
	for first := true; sc.Scan(); first = false {
		line := sc.Bytes()
		if !first {
			if len(line) < len(limit) || bytes.Compare(line[:len(limit)], limit) >= 0 {
				continue
			}
			n++
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	return n, w.Flush()
}

// shuffleHours writes the rows of CSV file from (header first) grouped by
// the hour of their ts (the first field) and the hours in an order
// shuffled by seed; rows of one hour keep their order. Each hour is
// staged in its own temporary file, so memory stays a buffer.
func shuffleHours(from, to string, seed int64) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.MkdirTemp(filepath.Dir(to), "hours-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	type hourFile struct {
		f *os.File
		w *bufio.Writer
	}
	hours := map[string]*hourFile{}
	var header []byte
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for first := true; sc.Scan(); first = false {
		line := sc.Bytes()
		if first {
			header = append([]byte(nil), line...)
			continue
		}
		if len(line) < 13 {
			return fmt.Errorf("shuffle %s: short line %q", from, line)
		}
		h := string(line[:13]) // 2026-01-01T05
		hf, ok := hours[h]
		if !ok {
			f, err := os.Create(filepath.Join(tmp, h))
			if err != nil {
				return err
			}
			defer f.Close()
			hf = &hourFile{f: f, w: bufio.NewWriterSize(f, 1<<20)}
			hours[h] = hf
		}
		hf.w.Write(line)
		hf.w.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	keys := make([]string, 0, len(hours))
	for h, hf := range hours {
		if err := hf.w.Flush(); err != nil {
			return err
		}
		keys = append(keys, h)
	}
	slices.Sort(keys)
	rand.New(rand.NewSource(seed)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := out.Write(append(header, '\n')); err != nil {
		return err
	}
	for _, h := range keys {
		if _, err := hours[h].f.Seek(0, 0); err != nil {
			return err
		}
		if _, err := io.Copy(out, hours[h].f); err != nil {
			return err
		}
	}
	return out.Close()
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

// benchIngest times ingesting src into table of a fresh copy (made before
// the timer) of the master-only lake per iteration; check judges each
// run's summary.
func benchIngest(b *testing.B, ctx context.Context, masterOnly, table, src string, check func(ingest.Summary)) {
	var lakes []string
	for i := range b.N {
		l := filepath.Join(b.TempDir(), fmt.Sprint(i))
		if err := os.CopyFS(l, os.DirFS(masterOnly)); err != nil {
			b.Fatal(err)
		}
		lakes = append(lakes, l)
	}
	i := 0
	measure(b, func() int64 {
		sum, err := ingest.Run(ctx, ingest.Config{Lake: lakes[i], Table: table, Source: src, Format: "csv", TempDir: b.TempDir()})
		i++
		if err != nil {
			b.Fatal(err)
		}
		check(sum)
		return sum.Accepted
	})
}
