package jobs_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
)

// On historian days a jar calc task reuses the raw file it decoded for day
// d as day d+1's warm-up, and the feature store reads each small jar file
// once for both of its passes. Derived one day per run there is nothing to
// reuse: the chain of one-day runs must give the full run's bytes, files
// and manifests, across the switch from historian to detail days.
func TestHistoryDaysDerivedAloneEqualOneRun(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sc := window("2026-03-01", "2026-03-05")
	sc.DetailFrom, _ = jobs.ParseDate("2026-03-04") // three 1 h days, then one at 2 min
	runOn(t, dir, "", sc, rawStages...)
	derivedRun(t, dir, "", sc, "calc", "features")
	tables := []string{"telemetry_jar_calc", "telemetry_string_calc", "feature_store"}
	files := func() map[string]string { return subdirHashes(t, dir, tables...) }
	full := files()
	if len(full) < 3*(8+2+1) {
		t.Fatalf("the full run wrote %d files: %v", len(full), slices.Sorted(maps.Keys(full)))
	}
	for _, tb := range tables {
		if err := os.RemoveAll(filepath.Join(dir, tb)); err != nil {
			t.Fatal(err)
		}
	}
	lk, err := pipeline.OpenLake(ctx, dir, pipeline.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for d := sc.Start.Time; d.Before(sc.End.Time); d = d.AddDate(0, 0, 1) {
		for _, stage := range [][]pipeline.Job{derive.CalcJobs(lk), derive.FeatureJobs(lk)} {
			for _, j := range stage {
				onlyDay(j.(*pipeline.FuncJob), d)
			}
			r := &pipeline.Runner{Lake: lk, Workers: 2}
			if _, err := r.RunJobs(ctx, stage); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := files()
	for k, v := range full {
		if got[k] != v {
			t.Errorf("%s: the day derived alone differs from the full run", k)
		}
	}
	if len(got) != len(full) {
		t.Fatalf("%d files from one-day runs, %d from the full run", len(got), len(full))
	}
}

// onlyDay keeps the day segments of day d in j's plan (the as-of
// segments of the small calc tables are left as written).
func onlyDay(j *pipeline.FuncJob, d time.Time) {
	plan := j.PlanFn
	j.PlanFn = func(ctx context.Context) ([]pipeline.Task, error) {
		tasks, err := plan(ctx)
		var keep []pipeline.Task
		for _, tk := range tasks {
			tk.Segments = slices.DeleteFunc(tk.Segments, func(s lake.Segment) bool { return s.Name == lake.AsOfName || !s.From.Equal(d) })
			if len(tk.Segments) > 0 {
				keep = append(keep, tk)
			}
		}
		return keep, err
	}
}

// subdirHashes is fileHashes of each folder subs of dir, keyed by path
// from dir.
func subdirHashes(t *testing.T, dir string, subs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sub := range subs {
		for k, v := range fileHashes(t, filepath.Join(dir, sub)) {
			out[filepath.ToSlash(filepath.Join(sub, k))] = v
		}
	}
	return out
}
