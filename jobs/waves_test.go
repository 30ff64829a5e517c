package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
)

var errUndeclaredRead = errors.New("stage read a table of a stage it does not declare")

// onlyStages is a store that refuses the tables (and blobs) of every
// stage not in allowed; keys of no table (_lake.json, leases, staging)
// pass.
type onlyStages struct {
	readGuard
	owner   map[string]string // table dir or blob prefix -> stage
	allowed []string
	mu      sync.Mutex
	hits    []string
}

func (s *onlyStages) check(key string) error {
	for dir, stage := range s.owner {
		if (key == dir || strings.HasPrefix(key, dir+"/") || strings.HasPrefix(dir, key)) && !slices.Contains(s.allowed, stage) {
			s.mu.Lock()
			s.hits = append(s.hits, key)
			s.mu.Unlock()
			return fmt.Errorf("%s (stage %s): %w", key, stage, errUndeclaredRead)
		}
	}
	return nil
}

func (s *onlyStages) Stat(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := s.check(key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return s.Store.Stat(ctx, key)
}

func (s *onlyStages) List(ctx context.Context, prefix string, fn func(objstore.ObjectInfo) error) error {
	if prefix != "" {
		if err := s.check(prefix); err != nil {
			return err
		}
	}
	return s.Store.List(ctx, prefix, func(o objstore.ObjectInfo) error {
		if err := s.check(o.Key); err != nil {
			return err
		}
		return fn(o)
	})
}

// stageOwners maps every table's directory and blob area to its stage.
func stageOwners(t *testing.T, sc jobs.Scenario) map[string]string {
	t.Helper()
	env, err := jobs.NewEnv(sc, 8)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{}
	for _, s := range jobs.Stages {
		for _, j := range s.Jobs(env) {
			for _, tb := range j.Tables() {
				owner[tb.Dir()] = s.Name
				owner[lake.BlobArea+"/"+tb.Name] = s.Name
			}
		}
	}
	return owner
}

// runOnly runs stage on dir through a store that allows only the tables
// of the allowed stages and returns the keys it refused and the error.
func runOnly(t *testing.T, dir string, sc jobs.Scenario, owner map[string]string, stage string, allowed []string) ([]string, int, error) {
	t.Helper()
	guard := &onlyStages{owner: owner, allowed: allowed}
	guard.before = guard.check
	var mu sync.Mutex
	published := 0
	_, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 8, Stages: []string{stage}, Workers: 2, Force: true,
		WrapStore: func(s objstore.Store) objstore.Store { guard.Store = s; return guard },
		Hooks: &lake.Hooks{Step: func(_ lake.Partition, _, step string) error {
			if step == lake.StepPublished {
				mu.Lock()
				published++
				mu.Unlock()
			}
			return nil
		}}})
	return guard.hits, published, err
}

// A stage that declares Reads runs, planning and writing, through a store
// that refuses the tables of every other stage but itself: the runner may
// then run it beside the stages it does not read (they cannot change what
// it sees), and its lineage names only committed inputs.
func TestStageReads(t *testing.T) {
	dir := t.TempDir()
	sc := window("2026-03-01", "2026-03-03")
	owner := stageOwners(t, sc)
	declared := 0
	for i, s := range jobs.Stages {
		if s.Reads == nil {
			continue
		}
		declared++
		for _, r := range s.Reads {
			if !slices.ContainsFunc(jobs.Stages[:i], func(e jobs.Stage) bool { return e.Name == r }) {
				t.Errorf("stage %s reads %q, not an earlier stage", s.Name, r)
			}
		}
		runOn(t, dir, "", sc, jobs.StageNames()[:i]...)
		hits, published, err := runOnly(t, dir, sc, owner, s.Name, append(slices.Clone(s.Reads), s.Name))
		if err != nil || len(hits) > 0 {
			t.Fatalf("stage %s beyond its declared reads %v: %v (refused %v)", s.Name, s.Reads, err, hits)
		}
		if published == 0 {
			t.Fatalf("stage %s wrote nothing: the check proved nothing", s.Name)
		}
	}
	if declared == 0 {
		t.Fatal("no stage declares Reads: the runner never overlaps stages")
	}
	// The guard works: features refused telemetry fails on its first read.
	hits, _, err := runOnly(t, dir, sc, owner, "features", []string{"master", "calc", "features"})
	if !errors.Is(err, errUndeclaredRead) || len(hits) == 0 {
		t.Fatalf("features without telemetry: err %v, refused %v; want a refusal", err, hits)
	}
}
