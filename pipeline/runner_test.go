package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/schema"
)

// fakeJob plans one task per month of telemetry_env and counts runs.
type fakeJob struct {
	months []string
	seed   uint64
	runs   atomic.Int64
	fail   string // month whose task fails
}

func (j *fakeJob) Name() string  { return "fake" }
func (j *fakeJob) Stage() string { return "s" }
func (j *fakeJob) Tables() []*schema.Table {
	return []*schema.Table{schema.MustLookup("telemetry_env")}
}
func (j *fakeJob) Plan(context.Context) ([]pipeline.Task, error) {
	var out []pipeline.Task
	for i, m := range j.months {
		p, err := lake.NewPartition(schema.MustLookup("telemetry_env"), m, -1)
		if err != nil {
			return nil, err
		}
		m := m
		from, _ := time.Parse("2006-01", m)
		segs := []lake.Segment{lake.AsOfSegment(from, from.AddDate(0, 1, 0))}
		out = append(out, pipeline.Task{Partition: p, Weight: int64(i + 1), Meta: lake.Meta{Job: "fake", Seed: j.seed}, Segments: segs,
			Run: func(ctx context.Context, o *lake.Output) error {
				j.runs.Add(1)
				if m == j.fail {
					return errors.New("boom")
				}
				if err := o.WriteBlob(o.BlobKey("b-"+m), func(w io.Writer) (int64, error) {
					_, err := io.WriteString(w, "blob "+m)
					return 1, err
				}); err != nil {
					return err
				}
				n, err := fmt.Fprintf(o.Data(), "rows of %s seed %d", m, j.seed)
				o.SetRows(int64(n))
				return err
			}})
	}
	return out, nil
}

func TestRunnerSkipsFreshAndRewritesChanged(t *testing.T) {
	ctx := context.Background()
	fs, _ := objstore.NewFS(t.TempDir())
	l := lake.New(fs)
	j := &fakeJob{months: []string{"2026-01", "2026-02", "2026-03", "2026-04", "2026-05"}, seed: 1}
	r := &pipeline.Runner{Lake: l, Workers: 2}
	sum, err := r.RunJobs(ctx, []pipeline.Job{j})
	if err != nil {
		t.Fatal(err)
	}
	if tot := sum.Totals(); tot.Partitions != 5 || tot.Skipped != 0 || j.runs.Load() != 5 {
		t.Fatalf("first run %+v, runs %d", tot, j.runs.Load())
	}
	sum, err = r.RunJobs(ctx, []pipeline.Job{j})
	if err != nil {
		t.Fatal(err)
	}
	if tot := sum.Totals(); tot.Partitions != 0 || tot.Skipped != 5 || j.runs.Load() != 5 {
		t.Fatalf("rerun %+v, runs %d", tot, j.runs.Load())
	}
	// A changed input (the seed) makes every partition stale.
	j.seed = 2
	sum, err = r.RunJobs(ctx, []pipeline.Job{j})
	if err != nil || sum.Totals().Partitions != 5 {
		t.Fatalf("after seed change: %+v, %v", sum.Totals(), err)
	}
	m, _, err := l.ReadManifest(ctx, mustP(t, "2026-03"))
	if err != nil || len(m.Files) != 2 || m.Files[1].Role != "blob" || m.Seed != 2 {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	b, _ := objstore.ReadAll(ctx, fs, m.Files[0].Key)
	if string(b) != "rows of 2026-03 seed 2" {
		t.Fatalf("data %q", b)
	}
}

func TestRunnerFailureStopsAndReports(t *testing.T) {
	ctx := context.Background()
	fs, _ := objstore.NewFS(t.TempDir())
	l := lake.New(fs)
	j := &fakeJob{months: []string{"2026-01", "2026-02", "2026-03"}, seed: 1, fail: "2026-03"}
	r := &pipeline.Runner{Lake: l, Workers: 1}
	_, err := r.RunJobs(ctx, []pipeline.Job{j})
	if err == nil || !strings.Contains(err.Error(), "telemetry_env month=2026-03") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want it to name the partition and the cause", err)
	}
	// Heaviest task first: 2026-03 ran first and failed, the rest never started.
	if j.runs.Load() != 1 {
		t.Fatalf("%d tasks ran after the failure", j.runs.Load())
	}
	if _, _, err := l.ReadManifest(ctx, mustP(t, "2026-03")); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("failed partition has a manifest: %v", err)
	}
	if _, err := fs.Stat(ctx, mustP(t, "2026-03").SegmentKey(lake.AsOfName)); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("failed partition published data: %v", err)
	}
}

func mustP(t *testing.T, month string) lake.Partition {
	p, err := lake.NewPartition(schema.MustLookup("telemetry_env"), month, -1)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stageJob plans one task of telemetry_env month (or of table) in its
// stage; its task runs hook first.
type stageJob struct {
	stage, table, month string
	plan                func() // called by Plan
	hook                func(ctx context.Context) error
	ran                 atomic.Int64
}

func (j *stageJob) Name() string  { return "job-" + j.stage }
func (j *stageJob) Stage() string { return j.stage }
func (j *stageJob) Tables() []*schema.Table {
	return []*schema.Table{schema.MustLookup(j.table)}
}
func (j *stageJob) Plan(context.Context) ([]pipeline.Task, error) {
	if j.plan != nil {
		j.plan()
	}
	p, err := lake.NewPartition(schema.MustLookup(j.table), j.month, -1)
	if err != nil {
		return nil, err
	}
	from, _ := time.Parse("2006-01", j.month)
	return []pipeline.Task{{Partition: p, Weight: 1, Meta: lake.Meta{Job: j.Name()}, Segments: []lake.Segment{lake.AsOfSegment(from, from.AddDate(0, 1, 0))},
		Run: func(ctx context.Context, o *lake.Output) error {
			j.ran.Add(1)
			if j.hook != nil {
				if err := j.hook(ctx); err != nil {
					return err
				}
			}
			n, err := fmt.Fprintf(o.Data(), "%s %s", j.stage, j.month)
			o.SetRows(int64(n))
			return err
		}}}, nil
}

// Stage b declares it does not read stage a: it is planned while a's task
// runs (b's plan waits for a's task to start) and its task runs beside a's
// (a's task waits for b's to start), which only a shared wave allows. When
// b reads a, or declares nothing, it is planned after a's partition
// committed.
func TestRunnerOverlapsStagesThatDoNotReadEachOther(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reads   []string
		ok      bool
		overlap bool
	}{
		{"independent", []string{"m"}, true, true},
		{"reads a", []string{"m", "a"}, true, false},
		{"undeclared", nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, _ := objstore.NewFS(t.TempDir())
			l := lake.New(fs)
			aStarted, bStarted := make(chan struct{}), make(chan struct{})
			// waitFor bounds a wait that only a missing overlap makes endless.
			waitFor := func(ctx context.Context, c chan struct{}, what string) error {
				select {
				case <-c:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Second):
					return errors.New(what)
				}
			}
			a := &stageJob{stage: "a", table: "telemetry_env", month: "2026-01", hook: func(ctx context.Context) error {
				close(aStarted)
				if tc.overlap {
					return waitFor(ctx, bStarted, "b's task never started while a's ran")
				}
				return nil
			}}
			b := &stageJob{stage: "b", table: "telemetry_env", month: "2026-02", hook: func(context.Context) error { close(bStarted); return nil }}
			var planErr error
			b.plan = func() {
				if tc.overlap {
					planErr = waitFor(context.Background(), aStarted, "b was not planned while a's task ran")
					return
				}
				// a committed before b is planned.
				if _, _, err := l.ReadManifest(context.Background(), lake.MustPartition(schema.MustLookup("telemetry_env"), "2026-01", -1)); err != nil {
					planErr = fmt.Errorf("b planned before a committed: %w", err)
				}
			}
			var asked []string
			r := &pipeline.Runner{Lake: l, Workers: 2, Reads: func(stage string) ([]string, bool) {
				asked = append(asked, stage)
				if stage == "b" {
					return tc.reads, tc.ok
				}
				return nil, false
			}}
			sum, err := r.RunJobs(context.Background(), []pipeline.Job{a, b})
			if err != nil || planErr != nil {
				t.Fatal(errors.Join(err, planErr))
			}
			if got := sum.Totals().Partitions; got != 2 || a.ran.Load() != 1 || b.ran.Load() != 1 {
				t.Fatalf("partitions %d, runs a %d b %d; want 2, 1, 1", got, a.ran.Load(), b.ran.Load())
			}
			if len(asked) != 1 || asked[0] != "b" {
				t.Fatalf("Reads asked for %v, want [b]", asked)
			}
		})
	}
}

// A failing task of a two-stage wave names its stage.
func TestRunnerWaveErrorNamesStage(t *testing.T) {
	fs, _ := objstore.NewFS(t.TempDir())
	a := &stageJob{stage: "a", table: "telemetry_env", month: "2026-01"}
	b := &stageJob{stage: "b", table: "telemetry_env", month: "2026-02", hook: func(context.Context) error { return errors.New("boom") }}
	r := &pipeline.Runner{Lake: lake.New(fs), Workers: 1, Reads: func(string) ([]string, bool) { return nil, true }}
	_, err := r.RunJobs(context.Background(), []pipeline.Job{a, b})
	if err == nil || !strings.Contains(err.Error(), "stage b: ") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want it to name stage b and the cause", err)
	}
}

// releaseJob is a stageJob whose shared caches the runner releases.
type releaseJob struct {
	*stageJob
	release func()
}

func (j releaseJob) Release() { j.release() }

// A Releaser's caches are released once, after every task of its wave
// (both of stage a's jobs here) and before the next wave's stage (b,
// which reads a) is planned; a job without caches is left alone.
func TestRunnerReleasesAJobsCachesAfterItsWave(t *testing.T) {
	fs, _ := objstore.NewFS(t.TempDir())
	var events []string
	var mu sync.Mutex
	log := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	a1 := &stageJob{stage: "a", table: "telemetry_env", month: "2026-01", hook: func(context.Context) error { log("a1"); return nil }}
	a2 := &stageJob{stage: "a", table: "telemetry_env", month: "2026-02", hook: func(context.Context) error { log("a2"); return nil }}
	b := &stageJob{stage: "b", table: "telemetry_env", month: "2026-03", plan: func() { log("plan b") }}
	r := &pipeline.Runner{Lake: lake.New(fs), Workers: 2, Reads: func(stage string) ([]string, bool) { return []string{"a"}, true }}
	if _, err := r.RunJobs(context.Background(), []pipeline.Job{releaseJob{a1, func() { log("release") }}, a2, b}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(events, ",")
	if got != "a1,a2,release,plan b" && got != "a2,a1,release,plan b" {
		t.Fatalf("events %s: want both of a's tasks, one release, then b's plan", got)
	}
}
