package ml

import (
	"errors"
	"math"
	"testing"
)

func TestCQRHandCase(t *testing.T) {
	lo := []float64{0, 0, 0, 0}
	hi := []float64{1, 1, 1, 1}
	y := []float64{0.5, 2, -1, 1.5}  // E = −0.5, 1, 1, 0.5
	c, err := FitCQR(lo, hi, y, 0.6) // rank ⌈5·0.6⌉ = 3 of [−0.5 0.5 1 1]
	if err != nil || c.Correction != 1 || c.N != 4 {
		t.Fatalf("cqr = %+v, %v; want correction 1", c, err)
	}
	if l, h := c.Apply(2, 3); l != 1 || h != 4 {
		t.Errorf("apply = [%v, %v], want [1, 4]", l, h)
	}
	c, _ = FitCQR(lo, hi, y, 0.2) // rank ⌈1⌉ = 1: Q = −0.5 narrows the band
	if c.Correction != -0.5 {
		t.Errorf("correction %v, want -0.5", c.Correction)
	}
	if l, h := c.Apply(0, 0.6); l != 0.3 || h != 0.3 {
		t.Errorf("crossed band = [%v, %v], want collapsed at 0.3", l, h)
	}
	c, _ = FitCQR(lo, hi, y, 0.9) // rank ⌈4.5⌉ = 5 > 4: no finite guarantee
	if !math.IsInf(c.Correction, 1) {
		t.Errorf("correction %v, want +Inf", c.Correction)
	}
	if _, err := FitCQR(lo, hi, y[:3], 0.9); !errors.Is(err, ErrShape) {
		t.Errorf("short truths: %v", err)
	}
}

func TestCQRReachesCoverageOnHeldOutData(t *testing.T) {
	// y = 20·x0 + (1 + 2·x1)·N(0,1). Quantile GBMs at 0.1/0.9 alone cover
	// ~80 %; CQR must lift held-out coverage to 0.95.
	gen := func(seed uint64, n int) (Matrix, []float64) {
		rng := testRNG(seed)
		X := uniformMatrix(rng, n, 3)
		y := make([]float64, n)
		for i := range y {
			y[i] = 20*X.At(i, 0) + (1+2*X.At(i, 1))*rng.NormFloat64()
		}
		return X, y
	}
	X, y := gen(40, 3000)
	fitQ := func(alpha float64) *GBM {
		p := DefaultParams()
		p.Loss, p.Alpha, p.Trees, p.MaxDepth = LossQuantile, alpha, 60, 3
		m, err := Fit(X, y, nil, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	mlo, mhi := fitQ(0.1), fitQ(0.9)
	Xc, yc := gen(41, 2000)
	lc, _ := mlo.PredictBatch(Xc)
	hc, _ := mhi.PredictBatch(Xc)
	c, err := FitCQR(lc, hc, yc, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if c.Correction <= 0 {
		t.Errorf("correction %v: an 80 %% band must be widened for 95 %%", c.Correction)
	}
	Xt, yt := gen(42, 5000)
	lt, _ := mlo.PredictBatch(Xt)
	ht, _ := mhi.PredictBatch(Xt)
	raw := Coverage(lt, ht, yt)
	for i := range lt {
		lt[i], ht[i] = c.Apply(lt[i], ht[i])
	}
	cov := Coverage(lt, ht, yt)
	// Marginal guarantee ≥ 0.95 in expectation over calibration sets; with
	// 2000 calibration and 5000 test rows the sd is about 0.005.
	if cov < 0.935 || cov > 0.97 {
		t.Errorf("held-out coverage after CQR %.4f (raw %.4f), want ≈ 0.95", cov, raw)
	}
	if raw > 0.9 {
		t.Errorf("raw coverage %.4f: the test needs an under-covering band", raw)
	}
}

func TestPlattRecoversLogisticMap(t *testing.T) {
	rng := testRNG(43)
	n := 20000
	s := make([]float64, n)
	y := make([]float64, n)
	for i := range s {
		s[i] = 2 * rng.NormFloat64()
		if rng.Float64() < sigmoid(1.5*s[i]-0.7) {
			y[i] = 1
		}
	}
	p, err := FitPlatt(s, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Standard errors of A, B at n = 20000 are ~0.03.
	if !close(p.A, 1.5, 0.1) || !close(p.B, -0.7, 0.1) {
		t.Errorf("platt = %+v, want A≈1.5 B≈−0.7", p)
	}
	if _, err := FitPlatt([]float64{1, 2}, []float64{0, 0}, nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("one class: %v", err)
	}
}

func TestIsotonicHandCaseAndMonotone(t *testing.T) {
	iso, err := FitIsotonic([]float64{3, 1, 4, 2}, []float64{0, 0, 1, 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Sorted labels 0 1 0 1: the violating pair (2,3) pools to 0.5.
	for _, c := range []struct{ s, want float64 }{{0, 0}, {1, 0}, {1.5, 0.25}, {2, 0.5}, {2.5, 0.5}, {3, 0.5}, {3.5, 0.75}, {9, 1}} {
		if got := iso.Prob(c.s); !close(got, c.want, 1e-12) {
			t.Errorf("Prob(%v) = %v, want %v", c.s, got, c.want)
		}
	}
	rng := testRNG(44)
	n := 3000
	s := make([]float64, n)
	y := make([]float64, n)
	for i := range s {
		s[i] = rng.Float64()
		if rng.Float64() < s[i]*s[i] {
			y[i] = 1
		}
	}
	iso, _ = FitIsotonic(s, y, nil)
	prev := -1.0
	for x := 0.0; x <= 1; x += 0.01 {
		v := iso.Prob(x)
		if v < prev {
			t.Fatalf("not monotone at %v: %v < %v", x, v, prev)
		}
		prev = v
	}
	if v := iso.Prob(0.8); !close(v, 0.64, 0.08) {
		t.Errorf("Prob(0.8) = %.3f, want ≈ 0.64", v)
	}
}
