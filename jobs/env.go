package jobs

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/google/uuid"
)

// Env is the fleet-and-seeds context every job family plans from: the
// validated scenario, the root seed, the deterministic fleet built from
// them, the lake, and the derivations every family shares (seeds,
// partition metadata, segments, windows). It holds no caches and knows no
// table: a family that needs more (telemetry.go, truth.go,
// transactions.go) is a type that embeds it and owns what only its jobs
// use, so a cache lives exactly as long as the jobs that share it.
type Env struct {
	Scenario Scenario
	RootSeed uint64
	Fleet    *fleet.Fleet
	// Lake is what derived stages plan from and read.
	Lake *lake.Lake
	// Log receives the jobs' own debug lines (nil: slog.Default()).
	Log *slog.Logger
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

// ConfigHash identifies what shapes every partition besides the seed: the
// fleet's sites and profile mix. The window is not in it (a day's rows do
// not depend on which run wrote them) and the rates are inputs of the
// tables that use them, so changing one rewrites only those tables.
func (e *Env) ConfigHash() string { return e.Scenario.FleetHash() }

// Seed derives a seed from the root for labelled parts.
func (e *Env) Seed(labels ...string) uint64 {
	parts := make([]uint64, len(labels))
	for i, l := range labels {
		parts[i] = physics.HashString(l)
	}
	return physics.Mix(e.RootSeed, parts...)
}

// siteSeed seeds a site's room model (physics.BuildEnvSpan): the room the
// telemetry simulates is the one the technicians measure in, so telemetry,
// truth and transactions all derive it here.
func (e *Env) siteSeed(s *fleet.Site) uint64 { return e.Seed("site", s.Code) }

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
const GeneratorVersion = "2026.11.30-4"

// meta builds the manifest metadata of a synthesis partition.
func (e *Env) meta(job string, p lake.Partition, inputs ...string) lake.Meta {
	in := append([]string{"generator=" + GeneratorVersion}, inputs...)
	return lake.Meta{Job: job, RootSeed: e.RootSeed, Seed: e.partitionSeed(p), ConfigHash: e.ConfigHash(), Inputs: in}
}

// daySegments are the day segments of the telemetry window inside ms: a
// daily run adds one file to each month partition it touches. inputs, if
// not nil, names the rates a day's rows depend on (they vary by day).
func daySegments(ms lake.MonthSpan, inputs func(day time.Time) []string) []lake.Segment {
	var out []lake.Segment
	for _, d := range Days(ms.From, ms.To) {
		var in []string
		if inputs != nil {
			in = inputs(d)
		}
		out = append(out, lake.DaySegment(d, in...))
	}
	return out
}

// daySpan is the one-day span a day segment of month covers.
func daySpan(month string, seg lake.Segment) lake.MonthSpan {
	return lake.MonthSpan{Month: month, From: seg.From, To: seg.To}
}

// historySettle is how long after a month ends its maintenance history can
// still change: planned work looks 21 days ahead, events complete late and
// work orders close after the month. A transactional month is known as of
// min(end, month end + settle), so once the end is that far past, later
// runs find it fresh and leave it be (TestHistoryMonthsSettle checks it).
const historySettle = 60 * 24 * time.Hour

// historySegment is the as-of segment of month ms (ms.From is the month's
// first day) for a history whose rows can change until settle after the
// month ends. For planned work in months past the end, the knowledge end
// lies before the month starts.
func (e *Env) historySegment(ms lake.MonthSpan, settle time.Duration) lake.Segment {
	monthEnd := time.Date(ms.From.Year(), ms.From.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	return lake.AsOfSegment(ms.From, minTime(e.Scenario.End.Time, monthEnd.Add(settle)))
}

// snapshotSegment is the as-of segment of an unpartitioned master table:
// the fleet as known at the end. A run ending earlier (a backfill) finds it
// fresh, so current status is never rolled back.
func (e *Env) snapshotSegment() lake.Segment {
	return lake.AsOfSegment(fleet.Horizon.AddDate(-30, 0, 0), e.Scenario.End.Time)
}

// windowMonths are the telemetry window's month spans.
func (e *Env) windowMonths() []lake.MonthSpan {
	return lake.Months(e.Scenario.Start.Time, e.Scenario.End.Time)
}

// historyMonths spans from the earliest install to the scenario end.
func (e *Env) historyMonths() []lake.MonthSpan {
	first := e.Scenario.End.Time
	for _, b := range e.Fleet.Batteries {
		if b.InstalledDate.Before(first) {
			first = b.InstalledDate
		}
	}
	return lake.Months(time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC), e.Scenario.End.Time)
}

// stringsByID and sensorsByID are the fleet's strings and sensors in id
// order, the order their rows are written in.
func stringsByID(f *fleet.Fleet) []*fleet.String {
	out := slices.Clone(f.Strings)
	slices.SortFunc(out, func(a, b *fleet.String) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

func sensorsByID(f *fleet.Fleet) []*fleet.Sensor {
	out := slices.Clone(f.Sensors)
	slices.SortFunc(out, func(a, b *fleet.Sensor) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
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
