package twin

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
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
	ErrNoStep     = errors.New("no current step")
	ErrTooFew     = errors.New("too few samples")
	ErrIllPosed   = errors.New("least squares ill-posed")
	ErrNotDischar = errors.New("first step is not a discharge")
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
}

// DefaultIdent: 5 A steps (a float current is < 1 A), τ1 in 1-300 s,
// τ2 in 5 min-3 h, τ2 from 30 min of response, τ1 from half of it.
var DefaultIdent = IdentOptions{MinStepA: 5, Tau1: [2]float64{1, 300}, Tau2: [2]float64{300, 10800}, MinSpanTau2: 1800, MinSpanOverTau1: 0.5}

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

// Decimate keeps a sample every minDt seconds and every sample on either
// side of a current change of more than tolA, so the zero-order hold stays
// exact: identification cost then scales with the response's duration,
// not its sampling rate.
func Decimate(w Window, minDt, tolA float64) Window {
	var out Window
	last := math.Inf(-1)
	n := len(w.T)
	for k := 0; k < n; k++ {
		edge := (k > 0 && math.Abs(w.I[k]-w.I[k-1]) > tolA) || (k+1 < n && math.Abs(w.I[k+1]-w.I[k]) > tolA)
		if k == 0 || k == n-1 || edge || w.T[k]-last >= minDt {
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
func Identify(w Window, o IdentOptions) (Fit, error) {
	n := len(w.T)
	if n < 8 || len(w.I) != n || len(w.V) != n {
		return Fit{}, fmt.Errorf("identify %d samples: %w", n, ErrTooFew)
	}
	k := FirstStep(w.I, o.MinStepA)
	if k < 0 {
		return Fit{}, ErrNoStep
	}
	f := Fit{StepAt: k, N: n, SpanS: w.T[n-1] - w.T[k-1], R0Step: (w.V[k] - w.V[k-1]) / (w.I[k] - w.I[k-1])}
	long := f.SpanS >= o.MinSpanTau2
	p := newProblem(w, long)
	best := math.Inf(1)
	var b1, b2 float64
	t2s := []float64{math.NaN()}
	if long {
		t2s = logGrid(o.Tau2[0], o.Tau2[1], 12)
	}
	for _, t1 := range logGrid(o.Tau1[0], o.Tau1[1], 20) {
		for _, t2 := range t2s {
			if long && t2 <= t1*3 {
				continue // keep the pairs ordered and apart
			}
			if s := p.sse(t1, t2); s < best {
				best, b1, b2 = s, t1, t2
			}
		}
	}
	if math.IsInf(best, 1) {
		return f, ErrIllPosed
	}
	// Refine each axis in turn by golden section over log τ.
	for range 3 {
		b1 = golden(func(x float64) float64 { return p.sse(x, b2) }, math.Max(o.Tau1[0], b1/1.5), math.Min(o.Tau1[1], b1*1.5))
		if long {
			b2 = golden(func(x float64) float64 { return p.sse(b1, x) }, math.Max(o.Tau2[0], math.Max(3*b1, b2/1.5)), math.Min(o.Tau2[1], b2*1.5))
		}
	}
	beta, sse, ok := p.solve(b1, b2)
	if !ok {
		return f, ErrIllPosed
	}
	f.RMSEV = math.Sqrt(sse / float64(n))
	f.OCV0 = beta[0]
	r0, r1 := beta[1], beta[2]
	f.ECM = ECM{R0: r0, R1: math.NaN(), C1: math.NaN(), R2: math.NaN(), C2: math.NaN()}
	inside := func(x float64, r [2]float64) bool { return x > r[0]*1.05 && x < r[1]/1.05 }
	if r1 > 0 && inside(b1, o.Tau1) && f.SpanS >= o.MinSpanOverTau1*b1 {
		f.Tau1OK = true
		f.ECM.R1, f.ECM.C1 = r1, b1/r1
	}
	if long {
		if r2 := beta[3]; r2 > 0 && inside(b2, o.Tau2) {
			f.Tau2OK = true
			f.ECM.R2, f.ECM.C2 = r2, b2/r2
		}
	}
	if r0 <= 0 {
		return f, fmt.Errorf("identified R0 %.3g Ω: %w", r0, ErrIllPosed)
	}
	return f, nil
}

// problem holds a response's data and the regressors that do not depend
// on the time constants.
type problem struct {
	w    Window
	long bool
	q    []float64 // charge since the first sample (A·s)
	x    []float64 // design matrix scratch, row-major
	y    []float64
}

func newProblem(w Window, long bool) *problem {
	n := len(w.T)
	p := &problem{w: w, long: long, q: make([]float64, n), y: append([]float64(nil), w.V...)}
	for k := 1; k < n; k++ {
		p.q[k] = p.q[k-1] + w.I[k]*(w.T[k]-w.T[k-1])
	}
	return p
}

// Columns: OCV offset, I (R0), x1 (R1), [x2 (R2)], the fast pair's
// initial voltage decaying (a block on float carries the float
// overpotential there), charge q (the OCV slope, and in short windows
// what they cannot tell from it: the slow pair's build-up). The slow pair
// is taken as relaxed at the window's start (a block on float, or at rest
// for well over τ2): with its initial voltage free as well, its relaxation
// after the step would be unconstrained and R2 undetermined.
func (p *problem) cols() int {
	if p.long {
		return 6
	}
	return 5
}

func (p *problem) build(t1, t2 float64) *mat.Dense {
	n, c := len(p.w.T), p.cols()
	if cap(p.x) < n*c {
		p.x = make([]float64, n*c)
	}
	x := p.x[:n*c]
	var x1, x2 float64
	t0 := p.w.T[0]
	for k := 0; k < n; k++ {
		i := p.w.I[k]
		if k > 0 {
			dt := p.w.T[k] - p.w.T[k-1]
			a1 := math.Exp(-dt / t1)
			x1 = a1*x1 + (1-a1)*i
			if p.long {
				a2 := math.Exp(-dt / t2)
				x2 = a2*x2 + (1-a2)*i
			}
		}
		row := x[k*c : (k+1)*c]
		el := p.w.T[k] - t0
		if p.long {
			row[0], row[1], row[2], row[3], row[4], row[5] = 1, i, x1, x2, math.Exp(-el/t1), p.q[k]/3600
		} else {
			row[0], row[1], row[2], row[3], row[4] = 1, i, x1, math.Exp(-el/t1), p.q[k]/3600
		}
	}
	return mat.NewDense(n, c, x)
}

// solve is the linear least squares for fixed time constants (QR, columns
// scaled to unit norm for conditioning): coefficients, SSE, ok.
func (p *problem) solve(t1, t2 float64) ([]float64, float64, bool) {
	a := p.build(t1, t2)
	n, c := a.Dims()
	scale := make([]float64, c)
	for j := 0; j < c; j++ {
		s := mat.Norm(a.ColView(j), 2)
		if s == 0 {
			return nil, 0, false
		}
		scale[j] = s
		for i := 0; i < n; i++ {
			a.Set(i, j, a.At(i, j)/s)
		}
	}
	var qr mat.QR
	qr.Factorize(a)
	var beta mat.VecDense
	if err := qr.SolveVecTo(&beta, false, mat.NewVecDense(n, p.y)); err != nil {
		return nil, 0, false
	}
	out := make([]float64, c)
	for j := range out {
		out[j] = beta.AtVec(j) / scale[j]
	}
	// Residuals against the unscaled design (rebuilt: a was scaled).
	a = p.build(t1, t2)
	var sse float64
	for i := 0; i < n; i++ {
		r := p.y[i]
		for j := 0; j < c; j++ {
			r -= a.At(i, j) * out[j]
		}
		sse += r * r
	}
	return out, sse, true
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
// optimum): 20 iterations narrow the bracket to 1e-4 of its log width.
func golden(f func(float64) float64, lo, hi float64) float64 {
	if hi <= lo {
		return lo
	}
	const g = 0.6180339887498949
	a, b := math.Log(lo), math.Log(hi)
	c, d := b-g*(b-a), a+g*(b-a)
	fc, fd := f(math.Exp(c)), f(math.Exp(d))
	for range 20 {
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
