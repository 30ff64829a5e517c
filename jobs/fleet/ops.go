package fleet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/battlake/battlake/physics"
)

// Operations driven by evidence. A string's life is simulated in time order
// from its install to End: what the operator observes (a BMS failure alarm,
// the quarterly ohmic survey, the monthly visual inspection, the IEEE 1188
// capacity tests) decides which jars are replaced and when, never the hidden
// truth. A flagged jar is replaced after a procurement delay; a weak jar the
// evidence has not caught yet runs past its true end of life until the next
// test or survey finds it; a string with several weak jars is replaced whole
// (some of its jars still good); false findings replace some jars early.
//
// Evidence thresholds (vrla-physics.md "Ageing", IEEE 1188/450 practice):
//   - capacity test below 80 % of rated (measured, IEEE 450 corrected): the
//     jars whose own share of the test shows below 80 % are replaced; eight
//     or more such jars (a third), or four or more in a string past 80 % of
//     its design life, and the whole string is;
//   - ohmic reading +50 % over the jar's commissioning baseline, or +35 %
//     over the median of its string peers (quarterly survey, handheld
//     tester ±1 %);
//   - a failure alarm (open cell, short, thermal runaway: the BMS sees it
//     within the hour);
//   - a swollen case found at the monthly inspection (more likely the more
//     degraded or overheated the jar; false positives at 0.03 % a jar-month).
//
// How it plays out (default fleet, seed 42, TestReplacementTimingFromEvidence):
// 1,635 replacements to 2026-11-01: 794 on ohmic readings, 358 after
// capacity tests, 308 in whole strings, 147 on swelling findings, 28 after
// failure alarms. Days from a jar's true end of service to its removal:
// p10 -1501, p25 -274, median -72, p75 +29, p90 +93; 67 % go before their
// true end (whole strings, false findings, ohmic and test flags near the
// 80 % line), 25 % run more than 30 days past it.
//
// Randomness: every event draws from its own generator, seeded by the
// string, the kind of event and its time (or the jar and the time of its
// flag), so a fleet built to an earlier End is exactly the prefix of one
// built to a later End.

// Removal reasons (Battery.RemovalReason).
const (
	ReasonFailure  = "failure_alarm"
	ReasonCapacity = "capacity_test"
	ReasonOhmic    = "ohmic"
	ReasonSwelling = "swelling"
	ReasonString   = "string_replacement"
)

// CapTest is one capacity test of a string as planned and measured.
type CapTest struct {
	Seq          int
	Scheduled    time.Time
	Start        time.Time
	Cancelled    bool
	CancelReason string // set when a failed jar postponed it
	CurrentA     float64
	Duration     time.Duration // until the first jar reached the cutoff (truth)
	StartSOC     float64       // the string's true SOC at the start
	AmbientC     float64       // jar ambient from the room model
	TrueAh       float64       // CurrentA × Duration
	// The instrument's readings (errors: CapCurrentErr, CapTimingErr).
	MeasuredA, MeasuredMin, MeasuredAh float64
	RatedPct                           float64 // IEEE 450 corrected, from the measurement
	Weakest                            *Battery
}

// End is when the first jar reached the cutoff.
func (c CapTest) End() time.Time { return c.Start.Add(c.Duration) }

// Finding is an observation at a monthly inspection: a swollen case (it may
// be wrong).
type Finding struct {
	At   time.Time
	Jar  *Battery
	Kind string // "swelling"
}

// Capacity-test instrument errors (1 σ, estimates for a load bank and its
// logger): current ±1 %, run time ±1.5 % (the cutoff detected on the steep
// knee by the logger's voltage accuracy and sample interval); together
// about 1.8 % of the measured capacity.
const (
	CapCurrentErr = 0.01
	CapTimingErr  = 0.015
	testRateC     = 0.25 // about the 3-hour rate
)

// LabelSeed is the seed the jobs derive for labelled parts (jobs.Env.Seed):
// the fleet uses it for the streams the telemetry shares (site room model,
// string operation, jar simulation), so a test simulated here sees the
// room and the string the telemetry shows.
func LabelSeed(root uint64, labels ...string) uint64 {
	parts := make([]uint64, len(labels))
	for i, l := range labels {
		parts[i] = physics.HashString(l)
	}
	return physics.Mix(root, parts...)
}

// StringConfig is the operating configuration of s on day (the
// telemetry adds an open circuit when a jar has failed open): everything
// in it is a function of the day, never of End. Rectifier wear is the
// charger's age over RectifierLifeYears: ripple and its harmonic content
// grow with it.
func (f *Fleet) StringConfig(s *String, day time.Time) physics.StringConfig {
	sys := f.SystemByID[s.SystemID]
	return stringConfig(s, sys, f.ModelByID[s.ModelID], f.SiteByID[sys.LocationID], day)
}

func stringConfig(s *String, sys *System, m *BatteryModel, site *Site, day time.Time) physics.StringConfig {
	w := day.Sub(sys.InstalledDate).Hours() / (24 * 365.25 * RectifierLifeYears)
	return physics.StringConfig{System: sys.Kind, Jars: s.BatteriesCount, Spec: m.Spec, LoadA: sys.LoadA,
		RectifierWear: math.Min(math.Max(w, 0), 1), RoomC: site.Climate.RoomMeanC(), FloatTrimV: s.FloatTrimV}
}

// RectifierLifeYears is the charger age at which ripple reaches its worst.
const RectifierLifeYears = 15

// TestDischarge is jar b's constant-current discharge in a capacity test:
// its polarisation spread (±15 %, 1 σ: estimate) is a property of the jar.
func TestDischarge(root uint64, b *Battery, spec physics.ModelSpec, start time.Time, amps, ambientC, startSOC float64) physics.CCDischarge {
	pol := math.Exp(0.15 * physics.Gauss(LabelSeed(root, "jar-polarisation", b.Code), 0))
	return physics.NewCCDischarge(&b.Life, spec, start, amps, ambientC, startSOC, pol)
}

type opsSim struct {
	b     *builder
	st    *String
	sys   *System
	site  *Site
	model *BatteryModel
	clim  physics.Climate
	batch batchInfo
	seed  uint64

	cur     [jarsPerString]*Battery
	order   [jarsPerString]time.Time // install day of an ordered replacement
	alarmed [jarsPerString]bool
	all     []*Battery // every jar of the string, in creation order
	swapDay time.Time  // install day of the last whole-string order
	tests   []CapTest
	finds   []Finding
}

// rng is the generator of one event: its kind and time.
func (o *opsSim) rng(kind string, t time.Time) *rand.Rand {
	return physics.NewRand(physics.Mix(o.seed, physics.HashString(kind), uint64(t.Unix())))
}

func (o *opsSim) newJar(pos, gen int, installed time.Time, prev *Battery) *Battery {
	jar := o.b.newJar(o.st, o.sys, o.model, pos, gen, installed, o.clim, o.batch, prev)
	o.cur[pos-1] = jar
	o.order[pos-1] = time.Time{}
	o.alarmed[pos-1] = false
	o.all = append(o.all, jar)
	return jar
}

// procurement is the delay from an order to the swap: from site stock
// within days, or ordered in for weeks (estimates); a whole string is an
// order of its own.
func procurement(r *rand.Rand, urgent, whole bool) time.Duration {
	stock := 0.4
	if urgent {
		stock = 0.7
	}
	var d int
	switch {
	case whole:
		d = intBetween(r, 30, 90)
	case r.Float64() < stock:
		d = intBetween(r, 1, 10)
	default:
		d = intBetween(r, 14, 60)
	}
	return time.Duration(d) * oneDay
}

func (o *opsSim) flag(p int, at time.Time, reason, evidence string, urgent bool) {
	jar := o.cur[p]
	if !o.order[p].IsZero() {
		return
	}
	o.order[p] = truncDay(at.Add(procurement(o.rng("order/"+jar.Code, at), urgent, false)))
	if !o.order[p].After(truncDay(at)) {
		o.order[p] = truncDay(at).Add(oneDay)
	}
	jar.RemovalReason, jar.FlaggedAt, jar.Evidence = reason, at, evidence
}

// run simulates the string from its install to End.
func (o *opsSim) run() {
	end := o.b.end
	inst := o.st.InstalledDate
	nextInspect := monthDay(inst, 1, 8)
	nextSurvey := nextQuarter(inst)
	nextTest := inst.AddDate(0, 0, 7+o.rng("acceptance", inst).IntN(15)).Add(2 * time.Hour)
	seq := 0
	var sched time.Time // scheduled time of a late test waiting for its start
	testCancelled := false
	for {
		// The next thing that happens.
		t, what, who := nextInspect, "inspect", -1
		pick := func(x time.Time, w string, p int) {
			if x.Before(t) {
				t, what, who = x, w, p
			}
		}
		pick(nextSurvey, "survey", -1)
		pick(nextTest, "test", -1)
		for p, j := range o.cur {
			if !o.order[p].IsZero() {
				pick(o.order[p], "install", p)
			}
			if l := &j.Life; l.Failure != physics.FailureNone && !o.alarmed[p] {
				// The BMS alarms within the hour of the failure.
				pick(l.FailureAt.Add(time.Duration(10+int(50*physics.Unit(physics.HashString(j.Code), 1)))*time.Minute), "alarm", p)
			}
		}
		if !t.Before(end) {
			break
		}
		switch what {
		case "install":
			o.install(t)
		case "alarm":
			o.alarmed[who] = true
			o.flag(who, t, ReasonFailure, "BMS alarm: "+o.cur[who].Life.Failure.String(), true)
		case "inspect":
			o.inspect(t)
			nextInspect = monthDay(t, 1, 8)
		case "survey":
			o.survey(t)
			nextSurvey = nextQuarter(t)
		case "test":
			if sched.IsZero() {
				start, cancelled := o.testPlan(t)
				if start.After(t) { // late: it runs when it starts
					sched, nextTest = t, start
					continue
				}
				sched, testCancelled = t, cancelled
			}
			months := o.test(sched, t, testCancelled, seq)
			seq++
			base := sched
			sched, testCancelled = time.Time{}, false
			r := o.rng("next-test", base)
			nextTest = time.Date(base.Year(), base.Month()+time.Month(months), min(base.Day(), 28), 2, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(8)) * oneDay)
			switch months {
			case 0: // whole string ordered: acceptance test after the swap
				nextTest = o.swapDay.AddDate(0, 0, 7+r.IntN(15)).Add(2 * time.Hour)
			case -1:
				nextTest = end.AddDate(100, 0, 0)
			}
		}
	}
	o.st.Tests, o.st.Findings = o.tests, o.finds
}

// monthDay is day d of the month k months after t, 00:00 UTC.
func monthDay(t time.Time, k, d int) time.Time {
	return time.Date(t.Year(), t.Month()+time.Month(k), d, 0, 0, 0, 0, time.UTC)
}

// install swaps every jar whose replacement arrives on day t (a whole
// string at once); the old jars leave that day.
func (o *opsSim) install(t time.Time) {
	day := truncDay(t)
	for p := range o.cur {
		if o.order[p].IsZero() || !o.order[p].Equal(day) {
			continue
		}
		old := o.cur[p]
		old.Removed = day
		o.newJar(p+1, old.Generation+1, day, old)
	}
}

// inspect is the monthly visual inspection: a swollen case is found with a
// probability that grows with what really deforms a case (heat of a
// thermal-runaway onset or a dry-out, deep fade, age), plus false findings.
func (o *opsSim) inspect(t time.Time) {
	r := o.rng("inspect", t)
	for p, j := range o.cur {
		l := &j.Life
		heat, _ := l.Precursor(t)
		pr := 0.0003 // false positive per jar-month (estimate)
		if l.Failed(t) && l.Failure == physics.FailureThermalRunaway {
			pr = 0.9
		}
		pr += 0.05 * math.Min(heat, 6)
		if s := l.SOH(t); s < 0.85 {
			pr += 0.5 * (0.85 - s)
		}
		if r.Float64() < pr {
			o.finds = append(o.finds, Finding{At: t, Jar: j, Kind: "swelling"})
			o.flag(p, t, ReasonSwelling, "swollen case found at inspection", false)
		}
	}
}

// OhmicZ is the standard-normal error (clipped at ±3) of jar code's
// quarterly ohmic reading in month (YYYY-MM): the survey the fleet decides
// on and the impedance_measurement_raw row the lake shows are one
// reading.
func OhmicZ(root uint64, code, month string) float64 {
	s := LabelSeed(root, "impedance-z", code, month)
	for i := uint64(0); ; i++ {
		if z := physics.Gauss(s, i); math.Abs(z) <= 3 || i > 20 {
			return math.Max(-3, math.Min(3, z))
		}
	}
}

// OhmicNoiseRel is the handheld tester's relative error (1 σ).
const OhmicNoiseRel = 0.01

// nextQuarter is the 28th of the next survey month (January, April, July,
// October) after t: the decision on the survey's readings, which the
// quarterly visit takes earlier in that month (jobs: days 3-26).
func nextQuarter(t time.Time) time.Time {
	m := time.Date(t.Year(), t.Month(), 28, 0, 0, 0, 0, time.UTC)
	for !m.After(t) || (m.Month()-1)%3 != 0 {
		m = m.AddDate(0, 1, 0)
	}
	return m
}

// survey is the quarterly ohmic survey, corrected to 25 °C (handheld
// tester, OhmicNoiseRel): +50 % over the commissioning baseline or +35 %
// over the median of the string's other jars flags a jar.
func (o *opsSim) survey(t time.Time) {
	month := t.Format("2006-01")
	at := t.AddDate(0, 0, -13) // mid-month: the visit is on days 3-26
	var rs [jarsPerString]float64
	for p, j := range o.cur {
		rs[p] = j.Life.ResistanceMOhm(at) * (1 + OhmicNoiseRel*OhmicZ(o.b.root, j.Code, month))
	}
	sorted := rs
	slices.Sort(sorted[:])
	med := (sorted[jarsPerString/2-1] + sorted[jarsPerString/2]) / 2
	for p, j := range o.cur {
		switch {
		case rs[p] >= 1.5*j.InitialResistanceMOhm:
			o.flag(p, t, ReasonOhmic, "ohmic +50 % over commissioning baseline", false)
		case rs[p] >= 1.35*med:
			o.flag(p, t, ReasonOhmic, "ohmic +35 % over string peers", false)
		}
	}
}

// test runs capacity test seq due at t and returns the months to the next
// (0: the whole string was ordered).
// testPlan is what happens to a test scheduled at t: about 3 % are
// cancelled (operations), 15 % start 3-14 days late.
func (o *opsSim) testPlan(t time.Time) (start time.Time, cancelled bool) {
	r := o.rng("test", t)
	if r.Float64() < 0.03 {
		return t, true
	} else if r.Float64() < 0.15 {
		return t.AddDate(0, 0, 3+r.IntN(12)), false
	}
	return t, false
}

// test runs capacity test seq scheduled at sched and started now (start)
// and returns the months from sched to the next (0: the whole string was
// ordered; -1: none before End).
func (o *opsSim) test(sched, start time.Time, cancelled bool, seq int) int {
	spec := o.model.Spec
	ct := CapTest{Seq: seq, Scheduled: sched, Start: start, Cancelled: cancelled, CurrentA: math.Round(testRateC*spec.CapacityAh*10) / 10}
	r := o.rng("test-run", sched)
	eI, eT := r.NormFloat64(), r.NormFloat64()
	for p, j := range o.cur {
		if !ct.Cancelled && j.Life.Failed(ct.Start) {
			// Nobody discharges a string with a dead jar (the BMS
			// alarmed): the test waits for the replacement.
			ct.Cancelled = true
			ct.CancelReason = fmt.Sprintf("Postponed: jar J%02d failed, discharge test rescheduled after its replacement.", p+1)
		}
	}
	if ct.Cancelled {
		o.tests = append(o.tests, ct)
		return 1
	}
	o.simulate(&ct)
	if ct.Start.Add(ct.Duration).After(o.b.end) {
		return -1 // a test must finish inside the scenario: none after it
	}
	ct.MeasuredA = ct.CurrentA * (1 + CapCurrentErr*eI)
	ct.MeasuredMin = math.Round(ct.Duration.Minutes()*(1+CapTimingErr*eT)*10) / 10
	ct.MeasuredAh = ct.MeasuredA * ct.MeasuredMin / 60
	corr := physics.RatedAh(spec, ct.MeasuredA, ct.AmbientC)
	ct.RatedPct = 100 * ct.MeasuredAh / corr
	o.tests = append(o.tests, ct)
	if ct.RatedPct >= 80 {
		if ct.RatedPct < 90 {
			return 12
		}
		return 24
	}
	// Below 80 %: the technician reads each jar's share from the curves
	// (the time its voltage would reach cutoff, ±3 %) and flags the jars
	// below 80 % of rated; the weakest always.
	var weak []int
	for p, j := range o.cur {
		d := TestDischarge(o.b.root, j, spec, ct.Start, ct.CurrentA, ct.AmbientC, ct.StartSOC)
		est := d.CutoffS() / 3600 * ct.CurrentA / corr * 100 * (1 + 0.03*r.NormFloat64())
		if est < 80 || j == ct.Weakest {
			weak = append(weak, p)
		}
	}
	age := ct.Start.Sub(o.st.InstalledDate).Hours() / hoursPerYear
	if len(weak) >= 8 || (len(weak) >= 4 && age >= 0.8*spec.ExpectedLifeYears) {
		day := truncDay(ct.End().Add(procurement(r, false, true)))
		o.swapDay = day
		for p, j := range o.cur {
			if o.order[p].IsZero() || o.order[p].After(day) {
				o.order[p] = day
				j.RemovalReason, j.FlaggedAt = ReasonString, ct.End()
				j.Evidence = fmt.Sprintf("string capacity test %.1f %% with %d weak jars: string replaced", ct.RatedPct, len(weak))
			}
		}
		return 0
	}
	for _, p := range weak {
		o.flag(p, ct.End(), ReasonCapacity, fmt.Sprintf("capacity test %.1f %%: jar below 80 %%", ct.RatedPct), false)
	}
	return 12
}

const hoursPerYear = 365.25 * 24

// simulate runs ct on the string's jars: the jars' ambient from the site's
// room model at the start, the string's true SOC then (an outage the day
// before may have left it partly charged), and every jar's constant-current
// discharge (physics.CCDischarge, the one capacity model); the first jar at
// cutoff ends the test.
func (o *opsSim) simulate(ct *CapTest) {
	root := o.b.root
	var env physics.EnvSpan
	physics.BuildEnvSpan(&env, LabelSeed(root, "site", o.site.Code), o.clim, ct.Start, time.Minute, 1)
	ct.AmbientC = float64(env.LagC[0])
	ct.StartSOC = o.socBefore(ct.Start)
	best := math.Inf(1)
	for _, j := range o.cur {
		d := TestDischarge(root, j, o.model.Spec, ct.Start, ct.CurrentA, ct.AmbientC, ct.StartSOC)
		if c := d.CutoffS(); c < best {
			best, ct.Weakest = c, j
		}
	}
	ct.Duration = time.Duration(best * float64(time.Second)).Round(time.Second)
	ct.TrueAh = ct.CurrentA * ct.Duration.Hours()
}

// socBefore is the true SOC of the string's jars just before t: 1 unless
// an outage, generator test or surge since the day before left it partly
// charged; then the JarSim state of its first jar replayed through that
// event and its recharge (the telemetry's own streams).
func (o *opsSim) socBefore(t time.Time) float64 {
	root := o.b.root
	siteSeed := LabelSeed(root, "site", o.site.Code)
	strSeed := LabelSeed(root, "string", o.st.Code)
	var evs []physics.Event
	recent := false
	for _, d := range []time.Time{t.AddDate(0, 0, -1), t} {
		for _, ev := range physics.SiteEvents(siteSeed, o.sys.Kind, d) {
			if ev.Start.Before(t) {
				evs = append(evs, ev)
				recent = recent || ev.Discharges()
			}
		}
		evs = append(evs, physics.EqualizeEvents(strSeed, d)...)
	}
	if !recent {
		return 1
	}
	var span physics.StringSpan
	cfg := stringConfig(o.st, o.sys, o.model, o.site, truncDay(t))
	physics.BuildStringSpan(&span, cfg, strSeed, t.Add(-time.Second), time.Second, 1, evs)
	var sim physics.JarSim
	j := o.cur[0]
	sim.Reset(&j.Life, LabelSeed(root, "jar", j.Code), &span, nil, 1)
	x, _ := sim.Next()
	return x.SOC
}
