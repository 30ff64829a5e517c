package ml

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestAvgPathLength(t *testing.T) {
	// c(n) = 2(ln(n−1) + γ) − 2(n−1)/n; c(256) by hand: 2(5.541264 + 0.577216) − 1.992188.
	for _, c := range []struct {
		n    int
		want float64
	}{{1, 0}, {2, 1}, {3, 2*(math.Log(2)+0.5772156649015329) - 4.0/3}, {256, 10.244770}} {
		if got := avgPathLength(c.n); !close(got, c.want, 1e-6) {
			t.Errorf("c(%d) = %.6f, want %.6f", c.n, got, c.want)
		}
	}
}

func TestIForestHandTree(t *testing.T) {
	// One tree: root splits x0 at 1; left is an external node with 1 point,
	// right holds 3. psi = 4. h(left row) = 1, h(right row) = 1 + c(3).
	f := &IsolationForest{params: DefaultIForestParams(), names: []string{"x0"}, psi: 4, trees: []itree{{nodes: []inode{
		{Feature: 0, Threshold: 1, Left: 1, Right: 2, Size: 4},
		{Feature: -1, Size: 1},
		{Feature: -1, Size: 3},
	}}}}
	f.trees[0].cache()
	c4 := avgPathLength(4)
	if got, want := f.Score([]float64{0}), math.Exp2(-1/c4); !close(got, want, 1e-12) {
		t.Errorf("isolated row score %.6f, want %.6f", got, want)
	}
	if got, want := f.Score([]float64{5}), math.Exp2(-(1+avgPathLength(3))/c4); !close(got, want, 1e-12) {
		t.Errorf("crowded row score %.6f, want %.6f", got, want)
	}
	// TopFeatures: the left row keeps 1 of 4 points → credit 1 − 2/4 = 0.5;
	// the right row keeps 3 of 4 → 0.
	if tf := f.TopFeatures([]float64{0}, 1); tf[0].Score != 0.5 {
		t.Errorf("top feature credit %v, want 0.5", tf[0].Score)
	}
	if tf := f.TopFeatures([]float64{5}, 1); tf[0].Score != 0 {
		t.Errorf("crowded row credit %v, want 0", tf[0].Score)
	}
}

// inliersWithOutliers: 2000 N(0,1) rows in 4 features, then 20 rows whose
// features 1 and 2 are 6 to 10 sd away on either side (spread out, so they
// do not mask each other as a tight cluster would), features 0 and 3
// normal. (One far feature out of four is a weak signal for axis-parallel
// random splits: such rows score ~0.55-0.6, barely above the inlier p99.)
func inliersWithOutliers(seed uint64) (Matrix, int) {
	rng := testRNG(seed)
	const n, out = 2000, 20
	X := NewMatrix(n+out, 4)
	for i := range X.Data {
		X.Data[i] = rng.NormFloat64()
	}
	for i := n; i < n+out; i++ {
		for _, c := range []int{1, 2} {
			v := 6 + 4*rng.Float64()
			if rng.IntN(2) == 0 {
				v = -v
			}
			X.Set(i, c, v)
		}
	}
	return X, n
}

func TestIForestScoresPlantedOutliersHigh(t *testing.T) {
	X, n := inliersWithOutliers(30)
	f, err := FitIsolationForest(X, []string{"a", "b", "c", "d"}, DefaultIForestParams())
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.ScoreBatch(X)
	if err != nil {
		t.Fatal(err)
	}
	label := make([]float64, len(s))
	for i := n; i < len(s); i++ {
		label[i] = 1
	}
	if auc := AUROC(s, label, nil); auc < 0.99 {
		t.Errorf("AUROC outliers vs inliers %.4f, want >= 0.99", auc)
	}
	inl := slices.Clone(s[:n])
	slices.Sort(inl)
	if med := inl[n/2]; med > 0.5 {
		t.Errorf("median inlier score %.3f, want <= 0.5", med)
	}
	for i := n; i < len(s); i++ {
		if s[i] < 0.6 {
			t.Errorf("outlier %d score %.3f, want >= 0.6", i, s[i])
		}
	}
	// The planted features explain the outliers; an inlier's credit is
	// spread thin.
	for i := n; i < n+5; i++ {
		tf := f.TopFeatures(X.Row(i), 0)
		if top := []string{tf[0].Feature, tf[1].Feature}; !slices.Contains(top, "b") || !slices.Contains(top, "c") {
			t.Errorf("outlier %d top features %v, want b and c first", i, tf)
		}
		if tf[1].Score < 1.5*tf[2].Score {
			t.Errorf("outlier %d: planted feature credit %.3f not well above the rest %.3f", i, tf[1].Score, tf[2].Score)
		}
	}
	// Threshold at 1 % contamination (20 of 2020 rows) flags the outliers.
	thr, err := ThresholdAtContamination(s, 20.0/2020)
	if err != nil {
		t.Fatal(err)
	}
	flagged := 0
	for i := n; i < len(s); i++ {
		if s[i] >= thr {
			flagged++
		}
	}
	if flagged < 18 {
		t.Errorf("threshold %.3f flags %d of 20 outliers", thr, flagged)
	}
}

func TestThresholdAtContamination(t *testing.T) {
	s := []float64{0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.8, 0.4, 0.6, 1.0}
	for _, c := range []struct{ cont, want float64 }{{0.2, 0.9}, {0.05, 1.0}, {0.5, 0.6}, {0.21, 0.8}} {
		if got, err := ThresholdAtContamination(s, c.cont); err != nil || got != c.want {
			t.Errorf("contamination %v: %v, %v; want %v", c.cont, got, err, c.want)
		}
	}
	if _, err := ThresholdAtContamination(s, 1); !errors.Is(err, ErrParams) {
		t.Errorf("contamination 1: err = %v, want ErrParams", err)
	}
}

func TestIForestMissingValuesDoNotIsolate(t *testing.T) {
	rng := testRNG(31)
	X := NewMatrix(2000, 3)
	for i := range X.Data {
		X.Data[i] = rng.NormFloat64()
	}
	for i := 0; i < X.Rows; i += 10 {
		X.Set(i, 0, math.NaN())
	}
	f, err := FitIsolationForest(X, nil, DefaultIForestParams())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := f.ScoreBatch(X)
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	p90 := sorted[len(sorted)*9/10]
	// A central row with x0 missing must look normal, not anomalous.
	if got := f.Score([]float64{math.NaN(), 0, 0}); got > p90 {
		t.Errorf("central row with NaN scores %.3f, above the inlier p90 %.3f", got, p90)
	}
	// Missing never credits the missing feature as the isolating one.
	if tf := f.TopFeatures([]float64{math.NaN(), 6, 0}, 1); tf[0].Index != 1 {
		t.Errorf("top feature %v, want f1", tf)
	}
}

func TestIForestDeterministicArtifact(t *testing.T) {
	X, _ := inliersWithOutliers(32)
	fit := func(seed uint64) []byte {
		p := DefaultIForestParams()
		p.Seed = seed
		f, err := FitIsolationForest(X, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := fit(1), fit(1), fit(2)
	if !bytes.Equal(a, b) {
		t.Error("same seed, different artifacts")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds, identical artifacts")
	}
	f, err := LoadIsolationForest(a)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := f.MarshalJSON()
	if !bytes.Equal(a, a2) {
		t.Error("load + marshal changed the artifact")
	}
	if _, err := LoadIsolationForest(bytes.Replace(a, []byte(iforestFormat), []byte("x/1"), 1)); !errors.Is(err, ErrArtifact) {
		t.Errorf("wrong format: err = %v", err)
	}
}
