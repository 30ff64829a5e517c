// Package pipeline runs jobs: a job plans tasks (one output partition each,
// with the segments it may write and their inputs), and the Runner
// executes them with bounded concurrency, writing only the segments whose
// manifest entry does not already record the same fingerprint, and
// committing each partition through the lake's protocol.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/schema"
)

// Task writes segments of exactly one partition. Run is called once per
// segment that the lake does not already hold (o.Segment() says which)
// and must write exactly the rows of that segment's span.
type Task struct {
	Partition lake.Partition
	Meta      lake.Meta
	Segments  []lake.Segment
	// Weight estimates the rows the task writes (progress reporting).
	Weight int64
	// Pinned tasks run on shard 0 of a sharded run: their stage must run
	// whole in one process (stage rul trains on its whole set, then
	// predicts with what it trained, in sub-steps one process orders).
	Pinned bool
	Run    func(ctx context.Context, o *lake.Output) error
}

// Job plans the partitions of one or more tables. Plan is pure: it performs
// no writes and derives everything from its configuration.
type Job interface {
	Name() string
	Stage() string
	Tables() []*schema.Table
	Plan(ctx context.Context) ([]Task, error)
}

// Releaser is a Job whose tasks share caches (simulated spans built once
// for several tasks). The runner calls Release once the job's wave has
// run, so the stages after it do not carry them: on the default run the
// telemetry stage's span caches (about 130 MB) kept every later stage's
// heap near the soft memory limit, where the GC runs back to back.
type Releaser interface{ Release() }

// FuncJob is the plain Job: its plan is a function.
type FuncJob struct {
	JobName, StageName string
	Out                []*schema.Table
	PlanFn             func(ctx context.Context) ([]Task, error)
}

func (j *FuncJob) Name() string                             { return j.JobName }
func (j *FuncJob) Stage() string                            { return j.StageName }
func (j *FuncJob) Tables() []*schema.Table                  { return j.Out }
func (j *FuncJob) Plan(ctx context.Context) ([]Task, error) { return j.PlanFn(ctx) }

// TableStats summarises one table of a run.
type TableStats struct {
	Table      string
	Partitions int // partitions with at least one segment written
	Segments   int // segments (data files) written
	Skipped    int // partitions whose every planned segment was fresh
	Rows       int64
	Bytes      int64
	Seconds    float64 // summed task time (can exceed wall time with workers)
	Retries    int     // task attempts that failed and were retried
}

// Summary of a run.
type Summary struct {
	Tables  []TableStats
	Elapsed time.Duration
}

// Totals sums the per-table stats.
func (s Summary) Totals() TableStats {
	var t TableStats
	t.Table = "total"
	for _, x := range s.Tables {
		t.Partitions += x.Partitions
		t.Segments += x.Segments
		t.Skipped += x.Skipped
		t.Rows += x.Rows
		t.Bytes += x.Bytes
		t.Seconds += x.Seconds
		t.Retries += x.Retries
	}
	return t
}

// Runner executes tasks.
type Runner struct {
	Lake    *lake.Lake
	Workers int
	Force   bool // rewrite partitions even when fresh
	Log     *slog.Logger
	Hooks   *lake.Hooks
	// Progress, if set, is called after every finished task.
	Progress func(done, total int, rowsDone, rowsTotal int64)
	// Shard restricts each stage to this shard's share of its tasks (see
	// Shard.Select); the zero value runs everything.
	Shard Shard
	// Keep, if set, drops planned tasks it rejects before sharding (a
	// month backfill keeps its month's partitions).
	Keep func(Task) bool
	// Lease, if set, makes every task hold its partition's lease while it
	// writes, so concurrent runs on one lake never publish a partition
	// twice at once: a task whose partition is leased elsewhere waits,
	// then finds it fresh and skips it.
	Lease *LeaseConfig
	// TaskRetries is how many times a failed task is run again (transient
	// store faults that outlived the store's own retries) before the run
	// fails; the backoff before retry i is RetryBackoff*2^i. A retried
	// task rewrites its stale segments from scratch, so output is the
	// same bytes whatever the attempt.
	TaskRetries  int
	RetryBackoff time.Duration
	// Reads, if set, names the earlier stages whose tables a stage's jobs
	// read (ok false: every earlier stage, the safe default). A stage that
	// reads none of the stages of the current wave joins it: it is planned
	// before the wave runs and its tasks share the workers with the
	// wave's. Lineage stays exact because what it reads is committed.
	Reads func(stage string) (stages []string, ok bool)

	mu    sync.Mutex
	stats map[string]*TableStats
}

func (r *Runner) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// RunJobs plans and runs jobs in order; jobs of the same stage run their
// tasks together so partitions of different tables share the workers.
// Consecutive stages that do not read each other (see Reads) run as one
// wave: they are planned by the wave's workers while its first tasks run,
// and a stage's last long task shares the workers with the next stage's
// tasks instead of leaving a worker idle.
func (r *Runner) RunJobs(ctx context.Context, jobs []Job) (Summary, error) {
	start := time.Now()
	r.stats = map[string]*TableStats{}
	var order []string
	for _, j := range jobs {
		for _, t := range j.Tables() {
			if _, ok := r.stats[t.Name]; !ok {
				r.stats[t.Name] = &TableStats{Table: t.Name}
				order = append(order, t.Name)
			}
		}
	}
	var wave []stagePlan
	for i := 0; i < len(jobs); {
		p := stagePlan{stage: jobs[i].Stage()}
		for ; i < len(jobs) && jobs[i].Stage() == p.stage; i++ {
			p.jobs = append(p.jobs, jobs[i])
		}
		if len(wave) > 0 && !r.joins(p.stage, wave) {
			if err := r.runWaveAndRelease(ctx, wave); err != nil {
				return r.summary(order, start), err
			}
			wave = nil
		}
		wave = append(wave, p)
	}
	if len(wave) > 0 {
		if err := r.runWaveAndRelease(ctx, wave); err != nil {
			return r.summary(order, start), err
		}
	}
	return r.summary(order, start), nil
}

// runWaveAndRelease runs wave, then releases its jobs' shared caches.
func (r *Runner) runWaveAndRelease(ctx context.Context, wave []stagePlan) error {
	err := r.runWave(ctx, wave)
	for _, p := range wave {
		for _, j := range p.jobs {
			if rl, ok := j.(Releaser); ok {
				rl.Release()
			}
		}
	}
	return err
}

// stagePlan is a stage of a wave and its jobs, planned by a worker.
type stagePlan struct {
	stage string
	jobs  []Job
}

// joins reports whether stage may run with the wave: it declares what it
// reads and reads none of the wave's stages. Its plan then sees the lake as
// the stages before the wave left it, which is all it reads.
func (r *Runner) joins(stage string, wave []stagePlan) bool {
	if r.Reads == nil {
		return false
	}
	reads, ok := r.Reads(stage)
	if !ok {
		return false
	}
	for _, w := range wave {
		if slices.Contains(reads, w.stage) {
			return false
		}
	}
	return true
}

// plan plans p's jobs and keeps this shard's share of their tasks.
func (r *Runner) plan(ctx context.Context, p stagePlan) ([]stagedTask, error) {
	var tasks []Task
	for _, j := range p.jobs {
		ts, err := j.Plan(ctx)
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", j.Name(), err)
		}
		tasks = append(tasks, ts...)
	}
	tasks = keepTasks(tasks, r.Keep)
	planned := len(tasks)
	// Shards select within each stage, whatever the waves: every process
	// of a cluster computes the same assignment.
	tasks = r.Shard.Select(tasks)
	r.logger().Info("stage start", "stage", p.stage, "tasks", len(tasks), "planned", planned, "shard", r.Shard.String())
	out := make([]stagedTask, len(tasks))
	for i, t := range tasks {
		out[i] = stagedTask{stage: p.stage, Task: t}
	}
	return out, nil
}

// stagedTask is a task of a wave with the stage that planned it.
type stagedTask struct {
	stage string
	Task
}

// runWave runs a wave with r.Workers goroutines. They take the stages'
// plans first (in order), then tasks heaviest first, which keeps the
// workers evenly loaded at the end; a worker waits while a plan may still
// add tasks. The first error cancels the rest and all errors are joined.
func (r *Runner) runWave(ctx context.Context, wave []stagePlan) error {
	workers := max(1, r.Workers)
	// A worker holds one of the slots while it plans or runs a task; a task
	// spreading its work (Spread) borrows the slots idle workers leave.
	ws := &workerSlots{c: make(chan struct{}, workers)}
	slots := ws.c
	ctx, cancel := context.WithCancel(withSlots(WithParallelism(ctx, workers), ws))
	defer cancel()
	hold := func() bool {
		ws.waiting.Add(1) // a Spread helper gives its slot back after its item
		defer ws.waiting.Add(-1)
		select {
		case slots <- struct{}{}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		plans    = slices.Clone(wave)
		planning = len(plans) // plans not finished: they may add tasks
		tasks    []stagedTask
		done     int
		total    int
		rowsDone int64
		rowsAll  int64
		errs     []error
		wg       sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
	defer stop()
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(plans) == 0 && len(tasks) == 0 && planning > 0 && ctx.Err() == nil {
					cond.Wait()
				}
				if ctx.Err() != nil || len(plans) == 0 && len(tasks) == 0 {
					mu.Unlock()
					return
				}
				if len(plans) > 0 {
					p := plans[0]
					plans = plans[1:]
					mu.Unlock()
					var ts []stagedTask
					var err error
					if hold() {
						pprof.Do(ctx, pprof.Labels("stage", p.stage), func(ctx context.Context) { ts, err = r.plan(ctx, p) })
						<-slots
					} else {
						err = ctx.Err()
					}
					mu.Lock()
					planning--
					if err == nil {
						tasks = append(tasks, ts...)
						// Stable: a stage's equal weights keep their plan order.
						sort.SliceStable(tasks, func(i, j int) bool { return tasks[i].Weight > tasks[j].Weight })
						total += len(ts)
						for _, t := range ts {
							rowsAll += t.Weight
						}
					}
					cond.Broadcast()
					mu.Unlock()
					if err != nil {
						fail(err)
						return
					}
					continue
				}
				t := tasks[0]
				// The queue drops a task as it starts: its closure may hold
				// working state (a month's feature engine is ~115 MB), so
				// memory follows the running tasks, not the planned ones.
				tasks[0] = stagedTask{}
				tasks = tasks[1:]
				mu.Unlock()
				if !hold() {
					return
				}
				var err error
				// Labels let a CPU profile attribute samples (with those of
				// goroutines the task starts) to stage, table, partition.
				pprof.Do(ctx, pprof.Labels("stage", t.stage, "table", t.Partition.Table.Name, "partition", t.Partition.String()),
					func(ctx context.Context) { err = r.runTask(ctx, t.Task) })
				<-slots
				if err != nil {
					fail(fmt.Errorf("stage %s: %w", t.stage, err))
					return
				}
				mu.Lock()
				done++
				rowsDone += t.Weight
				d, n, rd, ra := done, total, rowsDone, rowsAll
				mu.Unlock()
				if r.Progress != nil {
					r.Progress(d, n, rd, ra)
				}
			}
		}()
	}
	wg.Wait()
	names := make([]string, len(wave))
	for i, p := range wave {
		names[i] = p.stage
	}
	if len(errs) == 0 && ctx.Err() != nil {
		// Cancelled from outside (the caller's context).
		return fmt.Errorf("stage %s: %w", strings.Join(names, "+"), ctx.Err())
	}
	if len(errs) == 0 {
		r.logger().Info("stages done", "stages", names)
	}
	return errors.Join(errs...)
}

func (r *Runner) summary(order []string, start time.Time) Summary {
	s := Summary{Elapsed: time.Since(start)}
	for _, n := range order {
		s.Tables = append(s.Tables, *r.stats[n])
	}
	return s
}

func (r *Runner) runTask(ctx context.Context, t Task) error {
	start := time.Now()
	st := r.stats[t.Partition.Table.Name]
	var written []lake.SegmentEntry
	for attempt := 0; ; attempt++ {
		var err error
		written, err = r.attempt(ctx, t)
		if err == nil {
			break
		}
		if attempt >= r.TaskRetries || !retryableTask(ctx, err) {
			return err
		}
		d := r.RetryBackoff << attempt
		r.logger().Warn("task failed, retrying", "partition", t.Partition.String(), "attempt", attempt+1, "backoff", d, "err", err)
		r.mu.Lock()
		st.Retries++
		r.mu.Unlock()
		if err := sleepCtx(ctx, d); err != nil {
			return err
		}
	}
	if len(written) == 0 {
		r.mu.Lock()
		st.Skipped++
		r.mu.Unlock()
		r.logger().Debug("partition fresh, skipped", "partition", t.Partition.String())
		return nil
	}
	var rows, bytes int64
	for _, s := range written {
		rows += s.Rows
		bytes += s.Bytes
	}
	sec := time.Since(start).Seconds()
	r.mu.Lock()
	st.Partitions++
	st.Segments += len(written)
	st.Rows += rows
	st.Bytes += bytes
	st.Seconds += sec
	r.mu.Unlock()
	r.logger().Debug("partition written", "partition", t.Partition.String(), "segments", len(written), "rows", rows, "bytes", bytes, "start", start, "seconds", sec)
	return nil
}

// retryableTask: crashes simulated by tests, format errors and cancelled
// runs are final; anything else (store faults) may be transient.
func retryableTask(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, lake.ErrInjected) && !errors.Is(err, lake.ErrOldFormat) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt writes t's partition once, under its lease when leases are on.
func (r *Runner) attempt(ctx context.Context, t Task) ([]lake.SegmentEntry, error) {
	if r.Lease == nil {
		_, written, err := r.Lake.WritePartition(ctx, t.Partition, t.Meta, t.Segments, r.Force, r.Hooks, t.Run)
		return written, err
	}
	ls, err := r.Lease.acquire(ctx, r.Lake, t.Partition, r.logger())
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		tick := time.NewTicker(ls.TTL() / 3)
		defer tick.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-tick.C:
				if err := ls.Renew(lctx); err != nil && lctx.Err() == nil {
					cancel(err) // lost (or unrenewable): stop writing
					return
				}
			}
		}
	}()
	_, written, err := r.Lake.WritePartition(lctx, t.Partition, t.Meta, t.Segments, r.Force, r.Hooks, t.Run)
	if cause := context.Cause(lctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	cancel(nil)
	<-renewed
	// Release under the caller's context, even when the write failed: a
	// failed attempt must not keep others waiting for the expiry.
	if rerr := ls.Release(context.WithoutCancel(ctx)); rerr != nil && err == nil {
		err = rerr
	}
	return written, err
}

// LeaseConfig turns partition leases on (see lake.AcquireLease).
type LeaseConfig struct {
	Owner lake.LeaseOwner
	TTL   time.Duration // lease lifetime; renewed every TTL/3
	// Poll is how long a task waits before asking again for a partition
	// leased elsewhere; 0 means TTL/10, at most 2 s.
	Poll time.Duration
}

// DefaultLeaseTTL is long enough for any renewal hiccup (renewals come
// every 40 s) and short enough that a crashed shard on another host holds
// its partitions for at most two minutes.
const DefaultLeaseTTL = 2 * time.Minute

func (c *LeaseConfig) acquire(ctx context.Context, l *lake.Lake, p lake.Partition, log *slog.Logger) (*lake.Lease, error) {
	poll := c.Poll
	if poll <= 0 {
		poll = min(c.TTL/10, 2*time.Second)
	}
	for {
		ls, err := l.AcquireLease(ctx, p, lake.LeaseOptions{Owner: c.Owner, TTL: c.TTL})
		if !errors.Is(err, lake.ErrLeaseHeld) {
			return ls, err
		}
		log.Debug("partition leased elsewhere, waiting", "partition", p.String(), "err", err)
		if err := sleepCtx(ctx, poll); err != nil {
			return nil, err
		}
	}
}

func keepTasks(tasks []Task, keep func(Task) bool) []Task {
	if keep == nil {
		return tasks
	}
	var out []Task
	for _, t := range tasks {
		if keep(t) {
			out = append(out, t)
		}
	}
	return out
}
