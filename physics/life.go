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
	// NoiseStd scales the jar's sensor noise: voltage σ = NoiseStd/4 V
	// (5 mV healthy, 25 mV failing) and relative ohmic σ = NoiseStd/4.
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

// FailureKind is a sudden failure mode of a failing jar.
type FailureKind uint8

const (
	FailureNone FailureKind = iota
	FailureDryOut
	FailureOpenCell
	FailureThermalRunaway
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

const (
	hoursPerYear = 365.25 * 24
	// precursor window before a sudden failure (days to two weeks).
	precursorMinDays = 3
	precursorMaxDays = 14
	kneeTau          = 0.25 // effective years: how sharp the knee is
)

// JarLife is the hidden truth of one jar from install to end of service and
// beyond. All methods are pure functions of time.
type JarLife struct {
	Profile   Profile
	Params    ProfileParams
	Installed time.Time // UTC midnight of the install day
	RatedAh   float64

	Capacity0Ah float64 // true capacity at install
	R0mOhm      float64 // true ohmic resistance at install, 25 °C

	AgingFactor float64 // temperature acceleration of the jar's room
	SOHRate     float64 // fraction of rated per effective year, unit-varied
	RRate       float64 // fraction of R0 per effective year, unit-varied
	KneeSOH     float64 // SOH where fade accelerates
	KneeMult    float64 // fade-rate multiplier past the knee
	RPerFade    float64 // extra relative resistance per unit of knee fade

	EOL       time.Time   // true SOH crosses EOLSOH
	Failure   FailureKind // sudden event (failing profile only)
	FailureAt time.Time   // zero if none
	// End is when the jar leaves useful service: min(EOL, FailureAt).
	End           time.Time
	precursorDays float64
}

// NewJarLife draws a jar's life. seed must be derived for this jar (root,
// slot, generation); roomTempC is the long-run mean temperature of its room.
func NewJarLife(seed uint64, spec ModelSpec, profile Profile, installed time.Time, roomTempC float64) JarLife {
	r := NewRand(seed)
	p := Profiles[profile]
	l := JarLife{
		Profile:     profile,
		Params:      p,
		Installed:   installed.UTC().Truncate(24 * time.Hour),
		RatedAh:     spec.CapacityAh,
		Capacity0Ah: spec.CapacityAh * clamp(1.02+0.015*r.NormFloat64(), 0.97, 1.07),
		R0mOhm:      spec.R0mOhm * math.Exp(0.05*r.NormFloat64()),
		AgingFactor: AgingFactor(roomTempC),
		SOHRate:     p.SOHDeclinePctPerYear / 100 * math.Exp(0.12*r.NormFloat64()),
		RRate:       p.ResistanceIncreasePctPerYear / 100 * math.Exp(0.12*r.NormFloat64()),
		KneeSOH:     0.85 + 0.05*r.Float64(),
		KneeMult:    3 + 2*r.Float64(),
	}
	// Past the knee resistance follows capacity: real jars lose capacity and
	// gain resistance together near end of life (the knee), rather than
	// crossing an ohmic alarm while still healthy.
	l.RPerFade = 2 + r.Float64()
	l.EOL = l.timeAtSOH(EOLSOH)
	l.End = l.EOL
	if p.SuddenEvents && r.Float64() < 0.6 {
		u := r.Float64()
		switch {
		case u < 0.5:
			l.Failure = FailureDryOut
		case u < 0.8:
			l.Failure = FailureOpenCell
		default:
			l.Failure = FailureThermalRunaway
		}
		frac := 0.4 + 0.5*r.Float64()
		age := l.EOL.Sub(l.Installed).Hours() * frac
		l.FailureAt = l.Installed.Add(time.Duration(age * float64(time.Hour))).Truncate(time.Minute)
		l.precursorDays = precursorMinDays + (precursorMaxDays-precursorMinDays)*r.Float64()
		if l.FailureAt.Before(l.End) {
			l.End = l.FailureAt
		}
	}
	return l
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// effAge is the temperature-weighted age in years at t.
func (l *JarLife) effAge(t time.Time) float64 {
	h := t.Sub(l.Installed).Hours()
	if h < 0 {
		h = 0
	}
	return h / hoursPerYear * l.AgingFactor
}

func (l *JarLife) kneeAge() float64 {
	return (l.Capacity0Ah/l.RatedAh - l.KneeSOH) / l.SOHRate
}

// kneeFade is the extra fade caused by the knee (0 well before it).
//
// The knee's width is at most an eighth of the knee age: with a fixed
// 0.25-year width a failing jar (knee at ~0.6 years) already faded ~27 %
// faster than its profile on day one, so the seed's pre-knee rates
// (section 8.3) did not hold.
func (l *JarLife) kneeFade(a float64) float64 {
	ka := l.kneeAge()
	tau := math.Min(kneeTau, math.Max(ka, 1e-3)/8)
	return l.SOHRate * (l.KneeMult - 1) * tau * (softplus((a-ka)/tau) - softplus(-ka/tau))
}

// SOHAtAge is the true SOH (fraction of rated) at an effective age.
func (l *JarLife) SOHAtAge(a float64) float64 {
	return l.Capacity0Ah/l.RatedAh - l.SOHRate*a - l.kneeFade(a)
}

// SOH is the true state of health at t: capacity as a fraction of rated.
func (l *JarLife) SOH(t time.Time) float64 {
	s := l.SOHAtAge(l.effAge(t))
	if s < 0.05 {
		s = 0.05
	}
	return s
}

// CapacityAh is the true capacity at t (25 °C, C10).
func (l *JarLife) CapacityAh(t time.Time) float64 { return l.SOH(t) * l.RatedAh }

// ResistanceFactor is R(t)/R0 at 25 °C and full charge, including a sudden
// failure's precursor ramp.
func (l *JarLife) ResistanceFactor(t time.Time) float64 {
	a := l.effAge(t)
	f := 1 + l.RRate*a + l.RPerFade*l.kneeFade(a)
	if l.Failure != FailureNone {
		f *= 1 + l.precursor(t)*precursorR[l.Failure]
	}
	return f
}

// ResistanceMOhm is the true ohmic resistance at t, 25 °C.
func (l *JarLife) ResistanceMOhm(t time.Time) float64 { return l.R0mOhm * l.ResistanceFactor(t) }

// precursor ramps from 0 to 1 over the days before a sudden failure.
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
// as a sharp ohmic rise; thermal runaway mostly as heat and float current.
var precursorR = [4]float64{0, 1.0, 2.0, 0.3}

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
	}
	return 0, 0
}

// Failed reports whether the jar's sudden failure has happened by t.
func (l *JarLife) Failed(t time.Time) bool {
	return l.Failure != FailureNone && !t.Before(l.FailureAt)
}

// timeAtSOH finds when SOH first falls to target (SOH is monotone in age).
func (l *JarLife) timeAtSOH(target float64) time.Time {
	lo, hi := 0.0, 1.0
	for l.SOHAtAge(hi) > target {
		hi *= 2
		if hi > 1e4 {
			break
		}
	}
	for i := 0; i < 60; i++ {
		m := (lo + hi) / 2
		if l.SOHAtAge(m) > target {
			lo = m
		} else {
			hi = m
		}
	}
	years := hi / l.AgingFactor
	return l.Installed.Add(time.Duration(years * hoursPerYear * float64(time.Hour))).Truncate(time.Minute)
}
