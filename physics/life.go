package physics

import (
	"math"
	"math/rand/v2"
	"time"
)

// ModelSpec is the electrical specification of a 12 V VRLA block model
// (battery_model rows carry the same numbers).
type ModelSpec struct {
	Name              string
	Manufacturer      string
	CapacityAh        float64 // rated C10 capacity
	NominalV          float64
	FloatMinV         float64 // per block at 25 °C
	FloatMaxV         float64
	BoostMinV         float64
	BoostMaxV         float64
	MaxChargeA        float64
	TempWarnC         float64
	TempCritC         float64
	ExpectedLifeYears float64 // design life at 25 °C
	R0mOhm            float64 // typical healthy ohmic resistance at 25 °C, full charge
	Peukert           float64 // Peukert exponent when new
}

// Profile is a jar's degradation profile (seed section 8.3).
type Profile uint8

const (
	ProfileHealthy Profile = iota
	ProfileAccelerated
	ProfileFailing
)

func (p Profile) String() string {
	switch p {
	case ProfileHealthy:
		return "healthy"
	case ProfileAccelerated:
		return "accelerated"
	case ProfileFailing:
		return "failing"
	}
	return "unknown"
}

// ProfileParams are the seed's degradation rates at 25 °C, before the knee.
type ProfileParams struct {
	SOHDeclinePctPerYear         float64
	ResistanceIncreasePctPerYear float64
	// NoiseStd is the seed's per-profile noise_std: the irregularity of the
	// degradation trajectory (process noise), not of any sensor. The fade
	// and resistance rates of each quarter of an effective year are the
	// profile's times a log-normal factor of σ = processNoiseScale ×
	// NoiseStd (0.16 healthy, 0.4 accelerated, 0.8 failing).
	NoiseStd     float64
	SuddenEvents bool
}

// Profiles holds the seed's section 8.3 values.
var Profiles = [3]ProfileParams{
	ProfileHealthy:     {2.0, 5.0, 0.02, false},
	ProfileAccelerated: {8.0, 15.0, 0.05, false},
	ProfileFailing:     {25.0, 40.0, 0.10, true},
}

// FleetMix is the seed's distribution of profiles across the fleet.
var FleetMix = [3]float64{0.85, 0.12, 0.03}

// DrawProfile draws a profile with the given mix.
func DrawProfile(r *rand.Rand, mix [3]float64) Profile {
	u := r.Float64()
	switch {
	case u < mix[0]:
		return ProfileHealthy
	case u < mix[0]+mix[1]:
		return ProfileAccelerated
	default:
		return ProfileFailing
	}
}

// FailureKind is a sudden failure mode.
type FailureKind uint8

const (
	FailureNone FailureKind = iota
	FailureDryOut
	FailureOpenCell
	FailureThermalRunaway
	FailureShort
)

func (f FailureKind) String() string {
	switch f {
	case FailureNone:
		return "none"
	case FailureDryOut:
		return "dry_out"
	case FailureOpenCell:
		return "open_cell"
	case FailureThermalRunaway:
		return "thermal_runaway"
	case FailureShort:
		return "short"
	}
	return "unknown"
}

// EOLSOH is end of life: below 80 % of rated capacity (IEEE 1188/450).
const EOLSOH = 0.80

// HalvingC is the temperature rise that halves design life (8-10 °C;
// Battery University BU-806a, C&D manual).
const HalvingC = 8.5

// AgingFactor is the Arrhenius-style acceleration of a room at tempC
// relative to 25 °C: life halves every HalvingC degrees.
func AgingFactor(tempC float64) float64 {
	return math.Exp2((tempC - 25) / HalvingC)
}

// Stress is what a jar's service does to its ageing: the causal stressors,
// as mean exposures over its service. Factor turns them into effective
// years of ageing per calendar year, which every rate of the life model
// (fade, resistance rise, onset of accelerated wear, sudden failures) runs
// on.
type Stress struct {
	RoomC float64 // long-run mean ambient of the jar (°C)
	// HoursAbove30PerYear are the hours a year the room spends above 30 °C
	// (HVAC faults), at HotC on average (33 °C if 0).
	HoursAbove30PerYear, HotC float64
	// DischargesPerYear of mean depth MeanDoD (fraction of capacity).
	DischargesPerYear, MeanDoD float64
	// FloatExcessV is the float voltage above the temperature-compensated
	// setpoint, per 12 V block (a high trim, a charger not compensating).
	FloatExcessV float64
	// RippleC is the RMS ripple current in multiples of C (A per Ah).
	RippleC float64
}

// designLifeEff is the design life in effective years (vrla-physics.md:
// 10 years at 25 °C); cycling spends it.
const designLifeEff = 10

// CycleLife is the number of discharges of depth dod an AGM standby block
// survives (estimate from typical datasheet cycle-life curves: ~250 cycles
// at 80 % depth, more at shallow depths, N ∝ DoD^-1.4).
func CycleLife(dod float64) float64 {
	return 250 * math.Pow(0.8/clamp(dod, 0.005, 1), 1.4)
}

// Factor is the effective years of ageing per calendar year:
//   - temperature: AgingFactor(RoomC), life halves per HalvingC (BU-806a);
//   - time above 30 °C: an hour at HotC ages like AgingFactor(HotC) hours;
//   - discharges: each spends 1/CycleLife(MeanDoD) of the design life;
//   - float above the setpoint: positive-grid corrosion roughly doubles per
//     +50 mV/cell of overvoltage (estimate; the reason for temperature
//     compensation, vrla-physics.md);
//   - ripple: a few times the 0.05 C limit costs only a few percent of life
//     (vrla-physics.md "Ripple", Emerson): +0.5 % × ((I/0.05C)² - 1).
func (s Stress) Factor() float64 {
	f := AgingFactor(s.RoomC)
	if s.HoursAbove30PerYear > 0 {
		hot := orDefault(s.HotC, 33)
		f += s.HoursAbove30PerYear / hoursPerYear * math.Max(0, AgingFactor(hot)-AgingFactor(s.RoomC))
	}
	if s.DischargesPerYear > 0 && s.MeanDoD > 0 {
		f += designLifeEff * s.DischargesPerYear / CycleLife(s.MeanDoD)
	}
	f *= math.Exp2(math.Max(0, s.FloatExcessV) / 6 / 0.05)
	if x := s.RippleC / 0.05; x > 1 {
		f *= 1 + 0.005*(x*x-1)
	}
	return f
}

const (
	hoursPerYear = 365.25 * 24
	// precursor window before an open cell, short or thermal runaway (days
	// to two weeks; vrla-physics.md).
	precursorMinDays = 3
	precursorMaxDays = 14
	// Dry-out develops over months (vrla-physics.md): 3-12 months from its
	// first signs to the open cell.
	dryOutMinDays = 90
	dryOutMaxDays = 365
	kneeTau       = 0.25 // effective years: how sharp the knee is

	knotYears         = 0.25 // process-noise knots, effective years
	processNoiseScale = 8.0
	// rhoFadeR correlates the resistance trajectory's noise with the fade's:
	// resistance follows capacity loss, but not deterministically (some
	// fade is invisible to ohmic readings).
	rhoFadeR = 0.5

	// Onset of accelerated wear: a hazard h(a) = c·k·e^{k·a} in effective
	// age a (so it rises with age and with every stressor), k per
	// effective year; c is set so that a jar leaves healthy wear before
	// onsetRefAge with probability mix[1]+mix[2]. onsetRefAge is
	// calibrated so that the seed's mix holds over the battery rows of the
	// default fleet (jobs/fleet TestProfileMix): measured 0.845 / 0.132 /
	// 0.023 over rows (every jar ever installed), 0.864 / 0.119 / 0.017
	// over the jars in service at the end (younger, so fewer onsets yet);
	// 0.6/0.3/0.1 gives 0.60/0.30/0.10 within 0.03 on other seeds.
	onsetK      = 0.3
	onsetRefAge = 8.1
	// Sudden failures: hazard λ0·e^{a/suddenTau} for every jar (about 2 %
	// within onsetRefAge), times suddenAccel after an accelerated onset,
	// plus suddenFailing per effective year for failing jars.
	suddenL0      = 5.7e-4
	suddenTau     = 4.0
	suddenAccel   = 3.0
	suddenFailing = 0.8
)

// JarLife is the hidden truth of one jar from install to end of service and
// beyond. All methods are pure functions of time.
type JarLife struct {
	// Profile is the wear the jar is in at the end of its service:
	// healthy unless its wear accelerated (OnsetAt) before End.
	Profile Profile
	Params  ProfileParams
	// Class is the wear it moves to at onset (accelerated or failing).
	Class     Profile
	Installed time.Time // UTC midnight of the install day
	RatedAh   float64

	Capacity0Ah float64 // true capacity at install
	R0mOhm      float64 // true ohmic resistance at install, 25 °C

	Stress      Stress
	AgingFactor float64 // effective years per calendar year (Stress.Factor)
	SOHRate     float64 // fraction of rated per effective year of Profile, unit-varied
	RRate       float64 // fraction of R0 per effective year of Profile, unit-varied
	KneeSOH     float64 // SOH where fade accelerates
	KneeMult    float64 // fade-rate multiplier past the knee
	RPerFade    float64 // extra relative resistance per unit of knee fade

	// OnsetAt is when wear accelerates (zero if never within the model's
	// horizon); onsetAge the effective age of it (+Inf if never).
	OnsetAt  time.Time
	onsetAge float64

	EOL       time.Time   // true SOH crosses EOLSOH
	Failure   FailureKind // sudden event, any jar
	FailureAt time.Time   // zero if none
	// End is when the jar leaves useful service: min(EOL, FailureAt).
	End           time.Time
	precursorDays float64 // dry-out: its duration

	// Cumulative fade and relative resistance rise (incl. process noise) at
	// knots every knotYears of effective age; linear in between.
	fadeCum, rCum []float64
	kneeA, kneeR  float64 // effective age of the knee, fade rate there
	// kneeFade's width and its constant term softplus(-kneeA/kneeTau),
	// fixed with the knee (the knots of a 1 h history computed it twice
	// an hour per jar).
	kneeTau, kneeOff float64
}

// NewJarLife draws the life of a jar in the wear profile from install (an
// onset at age 0; profile healthy: no onset), in a room at roomTempC and no
// other stressors. The fleet uses DrawJarLife; this form pins the profile
// (tests, tools).
func NewJarLife(seed uint64, spec ModelSpec, profile Profile, installed time.Time, roomTempC float64) JarLife {
	r := NewRand(seed)
	onset := math.Inf(1)
	if profile != ProfileHealthy {
		onset = 0
	}
	return newLife(r, spec, installed, Stress{RoomC: roomTempC}, onset, profile)
}

// DrawJarLife draws a jar's life: every jar starts in healthy wear; its
// wear accelerates at an onset drawn from a hazard rising with effective
// age (so with heat, discharges, float voltage and ripple: see Stress),
// calibrated so that mix[1]+mix[2] of jars leave healthy wear before
// onsetRefAge effective years; at onset a jar moves to accelerated or, in
// the proportion mix[2]:mix[1], failing wear. seed must be derived for
// this jar (root, slot, generation).
func DrawJarLife(seed uint64, spec ModelSpec, mix [3]float64, installed time.Time, st Stress) JarLife {
	r := NewRand(seed)
	pns := clamp(mix[1]+mix[2], 0, 0.999)
	e := r.ExpFloat64()
	class := ProfileAccelerated
	if pns > 0 && r.Float64() < mix[2]/pns {
		class = ProfileFailing
	}
	onset := math.Inf(1)
	if pns > 0 {
		c := -math.Log(1-pns) / (math.Exp(onsetK*onsetRefAge) - 1)
		onset = math.Log(1+e/c) / onsetK
	}
	return newLife(r, spec, installed, st, onset, class)
}

func newLife(r *rand.Rand, spec ModelSpec, installed time.Time, st Stress, onset float64, class Profile) JarLife {
	ph, pc := Profiles[ProfileHealthy], Profiles[class]
	l := JarLife{
		Class:       class,
		Installed:   installed.UTC().Truncate(24 * time.Hour),
		RatedAh:     spec.CapacityAh,
		Capacity0Ah: spec.CapacityAh * clamp(1.02+0.015*r.NormFloat64(), 0.97, 1.07),
		R0mOhm:      spec.R0mOhm * math.Exp(0.05*r.NormFloat64()),
		Stress:      st,
		AgingFactor: st.Factor(),
		KneeSOH:     0.85 + 0.05*r.Float64(),
		KneeMult:    3 + 2*r.Float64(),
		onsetAge:    onset,
	}
	unitS, unitR := math.Exp(0.12*r.NormFloat64()), math.Exp(0.12*r.NormFloat64())
	hS, hR := ph.SOHDeclinePctPerYear/100*unitS, ph.ResistanceIncreasePctPerYear/100*unitR
	cS, cR := pc.SOHDeclinePctPerYear/100*unitS, pc.ResistanceIncreasePctPerYear/100*unitR
	// Past the knee resistance follows capacity: real jars lose capacity and
	// gain resistance together near end of life (the knee), rather than
	// crossing an ohmic alarm while still healthy.
	l.RPerFade = 2 + r.Float64()

	// Process noise: piecewise-constant rates per knot, log-normal around
	// the profile's (mean 1), the resistance's correlated with the fade's.
	noiseSeed := r.Uint64()
	l.fadeCum = append(make([]float64, 0, 64), 0)
	l.rCum = append(make([]float64, 0, 64), 0)
	for k := 0; ; k++ {
		a0 := float64(k) * knotYears
		a1 := a0 + knotYears
		// Share of the knot after the onset.
		after := clamp((a1-onset)/knotYears, 0, 1)
		sig := processNoiseScale * (ph.NoiseStd*(1-after) + pc.NoiseStd*after)
		z := FastGauss(noiseSeed, uint64(2*k))
		zr := rhoFadeR*z + math.Sqrt(1-rhoFadeR*rhoFadeR)*FastGauss(noiseSeed, uint64(2*k+1))
		mS, mR := math.Exp(sig*z-sig*sig/2), math.Exp(sig*zr-sig*sig/2)
		dS := knotYears * ((1-after)*hS + after*cS) * mS
		dR := knotYears * ((1-after)*hR + after*cR) * mR
		l.fadeCum = append(l.fadeCum, l.fadeCum[k]+dS)
		l.rCum = append(l.rCum, l.rCum[k]+dR)
		if l.Capacity0Ah/l.RatedAh-l.fadeCum[k+1] < 0.5 || a1 > 80 {
			break
		}
	}
	// The knee: where the base trajectory crosses KneeSOH, at the local rate.
	l.kneeA = l.ageAtBase(l.KneeSOH)
	k := min(int(l.kneeA/knotYears), len(l.fadeCum)-2)
	l.kneeR = (l.fadeCum[k+1] - l.fadeCum[k]) / knotYears
	l.kneeTau = math.Min(kneeTau, math.Max(l.kneeA, 1e-3)/8)
	l.kneeOff = softplus(-l.kneeA / l.kneeTau)

	// Sudden failures, any jar: a hazard rising with effective age (heat
	// and the other stressors), higher after an onset of accelerated wear
	// and much higher in failing wear. Solved on a grid of the effective
	// age for an exponential draw of the cumulative hazard.
	e := r.ExpFloat64()
	H := func(a float64) float64 { // cumulative hazard, closed form
		b := math.Min(a, onset)
		h := suddenL0 * suddenTau * (math.Exp(b/suddenTau) - 1)
		if a > onset {
			h += suddenL0 * suddenTau * suddenAccel * (math.Exp(a/suddenTau) - math.Exp(onset/suddenTau))
			if class == ProfileFailing {
				h += suddenFailing * (a - onset)
			}
		}
		return h
	}
	failAge := math.Inf(1)
	if H(80) >= e {
		lo, hi := 0.0, 80.0
		for range 50 {
			m := (lo + hi) / 2
			if H(m) >= e {
				hi = m
			} else {
				lo = m
			}
		}
		failAge = hi
	}
	u, pd := r.Float64(), r.Float64()
	l.precursorDays = precursorMinDays + (precursorMaxDays-precursorMinDays)*pd
	if !math.IsInf(failAge, 1) {
		switch {
		case u < 0.40:
			// Dry-out: months of rising resistance, heat and float
			// current, ending in an open cell (vrla-physics.md).
			l.Failure = FailureDryOut
			l.precursorDays = dryOutMinDays + (dryOutMaxDays-dryOutMinDays)*pd
		case u < 0.65:
			l.Failure = FailureOpenCell
		case u < 0.80:
			l.Failure = FailureShort
		default:
			l.Failure = FailureThermalRunaway
		}
		l.FailureAt = l.atAge(failAge).Truncate(time.Minute)
	}
	l.EOL = l.timeAtSOH(EOLSOH)
	l.End = l.EOL
	if l.Failure != FailureNone && l.FailureAt.Before(l.End) {
		l.End = l.FailureAt
	}
	if !math.IsInf(onset, 1) {
		l.OnsetAt = l.atAge(onset)
	}
	l.Profile = ProfileHealthy
	if !l.OnsetAt.IsZero() && l.OnsetAt.Before(l.End) || onset == 0 {
		l.Profile = class
	}
	l.Params = Profiles[l.Profile]
	l.SOHRate, l.RRate = hS, hR
	if l.Profile != ProfileHealthy {
		l.SOHRate, l.RRate = cS, cR
	}
	return l
}

// atAge is the calendar time of effective age a.
func (l *JarLife) atAge(a float64) time.Time {
	years := math.Min(a/l.AgingFactor, 200)
	return l.Installed.Add(time.Duration(years * hoursPerYear * float64(time.Hour)))
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// effAge is the stress-weighted age in effective years at t.
func (l *JarLife) effAge(t time.Time) float64 {
	h := t.Sub(l.Installed).Hours()
	if h < 0 {
		h = 0
	}
	return h / hoursPerYear * l.AgingFactor
}

// cum interpolates a knot table at effective age a (extrapolating the last
// knot's rate).
func cum(tab []float64, a float64) float64 {
	x := a / knotYears
	k := int(x)
	if k >= len(tab)-1 {
		n := len(tab) - 1
		return tab[n] + (tab[n]-tab[n-1])*(x-float64(n))
	}
	return tab[k] + (tab[k+1]-tab[k])*(x-float64(k))
}

// ageAtBase is the effective age where the base trajectory (no knee)
// reaches soh.
func (l *JarLife) ageAtBase(soh float64) float64 {
	target := l.Capacity0Ah/l.RatedAh - soh
	if target <= 0 {
		return 0
	}
	n := len(l.fadeCum) - 1
	for k := 0; k < n; k++ {
		if l.fadeCum[k+1] >= target {
			return (float64(k) + (target-l.fadeCum[k])/(l.fadeCum[k+1]-l.fadeCum[k])) * knotYears
		}
	}
	return float64(n)*knotYears + (target-l.fadeCum[n])/math.Max(1e-6, (l.fadeCum[n]-l.fadeCum[n-1])/knotYears)
}

func (l *JarLife) kneeAge() float64 { return l.kneeA }

// kneeFade is the extra fade caused by the knee (0 well before it).
//
// The knee's width is at most an eighth of the knee age: with a fixed
// 0.25-year width a failing jar (knee at ~0.6 years) already faded ~27 %
// faster than its profile on day one, so the seed's pre-knee rates
// (section 8.3) did not hold.
func (l *JarLife) kneeFade(a float64) float64 {
	tau := l.kneeTau
	return l.kneeR * (l.KneeMult - 1) * tau * (softplus((a-l.kneeA)/tau) - l.kneeOff)
}

// dryOutFadeMax is the capacity a dry-out takes by its end (estimate: a
// drying cell loses electrolyte contact area).
const dryOutFadeMax = 0.15

// SOHAtAge is the true SOH (fraction of rated) at an effective age.
func (l *JarLife) SOHAtAge(a float64) float64 { return l.sohAt(a, l.kneeFade(a)) }

// sohAt is SOHAtAge with the knee's fade kf at a already known.
func (l *JarLife) sohAt(a, kf float64) float64 {
	s := l.Capacity0Ah/l.RatedAh - cum(l.fadeCum, a) - kf
	if l.Failure == FailureDryOut {
		s -= dryOutFadeMax * l.precursor(l.atAge(a))
	}
	return s
}

// SOH is the true state of health at t: capacity as a fraction of rated.
func (l *JarLife) SOH(t time.Time) float64 { return floorSOH(l.SOHAtAge(l.effAge(t))) }

func floorSOH(s float64) float64 {
	if s < 0.05 {
		s = 0.05
	}
	return s
}

// ResistanceAndCapacity is (ResistanceMOhm(t), CapacityAh(t)), the same
// values from one effective age and knee: JarSim reads both at every
// hourly knot.
func (l *JarLife) ResistanceAndCapacity(t time.Time) (rMOhm, capAh float64) {
	a := l.effAge(t)
	kf := l.kneeFade(a)
	return l.R0mOhm * l.rFactorAt(a, kf, t), floorSOH(l.sohAt(a, kf)) * l.RatedAh
}

// SOHAndResistance is (SOH(t), ResistanceMOhm(t)), the same values from
// one effective age and knee: the daily truth reads both for every jar-day.
func (l *JarLife) SOHAndResistance(t time.Time) (soh, rMOhm float64) {
	a := l.effAge(t)
	kf := l.kneeFade(a)
	return floorSOH(l.sohAt(a, kf)), l.R0mOhm * l.rFactorAt(a, kf, t)
}

// CapacityAh is the true capacity at t (25 °C, C10).
func (l *JarLife) CapacityAh(t time.Time) float64 { return l.SOH(t) * l.RatedAh }

// ResistanceFactor is R(t)/R0 at 25 °C and full charge, including a sudden
// failure's precursor ramp (a dry-out's months).
func (l *JarLife) ResistanceFactor(t time.Time) float64 {
	a := l.effAge(t)
	return l.rFactorAt(a, l.kneeFade(a), t)
}

// rFactorAt is ResistanceFactor at t, of effective age a and knee fade kf.
func (l *JarLife) rFactorAt(a, kf float64, t time.Time) float64 {
	f := 1 + cum(l.rCum, a) + l.RPerFade*kf
	if l.Failure != FailureNone {
		f *= 1 + l.precursor(t)*precursorR[l.Failure]
	}
	return f
}

// ResistanceMOhm is the true ohmic resistance at t, 25 °C.
func (l *JarLife) ResistanceMOhm(t time.Time) float64 { return l.R0mOhm * l.ResistanceFactor(t) }

// precursor ramps from 0 to 1 over the days before a sudden failure (a
// dry-out's months), quadratically.
func (l *JarLife) precursor(t time.Time) float64 {
	if l.Failure == FailureNone {
		return 0
	}
	d := l.FailureAt.Sub(t).Hours() / 24
	if d >= l.precursorDays {
		return 0
	}
	if d <= 0 {
		return 1
	}
	x := 1 - d/l.precursorDays
	return x * x
}

// Relative resistance rise at failure, by mode: dry-out and open cells show
// as a sharp ohmic rise; thermal runaway and shorts mostly as heat and
// float current.
var precursorR = [5]float64{0, 2.0, 2.0, 0.5, 0.3}

// Precursor returns the sudden-failure precursor state at t: extra jar
// heating (°C above normal) and a voltage drift (V) of the jar away from its
// string's mean. Both are zero for jars without a sudden event.
func (l *JarLife) Precursor(t time.Time) (extraHeatC, voltDriftV float64) {
	x := l.precursor(t)
	if x == 0 {
		return 0, 0
	}
	switch l.Failure {
	case FailureThermalRunaway:
		return 12 * x, -0.15 * x
	case FailureDryOut:
		return 3 * x, 0.10 * x
	case FailureOpenCell:
		return 1 * x, -0.25 * x
	case FailureShort:
		return 2 * x, -0.4 * x
	}
	return 0, 0
}

// OpensString reports whether the jar's sudden failure leaves an open
// circuit (an open cell, or a dry-out that ends in one), which opens its
// series string (vrla-physics.md).
func (l *JarLife) OpensString() bool {
	return l.Failure == FailureOpenCell || l.Failure == FailureDryOut
}

// FloatCurrentMult is how many times its steady float current the jar's
// string draws because of this jar at t: a thermal-runaway onset feeds
// itself (heat raises current: up to 10x), a drying or shorting jar
// recombines more (2-3x). 1 for a jar without a sudden event.
func (l *JarLife) FloatCurrentMult(t time.Time) float64 {
	x := l.precursor(t)
	if x == 0 {
		return 1
	}
	switch l.Failure {
	case FailureThermalRunaway:
		return 1 + 9*x
	case FailureDryOut:
		return 1 + 1.5*x
	}
	return 1 + 0.5*x
}

// Failed reports whether the jar's sudden failure has happened by t.
func (l *JarLife) Failed(t time.Time) bool {
	return l.Failure != FailureNone && !t.Before(l.FailureAt)
}

// timeAtSOH finds when SOH first falls to target (SOH is monotone in age).
// The knee and a dry-out only lower SOH, so the base trajectory's crossing
// bounds it; 32 halvings resolve it to well under a minute.
func (l *JarLife) timeAtSOH(target float64) time.Time {
	lo, hi := 0.0, l.ageAtBase(target)+1e-6
	for i := 0; i < 32; i++ {
		m := (lo + hi) / 2
		if l.SOHAtAge(m) > target {
			lo = m
		} else {
			hi = m
		}
	}
	return l.atAge(hi).Truncate(time.Minute)
}
