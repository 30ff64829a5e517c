package ml

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// step is the piecewise target the squared-loss model must recover:
// 10 when x0 > 0.5, plus 5 when x1 > 0.3, nothing from the other features.
func step(row []float64) float64 {
	v := 0.0
	if row[0] > 0.5 {
		v += 10
	}
	if row[1] > 0.3 {
		v += 5
	}
	return v
}

func TestGBMSquaredRecoversStepFunction(t *testing.T) {
	rng := testRNG(1)
	X := uniformMatrix(rng, 4000, 5)
	y := make([]float64, X.Rows)
	for i := range y {
		y[i] = step(X.Row(i)) + 0.5*rng.NormFloat64()
	}
	p := DefaultParams()
	p.Trees, p.MaxDepth = 100, 3
	m, err := Fit(X, y, nil, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	Xt := uniformMatrix(testRNG(2), 2000, 5)
	pred, err := m.PredictBatch(Xt)
	if err != nil {
		t.Fatal(err)
	}
	truth := make([]float64, Xt.Rows)
	for i := range truth {
		truth[i] = step(Xt.Row(i))
	}
	// Noise sd 0.5: a recovered step function is off by well under 0.5 on
	// average except at the two edges; a constant model would be off by ~6.
	if mae := MAE(pred, truth); mae > 0.35 {
		t.Errorf("MAE vs noiseless step = %.3f, want <= 0.35", mae)
	}
	imp := m.Importance()
	if imp[0].Index != 0 || imp[1].Index != 1 {
		t.Errorf("importance order %v, want x0 then x1 first", imp[:3])
	}
	if imp[2].Gain > 0.01*imp[1].Gain {
		t.Errorf("noise feature %s has gain %.3g vs x1 %.3g", imp[2].Feature, imp[2].Gain, imp[1].Gain)
	}
	// Predict, PredictBatch and its parallel form agree exactly.
	par, err := m.PredictBatchWorkers(Xt, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pred {
		if got := m.Predict(Xt.Row(i)); got != pred[i] || par[i] != pred[i] {
			t.Fatalf("row %d: Predict %v, PredictBatch %v, 3 workers %v", i, got, pred[i], par[i])
		}
	}
}

func TestGBMLearnsMissingDirection(t *testing.T) {
	// y = 3 where x0 is missing, 0 where x0 < 0.5, 1 otherwise: only a split
	// that routes NaN on its own way explains it.
	rng := testRNG(3)
	X := uniformMatrix(rng, 3000, 2)
	y := make([]float64, X.Rows)
	for i := range y {
		switch {
		case i%5 == 0:
			X.Set(i, 0, math.NaN())
			y[i] = 3
		case X.At(i, 0) >= 0.5:
			y[i] = 1
		}
	}
	p := DefaultParams()
	p.Trees, p.MaxDepth, p.LearningRate = 50, 2, 0.3
	m, err := Fit(X, y, nil, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ x0, want float64 }{{math.NaN(), 3}, {0.2, 0}, {0.8, 1}} {
		if got := m.Predict([]float64{c.x0, 0.5}); !close(got, c.want, 0.05) {
			t.Errorf("x0=%v: predicted %.3f, want %.1f", c.x0, got, c.want)
		}
	}
}

func TestGBMQuantileCoverage(t *testing.T) {
	// y = 10·x0 + N(0, (1+x1)²): heteroscedastic, so a constant offset cannot
	// reach the target coverage in every region; pooled coverage must be 0.9.
	gen := func(seed uint64, n int) (Matrix, []float64) {
		rng := testRNG(seed)
		X := uniformMatrix(rng, n, 3)
		y := make([]float64, n)
		for i := range y {
			y[i] = 10*X.At(i, 0) + (1+X.At(i, 1))*rng.NormFloat64()
		}
		return X, y
	}
	X, y := gen(4, 6000)
	p := DefaultParams()
	p.Loss, p.Alpha, p.Trees, p.MaxDepth = LossQuantile, 0.9, 100, 3
	m, err := Fit(X, y, nil, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	Xt, yt := gen(5, 4000)
	q, _ := m.PredictBatch(Xt)
	below := 0
	for i := range q {
		if yt[i] <= q[i] {
			below++
		}
	}
	cov := float64(below) / float64(len(q))
	// Binomial sd at n=4000 is 0.0047; allow 4 sd plus 0.02 of model bias.
	if tol := 4*math.Sqrt(0.9*0.1/4000) + 0.02; math.Abs(cov-0.9) > tol {
		t.Errorf("held-out coverage of q0.9 = %.4f, want 0.9 ± %.3f", cov, tol)
	}
	// And it tracks x0: the q0.9 at x0=0.9 is about 8 above the one at x0=0.1.
	d := m.Predict([]float64{0.9, 0.5, 0.5}) - m.Predict([]float64{0.1, 0.5, 0.5})
	if d < 6.5 || d > 9.5 {
		t.Errorf("q0.9(x0=0.9) − q0.9(x0=0.1) = %.2f, want ≈ 8", d)
	}
}

func TestGBMLogisticSeparates(t *testing.T) {
	gen := func(seed uint64, n int) (Matrix, []float64) {
		rng := testRNG(seed)
		X := uniformMatrix(rng, n, 4)
		y := make([]float64, n)
		for i := range y {
			// P(y=1) = sigmoid(8·(x0 + x1 − 1)): separable-ish.
			if rng.Float64() < sigmoid(8*(X.At(i, 0)+X.At(i, 1)-1)) {
				y[i] = 1
			}
		}
		return X, y
	}
	X, y := gen(6, 4000)
	p := DefaultParams()
	p.Loss, p.Trees, p.MaxDepth = LossLogistic, 100, 3
	m, err := Fit(X, y, nil, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	Xt, yt := gen(7, 3000)
	prob, _ := m.PredictBatch(Xt)
	oracle := make([]float64, Xt.Rows)
	for i := range oracle {
		oracle[i] = sigmoid(8 * (Xt.At(i, 0) + Xt.At(i, 1) - 1))
	}
	auc, best := AUROC(prob, yt, nil), AUROC(oracle, yt, nil)
	if auc < best-0.02 || auc < 0.85 {
		t.Errorf("held-out AUROC %.4f, oracle %.4f", auc, best)
	}
	for _, v := range prob {
		if !(v > 0 && v < 1) {
			t.Fatalf("probability %v outside (0,1)", v)
		}
	}
	// Calibrated-ish: Brier close to the oracle's.
	if b, bo := Brier(prob, yt, nil), Brier(oracle, yt, nil); b > bo+0.02 {
		t.Errorf("Brier %.4f vs oracle %.4f", b, bo)
	}
}

func TestGBMWeightsActAsReplication(t *testing.T) {
	// Weight 3 on a row equals three copies of it (no subsampling).
	rng := testRNG(8)
	X := uniformMatrix(rng, 200, 3) // < 255 distinct values: identical bin edges
	y := make([]float64, X.Rows)
	w := make([]float64, X.Rows)
	for i := range y {
		y[i] = step(X.Row(i)) + rng.NormFloat64()
		w[i] = float64(1 + i%3)
	}
	var rep []float64
	var ry []float64
	for i := range y {
		for k := 0; k < int(w[i]); k++ {
			rep = append(rep, X.Row(i)...)
			ry = append(ry, y[i])
		}
	}
	Xr, _ := MatrixFrom(len(ry), 3, rep)
	p := DefaultParams()
	p.Trees, p.MaxDepth, p.MinSamplesLeaf, p.MinHessianLeaf = 20, 3, 1, 0
	mw, err := Fit(X, y, w, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	mr, err := Fit(Xr, ry, nil, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	Xt := uniformMatrix(testRNG(9), 200, 3)
	a, _ := mw.PredictBatch(Xt)
	b, _ := mr.PredictBatch(Xt)
	for i := range a {
		if !close(a[i], b[i], 1e-9) {
			t.Fatalf("row %d: weighted %.6f, replicated %.6f", i, a[i], b[i])
		}
	}
}

func TestGBMDeterministicArtifacts(t *testing.T) {
	rng := testRNG(10)
	X := uniformMatrix(rng, 2000, 6)
	y := make([]float64, X.Rows)
	for i := range y {
		y[i] = step(X.Row(i)) + rng.NormFloat64()
	}
	p := DefaultParams()
	p.Trees, p.Subsample, p.ColSample, p.BinSampleRows = 30, 0.7, 0.5, 500
	fit := func(seed uint64) []byte {
		p.Seed = seed
		m, err := Fit(X, y, nil, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := fit(1), fit(1), fit(2)
	if !bytes.Equal(a, b) {
		t.Error("two fits with the same seed differ")
	}
	if bytes.Equal(a, c) {
		t.Error("a different seed with subsampling gave identical artifacts")
	}
	// Round trip: load and re-marshal is byte-identical, predictions equal.
	m, err := LoadGBM(a)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := m.MarshalJSON()
	if !bytes.Equal(a, a2) {
		t.Error("load + marshal changed the artifact")
	}
	p.Seed = 1
	orig, _ := Fit(X, y, nil, nil, p)
	Xt := uniformMatrix(testRNG(11), 100, 6)
	for i := 0; i < Xt.Rows; i++ {
		if orig.Predict(Xt.Row(i)) != m.Predict(Xt.Row(i)) {
			t.Fatalf("row %d: loaded model predicts differently", i)
		}
	}
}

func TestLoadGBMRejectsBadArtifacts(t *testing.T) {
	rng := testRNG(12)
	X := uniformMatrix(rng, 200, 2)
	y := make([]float64, X.Rows)
	for i := range y {
		y[i] = step(X.Row(i))
	}
	p := DefaultParams()
	p.Trees = 2
	m, _ := Fit(X, y, nil, nil, p)
	good, _ := m.MarshalJSON()
	for name, mut := range map[string]func([]byte) []byte{
		"format":   func(b []byte) []byte { return bytes.Replace(b, []byte(gbmFormat), []byte("other/1"), 1) },
		"feature":  func(b []byte) []byte { return bytes.Replace(b, []byte(`"feature":[0`), []byte(`"feature":[7`), 1) },
		"cycle":    func(b []byte) []byte { return bytes.Replace(b, []byte(`"left":[1`), []byte(`"left":[0`), 1) },
		"truncate": func(b []byte) []byte { return b[:len(b)/2] },
	} {
		if _, err := LoadGBM(mut(good)); !errors.Is(err, ErrArtifact) {
			t.Errorf("%s: err = %v, want ErrArtifact", name, err)
		}
	}
}

func TestGBMEarlyStopping(t *testing.T) {
	// Pure noise labels: validation loss stops improving almost at once, so
	// early stopping keeps far fewer trees than the 300 allowed.
	rng := testRNG(13)
	X := uniformMatrix(rng, 1500, 4)
	y := make([]float64, X.Rows)
	for i := range y {
		y[i] = rng.NormFloat64()
	}
	Xv := uniformMatrix(rng, 1000, 4)
	yv := make([]float64, Xv.Rows)
	for i := range yv {
		yv[i] = rng.NormFloat64()
	}
	p := DefaultParams()
	p.Trees, p.EarlyStoppingRounds, p.LearningRate = 300, 10, 0.3
	m, err := FitValid(X, y, nil, nil, p, &ValidationSet{X: Xv, Y: yv})
	if err != nil {
		t.Fatal(err)
	}
	if m.NumTrees() >= 50 {
		t.Errorf("kept %d trees on noise, want early stop", m.NumTrees())
	}
	pv, _ := m.PredictBatch(Xv)
	var l float64
	for i := range pv {
		l += 0.5 * (pv[i] - yv[i]) * (pv[i] - yv[i])
	}
	if l /= float64(len(pv)); !close(l, m.ValidationLoss(), 1e-9) {
		t.Errorf("reported validation loss %.6f, recomputed %.6f", m.ValidationLoss(), l)
	}
	if _, err := Fit(X, y, nil, nil, p); !errors.Is(err, ErrParams) {
		t.Errorf("early stopping without validation: err = %v, want ErrParams", err)
	}
	// Without early stopping every tree is kept and the reported loss is
	// that of the full ensemble (worse than the early-stopped one on noise).
	p.EarlyStoppingRounds, p.Trees = 0, 60
	full, err := FitValid(X, y, nil, nil, p, &ValidationSet{X: Xv, Y: yv})
	if err != nil {
		t.Fatal(err)
	}
	pf, _ := full.PredictBatch(Xv)
	var lf float64
	for i := range pf {
		lf += 0.5 * (pf[i] - yv[i]) * (pf[i] - yv[i])
	}
	if lf /= float64(len(pf)); full.NumTrees() != 60 || !close(lf, full.ValidationLoss(), 1e-9) || lf <= l {
		t.Errorf("full fit: %d trees, loss %.6f reported %.6f, early-stopped %.6f", full.NumTrees(), lf, full.ValidationLoss(), l)
	}
}

func TestFitRejectsBadInput(t *testing.T) {
	X := uniformMatrix(testRNG(14), 10, 2)
	y := make([]float64, 10)
	p := DefaultParams()
	inf := NewMatrix(10, 2)
	inf.Data[3] = math.Inf(1)
	cases := []struct {
		name string
		err  error
		fit  func() error
	}{
		{"short y", ErrShape, func() error { _, e := Fit(X, y[:9], nil, nil, p); return e }},
		{"names", ErrShape, func() error { _, e := Fit(X, y, nil, []string{"a"}, p); return e }},
		{"inf", ErrNonFinite, func() error { _, e := Fit(inf, y, nil, nil, p); return e }},
		{"nan label", ErrNonFinite, func() error {
			yy := append([]float64(nil), y...)
			yy[0] = math.NaN()
			_, e := Fit(X, yy, nil, nil, p)
			return e
		}},
		{"zero weight", ErrParams, func() error { _, e := Fit(X, y, make([]float64, 10), nil, p); return e }},
		{"bad alpha", ErrParams, func() error {
			q := p
			q.Loss, q.Alpha = LossQuantile, 1
			_, e := Fit(X, y, nil, nil, q)
			return e
		}},
		{"logistic label", ErrParams, func() error {
			q := p
			q.Loss = LossLogistic
			yy := append([]float64(nil), y...)
			yy[0] = 2
			_, e := Fit(X, yy, nil, nil, q)
			return e
		}},
	}
	for _, c := range cases {
		if err := c.fit(); !errors.Is(err, c.err) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		}
	}
}

func TestWeightedQuantile(t *testing.T) {
	// Lower weighted quantile: smallest v with cumulative weight ≥ alpha·W.
	vals := []float64{5, 1, 4, 2, 3}
	w := []float64{1, 1, 1, 1, 1}
	for _, c := range []struct{ alpha, want float64 }{{0.2, 1}, {0.21, 2}, {0.5, 3}, {0.9, 5}, {0.8, 4}} {
		if got := weightedQuantile(append([]float64(nil), vals...), append([]float64(nil), w...), c.alpha); got != c.want {
			t.Errorf("alpha %.2f: %v, want %v", c.alpha, got, c.want)
		}
	}
	// Heavy weight on 2 pulls the median there.
	if got := weightedQuantile([]float64{1, 2, 3, 4}, []float64{1, 5, 1, 1}, 0.5); got != 2 {
		t.Errorf("weighted median %v, want 2", got)
	}
	// Against a sort on random data with ties.
	rng := testRNG(15)
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(40)
		v := make([]float64, n)
		ww := make([]float64, n)
		for i := range v {
			v[i] = float64(rng.IntN(10))
			ww[i] = 0.1 + rng.Float64()
		}
		a := rng.Float64()
		want := bruteQuantile(v, ww, a)
		if got := weightedQuantile(append([]float64(nil), v...), append([]float64(nil), ww...), a); got != want {
			t.Fatalf("trial %d: %v, want %v", trial, got, want)
		}
	}
}

func bruteQuantile(v, w []float64, alpha float64) float64 {
	var total float64
	for _, x := range w {
		total += x
	}
	best := math.Inf(1)
	for _, c := range v {
		var cum float64
		for j, x := range v {
			if x <= c {
				cum += w[j]
			}
		}
		if cum >= alpha*total && c < best {
			best = c
		}
	}
	return best
}

func TestGBMWorkersDoNotChangeTheModel(t *testing.T) {
	// Above 4096 rows per node the histograms are built in parallel.
	rng := testRNG(16)
	X := uniformMatrix(rng, 9000, 6)
	y := make([]float64, X.Rows)
	w := make([]float64, X.Rows)
	for i := range y {
		y[i] = step(X.Row(i)) + rng.NormFloat64()
		w[i] = 0.5 + rng.Float64()
	}
	for _, weights := range [][]float64{nil, w} { // packed and float histograms
		p := DefaultParams()
		p.Trees, p.Subsample = 8, 0.9
		var arts [][]byte
		for _, workers := range []int{1, 2, 5} {
			p.Workers = workers
			m, err := Fit(X, y, weights, nil, p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := m.MarshalJSON()
			arts = append(arts, b)
		}
		if !bytes.Equal(arts[0], arts[1]) || !bytes.Equal(arts[0], arts[2]) {
			t.Errorf("weighted=%v: artifacts differ across worker counts", weights != nil)
		}
	}
}

func TestGBMDegenerateColumns(t *testing.T) {
	// An all-NaN column and a constant column can never split; a mostly-NaN
	// column still can. Every loss must fit and predict finite values.
	rng := testRNG(17)
	X := uniformMatrix(rng, 500, 4)
	y := make([]float64, X.Rows)
	yb := make([]float64, X.Rows)
	for i := 0; i < X.Rows; i++ {
		X.Set(i, 0, math.NaN())
		X.Set(i, 1, 7)
		if i%10 != 0 {
			X.Set(i, 2, math.NaN())
		}
		y[i] = 3*X.At(i, 3) + rng.NormFloat64()
		if y[i] > 1.5 {
			yb[i] = 1
		}
	}
	for _, loss := range []Loss{LossSquared, LossQuantile, LossLogistic} {
		p := DefaultParams()
		p.Loss, p.Alpha, p.Trees, p.MinSamplesLeaf = loss, 0.3, 20, 5
		labels := y
		if loss == LossLogistic {
			labels = yb
		}
		m, err := Fit(X, labels, nil, []string{"nan", "const", "sparse", "x"}, p)
		if err != nil {
			t.Fatalf("%s: %v", loss, err)
		}
		for _, fi := range m.Importance() {
			if (fi.Feature == "nan" || fi.Feature == "const") && fi.Splits != 0 {
				t.Errorf("%s: %s split %d times", loss, fi.Feature, fi.Splits)
			}
		}
		if imp := m.Importance(); imp[0].Feature != "x" {
			t.Errorf("%s: top feature %s, want x", loss, imp[0].Feature)
		}
		pred, _ := m.PredictBatch(X)
		for i, v := range pred {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%s: row %d predicts %v", loss, i, v)
			}
		}
		// A row unlike anything seen (NaN where training had values) still predicts.
		if v := m.Predict([]float64{1, math.NaN(), math.NaN(), math.NaN()}); math.IsNaN(v) {
			t.Errorf("%s: all-missing row predicts NaN", loss)
		}
	}
}
