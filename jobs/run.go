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
}

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
		Concurrency: storeConcurrency, Log: log})
	if err != nil {
		return pipeline.Summary{}, err
	}
	defer lk.Store.Close()
	if c.WrapStore != nil {
		lk.Store = c.WrapStore(lk.Store)
	}
	if err := claimLake(ctx, lk, c); err != nil {
		return pipeline.Summary{}, err
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
	env.Lake = lk
	jobs, err := Select(env, c.Stages)
	if err != nil {
		return pipeline.Summary{}, err
	}
	workers := c.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	r := &pipeline.Runner{Lake: lk, Workers: workers, Force: c.Force, Log: log, Hooks: c.Hooks, Progress: c.Progress}
	sum, err := r.RunJobs(ctx, jobs)
	log.Info("store operations", "metrics", fmt.Sprintf("%+v", metrics.Snapshot()))
	return sum, err
}

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
		enc, _ := json.MarshalIndent(want, "", "  ")
		return objstore.Put(ctx, lk.Store, IdentityKey, append(enc, '\n'))
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
