package rul

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/ml"
)

// The truth features: the fade rate is the true SOH lost over the 90-day
// window, per year; the straight-line extrapolation runs to 80 % at that
// rate (0 below 80 %, 20 years without a fall, NaN without a true SOH).
func TestTruthFeaturesHandCase(t *testing.T) {
	s, _, _ := twoJarSet()
	n := len(s.Labels)
	tf := &truthFeatures{s: s, now: make([]float64, n), then: make([]float64, n)}
	for i := range tf.now {
		tf.now[i], tf.then[i] = math.NaN(), math.NaN()
	}
	ia := derive.RULFeatureIndex("age_days")
	s.Frame.Row(0)[ia] = 1000
	tf.now[0], tf.then[0] = 90, 91 // 1 % per 90 days
	tf.now[1], tf.then[1] = 79.5, 80
	tf.now[2], tf.then[2] = 95, 95 // no fade
	tf.now[3] = 92                 // no SOH 90 days before
	row := tf.row(0)
	if row[0] != 1000 || row[1] != 90 || math.Abs(row[2]-365.25/90) > 1e-12 {
		t.Errorf("row 0 = %v, want [1000 90 %v]", row, 365.25/90)
	}
	for i, want := range []float64{900, 0, maxRULDays, maxRULDays, math.NaN()} {
		got := tf.linear(i)
		if ok := math.IsNaN(want) && math.IsNaN(got) || math.Abs(got-want) <= 1e-9; !ok {
			t.Errorf("linear(%d) = %v, want %v", i, got, want)
		}
	}
	if r := tf.row(3); !math.IsNaN(r[2]) || r[1] != 92 {
		t.Errorf("row 3 = %v, want a missing rate", r)
	}
}

// predictBatch (the ensembles blocked over a day's rows) gives Predict's
// numbers exactly, missing features included.
func TestPredictBatchEqualsPredict(t *testing.T) {
	nf, nr := len(derive.RULFeatureNames), 300
	rng := rand.New(rand.NewPCG(1, 2))
	X := ml.NewMatrix(nr, nf)
	y, yb := make([]float64, nr), make([]float64, nr)
	for i := 0; i < nr; i++ {
		for j := range X.Row(i) {
			X.Row(i)[j] = rng.Float64() * 100
			if rng.IntN(7) == 0 {
				X.Row(i)[j] = math.NaN()
			}
		}
		y[i] = 3000 * rng.Float64()
		if y[i] < 300 {
			yb[i] = 1
		}
	}
	h := DefaultHyper(3)
	h.RUL.Trees, h.Quantile.Trees, h.Failure.Trees = 10, 10, 10
	h.RUL.MinSamplesLeaf, h.Quantile.MinSamplesLeaf, h.Failure.MinSamplesLeaf = 5, 5, 5
	fit := func(x ml.Matrix, lab []float64, p ml.Params) *ml.GBM {
		g, err := ml.Fit(x, lab, nil, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	lo, hi := h.Quantile, h.Quantile
	lo.Alpha, hi.Alpha = loQ, hiQ
	sx := ml.NewMatrix(nr, nf)
	copy(sx.Data, X.Data)
	sn := &Sensor{SOH: []*ml.GBM{fit(sx, y, h.RUL)}, Fade: []*ml.GBM{fit(sx, yb, h.RUL)}}
	m0 := &Models{Sensor: sn}
	V, err := m0.inputBatch(X)
	if err != nil {
		t.Fatal(err)
	}
	m := &Models{Sensor: sn, Point: fit(V, y, h.RUL), Lo: fit(V, y, lo), Hi: fit(V, y, hi), P30: fit(X, yb, h.Failure), P90: fit(X, yb, h.Failure), CQR: 40}
	ps, err := m.predictBatch(X, V)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < nr; i++ {
		want := m.Predict(X.Row(i))
		if got := ps[i]; got.RUL != want.RUL || got.Lo != want.Lo || got.Hi != want.Hi || got.P30 != want.P30 || got.P90 != want.P90 ||
			got.Confidence != want.Confidence || !math.IsNaN(got.Anomaly) {
			t.Fatalf("row %d: batch %+v, single %+v", i, got, want)
		}
	}
}
