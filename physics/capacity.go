package physics

import (
	"math"
	"time"
)

// One capacity model for the whole synthesizer: the jar's true capacity at
// t (JarLife.CapacityAh), the available fraction at a discharge current
// (Peukert, exponent rising with age: peukertAt) and at a temperature
// (capTempFactor). JarSim discharges with it (telemetry) and CCDischarge
// draws capacity-test curves with it, so a test's duration and the
// telemetry's discharge agree.

// RatedAh is the capacity a new block of the model delivers to the cutoff
// at amps and tempC per its datasheet: the nominal jar (rated capacity, the
// datasheet R0 and Peukert exponent) discharged by CCDischarge. A
// technician reports a test as measured Ah over this, as % of rated (IEEE
// 450: actual over rated run time at the test rate, temperature
// corrected); so a jar whose true capacity is 80 % of rated reports about
// 80 %.
func RatedAh(spec ModelSpec, amps, tempC float64) float64 {
	rated := orDefault(spec.CapacityAh, 100)
	d := CCDischarge{Amps: amps, TempC: tempC, StartSOC: 1, PolMult: 1, ratedA: rated / 10,
		CapAh: rated * capTempFactor(tempC) * peukertFactor(amps, rated/10, orDefault(spec.Peukert, 1.1)),
		R0Ohm: orDefault(spec.R0mOhm, 4) / 1000,
	}
	return d.CutoffS() / 3600 * amps
}

// coupDeFouet is the voltage dip of a fully charged block in the first
// minutes of a discharge (the nucleation overvoltage of PbSO4), which then
// recovers to the plateau (vrla-physics.md "constant-current discharge
// curve"): a trough of ~20 mV/cell at the C/4 rate, growing with the rate,
// about a minute in and gone after ~5 min (estimate), scaled down when the
// discharge starts
// from a partial charge (no dip below ~95 % SOC).
func coupDeFouet(elapsedS, startSOC, rateC10 float64) float64 {
	if startSOC < 0.95 || elapsedS <= 0 {
		return 0
	}
	a := 6 * 0.02 * clampf(rateC10/2.5, 0.3, 2) * (startSOC - 0.95) / 0.05
	x := elapsedS / coupTauS
	return a * x * math.Exp(1-x)
}

const coupTauS = 60.0

// CCDischarge is a constant-current discharge of one jar from startSOC at
// amps and tempC, starting at t: the closed form of JarSim's two-RC model
// for a held current. Its voltage shows the immediate I·R0 drop, the coup
// de fouet, a slowly falling plateau (OCV and R0 following SOC, the RC
// pairs charging up) and the steep end knee (Shepherd-type depletion).
// PolMult scales the jar's polarisation (R1, R2): jars of one string
// spread by it as well as by capacity and R0.
type CCDischarge struct {
	Amps, TempC, StartSOC float64
	CapAh                 float64 // available at this current and temperature
	R0Ohm                 float64 // at 25 °C, full charge
	PolMult               float64
	ratedA                float64
}

// NewCCDischarge sets up the discharge of l at t (a failed jar delivers
// 5 % of rated).
func NewCCDischarge(l *JarLife, spec ModelSpec, t time.Time, amps, tempC, startSOC, polMult float64) CCDischarge {
	capAh := l.EffectiveCapacityAh(spec, t, amps, tempC)
	if l.Failed(t) {
		capAh = 0.05 * l.RatedAh
	}
	return CCDischarge{Amps: amps, TempC: tempC, StartSOC: clampf(startSOC, 0, 1), CapAh: capAh,
		R0Ohm: l.ResistanceMOhm(t) / 1000, PolMult: orDefault(polMult, 1), ratedA: l.RatedAh / 10}
}

// SOCAt is the jar's SOC after elapsedS seconds.
func (d *CCDischarge) SOCAt(elapsedS float64) float64 {
	return math.Max(0, d.StartSOC-d.Amps*elapsedS/3600/d.CapAh)
}

// VoltageAt is the jar's terminal voltage after elapsedS seconds.
func (d *CCDischarge) VoltageAt(elapsedS float64) float64 {
	soc := d.SOCAt(elapsedS)
	r0 := d.R0Ohm * rTempFactor(d.TempC) * rSOCFactor(soc)
	rb := d.R0Ohm * rTempFactor(d.TempC) * rSOCFactor(d.StartSOC) * d.PolMult
	pol := d.Amps * rb * (ecmR1Frac*(1-math.Exp(-elapsedS/ecmTau1S)) + ecmR2Frac*(1-math.Exp(-elapsedS/ecmTau2S)))
	rate := d.Amps / d.ratedA
	return OCV(soc, d.TempC) - d.Amps*r0 - pol - coupDeFouet(elapsedS, d.StartSOC, rate) - depletion(soc, rate)
}

// CutoffS is when the jar reaches CutoffV (seconds; 0 if it starts below).
// The voltage falls monotonically past the coup de fouet's trough, so a
// bisection past it finds the crossing.
func (d *CCDischarge) CutoffS() float64 {
	if d.VoltageAt(0) <= CutoffV {
		return 0
	}
	hi := 1.2 * 3600 * d.StartSOC * d.CapAh / d.Amps
	for d.VoltageAt(hi) > CutoffV && hi < 1e7 {
		hi *= 1.5
	}
	lo := 0.0
	for range 50 {
		m := (lo + hi) / 2
		if d.VoltageAt(m) > CutoffV && m > 3*coupTauS || (m <= 3*coupTauS && d.minVoltageTo(m) > CutoffV) {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

// minVoltageTo is the lowest voltage over [0, s] for s inside the coup de
// fouet (sampled every 5 s).
func (d *CCDischarge) minVoltageTo(s float64) float64 {
	v := math.Inf(1)
	for x := 0.0; x <= s; x += 5 {
		v = math.Min(v, d.VoltageAt(x))
	}
	return math.Min(v, d.VoltageAt(s))
}
