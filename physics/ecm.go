package physics

import (
	"math"
	"time"
)

// Electrical model of a 12 V AGM block: OCV(SOC, T) in series with R0 and
// two RC pairs (Ceraolo 2000; Jackey SAE 2007-01-0778; vrla-physics.md
// "equivalent circuit": τ1 10-60 s, τ2 10-60 min, R1+R2 ≈ 0.5-1.5 × R0).

const (
	ocvEmptyV = 11.8 // AGM block at rest, 0 % SOC (Polaris AGM table)
	ocvSpanV  = 1.1  // to 12.9 V at 100 %: ~80-110 mV per 10 % SOC
	// OCV temperature coefficient: the thermodynamic dE/dT of the
	// lead-acid couple, +0.2..0.3 mV/°C per cell (vrla-physics.md; the
	// often quoted 2.5-3 mV/°C is the charge compensation), six cells.
	ocvTempCoefV = 6 * 0.00025
	// Charger float compensation -3 mV/°C per cell (Battery University),
	// six cells; applied by the jar at its own temperature.
	compCoefV = -6 * 0.003

	ecmTau1S  = 30.0   // fast (charge-transfer) pair
	ecmTau2S  = 1800.0 // slow (diffusion) pair
	ecmR1Frac = 0.4    // R1 = 0.4 R0, R2 = 0.5 R0: R1+R2 = 0.9 R0
	ecmR2Frac = 0.5
)

// CutoffV is the end-of-discharge voltage of a 12 V block (1.75 V/cell;
// vrla-physics.md: 1.67-1.75 V/cell by rate). A jar that reaches it in a
// discharge reads CutoffV until the discharge ends.
const CutoffV = 10.5

// ECMParams is the equivalent circuit of a jar at one operating point
// (ohms and farads): R0 in series with R1‖C1 and R2‖C2.
type ECMParams struct {
	R0, R1, C1, R2, C2 float64
}

// OCV is the open-circuit voltage of a 12 V AGM block at state of charge soc
// (0..1, clamped) and temperature tempC: linear 11.8-12.9 V at 25 °C
// (Polaris AGM table), +0.25 mV/°C per cell (vrla-physics.md).
func OCV(soc, tempC float64) float64 {
	return ocvEmptyV + ocvSpanV*clampf(soc, 0, 1) + ocvTempCoefV*(tempC-25)
}

// ResistanceTempFactor is R(T)/R(25 °C) of a block's ohmic resistance: it
// rises 1.25 %/°C below 25 °C and falls 1 %/°C above it (vrla-physics.md:
// falls ~1 %/°C warm, rises 1-1.5 %/°C cold), floored at 0.6 (60 °C).
// Every synthesized resistance reading (BMS telemetry, handheld ohmic
// tests) applies this one curve, so the calculated layer can undo it.
func ResistanceTempFactor(tempC float64) float64 { return rTempFactor(tempC) }

func rTempFactor(tempC float64) float64 {
	if tempC < 25 {
		return 1 + 0.0125*(25-tempC)
	}
	return maxf(0.6, 1-0.01*(tempC-25))
}

// rSOCFactor: resistance is lowest at full charge (vrla-physics.md) and
// ~1.6× when empty (estimate).
func rSOCFactor(soc float64) float64 {
	d := 1 - clampf(soc, 0, 1)
	return 1 + 0.6*d*d
}

// capTempFactor: available capacity falls ~0.6 %/°C below 25 °C and gains
// little above it (capped at +3 %).
func capTempFactor(tempC float64) float64 {
	if tempC < 25 {
		return maxf(0.5, 1-0.006*(25-tempC))
	}
	return minf(1.03, 1+0.003*(tempC-25))
}

// peukertFactor is the effective capacity fraction at discharge current
// amps for a block rated at ratedA (the C10 current): (I_rated/I)^(k-1),
// with k the Peukert exponent (AGM 1.05-1.15, rising with age: bdbatteries).
func peukertFactor(amps, ratedA, k float64) float64 {
	return math.Pow(ratedA/math.Max(amps, ratedA/4), k-1)
}

func ecmAt(r0BaseOhm, soc, tempC float64) ECMParams {
	r0 := r0BaseOhm * rTempFactor(tempC) * rSOCFactor(soc)
	r1, r2 := ecmR1Frac*r0, ecmR2Frac*r0
	return ECMParams{R0: r0, R1: r1, C1: ecmTau1S / r1, R2: r2, C2: ecmTau2S / r2}
}

// ECM is the jar's true equivalent circuit at t, state of charge soc and
// temperature tempC, as JarSim uses it (for the digital twin's comparison).
func (l *JarLife) ECM(t time.Time, soc, tempC float64) ECMParams {
	return ecmAt(l.ResistanceMOhm(t)/1000, soc, tempC)
}

// PeukertExponent is the jar's Peukert exponent at t: the model's new value
// (1.1 if unset) rising by 0.05 per 20 points of SOH lost.
func (l *JarLife) PeukertExponent(spec ModelSpec, t time.Time) float64 {
	return peukertAt(spec.Peukert, l.SOH(t))
}

func peukertAt(k0, soh float64) float64 {
	return orDefault(k0, 1.1) + 0.25*math.Max(0, 1-soh)
}

// EffectiveCapacityAh is the capacity available at discharge current amps
// and temperature tempC: true capacity × Peukert × temperature factor.
func (l *JarLife) EffectiveCapacityAh(spec ModelSpec, t time.Time, amps, tempC float64) float64 {
	soh := l.SOH(t)
	return soh * l.RatedAh * capTempFactor(tempC) * peukertFactor(amps, l.RatedAh/10, peukertAt(spec.Peukert, soh))
}

// Branchy min/max/clamp for hot loops: math.Max and math.Min are not
// intrinsics on amd64 (NaN and signed-zero handling); inputs here are finite.
func minf(a, b float64) float64 {
	if a < b {
		return a
	}
	return b
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

func clampf(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}
