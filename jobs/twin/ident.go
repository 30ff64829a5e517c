package twin

import (
	"errors"
	"fmt"
	"math"
)

// Parameter identification from a step response (an event window): R0
// from the instantaneous voltage step over the current step, and the RC
// pairs by variable projection: for fixed time constants (τ1, τ2) the
// terminal voltage is linear in the resistances, the OCV offset, the
// pairs' unknown initial voltages and the OCV slope with charge, so those
// come from linear least squares and only (τ1, τ2) are searched (a log
// grid, then golden-section refinement per axis).

// Sentinel errors callers branch on (skip the window, keep the prior).
var (
	ErrNoStep   = errors.New("no current step")
	ErrTooFew   = errors.New("too few samples")
	ErrIllPosed = errors.New("least squares ill-posed")
)

// Window is one jar's samples: time (s, increasing), current (A, + charges)
// and terminal voltage (V). Current i[k] is taken as held over
// (t[k-1], t[k]] (zero-order hold, what a sampled BMS sees).
type Window struct {
	T, I, V []float64
}

// IdentOptions bound the identification.
type IdentOptions struct {
	MinStepA float64    // a current step: |ΔI| ≥ this between two samples (A)
	Tau1     [2]float64 // τ1 search range (s)
	Tau2     [2]float64 // τ2 search range (s)
	// MinSpanTau2 is the shortest response (s) from which τ2 is fitted: a
	// diffusion pair of 10-60 min is invisible in an 80 s transfer window
	// (its voltage there is a straight ramp, indistinguishable from the OCV
	// falling with charge), so shorter windows leave R2, C2 NaN and the
	// caller keeps the prior or NULL.
	MinSpanTau2 float64
	// Tau1 counts as identified when the response lasts at least
	// MinSpanOverTau1 × τ1 and τ1 is inside its range (not on a bound).
	MinSpanOverTau1 float64
	// MaxPairOverR0 bounds a pair's resistance: the literature has
	// R1 + R2 ≈ 0.5-1.5 × R0, so a pair above MaxPairOverR0 × R0 is the
	// least squares trading a barely excited regressor against the
	// initial polarisation, not a circuit element (seen: 680 mΩ on a
	// 3 mΩ block after a 2 s load step); it is reported unidentified.
	MaxPairOverR0 float64
}

// DefaultIdent: 5 A steps (a float current is < 1 A), τ1 in 5-300 s
// (literature 10-60 s; below 5 s a "pair" would be fitting the coup de
// fouet's onset, not charge transfer), τ2 in 5 min-3 h, τ2 from 30 min of
// response, τ1 from half of it.
var DefaultIdent = IdentOptions{MinStepA: 5, Tau1: [2]float64{5, 300}, Tau2: [2]float64{300, 10800}, MinSpanTau2: 1800, MinSpanOverTau1: 0.5, MaxPairOverR0: 3}

// Fit is an identification result.
type Fit struct {
	ECM    ECM     // NaN where not identified
	R0Step float64 // Ω: ΔV/ΔI at the first step alone
	OCV0   float64 // V: fitted OCV at the window's first sample
	RMSEV  float64 // V: model against measured voltage over the response
	N      int     // samples fitted
	SpanS  float64 // s: duration of the response fitted
	StepAt int     // index of the first sample after the step
	Tau1OK bool    // R1, C1 identified
	Tau2OK bool    // R2, C2 identified
}

// FirstStep is the index k of the first sample whose current differs from
// the previous by at least minStepA, or -1.
func FirstStep(i []float64, minStepA float64) int {
	for k := 1; k < len(i); k++ {
		if math.Abs(i[k]-i[k-1]) >= minStepA {
			return k
		}
	}
	return -1
}

// DischargeResponse is the part of a window a free 2RC response explains:
// from the sample before the first discharge step to the last sample
// before the current turns to charge (> chargeA). While charging, a
// constant-voltage charger clamps the terminal voltage, which no circuit
// of the block explains. ok is false when the first step is not a
// discharge.
func DischargeResponse(i []float64, minStepA, chargeA float64) (from, to int, ok bool) {
	k := FirstStep(i, minStepA)
	if k < 0 || i[k] >= i[k-1] || i[k] >= 0 {
		return 0, 0, false
	}
	to = k
	for to < len(i) && i[to] <= chargeA {
		to++
	}
	return k - 1, to, true
}

// Decimate keeps a sample every minDt seconds, every sample on either
// side of a current change of more than tolA, so the zero-order hold stays
// exact, and every sample within stepPreS before and stepPostS after such
// a change (the step estimate's samples): identification cost then scales
// with the response's duration, not its sampling rate.
func Decimate(w Window, minDt, tolA float64) Window {
	var out Window
	last := math.Inf(-1)
	n := len(w.T)
	near := make([]bool, n)
	for k := 1; k < n; k++ {
		if math.Abs(w.I[k]-w.I[k-1]) <= tolA {
			continue
		}
		for j := k - 1; j >= 0 && w.T[k-1]-w.T[j] <= stepPreS; j-- {
			near[j] = true
		}
		for j := k; j < n && w.T[j]-w.T[k] <= stepPostS; j++ {
			near[j] = true
		}
	}
	for k := 0; k < n; k++ {
		if k == 0 || k == n-1 || near[k] || w.T[k]-last >= minDt {
			out.T = append(out.T, w.T[k])
			out.I = append(out.I, w.I[k])
			out.V = append(out.V, w.V[k])
			last = w.T[k]
		}
	}
	return out
}

// Identify fits the ECM to w, a response starting at rest or at a steady
// state just before its first current step (see DischargeResponse).
//
// R0 is the instantaneous step: the voltage change over the current
// change between the last sample before the step (averaged over up to
// stepPreS of samples at the same current, against the noise) and the
// first after it, less what the identified pairs grew in that one
// interval. It is not left to the least squares: a lead-acid block's
// discharge shows a coup de fouet and a float block carries a charge
// overpotential, neither in the circuit, and a free R0 absorbs them at
// the response's later current changes (+13 % on the lake's transfer
// windows), while the first step is clean. The pairs are then fitted with
// R0 fixed (twice: the second pass with the corrected R0).
func Identify(w Window, o IdentOptions) (Fit, error) {
	n := len(w.T)
	if n < 8 || len(w.I) != n || len(w.V) != n {
		return Fit{}, fmt.Errorf("identify %d samples: %w", n, ErrTooFew)
	}
	k := FirstStep(w.I, o.MinStepA)
	if k < 0 {
		return Fit{}, ErrNoStep
	}
	f := Fit{StepAt: k, N: n, SpanS: w.T[n-1] - w.T[k-1], R0Step: (postStep(w, k) - preStep(w, k)) / (w.I[k] - w.I[k-1])}
	if f.R0Step <= 0 {
		return f, fmt.Errorf("step resistance %.3g Ω: %w", f.R0Step, ErrIllPosed)
	}
	long := f.SpanS >= o.MinSpanTau2
	p := newProblem(w, long)
	dt := w.T[k] - w.T[k-1]
	r0 := f.R0Step
	var beta [maxCols]float64
	var b1, b2, sse float64
	for pass := range 2 {
		p.setR0(r0)
		var ok bool
		b1, b2, ok = p.search(o)
		if !ok {
			return f, ErrIllPosed
		}
		if beta, sse, ok = p.solve(b1, b2); !ok {
			return f, ErrIllPosed
		}
		if pass == 0 {
			// What the pairs grew over the step's interval is not R0; only
			// pairs the response identifies correct it (a τ1 fitted to
			// what the circuit does not explain would not).
			r0 = f.R0Step
			if r1 := beta[1]; r1 > 0 && r1 <= o.MaxPairOverR0*f.R0Step && tau1OK(o, b1, f.SpanS) {
				r0 -= r1 * (1 - math.Exp(-dt/b1))
			}
			if long {
				if r2 := beta[2]; r2 > 0 && r2 <= o.MaxPairOverR0*f.R0Step && inside(b2, o.Tau2) {
					r0 -= r2 * (1 - math.Exp(-dt/b2))
				}
			}
			if r0 <= 0 {
				return f, fmt.Errorf("corrected R0 %.3g Ω: %w", r0, ErrIllPosed)
			}
			if f.R0Step-r0 < 5e-3*f.R0Step {
				break // below 0.5 %: the first pass stands
			}
		}
	}
	f.RMSEV = math.Sqrt(sse / float64(n))
	f.OCV0 = beta[0]
	f.ECM = ECM{R0: r0, R1: math.NaN(), C1: math.NaN(), R2: math.NaN(), C2: math.NaN()}
	if r1 := beta[1]; r1 > 0 && r1 <= o.MaxPairOverR0*r0 && tau1OK(o, b1, f.SpanS) {
		f.Tau1OK = true
		f.ECM.R1, f.ECM.C1 = r1, b1/r1
	}
	if long {
		if r2 := beta[2]; r2 > 0 && r2 <= o.MaxPairOverR0*r0 && inside(b2, o.Tau2) {
			f.Tau2OK = true
			f.ECM.R2, f.ECM.C2 = r2, b2/r2
		}
	}
	return f, nil
}

// inside reports whether a time constant lies inside its search range
// (not on a bound, where the optimum may lie outside).
func inside(x float64, r [2]float64) bool { return x > r[0]*1.05 && x < r[1]/1.05 }

// tau1OK: τ1 is identified when inside its range and covered by the
// response (MinSpanOverTau1).
func tau1OK(o IdentOptions, tau1, span float64) bool {
	return inside(tau1, o.Tau1) && span >= o.MinSpanOverTau1*tau1
}

// The step's voltages: the mean of the samples up to stepPreS before it
// at the pre-step current, and the value at the first sample after it of
// a straight line through the samples up to stepPostS after it at the
// same current (at 100 ms sampling, ten samples: the pairs grow < 1 % of
// R1·ΔI per second there, the noise falls by ~2).
const (
	stepPreS  = 1.0
	stepPostS = 1.0
)

func preStep(w Window, k int) float64 {
	var s float64
	m := 0
	for j := k - 1; j >= 0 && w.I[j] == w.I[k-1] && w.T[k-1]-w.T[j] <= stepPreS; j-- {
		s += w.V[j]
		m++
	}
	return s / float64(m)
}

func postStep(w Window, k int) float64 {
	var st, sv, stt, stv float64
	m := 0
	for j := k; j < len(w.T) && w.I[j] == w.I[k] && w.T[j]-w.T[k] <= stepPostS; j++ {
		x := w.T[j] - w.T[k]
		st, sv, stt, stv = st+x, sv+w.V[j], stt+x*x, stv+x*w.V[j]
		m++
	}
	if m < 3 {
		return w.V[k]
	}
	fm := float64(m)
	slope := (fm*stv - st*sv) / (fm*stt - st*st)
	return (sv - slope*st) / fm
}

// search finds the time constants minimising the SSE: a log grid, then
// golden-section refinement (of τ1 alone in short windows; of each axis
// in turn otherwise).
func (p *problem) search(o IdentOptions) (b1, b2 float64, ok bool) {
	best := math.Inf(1)
	t2s := []float64{math.NaN()}
	if p.long {
		t2s = logGrid(o.Tau2[0], o.Tau2[1], 12)
	}
	for _, t1 := range logGrid(o.Tau1[0], o.Tau1[1], 12) {
		for _, t2 := range t2s {
			if p.long && t2 <= t1*3 {
				continue // keep the pairs ordered and apart
			}
			if s := p.sse(t1, t2); s < best {
				best, b1, b2 = s, t1, t2
			}
		}
	}
	if math.IsInf(best, 1) {
		return 0, 0, false
	}
	rounds := 1
	if p.long {
		rounds = 3
	}
	for range rounds {
		b1 = golden(func(x float64) float64 { return p.sse(x, b2) }, math.Max(o.Tau1[0], b1/1.5), math.Min(o.Tau1[1], b1*1.5))
		if p.long {
			b2 = golden(func(x float64) float64 { return p.sse(b1, x) }, math.Max(o.Tau2[0], math.Max(3*b1, b2/1.5)), math.Min(o.Tau2[1], b2*1.5))
		}
	}
	return b1, b2, true
}

// problem holds a response's data and the regressors that do not depend
// on the time constants.
type problem struct {
	w     Window
	long  bool
	q     []float64 // charge since the first sample (A·h)
	y     []float64 // voltage less the ohmic drop, less its mean
	dt    []float64 // sample intervals (s); dt[0] = 0
	yMean float64
}

func newProblem(w Window, long bool) *problem {
	n := len(w.T)
	p := &problem{w: w, long: long, q: make([]float64, n), y: make([]float64, n), dt: make([]float64, n)}
	for k := 1; k < n; k++ {
		p.dt[k] = w.T[k] - w.T[k-1]
		p.q[k] = p.q[k-1] + w.I[k]*p.dt[k]/3600
	}
	return p
}

// setR0 fixes R0: the target is the voltage less the ohmic drop, centred
// (the offset column takes the mean back) so the SSE from the normal
// equations keeps its precision.
func (p *problem) setR0(r0 float64) {
	var mean float64
	for k := range p.y {
		p.y[k] = p.w.V[k] - r0*p.w.I[k]
		mean += p.y[k]
	}
	mean /= float64(len(p.y))
	for k := range p.y {
		p.y[k] -= mean
	}
	p.yMean = mean
}

// maxCols bounds the design's columns.
const maxCols = 5

// Columns: OCV offset, x1 (R1), [x2 (R2)], the fast pair's initial
// voltage decaying (a block on float carries the float overpotential
// there), charge q (the OCV slope, and in short windows what they cannot
// tell from it: the slow pair's build-up). The slow pair is taken as
// relaxed at the window's start (a block on float, or at rest for well
// over τ2): with its initial voltage free as well, its relaxation after
// the step would be unconstrained and R2 undetermined.
func (p *problem) cols() int {
	if p.long {
		return 5
	}
	return 4
}

// solve is the linear least squares for fixed time constants by normal
// equations (columns scaled to unit norm, Cholesky; p ≤ 5 columns, one
// pass over the data, no allocation): coefficients (offset first, with
// the mean restored), SSE, ok.
func (p *problem) solve(t1, t2 float64) ([maxCols]float64, float64, bool) {
	c := p.cols()
	var g [maxCols][maxCols]float64
	var h [maxCols]float64
	var row [maxCols]float64
	var x1, x2, e1, yy float64
	var la1, la2 float64 // last interval's decay factors (intervals repeat)
	lastDt := -1.0
	e1 = 1
	for k := range p.y {
		dt := p.dt[k]
		if k > 0 {
			if math.Abs(dt-lastDt) > 1e-9 { // sample times carry rounding
				lastDt = dt
				la1 = math.Exp(-dt / t1)
				if p.long {
					la2 = math.Exp(-dt / t2)
				}
			}
			i := p.w.I[k]
			x1 = la1*x1 + (1-la1)*i
			e1 *= la1
			if p.long {
				x2 = la2*x2 + (1-la2)*i
			}
		}
		if p.long {
			row = [maxCols]float64{1, x1, x2, e1, p.q[k]}
		} else {
			row = [maxCols]float64{1, x1, e1, p.q[k]}
		}
		y := p.y[k]
		yy += y * y
		for a := 0; a < c; a++ {
			h[a] += row[a] * y
			for b := 0; b <= a; b++ {
				g[a][b] += row[a] * row[b]
			}
		}
	}
	var d [maxCols]float64
	for a := 0; a < c; a++ {
		if g[a][a] <= 0 {
			return [maxCols]float64{}, 0, false
		}
		d[a] = math.Sqrt(g[a][a])
	}
	for a := 0; a < c; a++ {
		h[a] /= d[a]
		for b := 0; b <= a; b++ {
			g[a][b] /= d[a] * d[b]
		}
	}
	// Cholesky G = L Lᵀ in place (lower triangle); a pivot below 1e-10
	// means two regressors are one (an unidentifiable time constant).
	for a := 0; a < c; a++ {
		for b := 0; b <= a; b++ {
			s := g[a][b]
			for k := 0; k < b; k++ {
				s -= g[a][k] * g[b][k]
			}
			if a == b {
				if s <= 1e-10 {
					return [maxCols]float64{}, 0, false
				}
				g[a][a] = math.Sqrt(s)
			} else {
				g[a][b] = s / g[b][b]
			}
		}
	}
	var z, beta [maxCols]float64
	for a := 0; a < c; a++ {
		s := h[a]
		for k := 0; k < a; k++ {
			s -= g[a][k] * z[k]
		}
		z[a] = s / g[a][a]
	}
	for a := c - 1; a >= 0; a-- {
		s := z[a]
		for k := a + 1; k < c; k++ {
			s -= g[k][a] * beta[k]
		}
		beta[a] = s / g[a][a]
	}
	// SSE = yᵀy - βᵀXᵀy (= yᵀy - |z|²).
	sse := yy
	for a := 0; a < c; a++ {
		sse -= z[a] * z[a]
		beta[a] /= d[a]
	}
	beta[0] += p.yMean
	return beta, math.Max(sse, 0), true
}

func (p *problem) sse(t1, t2 float64) float64 {
	_, s, ok := p.solve(t1, t2)
	if !ok {
		return math.Inf(1)
	}
	return s
}

func logGrid(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = lo * math.Pow(hi/lo, float64(i)/float64(n-1))
	}
	return out
}

// golden minimises f over [lo, hi] in log space (f unimodal near the grid
// optimum): 14 iterations narrow the bracket to 1e-3 of its log width
// (±0.1 % on τ from a ±50 % bracket).
func golden(f func(float64) float64, lo, hi float64) float64 {
	if hi <= lo {
		return lo
	}
	const g = 0.6180339887498949
	a, b := math.Log(lo), math.Log(hi)
	c, d := b-g*(b-a), a+g*(b-a)
	fc, fd := f(math.Exp(c)), f(math.Exp(d))
	for range 14 {
		if fc < fd {
			b, d, fd = d, c, fc
			c = b - g*(b-a)
			fc = f(math.Exp(c))
		} else {
			a, c, fc = c, d, fd
			d = a + g*(b-a)
			fd = f(math.Exp(d))
		}
	}
	return math.Exp((a + b) / 2)
}
