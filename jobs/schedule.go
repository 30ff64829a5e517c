package jobs

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
)

// Capacity-test schedule (IEEE 1188 / 450 practice, vrla-physics.md): an
// acceptance test after commissioning, then at intervals of 24 months (at
// most 25 % of the 10-year expected life), yearly once the string's
// measured capacity is below 90 % (as IEEE 450 reports it: % of rated,
// corrected for the test rate and to 25 °C; RatedPct). About 3 % of tests
// are cancelled (operations), and a test due while a jar of the string has
// failed (an alarm the BMS raised) is postponed; either way it is
// rescheduled a month later.
//
// Each test is simulated with the one capacity model of physics
// (physics.CCDischarge: Peukert with an age-raised exponent, temperature,
// the jar's true capacity and resistance): every jar of the string starts
// from the SOC the string really had (a recent outage leaves it partly
// charged), at the jar ambient of the site's room model, and the first jar
// to reach the cutoff ends the test. The instrument then measures it with
// its errors (capCurrentErr, capTimingErr): the reported capacity is within
// a few percent of the truth, never exact.
//
// The schedule is a pure function of (root seed, string): the telemetry
// stage draws the test discharges from it and the transactions stage writes
// capacity_test_raw from the same list, so both agree.

// CapacityTest is one scheduled string capacity test.
type CapacityTest struct {
	Seq       int
	Scheduled time.Time // planned start
	Start     time.Time // actual start (late tests start days after plan)
	CurrentA  float64   // constant discharge current (the set point)
	Duration  time.Duration
	// StartSOC is the string's true SOC when the test began.
	StartSOC float64
	// TrueAh is what the string truly delivered: CurrentA × Duration.
	TrueAh float64
	// MeasuredA, MeasuredMin and MeasuredAh are the instrument's readings.
	MeasuredA, MeasuredMin, MeasuredAh float64
	// RatedPct is the result as IEEE 450 reports it: the measured capacity
	// as % of rated after correcting for the test rate (datasheet Peukert)
	// and to 25 °C. The retest interval follows it.
	RatedPct  float64
	Weakest   *fleet.Battery // the jar that reached the cutoff first
	AmbientC  float64        // the jars' ambient (site room model)
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
const CutoffV = physics.CutoffV

// testRateC is the test current as a fraction of rated capacity (about the
// 3-hour rate).
const testRateC = 0.25

// Instrument errors of a capacity test (1 σ, estimates for a load bank and
// its logger): the current reading ±1 % and the run time ±1.5 % (the
// cutoff detected by a logger's voltage accuracy on the steep knee and its
// sample interval). Together about 1.8 %: a few percent at 2 σ.
const (
	capCurrentErr = 0.01
	capTimingErr  = 0.015
)

// CapInstrumentErr is the documented relative error (1 σ) of a measured
// capacity.
var CapInstrumentErr = math.Hypot(capCurrentErr, capTimingErr)

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
		eI, eT := r.NormFloat64(), r.NormFloat64()
		e.simulateTest(s, spec, &ct)
		if ct.Weakest == nil {
			break
		}
		if !ct.Cancelled && ct.Weakest.Life.Failed(ct.Start) {
			// Nobody discharges a string with a dead jar in it (the BMS
			// alarmed): the test waits for the replacement.
			ct.Cancelled = true
			ct.CancelReason = fmt.Sprintf("Postponed: jar J%02d failed, discharge test rescheduled after its replacement.", ct.Weakest.Position)
		}
		ct.MeasuredA = ct.CurrentA * (1 + capCurrentErr*eI)
		ct.MeasuredMin = round(ct.Duration.Minutes()*(1+capTimingErr*eT), 1)
		ct.MeasuredAh = ct.MeasuredA * ct.MeasuredMin / 60
		ct.RatedPct = 100 * ct.MeasuredAh / (spec.CapacityAh * physics.RatedCorrection(spec, ct.MeasuredA, ct.AmbientC))
		if !ct.Cancelled && ct.Start.Add(ct.Duration).After(end) {
			break // a test must finish inside the scenario
		}
		out = append(out, ct)
		interval := 24 // months
		switch {
		case ct.Cancelled:
			interval = 1 // rescheduled next month
		case ct.RatedPct < 90:
			interval = 12
		}
		base := ct.Scheduled
		next = time.Date(base.Year(), base.Month()+time.Month(interval), min(base.Day(), 28), 2, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(8)) * 24 * time.Hour)
	}
	return out
}

// simulateTest runs ct on the jars of s in service at its start: the
// ambient from the room model, the string's SOC at the start, and each
// jar's constant-current discharge; the first jar at cutoff ends it.
func (e *Env) simulateTest(s *fleet.String, spec physics.ModelSpec, ct *CapacityTest) {
	site := e.Fleet.SiteByID[s.LocationID]
	var env physics.EnvSpan
	physics.BuildEnvSpan(&env, e.siteSeed(site), site.Climate, ct.Start, time.Minute, 1)
	ct.AmbientC = float64(env.LagC[0])
	ct.StartSOC = e.socBefore(s, ct.Start)
	best := math.Inf(1)
	ct.Weakest = nil
	for _, b := range e.Fleet.StringJars(s.ID) {
		if !b.ActiveOn(ct.Start) {
			continue
		}
		d := e.testDischarge(b, spec, *ct)
		if c := d.CutoffS(); c < best {
			best, ct.Weakest = c, b
		}
	}
	if ct.Weakest == nil {
		return
	}
	ct.Duration = time.Duration(best * float64(time.Second)).Round(time.Second)
	ct.TrueAh = ct.CurrentA * ct.Duration.Hours()
}

// testDischarge is jar b's discharge in test ct: its polarisation spread
// (±15 %, 1 σ: estimate) is a property of the jar.
func (e *Env) testDischarge(b *fleet.Battery, spec physics.ModelSpec, ct CapacityTest) physics.CCDischarge {
	pol := math.Exp(0.15 * physics.Gauss(e.Seed("jar-polarisation", b.Code), 0))
	return physics.NewCCDischarge(&b.Life, spec, ct.Start, ct.CurrentA, ct.AmbientC, ct.StartSOC, pol)
}

// socBefore is the true SOC of the string's jars just before t: 1 unless
// an outage, generator test or surge of the day before or of that day
// (before t) left it partly charged, then the JarSim state of its first
// jar replayed through that event and its recharge.
func (e *Env) socBefore(s *fleet.String, t time.Time) float64 {
	sys := e.Fleet.SystemByID[s.SystemID]
	site := e.Fleet.SiteByID[sys.LocationID]
	var evs []physics.Event
	recent := false
	for _, d := range []time.Time{t.AddDate(0, 0, -1), t} {
		for _, ev := range physics.SiteEvents(e.siteSeed(site), sys.Kind, d) {
			if ev.Start.Before(t) {
				evs = append(evs, ev)
				recent = recent || ev.Discharges()
			}
		}
		evs = append(evs, physics.EqualizeEvents(e.stringSeed(s), d)...)
	}
	if !recent {
		return 1
	}
	jars := e.Fleet.StringJarsOn(s.ID, t)
	if len(jars) == 0 {
		return 1
	}
	var span physics.StringSpan
	physics.BuildStringSpan(&span, e.stringConfig(s, t.Truncate(24*time.Hour)), e.stringSeed(s), t.Add(-time.Second), time.Second, 1, evs)
	var sim physics.JarSim
	sim.Reset(&jars[0].Life, e.jarSeed(jars[0]), &span, nil, 1)
	x, _ := sim.Next()
	return x.SOC
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
