//go:build unix

package validate_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/validate"
)

// dayTables are the tables written a file a day: what one day of a lake
// adds, and what a daily validate reads.
var dayTables = []string{"telemetry_jar_raw", "telemetry_string_raw", "telemetry_env", "telemetry_event_window",
	"ripple_capture", "telemetry_jar_calc", "telemetry_string_calc", "feature_store"}

// BenchmarkValidateDay validates one day of the time-series tables (every
// check: hashes, schema, keys, references, ranges, completeness, lineage)
// with one worker and reports rows/s. BATTLAKE_BENCH_LAKE names an
// existing lake (e.g. the default whole-fleet lake; read only) and
// BATTLAKE_BENCH_DAY its day (default 2026-10-31); without it, one site's
// day at the seed's 5 s base rate is built first (not timed).
//
//	BATTLAKE_BENCH_LAKE=/tmp/lkdef go test ./pipeline/validate -run '^$' -bench ValidateDay -benchtime 1x
func BenchmarkValidateDay(b *testing.B) {
	dir := os.Getenv("BATTLAKE_BENCH_LAKE")
	dayStr := os.Getenv("BATTLAKE_BENCH_DAY")
	if dayStr == "" {
		dayStr = "2026-10-31"
	}
	day, err := time.Parse(time.DateOnly, dayStr)
	if err != nil {
		b.Fatal(err)
	}
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "lake")
		sc := jobs.DefaultScenario()
		sc.Sites = []string{"DC-BKK-01"}
		sc.Start, sc.End = jobs.Date{Time: day}, jobs.Date{Time: day.AddDate(0, 0, 1)}
		sc.SampleInterval = jobs.Duration{Duration: 5 * time.Second}
		if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 8, Workers: 2}); err != nil {
			b.Fatal(err)
		}
	}
	fs, err := objstore.NewFS(dir)
	if err != nil {
		b.Fatal(err)
	}
	lk := lake.New(fs)
	o := validate.Options{Tables: dayTables, From: day, To: day.AddDate(0, 0, 1), Workers: 1}
	b.ResetTimer()
	var rep *validate.Report
	cpu0 := cpuSeconds(b)
	for b.Loop() {
		if rep, err = validate.Validate(context.Background(), lk, dir, o); err != nil {
			b.Fatal(err)
		}
	}
	cpu := (cpuSeconds(b) - cpu0) / float64(b.N)
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(rep.Rows)/sec, "rows/s")
	// On a shared machine wall time includes waiting for a core; CPU time
	// of the process does not.
	b.ReportMetric(float64(rep.Rows)/cpu, "rows/cpu-s")
	b.ReportMetric(float64(rep.Bytes)/sec/1e6, "MB/s")
	b.ReportMetric(float64(rep.Rows), "rows")
	b.ReportMetric(float64(rep.Violations), "violations")
}

// cpuSeconds is the process's user + system CPU time.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
