package twin

import "math"

// ECM is the twin's equivalent circuit of a block: R0 in series with
// R1‖C1 (charge transfer) and R2‖C2 (diffusion). Ω and F; NaN marks a
// parameter that could not be identified.
type ECM struct {
	R0, R1, C1, R2, C2 float64
}

// Tau1 and Tau2 are the time constants R·C (s).
func (e ECM) Tau1() float64 { return e.R1 * e.C1 }
func (e ECM) Tau2() float64 { return e.R2 * e.C2 }

// Literature priors for what a window cannot identify (package comment).
const (
	PriorTau1S   = 30.0   // geometric middle of 10-60 s
	PriorTau2S   = 1800.0 // middle of 10-60 min
	PriorR1OfR0  = 0.45   // R1 = R2 = 0.45 R0: R1+R2 = 0.9 R0, mid-range
	PriorR2OfR0  = 0.45
	priorOCVTemp = 6 * 0.00025 // V/°C per 12 V block: +0.25 mV/°C per cell
)

// WithPriors fills the NaN parameters of e from the priors (R0 must be
// known): what the filter runs on when a window identified only R0.
func (e ECM) WithPriors() ECM {
	if math.IsNaN(e.R1) || math.IsNaN(e.C1) {
		e.R1 = PriorR1OfR0 * e.R0
		e.C1 = PriorTau1S / e.R1
	}
	if math.IsNaN(e.R2) || math.IsNaN(e.C2) {
		e.R2 = PriorR2OfR0 * e.R0
		e.C2 = PriorTau2S / e.R2
	}
	return e
}

// OCVParams is the twin's open-circuit voltage curve of a 12 V block:
// OCV(soc, T) = E0 + E1·soc + KT·(T - 25 °C), linear in SOC as an AGM
// block is near-linear between 0 and 100 % (package comment).
type OCVParams struct {
	E0 float64 `json:"e0_v"`       // V at 0 % SOC, 25 °C
	E1 float64 `json:"e1_v"`       // V from 0 to 100 % SOC
	KT float64 `json:"kt_v_per_c"` // V/°C
}

// PriorOCV is the literature curve: 11.8 V to 12.9 V, +1.5 mV/°C.
var PriorOCV = OCVParams{E0: 11.8, E1: 1.1, KT: priorOCVTemp}

// At is the OCV at soc (clamped to 0..1) and tempC.
func (p OCVParams) At(soc, tempC float64) float64 {
	return p.E0 + p.E1*clamp(soc, 0, 1) + p.KT*(tempC-25)
}

// SOCAt inverts the curve: the SOC (clamped to 0..1) whose OCV at tempC
// is v.
func (p OCVParams) SOCAt(v, tempC float64) float64 {
	if p.E1 <= 0 {
		return math.NaN()
	}
	return clamp((v-p.E0-p.KT*(tempC-25))/p.E1, 0, 1)
}

// Simulate is the exact discrete response of the 2RC circuit to a
// current held over each step (zero-order hold): v[k] for the current
// i[k] held over (t[k-1], t[k]], starting from relaxed pairs, OCV given
// per sample. dst is reused.
func (e ECM) Simulate(dst, t, i, ocv []float64) []float64 {
	dst = dst[:0]
	var v1, v2 float64
	for k := range t {
		if k > 0 {
			dt := t[k] - t[k-1]
			a1, a2 := math.Exp(-dt/e.Tau1()), math.Exp(-dt/e.Tau2())
			v1 = a1*v1 + (1-a1)*e.R1*i[k]
			v2 = a2*v2 + (1-a2)*e.R2*i[k]
		}
		dst = append(dst, ocv[k]+e.R0*i[k]+v1+v2)
	}
	return dst
}

// CapacityFadePct is (1 - current/initial) × 100: the seed's formula
// (section 5.6) for the capacity lost since new.
func CapacityFadePct(currentAh, initialAh float64) float64 {
	if initialAh <= 0 || math.IsNaN(currentAh) {
		return math.NaN()
	}
	return (1 - currentAh/initialAh) * 100
}

// PowerFadePct is (1 - R0_initial/R0_now) × 100: the power a block can
// deliver at a fixed allowed voltage drop ΔV is ΔV²/R0-proportional in
// current × voltage terms (I = ΔV/R0), so its loss relative to new is
// 1 - R0_initial/R0_now. Both resistances at the same temperature.
func PowerFadePct(r0Initial, r0Now float64) float64 {
	if r0Initial <= 0 || r0Now <= 0 {
		return math.NaN()
	}
	return (1 - r0Initial/r0Now) * 100
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
