package jobs

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/schema"
)

// BenchmarkTwin times stage twin alone (forced, wall clock) over a lake of the raw and
// calc stages: by default DC-KKC-01 (its week from 2026-10-25 holds
// transfer, surge and equalize windows), 7 days at 1 min. BENCH_SITES,
// BENCH_DAYS, BENCH_INTERVAL and BENCH_START reshape it. Reports rows/s,
// window rows and the seconds per day of lake, to extrapolate to the
// default run.
func BenchmarkTwin(b *testing.B) {
	sc := DefaultScenario()
	sc.Sites = []string{"DC-KKC-01"}
	sc.Start = Date{time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)}
	if v, err := ParseDate(os.Getenv("BENCH_START")); err == nil {
		sc.Start = v
	}
	days := 7
	if v, err := strconv.Atoi(os.Getenv("BENCH_DAYS")); err == nil && v > 0 {
		days = v
	}
	sc.End = Date{sc.Start.AddDate(0, 0, days)}
	sc.SampleInterval = Duration{time.Minute}
	if d, err := time.ParseDuration(os.Getenv("BENCH_INTERVAL")); err == nil {
		sc.SampleInterval = Duration{d}
	}
	if s := os.Getenv("BENCH_SITES"); s != "" {
		sc.Sites = strings.Split(s, ",")
	}
	dir := b.TempDir()
	if _, err := Run(context.Background(), RunConfig{Lake: dir, Scenario: sc, Seed: DefaultSeed, Stages: []string{"master", "telemetry", "transactions", "calc"}, Workers: runtime.GOMAXPROCS(0)}); err != nil {
		b.Fatal(err)
	}
	fs, err := objstore.NewFS(dir)
	if err != nil {
		b.Fatal(err)
	}
	lk := lake.New(fs)
	ix, err := derive.Load(context.Background(), lk, schema.MustLookup("telemetry_event_window"))
	if err != nil {
		b.Fatal(err)
	}
	var windows int64
	for _, f := range ix.All() {
		windows += f.Segment.Rows
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &pipeline.Runner{Lake: lk, Workers: runtime.GOMAXPROCS(0), Force: true}
		start := time.Now()
		sum, err := r.RunJobs(context.Background(), derive.TwinJobs(lk))
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		tot := sum.Totals()
		b.ReportMetric(d.Seconds(), "twin_s")
		b.ReportMetric(float64(tot.Rows)/d.Seconds(), "rows/s")
		b.ReportMetric(d.Seconds()/float64(days), "s/lake-day")
		b.ReportMetric(float64(windows), "windows")
	}
}
