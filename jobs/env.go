package jobs

import (
	"fmt"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/google/uuid"
)

// Env is what every job plans from: the validated scenario, the root seed
// and the deterministic fleet built from them.
type Env struct {
	Scenario Scenario
	RootSeed uint64
	Fleet    *fleet.Fleet

	// caches of pure derivations, shared by the jobs of one run and freed
	// with the Env.
	caches struct {
		tx txCache
	}
}

// NewEnv validates the scenario and builds the fleet.
func NewEnv(s Scenario, rootSeed uint64) (*Env, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("invalid scenario: %w", err)
	}
	f, err := fleet.Build(fleet.Options{
		RootSeed: rootSeed,
		Sites:    s.Sites,
		End:      s.End.Time,
		Mix:      [3]float64{s.Mix.Healthy, s.Mix.Accelerated, s.Mix.Failing},
	})
	if err != nil {
		return nil, fmt.Errorf("build fleet: %w", err)
	}
	return &Env{Scenario: s, RootSeed: rootSeed, Fleet: f}, nil
}

// ConfigHash identifies everything but the seed that shapes the output.
func (e *Env) ConfigHash() string { return e.Scenario.Hash() }

// Seed derives a seed from the root for labelled parts.
func (e *Env) Seed(labels ...string) uint64 {
	parts := make([]uint64, len(labels))
	for i, l := range labels {
		parts[i] = physics.HashString(l)
	}
	return physics.Mix(e.RootSeed, parts...)
}

// IDSeed folds an entity id into a seed part.
func IDSeed(id uuid.UUID) uint64 {
	var h uint64
	for _, b := range id {
		h = h*131 + uint64(b)
	}
	return physics.Mix(h)
}

// partitionSeed is the seed recorded in a partition's manifest: every
// random stream used to write that partition is derived from it or from the
// root via the entity and day, never from a run-wide sequence.
func (e *Env) partitionSeed(p lake.Partition) uint64 {
	return physics.Mix(e.RootSeed, physics.HashString(p.Table.Name), physics.HashString(p.Month), uint64(p.Bucket+1))
}

// GeneratorVersion enters every partition's fingerprint. Bump it whenever a
// code change alters what the synthesizer writes, so reruns rewrite the
// partitions built by the old code instead of skipping them as fresh.
const GeneratorVersion = "2026.11.29-honest-7"

// meta builds the manifest metadata of a synthesis partition.
func (e *Env) meta(job string, p lake.Partition, inputs ...string) lake.Meta {
	in := append([]string{"generator=" + GeneratorVersion}, inputs...)
	return lake.Meta{Job: job, RootSeed: e.RootSeed, Seed: e.partitionSeed(p), ConfigHash: e.ConfigHash(), Inputs: in}
}

// Days lists UTC midnights in [from, to).
func Days(from, to time.Time) []time.Time {
	var out []time.Time
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// DayNumber is a stable integer for a day (days since the Unix epoch).
func DayNumber(d time.Time) uint64 { return uint64(d.Unix() / 86400) }
