package jobs

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
)

// peakRSS reads the process's peak resident set (VmHWM) in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS restarts VmHWM (Linux clear_refs 5) so each sub-benchmark
// reports its own peak.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkTelemetryJarFleetDay writes one fleet-day of telemetry_jar_raw
// at 5 s (1,944 jars x 17,280 samples = 33.6 M rows), physics included, to
// Parquet on local disk, with 1 and 2 workers. BENCH_DAYS, BENCH_INTERVAL
// and BENCH_SITES (comma-separated codes) reshape it; peak RSS shows that
// memory follows the partition, not the date range.
func BenchmarkTelemetryJarFleetDay(b *testing.B) {
	sc := DefaultScenario()
	sc.Start = Date{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	days := 1
	if v, err := strconv.Atoi(os.Getenv("BENCH_DAYS")); err == nil && v > 0 {
		days = v
	}
	sc.End = Date{sc.Start.AddDate(0, 0, days)}
	if d, err := time.ParseDuration(os.Getenv("BENCH_INTERVAL")); err == nil {
		sc.SampleInterval = Duration{d}
	}
	if s := os.Getenv("BENCH_SITES"); s != "" {
		sc.Sites = strings.Split(s, ",")
	}
	e, err := NewEnv(sc, DefaultSeed)
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var rows, bytes int64
			resetPeakRSS()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fs, err := objstore.NewFS(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				r := &pipeline.Runner{Lake: lake.New(fs), Workers: workers, Force: true}
				sum, err := r.RunJobs(context.Background(), []pipeline.Job{e.jarRawJob()})
				if err != nil {
					b.Fatal(err)
				}
				rows, bytes = sum.Totals().Rows, sum.Totals().Bytes
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(rows)/sec, "rows/s")
			b.ReportMetric(float64(bytes)/float64(rows), "bytes/row")
			b.ReportMetric(float64(peakRSS())/(1<<20), "peakRSS_MB")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

// BenchmarkDailyAppend times a scheduled daily run of the whole fleet at
// 5 s (every stage) on day 30 of a month whose days 1-29 are already in the
// lake, next to the same day run on an empty lake: an append costs about a
// day of work, not a month. BENCH_PRIOR_DAYS (default 29) sets the history
// written before; the setup is one run over those days (equivalent to daily
// runs, which TestDailyRunsComposeLikeOneRun checks byte for byte).
func BenchmarkDailyAppend(b *testing.B) {
	prior := 29
	if v, err := strconv.Atoi(os.Getenv("BENCH_PRIOR_DAYS")); err == nil && v > 0 {
		prior = v
	}
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := first.AddDate(0, 0, prior)
	scenario := func(from, to time.Time) Scenario {
		sc := DefaultScenario()
		sc.Start, sc.End = Date{from}, Date{to}
		return sc
	}
	runDay := func(dir string) (time.Duration, pipeline.TableStats) {
		start := time.Now()
		sum, err := Run(context.Background(), RunConfig{Lake: dir, Scenario: scenario(day, day.AddDate(0, 0, 1)), Seed: DefaultSeed})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start), sum.Totals()
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		lakeDir := b.TempDir()
		if _, err := Run(context.Background(), RunConfig{Lake: lakeDir, Scenario: scenario(first, day), Seed: DefaultSeed}); err != nil {
			b.Fatal(err)
		}
		resetPeakRSS()
		b.StartTimer()
		appendTime, tot := runDay(lakeDir)
		b.StopTimer()
		freshTime, fresh := runDay(b.TempDir())
		b.ReportMetric(appendTime.Seconds(), "append_s")
		b.ReportMetric(freshTime.Seconds(), "emptylake_s")
		b.ReportMetric(appendTime.Seconds()/freshTime.Seconds(), "append/empty")
		b.ReportMetric(float64(tot.Rows), "append_rows")
		b.ReportMetric(float64(fresh.Rows), "emptylake_rows")
		b.ReportMetric(float64(tot.Rows)/appendTime.Seconds(), "rows/s")
		b.ReportMetric(float64(tot.Bytes)/float64(max(tot.Rows, 1)), "bytes/row")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peakRSS_MB")
	}
}
