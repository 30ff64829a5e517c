package pipeline_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/schema"
)

func months(n int) []string {
	var out []string
	for i := range n {
		out = append(out, time.Date(2025, time.Month(1+i), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"))
	}
	return out
}

// lakeHashes maps every key outside _leases/ to its content digest.
func lakeHashes(t *testing.T, s objstore.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	ctx := context.Background()
	if err := s.List(ctx, "", func(i objstore.ObjectInfo) error {
		if len(i.Key) >= len(lake.LeaseArea) && i.Key[:len(lake.LeaseArea)] == lake.LeaseArea {
			return nil
		}
		b, err := objstore.ReadAll(ctx, s, i.Key)
		h := sha256.Sum256(b)
		out[i.Key] = hex.EncodeToString(h[:])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseShard(t *testing.T) {
	if s, err := pipeline.ParseShard("2/5"); err != nil || s != (pipeline.Shard{Index: 2, Count: 5}) {
		t.Fatalf("2/5: %+v %v", s, err)
	}
	for _, bad := range []string{"", "1", "5/5", "-1/3", "a/b", "0/0"} {
		if _, err := pipeline.ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Shards partition the tasks: disjoint, complete, the same on every call
// whatever the planned order, and LPT-balanced.
func TestAssignBalancedDeterministic(t *testing.T) {
	tbl := schema.MustLookup("telemetry_env")
	var tasks []pipeline.Task
	for i, m := range months(23) {
		// Weights 1..23 with repeats, so ties exercise the key order.
		tasks = append(tasks, pipeline.Task{Partition: lake.MustPartition(tbl, m, -1), Weight: int64(1 + (i*7)%11)})
	}
	const n = 4
	a := pipeline.Assign(tasks, n)
	rev := slices.Clone(tasks)
	slices.Reverse(rev)
	b := pipeline.Assign(rev, n)
	slices.Reverse(b)
	if !slices.Equal(a, b) {
		t.Fatalf("assignment depends on planned order:\n%v\n%v", a, b)
	}
	load := make([]int64, n)
	var total, heaviest int64
	for i, s := range a {
		load[s] += tasks[i].Weight
		total += tasks[i].Weight
		heaviest = max(heaviest, tasks[i].Weight)
	}
	// Greedy list scheduling bound: no shard exceeds the mean by more than
	// the heaviest task.
	for s, l := range load {
		if float64(l) > float64(total)/n+float64(heaviest) {
			t.Errorf("shard %d load %d, mean %.1f, heaviest %d", s, l, float64(total)/n, heaviest)
		}
	}
	seen := map[string]int{}
	for i := range n {
		for _, task := range (pipeline.Shard{Index: i, Count: n}).Select(tasks) {
			seen[task.Partition.Dir()]++
		}
	}
	if len(seen) != len(tasks) {
		t.Fatalf("shards cover %d of %d tasks", len(seen), len(tasks))
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("%s selected by %d shards", k, c)
		}
	}
}

// Running every shard (in any order) writes the same lake as one runner.
func TestShardedRunsEqualOneRun(t *testing.T) {
	ctx := context.Background()
	ms := months(9)
	one, _ := objstore.NewFS(t.TempDir())
	if _, err := (&pipeline.Runner{Lake: lake.New(one), Workers: 2}).RunJobs(ctx, []pipeline.Job{&fakeJob{months: ms, seed: 3}}); err != nil {
		t.Fatal(err)
	}
	sharded, _ := objstore.NewFS(t.TempDir())
	j := &fakeJob{months: ms, seed: 3}
	for _, i := range []int{2, 0, 1} {
		r := &pipeline.Runner{Lake: lake.New(sharded), Workers: 1, Shard: pipeline.Shard{Index: i, Count: 3}}
		sum, err := r.RunJobs(ctx, []pipeline.Job{j})
		if err != nil {
			t.Fatal(err)
		}
		if p := sum.Totals().Partitions; p == 0 || p == len(ms) {
			t.Fatalf("shard %d wrote %d of %d partitions", i, p, len(ms))
		}
	}
	if j.runs.Load() != int64(len(ms)) {
		t.Fatalf("%d task runs over the shards, want %d", j.runs.Load(), len(ms))
	}
	if a, b := lakeHashes(t, one), lakeHashes(t, sharded); !maps(a, b) {
		t.Fatalf("sharded lake differs:\n%v\n%v", a, b)
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// gateJob writes one partition and blocks inside its task until released,
// so a test can hold a partition mid-write.
type gateJob struct {
	entered chan struct{}
	release chan struct{}
	runs    atomic.Int64
}

func (j *gateJob) Name() string  { return "gate" }
func (j *gateJob) Stage() string { return "s" }
func (j *gateJob) Tables() []*schema.Table {
	return []*schema.Table{schema.MustLookup("telemetry_env")}
}
func (j *gateJob) Plan(context.Context) ([]pipeline.Task, error) {
	p := lake.MustPartition(schema.MustLookup("telemetry_env"), "2026-01", -1)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return []pipeline.Task{{Partition: p, Weight: 1, Meta: lake.Meta{Job: "gate"},
		Segments: []lake.Segment{lake.AsOfSegment(from, from.AddDate(0, 1, 0))},
		Run: func(ctx context.Context, o *lake.Output) error {
			if j.runs.Add(1) == 1 {
				close(j.entered)
				<-j.release
			}
			_, err := fmt.Fprint(o.Data(), "the rows")
			o.SetRows(1)
			return err
		}}}, nil
}

// Two runners with leases on one lake: while the first writes the
// partition the second waits for the lease, then finds the partition
// fresh and skips it; the task body runs once.
func TestLeasedRunnersPublishOnce(t *testing.T) {
	ctx := context.Background()
	fs, _ := objstore.NewFS(t.TempDir())
	l := lake.New(fs)
	j := &gateJob{entered: make(chan struct{}), release: make(chan struct{})}
	lease := func(name string) *pipeline.LeaseConfig {
		return &pipeline.LeaseConfig{Owner: lake.LeaseOwner{Name: name}, TTL: time.Minute, Poll: time.Millisecond}
	}
	var wg sync.WaitGroup
	var sumA, sumB pipeline.Summary
	var errA, errB error
	wg.Add(1)
	go func() {
		defer wg.Done()
		sumA, errA = (&pipeline.Runner{Lake: l, Workers: 1, Lease: lease("a")}).RunJobs(ctx, []pipeline.Job{j})
	}()
	<-j.entered // a holds the lease and is inside the task
	done := make(chan struct{})
	go func() {
		defer close(done)
		sumB, errB = (&pipeline.Runner{Lake: l, Workers: 1, Lease: lease("b")}).RunJobs(ctx, []pipeline.Job{j})
	}()
	select {
	case <-done:
		t.Fatal("the second runner finished while the first held the partition")
	default:
	}
	close(j.release)
	wg.Wait()
	<-done
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if j.runs.Load() != 1 || sumA.Totals().Partitions != 1 || sumB.Totals().Skipped != 1 {
		t.Fatalf("runs %d, a %+v, b %+v", j.runs.Load(), sumA.Totals(), sumB.Totals())
	}
	// One released record is all the leases leave.
	var leases []string
	fs.List(ctx, lake.LeaseArea+"/", func(i objstore.ObjectInfo) error { leases = append(leases, i.Key); return nil })
	if len(leases) != 1 {
		t.Fatalf("lease records left: %v", leases)
	}
}

// flakyJob fails the first attempts of some partitions with a transient error.
type flakyJob struct {
	fakeJob
	mu    sync.Mutex
	fails map[string]int // month -> failures left
}

var errTransient = errors.New("503 slow down")

func (j *flakyJob) Plan(ctx context.Context) ([]pipeline.Task, error) {
	tasks, err := j.fakeJob.Plan(ctx)
	for i := range tasks {
		run, m := tasks[i].Run, tasks[i].Partition.Month
		tasks[i].Run = func(ctx context.Context, o *lake.Output) error {
			if _, err := fmt.Fprint(o.Data(), "half a file "); err != nil {
				return err
			}
			j.mu.Lock()
			fail := j.fails[m] > 0
			j.fails[m]--
			j.mu.Unlock()
			if fail {
				return errTransient
			}
			return run(ctx, o)
		}
	}
	return tasks, err
}

// A task failing transiently is retried (bounded) without failing the run,
// and the lake is the same bytes as a run without faults; beyond the bound
// the run fails with the cause.
func TestRunnerRetriesFailedTasks(t *testing.T) {
	ctx := context.Background()
	ms := months(4)
	clean, _ := objstore.NewFS(t.TempDir())
	if _, err := (&pipeline.Runner{Lake: lake.New(clean), Workers: 2}).RunJobs(ctx, []pipeline.Job{&flakyJob{fakeJob: fakeJob{months: ms, seed: 5}, fails: map[string]int{}}}); err != nil {
		t.Fatal(err)
	}
	faulty, _ := objstore.NewFS(t.TempDir())
	j := &flakyJob{fakeJob: fakeJob{months: ms, seed: 5}, fails: map[string]int{ms[0]: 2, ms[2]: 1}}
	sum, err := (&pipeline.Runner{Lake: lake.New(faulty), Workers: 2, TaskRetries: 2, RetryBackoff: time.Millisecond}).RunJobs(ctx, []pipeline.Job{j})
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Totals().Retries; got != 3 {
		t.Fatalf("retries %d, want 3", got)
	}
	if a, b := lakeHashes(t, clean), lakeHashes(t, faulty); !maps(a, b) {
		t.Fatalf("lake after retries differs:\n%v\n%v", a, b)
	}
	again, _ := objstore.NewFS(t.TempDir())
	j = &flakyJob{fakeJob: fakeJob{months: ms, seed: 5}, fails: map[string]int{ms[1]: 3}}
	_, err = (&pipeline.Runner{Lake: lake.New(again), Workers: 1, TaskRetries: 2, RetryBackoff: time.Millisecond}).RunJobs(ctx, []pipeline.Job{j})
	if !errors.Is(err, errTransient) {
		t.Fatalf("beyond the retry bound: err %v, want the transient cause", err)
	}
}
