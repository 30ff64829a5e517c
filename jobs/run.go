package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
)

// RunConfig is everything a run needs; cmd/ fills it from flags.
type RunConfig struct {
	Lake     string // directory or s3://bucket/prefix
	Endpoint string // S3 endpoint override
	Scenario Scenario
	Seed     uint64
	Stages   []string // empty = all, in phase order
	Workers  int      // 0 = GOMAXPROCS
	Force    bool
	// StagingTTL: leftovers of crashed writers older than this are swept
	// at start. Concurrent runs on one lake keep their fresh staging.
	StagingTTL time.Duration
	Log        *slog.Logger
	Progress   func(done, total int, rowsDone, rowsTotal int64)
	Hooks      *lake.Hooks // tests: crash injection
	// WrapStore, if set, decorates the opened store (tests: a store that
	// refuses _truth/ to derived stages).
	WrapStore func(objstore.Store) objstore.Store

	// Shard runs this shard's share of every stage (cluster runs; see
	// pipeline.Shard). Sharded runs always hold partition leases.
	Shard pipeline.Shard
	// Leases makes every partition write hold its lease, so concurrent
	// runs on one lake never publish a partition twice at once.
	Leases bool
	// LeaseOwner names this writer in leases (default host/pid); a
	// restarted worker with the same name reclaims its leases at once.
	LeaseOwner string
	// LeaseTTL defaults to pipeline.DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Month, if set ("2006-01"), keeps only that month's partitions and
	// unpartitioned (as-of) tables: a month backfill.
	Month string
	// S3MaxBackoff caps the S3 SDK's retry backoff (0: 10 s).
	S3MaxBackoff time.Duration
	// TaskRetries: a failed task is run again this many times before the
	// run fails (-1 = never; 0 = DefaultTaskRetries).
	TaskRetries int
}

// DefaultTaskRetries is the runner's bound on re-running a failed task,
// on top of the store's per-request retries; the backoff doubles from
// taskRetryBackoff.
const (
	DefaultTaskRetries = 2
	taskRetryBackoff   = 2 * time.Second
)

// storeConcurrency caps simultaneous store operations of one run.
const storeConcurrency = 64

// DefaultSeed is the root seed of the default run.
const DefaultSeed = 20261101

// Validate checks the configuration without touching any store.
func (c *RunConfig) Validate() error {
	var errs []error
	if c.Lake == "" {
		errs = append(errs, errors.New("lake location is required"))
	}
	if err := c.Scenario.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d must be >= 0", c.Workers))
	}
	if c.StagingTTL < 0 {
		errs = append(errs, fmt.Errorf("staging ttl %v must be >= 0", c.StagingTTL))
	}
	for _, s := range c.Stages {
		if !slices.Contains(StageNames(), s) {
			errs = append(errs, fmt.Errorf("unknown stage %q (valid: %v)", s, StageNames()))
		}
	}
	if c.Shard.Count > 1 && (c.Shard.Index < 0 || c.Shard.Index >= c.Shard.Count) {
		errs = append(errs, fmt.Errorf("shard %d/%d out of range", c.Shard.Index, c.Shard.Count))
	}
	if c.Month != "" {
		if _, err := time.Parse("2006-01", c.Month); err != nil {
			errs = append(errs, fmt.Errorf("month %q: want YYYY-MM", c.Month))
		}
	}
	if c.LeaseTTL < 0 {
		errs = append(errs, fmt.Errorf("lease ttl %v must be >= 0", c.LeaseTTL))
	}
	return errors.Join(errs...)
}

// Run validates, opens the lake, sweeps stale staging, builds the fleet and
// runs the selected stages in phase order.
func Run(ctx context.Context, c RunConfig) (pipeline.Summary, error) {
	if err := c.Validate(); err != nil {
		return pipeline.Summary{}, fmt.Errorf("invalid configuration: %w", err)
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	metrics := &objstore.Metrics{}
	lk, err := pipeline.OpenLake(ctx, c.Lake, pipeline.LakeOptions{Endpoint: c.Endpoint, Retries: 4, Metrics: metrics,
		// Bounded store concurrency keeps an S3 endpoint from being
		// flooded by parallel partition writers and their ranged reads;
		// per-operation logging shows at --log-level debug.
		Concurrency: storeConcurrency, Log: log, S3MaxBackoff: c.S3MaxBackoff})
	if err != nil {
		return pipeline.Summary{}, &LakeError{err}
	}
	defer lk.Store.Close()
	if c.WrapStore != nil {
		lk.Store = c.WrapStore(lk.Store)
	}
	if err := claimLake(ctx, lk, c); err != nil {
		return pipeline.Summary{}, &LakeError{err}
	}
	if n, err := lk.Store.SweepStaging(ctx, c.StagingTTL); err != nil {
		return pipeline.Summary{}, fmt.Errorf("sweep staging: %w", err)
	} else if n > 0 {
		log.Info("swept stale staging", "objects", n)
	}
	env, err := NewEnv(c.Scenario, c.Seed)
	if err != nil {
		return pipeline.Summary{}, err
	}
	env.Lake, env.Log = lk, log
	jobs, err := Select(env, c.Stages)
	if err != nil {
		return pipeline.Summary{}, err
	}
	workers := c.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	r := &pipeline.Runner{Lake: lk, Workers: workers, Force: c.Force, Log: log, Hooks: c.Hooks, Progress: c.Progress,
		Shard: c.Shard, Keep: c.keep(), Lease: c.lease(), RetryBackoff: taskRetryBackoff, Reads: stageReads}
	switch {
	case c.TaskRetries > 0:
		r.TaskRetries = c.TaskRetries
	case c.TaskRetries == 0:
		r.TaskRetries = DefaultTaskRetries
	}
	sum, err := r.RunJobs(ctx, jobs)
	log.Info("store operations", "metrics", fmt.Sprintf("%+v", metrics.Snapshot()))
	return sum, err
}

// LakeError marks a lake that cannot be used at all: storage unreachable,
// credentials missing or rejected, a lake of another fleet or format.
// Schedulers tell it from a failed run by the exit code.
type LakeError struct{ Err error }

func (e *LakeError) Error() string { return e.Err.Error() }
func (e *LakeError) Unwrap() error { return e.Err }

// lakeIdentity is what makes two runs' partitions belong to one fleet. A
// lake holds one fleet: runs may differ in window, sample rate and stages
// (backfills), never in seed, sites or profile mix — their partitions would
// mix fleets under one glob.
type lakeIdentity struct {
	Format   int      `json:"format"`
	RootSeed uint64   `json:"root_seed"`
	Sites    []string `json:"sites"`
	Mix      Mix      `json:"mix"`
}

// lakeFormat versions the layout: 2 made partitions sets of segments.
const lakeFormat = 2

// IdentityKey is the lake-root object recording its identity.
const IdentityKey = "_lake.json"

func claimLake(ctx context.Context, lk *lake.Lake, c RunConfig) error {
	sites := c.Scenario.Sites
	if len(sites) == 0 {
		sites = fleet.SiteCodes()
	}
	want := lakeIdentity{Format: lakeFormat, RootSeed: c.Seed, Sites: append([]string(nil), sites...), Mix: c.Scenario.Mix}
	sort.Strings(want.Sites)
	b, err := objstore.ReadAll(ctx, lk.Store, IdentityKey)
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		// Conditional create: of concurrent first runs (shards) one writes
		// the identity and the others check theirs against it.
		enc, _ := json.MarshalIndent(want, "", "  ")
		err := lk.Store.PutIfAbsent(ctx, IdentityKey, append(enc, '\n'))
		if !errors.Is(err, objstore.ErrExists) {
			return err
		}
		if b, err = objstore.ReadAll(ctx, lk.Store, IdentityKey); err != nil {
			return fmt.Errorf("read lake identity: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read lake identity: %w", err)
	}
	var have lakeIdentity
	if err := json.Unmarshal(b, &have); err != nil {
		return fmt.Errorf("read lake identity %s: %w", lk.Store.URL(IdentityKey), err)
	}
	if have.Format != lakeFormat {
		return fmt.Errorf("lake %s was written in lake format %d, this battlake writes format %d (partitions of day files): %w; rebuild it into a new location",
			lk.Store.URL(""), have.Format, lakeFormat, lake.ErrOldFormat)
	}
	if have.RootSeed != want.RootSeed || !slices.Equal(have.Sites, want.Sites) || have.Mix != want.Mix {
		return fmt.Errorf("lake %s holds another fleet (seed %d, sites %v, mix %+v); this run has seed %d, sites %v, mix %+v: use another lake location",
			lk.Store.URL(""), have.RootSeed, have.Sites, have.Mix, want.RootSeed, want.Sites, want.Mix)
	}
	return nil
}

// keep restricts a month backfill to the month's partitions and the
// unpartitioned tables (master data, whose as-of segments are never
// rolled back by a run that ends earlier).
func (c *RunConfig) keep() func(pipeline.Task) bool {
	if c.Month == "" {
		return nil
	}
	return func(t pipeline.Task) bool { return t.Partition.Month == "" || t.Partition.Month == c.Month }
}

func (c *RunConfig) lease() *pipeline.LeaseConfig {
	if !c.Leases && c.Shard.Count <= 1 {
		return nil
	}
	lc := &pipeline.LeaseConfig{Owner: lake.DefaultLeaseOwner(), TTL: c.LeaseTTL}
	if c.LeaseOwner != "" {
		lc.Owner.Name = c.LeaseOwner
	}
	if lc.TTL == 0 {
		lc.TTL = pipeline.DefaultLeaseTTL
	}
	return lc
}

// MonthWindow is the telemetry window of a month backfill: [first day,
// first day of the next month).
func MonthWindow(month string) (Date, Date, error) {
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return Date{}, Date{}, fmt.Errorf("month %q: want YYYY-MM: %w", month, err)
	}
	return Date{t}, Date{t.AddDate(0, 1, 0)}, nil
}

// Plan lists the tasks a run with c would execute, with the shard (of
// shards) of each; it writes nothing but the lake identity check reads
// the lake. Derived stages plan from what the lake holds.
func Plan(ctx context.Context, c RunConfig, shards int) ([]pipeline.PlannedTask, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	lk, err := pipeline.OpenLake(ctx, c.Lake, pipeline.LakeOptions{Endpoint: c.Endpoint, Retries: 4, Concurrency: storeConcurrency})
	if err != nil {
		return nil, err
	}
	defer lk.Store.Close()
	env, err := NewEnv(c.Scenario, c.Seed)
	if err != nil {
		return nil, err
	}
	env.Lake = lk
	jobs, err := Select(env, c.Stages)
	if err != nil {
		return nil, err
	}
	return pipeline.Plan(ctx, jobs, shards, c.keep())
}
