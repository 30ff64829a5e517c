package jobs

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
)

// Capacity-test schedule (IEEE 1188 / 450 practice): an acceptance test
// after commissioning, then at intervals of at most 25 % of expected life
// (2 years for 10-year jars), yearly once the string's capacity is below
// 90 %, every 6 months below 85 % (capacity as IEEE 450 reports it: % of
// rated, corrected for the test rate and to 25 °C; RatedPct). The weakest
// jar ends a test, so the string's result is its weakest jar's capacity at
// the test rate. About 3 % of tests are cancelled (operations), and a test
// due while a jar of the string has failed is postponed; either way it is
// rescheduled a month later.
//
// The schedule is a pure function of (root seed, string): the telemetry
// stage draws the test discharges from it and the transactions stage writes
// capacity_test_raw from the same list, so both agree.

// CapacityTest is one scheduled string capacity test.
type CapacityTest struct {
	Seq       int
	Scheduled time.Time // planned start
	Start     time.Time // actual start (late tests start days after plan)
	CurrentA  float64   // constant discharge current
	Duration  time.Duration
	// CapacityPct is the true string capacity at the test rate as % of
	// rated (weakest jar), what an ideal instrument would measure.
	CapacityPct float64
	// RatedPct is the result as IEEE 450 reports it: capacity as % of
	// rated after correcting for the test rate and to 25 °C, i.e. the
	// weakest jar's SOH. The retest interval follows it.
	RatedPct  float64
	Weakest   *fleet.Battery
	AmbientC  float64
	Cancelled bool
	// CancelReason is set when the schedule itself cancels a test (a
	// failed jar awaiting replacement); other cancellations are
	// operational and carry no reason here.
	CancelReason string
}

// End is when the weakest jar reached cutoff.
func (c CapacityTest) End() time.Time { return c.Start.Add(c.Duration) }

// CutoffV is the end-of-discharge voltage per 12 V block at the test rates
// used here (1.75 V/cell).
const CutoffV = 10.5

// testRateC is the test current as a fraction of rated capacity (about the
// 3-hour rate).
const testRateC = 0.25

type scheduleCache struct {
	mu sync.Mutex
	m  map[*fleet.String][]CapacityTest
}

// CapacityTests lists a string's capacity tests from its install to the
// scenario end (cancelled ones included, flagged).
func (e *Env) CapacityTests(s *fleet.String) []CapacityTest {
	c := &e.caches.sched
	c.mu.Lock()
	if c.m == nil {
		c.m = map[*fleet.String][]CapacityTest{}
	}
	defer c.mu.Unlock()
	if t, ok := c.m[s]; ok {
		return t
	}
	t := e.buildCapacityTests(s)
	c.m[s] = t
	return t
}

func (e *Env) buildCapacityTests(s *fleet.String) []CapacityTest {
	r := physics.NewRand(e.Seed("capacity-tests", s.Code))
	spec := e.Fleet.ModelByID[s.ModelID].Spec
	site := e.Fleet.SiteByID[s.LocationID]
	end := e.Scenario.End.Time
	var out []CapacityTest
	// Acceptance test 1-3 weeks after commissioning, 09:00 local (02:00 UTC).
	next := s.InstalledDate.AddDate(0, 0, 7+r.IntN(15)).Add(2 * time.Hour)
	for seq := 0; next.Before(end); seq++ {
		ct := CapacityTest{Seq: seq, Scheduled: next, Start: next, CurrentA: math.Round(testRateC*spec.CapacityAh*10) / 10}
		if r.Float64() < 0.03 {
			ct.Cancelled = true
		} else if r.Float64() < 0.15 {
			ct.Start = next.AddDate(0, 0, 3+r.IntN(12)) // late
		}
		ct.AmbientC = site.Climate.RoomMeanC() + 0.8*r.NormFloat64()
		ct.CapacityPct, ct.Weakest = e.stringCapacityAt(s, spec, ct.Start, ct.CurrentA, ct.AmbientC)
		ct.RatedPct = 100 * jarTestSOH(ct.Weakest, ct.Start)
		if !ct.Cancelled && ct.Weakest.Life.Failed(ct.Start) {
			// Nobody discharges a string with a dead jar in it: the test
			// waits for the replacement.
			ct.Cancelled = true
			ct.CancelReason = fmt.Sprintf("Postponed: jar J%02d failed, discharge test rescheduled after its replacement.", ct.Weakest.Position)
		}
		// CapacityPct is already the capacity delivered at the test rate.
		hours := ct.CapacityPct / 100 * spec.CapacityAh / ct.CurrentA
		ct.Duration = time.Duration(hours * float64(time.Hour)).Round(time.Second)
		if !ct.Cancelled && ct.Start.Add(ct.Duration).After(end) {
			break // a test must finish inside the scenario
		}
		out = append(out, ct)
		interval := 24 // months
		switch {
		case ct.Cancelled:
			interval = 1 // rescheduled next month
		case ct.RatedPct < 85:
			interval = 6
		case ct.RatedPct < 90:
			interval = 12
		}
		base := ct.Scheduled
		next = time.Date(base.Year(), base.Month()+time.Month(interval), min(base.Day(), 28), 2, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(8)) * 24 * time.Hour)
	}
	return out
}

// peukertFactor scales rated (C10) capacity to the capacity delivered at
// current i (Peukert: C_i = C10 * (I10/i)^(k-1)).
func peukertFactor(spec physics.ModelSpec, i float64) float64 {
	k := spec.Peukert
	if k <= 1 {
		k = 1.1
	}
	return math.Pow(spec.CapacityAh/10/i, k-1)
}

// tempFactor is the capacity change with temperature (about +0.6 %/°C
// around 25 °C, capped above 30 °C).
func tempFactor(c float64) float64 {
	return 1 + 0.006*(math.Min(c, 30)-25)
}

// stringCapacityAt is the string's deliverable capacity at current i as %
// of rated, set by its weakest jar in service at t.
func (e *Env) stringCapacityAt(s *fleet.String, spec physics.ModelSpec, t time.Time, i, ambientC float64) (float64, *fleet.Battery) {
	best := math.Inf(1)
	var weakest *fleet.Battery
	for _, b := range e.Fleet.StringJars(s.ID) {
		if !b.ActiveOn(t) {
			continue
		}
		c := jarTestSOH(b, t)
		if c < best {
			best, weakest = c, b
		}
	}
	if weakest == nil {
		return 0, nil
	}
	return 100 * best * peukertFactor(spec, i) * tempFactor(ambientC), weakest
}

// jarTestSOH is the fraction of rated capacity jar b can deliver at t: its
// true SOH, or 5 % once a sudden failure has happened.
func jarTestSOH(b *fleet.Battery, t time.Time) float64 {
	if b.Life.Failed(t) {
		return 0.05
	}
	return b.Life.SOH(t)
}

// jarTestCapacityAh is what jar b delivers (Ah) in a capacity test at t at
// current i and ambientC: the same figure stringCapacityAt takes the
// minimum of, so the weakest jar's charge runs out exactly at the test's
// Duration (capacity_test_curve relies on it).
func jarTestCapacityAh(b *fleet.Battery, spec physics.ModelSpec, t time.Time, i, ambientC float64) float64 {
	return jarTestSOH(b, t) * spec.CapacityAh * peukertFactor(spec, i) * tempFactor(ambientC)
}

// DischargeTestEvents are the capacity-test discharges of s starting on day.
func (e *Env) DischargeTestEvents(s *fleet.String, day time.Time) []physics.Event {
	var out []physics.Event
	for _, ct := range e.CapacityTests(s) {
		if ct.Cancelled || !sameDay(ct.Start, day) {
			continue
		}
		out = append(out, physics.Event{Kind: physics.EventDischargeTest, Start: ct.Start, End: ct.End(), CurrentA: ct.CurrentA, Seq: uint32(100 + ct.Seq)})
	}
	return out
}

// LastCapacityTest is the date of the string's last completed test before
// the scenario end (string.last_capacity_test_date).
func (e *Env) LastCapacityTest(s *fleet.String) *time.Time {
	var last *time.Time
	for _, ct := range e.CapacityTests(s) {
		if !ct.Cancelled {
			d := ct.Start.Truncate(24 * time.Hour)
			last = &d
		}
	}
	return last
}

func sameDay(a, b time.Time) bool {
	return a.UTC().Truncate(24 * time.Hour).Equal(b.UTC().Truncate(24 * time.Hour))
}

func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}
