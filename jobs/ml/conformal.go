package ml

import (
	"fmt"
	"math"
	"slices"
)

// CQR is conformalized quantile regression (Romano, Patterson & Candès
// 2019): a lower/upper quantile model pair, widened (or narrowed) by one
// constant so that [lo − Q, hi + Q] covers a new exchangeable point with
// probability ≥ Coverage.
//
// On a calibration set disjoint from training, the conformity score of
// row i is E_i = max(lo_i − y_i, y_i − hi_i) (positive outside the band,
// negative inside). Q is the ⌈(n+1)·Coverage⌉-th smallest E_i, the
// finite-sample-corrected quantile; when that rank exceeds n no finite Q
// guarantees the coverage and Q = +Inf.
type CQR struct {
	Coverage   float64 `json:"coverage"`   // target, e.g. 0.95
	Correction float64 `json:"correction"` // Q, in label units (+Inf when the calibration set is too small)
	N          int     `json:"n"`          // calibration rows
}

// FitCQR computes the correction from calibration predictions lo, hi and
// truths y.
func FitCQR(lo, hi, y []float64, coverage float64) (CQR, error) {
	if !(coverage > 0 && coverage < 1) {
		return CQR{}, fmt.Errorf("ml: fit cqr: coverage %v not in (0,1): %w", coverage, ErrParams)
	}
	if len(lo) != len(y) || len(hi) != len(y) {
		return CQR{}, fmt.Errorf("ml: fit cqr: %d lower, %d upper, %d truths: %w", len(lo), len(hi), len(y), ErrShape)
	}
	if len(y) == 0 {
		return CQR{}, fmt.Errorf("ml: fit cqr: %w", ErrEmpty)
	}
	e := make([]float64, len(y))
	for i := range y {
		if math.IsNaN(lo[i]) || math.IsNaN(hi[i]) || math.IsNaN(y[i]) {
			return CQR{}, fmt.Errorf("ml: fit cqr: row %d has NaN: %w", i, ErrNonFinite)
		}
		e[i] = max(lo[i]-y[i], y[i]-hi[i])
	}
	slices.Sort(e)
	n := len(e)
	k := int(math.Ceil(float64(n+1)*coverage - 1e-9)) // 1-based rank
	c := CQR{Coverage: coverage, N: n, Correction: math.Inf(1)}
	if k <= n {
		c.Correction = e[k-1]
	}
	return c, nil
}

// Apply returns the conformalized interval [lo − Q, hi + Q]. A negative Q
// can cross a narrow band; the crossed pair collapses to its midpoint.
func (c CQR) Apply(lo, hi float64) (float64, float64) {
	l, h := lo-c.Correction, hi+c.Correction
	if l > h {
		m := l/2 + h/2
		return m, m
	}
	return l, h
}

// Platt is Platt scaling, p = σ(A·s + B), fitted to 0/1 labels by
// maximum likelihood with Platt's (1999) smoothed targets
// (N₊+1)/(N₊+2) and 1/(N₋+2), which keeps A, B finite on separable data.
// s is a classifier's margin (log-odds) or any score.
type Platt struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// FitPlatt fits A, B by Newton's method with a backtracking line search.
// w may be nil (unit weights).
func FitPlatt(score, label, w []float64) (Platt, error) {
	if len(score) != len(label) || (w != nil && len(w) != len(label)) {
		return Platt{}, fmt.Errorf("ml: fit platt: %d scores, %d labels: %w", len(score), len(label), ErrShape)
	}
	var npos, nneg float64
	for i, l := range label {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		if l > 0.5 {
			npos += wi
		} else {
			nneg += wi
		}
	}
	if npos == 0 || nneg == 0 {
		return Platt{}, fmt.Errorf("ml: fit platt: need both classes (%g positive, %g negative weight): %w", npos, nneg, ErrEmpty)
	}
	hiT, loT := (npos+1)/(npos+2), 1/(nneg+2)
	target := func(i int) float64 {
		if label[i] > 0.5 {
			return hiT
		}
		return loT
	}
	weight := func(i int) float64 {
		if w == nil {
			return 1
		}
		return w[i]
	}
	nll := func(a, b float64) float64 {
		var s float64
		for i, x := range score {
			f := a*x + b
			s += weight(i) * (softplus(f) - target(i)*f)
		}
		return s
	}
	a, b := 0.0, math.Log((npos+1)/(nneg+1))
	cur := nll(a, b)
	for it := 0; it < 100; it++ {
		var ga, gb, haa, hab, hbb float64
		for i, x := range score {
			p := sigmoid(a*x + b)
			d := weight(i) * (p - target(i))
			h := weight(i) * p * (1 - p)
			ga += d * x
			gb += d
			haa += h * x * x
			hab += h * x
			hbb += h
		}
		haa += 1e-12 // keep the 2×2 system solvable when all scores are equal
		hbb += 1e-12
		det := haa*hbb - hab*hab
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		step := 1.0
		for ; step > 1e-10; step /= 2 {
			na, nb := a-step*da, b-step*db
			if v := nll(na, nb); v <= cur {
				a, b, cur = na, nb, v
				break
			}
		}
		if math.Abs(ga)+math.Abs(gb) < 1e-9*(npos+nneg) || step <= 1e-10 {
			break
		}
	}
	return Platt{A: a, B: b}, nil
}

// Prob maps a score to a calibrated probability.
func (p Platt) Prob(score float64) float64 { return sigmoid(p.A*score + p.B) }

// Isotonic is isotonic-regression calibration (pool-adjacent-violators): a
// non-decreasing function from score to probability, constant over each
// pooled block of calibration scores, linear between blocks and clamped
// outside the calibration range.
type Isotonic struct {
	X []float64 `json:"x"` // increasing knot scores
	Y []float64 `json:"y"` // non-decreasing calibrated values
}

// FitIsotonic fits a non-decreasing map from score to label (weighted least
// squares; w nil = unit weights). Tied scores are pooled first.
func FitIsotonic(score, label, w []float64) (Isotonic, error) {
	if len(score) != len(label) || (w != nil && len(w) != len(label)) {
		return Isotonic{}, fmt.Errorf("ml: fit isotonic: %d scores, %d labels: %w", len(score), len(label), ErrShape)
	}
	if len(score) == 0 {
		return Isotonic{}, fmt.Errorf("ml: fit isotonic: %w", ErrEmpty)
	}
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case score[a] < score[b]:
			return -1
		case score[a] > score[b]:
			return 1
		}
		return 0
	})
	type block struct{ lo, hi, sumY, sumW float64 } // lo, hi: the block's score range
	var st []block
	for k := 0; k < len(idx); {
		// Pool ties.
		bl := block{lo: score[idx[k]], hi: score[idx[k]]}
		for ; k < len(idx) && score[idx[k]] == bl.lo; k++ {
			wi := 1.0
			if w != nil {
				wi = w[idx[k]]
			}
			bl.sumY += wi * label[idx[k]]
			bl.sumW += wi
		}
		st = append(st, bl)
		// Merge while the previous block's mean exceeds this one's.
		for len(st) > 1 {
			a, b := st[len(st)-2], st[len(st)-1]
			if a.sumY/a.sumW <= b.sumY/b.sumW {
				break
			}
			st = st[:len(st)-2]
			st = append(st, block{lo: a.lo, hi: b.hi, sumY: a.sumY + b.sumY, sumW: a.sumW + b.sumW})
		}
	}
	// Knots at both ends of each block: flat within a block, linear between.
	var iso Isotonic
	for _, b := range st {
		v := b.sumY / b.sumW
		iso.X, iso.Y = append(iso.X, b.lo), append(iso.Y, v)
		if b.hi > b.lo {
			iso.X, iso.Y = append(iso.X, b.hi), append(iso.Y, v)
		}
	}
	return iso, nil
}

// Prob maps a score through the fitted function.
func (c Isotonic) Prob(score float64) float64 {
	n := len(c.X)
	switch {
	case n == 0:
		return math.NaN()
	case score <= c.X[0]:
		return c.Y[0]
	case score >= c.X[n-1]:
		return c.Y[n-1]
	}
	j, _ := slices.BinarySearch(c.X, score) // c.X[j-1] < score <= c.X[j]
	if c.X[j] == score {
		return c.Y[j]
	}
	t := (score - c.X[j-1]) / (c.X[j] - c.X[j-1])
	return c.Y[j-1] + t*(c.Y[j]-c.Y[j-1])
}
