package rul_test

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/rul"
	"github.com/battlake/battlake/pipeline"
)

// BenchmarkRULDefaultFleet times the rul stage's steps on the default
// fleet: the training set's features, the training of every model, and the
// predictions. BATTLAKE_BENCH_LAKE names a default lake built already
// (stages master..twin); otherwise the benchmark builds one first.
func BenchmarkRULDefaultFleet(b *testing.B) {
	ctx := context.Background()
	dir := os.Getenv("BATTLAKE_BENCH_LAKE")
	if dir == "" {
		dir = b.TempDir()
		stages := []string{}
		for _, s := range jobs.StageNames() {
			if s != "rul" && s != "alerts" {
				stages = append(stages, s)
			}
		}
		if _, err := jobs.Run(ctx, jobs.RunConfig{Lake: dir, Scenario: jobs.DefaultScenario(), Seed: jobs.DefaultSeed, Stages: stages}); err != nil {
			b.Fatal(err)
		}
	}
	lk, err := pipeline.OpenLake(ctx, dir, pipeline.LakeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		src, err := derive.LoadRULSources(ctx, lk)
		if err != nil {
			b.Fatal(err)
		}
		truth, err := rul.LoadTruth(ctx, lk)
		if err != nil {
			b.Fatal(err)
		}
		set, err := rul.BuildSet(ctx, src, truth)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		ms, err := rul.TrainRolling(pipeline.WithParallelism(context.Background(), runtime.GOMAXPROCS(0)), set, rul.DefaultHyper(jobs.DefaultSeed))
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		days := rul.PredictDays(src)
		f, err := src.Frame(ctx, days, nil)
		if err != nil {
			b.Fatal(err)
		}
		m := ms[len(ms)-1]
		for r := range f.Rows {
			m.Predict(f.Row(r))
		}
		t3 := time.Now()
		n := float64(len(set.Labels))
		b.ReportMetric(n, "set_rows")
		b.ReportMetric(t1.Sub(t0).Seconds(), "set_s")
		b.ReportMetric(n/t1.Sub(t0).Seconds(), "set_rows/s")
		b.ReportMetric(t2.Sub(t1).Seconds(), "train_s")
		b.ReportMetric(float64(len(ms)), "model_sets")
		b.ReportMetric(float64(len(f.Rows)), "predict_rows")
		b.ReportMetric(t3.Sub(t2).Seconds(), "predict_s")
	}
}
