package jobs

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline"
)

// BenchmarkMonthBackfill times `battlake backfill --month` through
// jobs.Run on a local lake: every stage in phase order over one month
// (BENCH_MONTH, default 2026-01) of the whole fleet at 5 s. It reports
// rows/s and peak RSS for 1 and 2 workers, and for 2 shards run side by
// side (1 worker each, phase by phase, one process) against one lake.
// BENCH_SITES, BENCH_INTERVAL, BENCH_DAYS (the first days of the month
// only, to check that time is linear in days) and BENCH_STAGES reshape it.
// The full-fleet month is long (see README for measured figures); run it
// alone:
//
//	go test ./jobs/ -run '^$' -bench MonthBackfill -benchtime 1x -timeout 6h
func BenchmarkMonthBackfill(b *testing.B) {
	month := "2026-01"
	if v := os.Getenv("BENCH_MONTH"); v != "" {
		month = v
	}
	from, to, err := MonthWindow(month)
	if err != nil {
		b.Fatal(err)
	}
	sc := DefaultScenario()
	// The whole month at the detail rate (5 s): the default scenario's
	// history rate would make it a historian month.
	sc.Start, sc.End, sc.DetailFrom = from, to, from
	if v, err := strconv.Atoi(os.Getenv("BENCH_DAYS")); err == nil && v > 0 {
		sc.End = Date{from.AddDate(0, 0, v)}
	}
	if d, err := time.ParseDuration(os.Getenv("BENCH_INTERVAL")); err == nil {
		sc.SampleInterval = Duration{d}
	}
	if s := os.Getenv("BENCH_SITES"); s != "" {
		sc.Sites = strings.Split(s, ",")
	}
	stages := StageNames()
	if s := os.Getenv("BENCH_STAGES"); s != "" {
		stages = strings.Split(s, ",")
	}
	// The CLI's default soft heap limit (--memory-limit 400MiB), unless
	// GOMEMLIMIT is set: peak RSS is then what `battlake backfill` shows.
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(400 << 20))
	}
	cfg := func(dir string, workers int) RunConfig {
		return RunConfig{Lake: dir, Scenario: sc, Seed: DefaultSeed, Stages: stages, Workers: workers, Month: month}
	}
	report := func(b *testing.B, rows int64, elapsed time.Duration) {
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(float64(rows), "rows")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak_RSS_MiB")
		b.ReportMetric(float64(sc.End.Sub(sc.Start.Time).Hours()/24), "days")
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			resetPeakRSS()
			var rows int64
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				start := time.Now()
				sum, err := Run(context.Background(), cfg(dir, workers))
				if err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				rows += sum.Totals().Rows
			}
			report(b, rows, elapsed)
		})
	}
	// Two shards side by side, phase by phase, as a cluster runs them:
	// the shards share the lake and each writes its half of every stage.
	b.Run("shards=2", func(b *testing.B) {
		resetPeakRSS()
		var rows int64
		var elapsed time.Duration
		for i := 0; i < b.N; i++ {
			dir := b.TempDir()
			start := time.Now()
			for _, stage := range stages {
				var wg sync.WaitGroup
				sums := make([]pipeline.Summary, 2)
				errs := make([]error, 2)
				for s := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c := cfg(dir, 1)
						c.Stages, c.Shard = []string{stage}, pipeline.Shard{Index: s, Count: 2}
						sums[s], errs[s] = Run(context.Background(), c)
					}()
				}
				wg.Wait()
				for s := range 2 {
					if errs[s] != nil {
						b.Fatal(errs[s])
					}
					rows += sums[s].Totals().Rows
				}
			}
			elapsed += time.Since(start)
		}
		report(b, rows, elapsed)
	})
}
