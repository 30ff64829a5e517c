package ml

import (
	"errors"
	"math"
	"testing"
)

// handTree: root splits x0 at 0.5 (covers 50/50); its left child splits x1
// at 0.5 into leaves 0 and 4 (covers 25/25); its right child is leaf 2.
func handModel() *GBM {
	t := tree{nodes: []node{
		{Feature: 0, Threshold: 0.5, Left: 1, Right: 2, Cover: 100},
		{Feature: 1, Threshold: 0.5, Left: 3, Right: 4, Cover: 50},
		{Feature: -1, Value: 2, Cover: 50},
		{Feature: -1, Value: 0, Cover: 25},
		{Feature: -1, Value: 4, Cover: 25},
	}}
	t.compile()
	m := &GBM{params: DefaultParams(), names: []string{"x0", "x1", "x2"}, base: 10, trees: []tree{t}, bestLoss: math.NaN()}
	m.prepare()
	return m
}

func TestTreeSHAPHandCase(t *testing.T) {
	// Row (0.2, 0.8, ·) lands on leaf 4. With v(S) = E[f | x_S] by covers:
	// v{} = 2, v{x0} = 2, v{x1} = ½·4 + ½·2 = 3, v{x0,x1} = 4, so
	// φ0 = ½(0 + 1) = 0.5, φ1 = ½(1 + 2) = 1.5, φ2 = 0; base 10 + E 2 = 12.
	m := handModel()
	phi, ev := m.SHAP([]float64{0.2, 0.8, 7})
	want := []float64{0.5, 1.5, 0}
	for i := range want {
		if !close(phi[i], want[i], 1e-12) {
			t.Errorf("phi[%d] = %v, want %v", i, phi[i], want[i])
		}
	}
	if ev != 12 {
		t.Errorf("expected value %v, want 12", ev)
	}
	if got := m.PredictMargin([]float64{0.2, 0.8, 7}); got != 14 {
		t.Errorf("margin %v, want 14", got)
	}
	// Right branch: leaf 2; v{} = 2, v{x0} = 2... x0 known sends to 2 too,
	// v{x1}: left part with x1=0.8 → 4, so v{x1} = ½·4 + ½·2 = 3, v{x0,x1} = 2.
	// φ0 = ½((2−2) + (2−3)) = −0.5, φ1 = ½((3−2) + (2−2)) = 0.5.
	phi, _ = m.SHAP([]float64{0.9, 0.8, 7})
	if !close(phi[0], -0.5, 1e-12) || !close(phi[1], 0.5, 1e-12) || phi[2] != 0 {
		t.Errorf("right row phi = %v, want [-0.5 0.5 0]", phi)
	}
}

// bruteSHAP computes exact Shapley values of the path-dependent value
// function v(S) = E[f(x) | x_S] (unknown features averaged by covers) by
// enumerating all coalitions.
func bruteSHAP(m *GBM, row []float64) []float64 {
	M := len(row)
	value := func(S uint) float64 {
		v := 0.0
		for ti := range m.trees {
			t := &m.trees[ti]
			var rec func(i int32) float64
			rec = func(i int32) float64 {
				nd := &t.nodes[i]
				if nd.Feature < 0 {
					return nd.Value
				}
				if S&(1<<uint(nd.Feature)) != 0 {
					x := row[nd.Feature]
					if x <= nd.Threshold || (math.IsNaN(x) && nd.DefaultLeft) {
						return rec(nd.Left)
					}
					return rec(nd.Right)
				}
				l, r := &t.nodes[nd.Left], &t.nodes[nd.Right]
				return (l.Cover*rec(nd.Left) + r.Cover*rec(nd.Right)) / nd.Cover
			}
			v += rec(0)
		}
		return v
	}
	fact := func(n int) float64 {
		f := 1.0
		for i := 2; i <= n; i++ {
			f *= float64(i)
		}
		return f
	}
	phi := make([]float64, M)
	for i := 0; i < M; i++ {
		for S := uint(0); S < 1<<uint(M); S++ {
			if S&(1<<uint(i)) != 0 {
				continue
			}
			k := 0
			for b := S; b != 0; b &= b - 1 {
				k++
			}
			wt := fact(k) * fact(M-k-1) / fact(M)
			phi[i] += wt * (value(S|1<<uint(i)) - value(S))
		}
	}
	return phi
}

func TestTreeSHAPMatchesBruteForceAndAddsUp(t *testing.T) {
	rng := testRNG(20)
	X := uniformMatrix(rng, 1500, 5)
	y := make([]float64, X.Rows)
	yb := make([]float64, X.Rows)
	for i := range y {
		if i%7 == 0 {
			X.Set(i, 2, math.NaN())
		}
		r := X.Row(i)
		x2 := r[2]
		if math.IsNaN(x2) {
			x2 = 1 // missing behaves like a high value
		}
		y[i] = step(r) + 3*x2*r[3] + rng.NormFloat64()
		if y[i] > 8 {
			yb[i] = 1
		}
	}
	for _, loss := range []Loss{LossSquared, LossLogistic, LossQuantile} {
		p := DefaultParams()
		p.Loss, p.Alpha, p.Trees, p.MaxDepth, p.Subsample, p.ColSample = loss, 0.8, 15, 5, 0.8, 0.8
		p.MinSamplesLeaf = 5 // deep trees reuse features along a path
		labels := y
		if loss == LossLogistic {
			labels = yb
		}
		m, err := Fit(X, labels, nil, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		Xt := uniformMatrix(testRNG(21), 40, 5)
		Xt.Set(0, 2, math.NaN())
		for i := 0; i < Xt.Rows; i++ {
			row := Xt.Row(i)
			phi, ev := m.SHAP(row)
			sum := ev
			for _, v := range phi {
				sum += v
			}
			if margin := m.PredictMargin(row); !close(sum, margin, 1e-6) {
				t.Fatalf("%s row %d: Σφ + E = %.9f, margin %.9f", loss, i, sum, margin)
			}
			if i < 8 {
				bf := bruteSHAP(m, row)
				if loss == LossSquared && i == 0 {
					all, ev2, err := m.SHAPBatch(Xt, 3)
					if err != nil || ev2 != ev {
						t.Fatalf("shap batch: %v, expected %v vs %v", err, ev2, ev)
					}
					for r := 0; r < Xt.Rows; r++ {
						one, _ := m.SHAP(Xt.Row(r))
						for f := range one {
							if all.At(r, f) != one[f] {
								t.Fatalf("row %d feature %d: batch %v, single %v", r, f, all.At(r, f), one[f])
							}
						}
					}
				}
				for f := range bf {
					if !close(phi[f], bf[f], 1e-6) {
						t.Fatalf("%s row %d feature %d: TreeSHAP %.9f, brute force %.9f", loss, i, f, phi[f], bf[f])
					}
				}
			}
		}
	}
}

func TestExplainTopFeatures(t *testing.T) {
	m := handModel()
	e := m.Explain([]float64{0.2, 0.8, 7}, 2)
	if len(e.Top) != 2 || e.Top[0].Feature != "x1" || e.Top[1].Feature != "x0" {
		t.Fatalf("top = %+v, want x1 then x0", e.Top)
	}
	if e.Margin != 14 || e.Expected != 12 || e.Top[0].Value != 0.8 {
		t.Errorf("explanation %+v", e)
	}
}

// The lookup tables give the recursion's attributions bit for bit (same
// path operations, same summing order), missing values and features
// repeated along a path included; a model too large for tables keeps the
// recursion.
func TestTreeSHAPTablesMatchRecursionExactly(t *testing.T) {
	rng := testRNG(30)
	X := uniformMatrix(rng, 2000, 4)
	y := make([]float64, X.Rows)
	for i := range y {
		if i%5 == 0 {
			X.Set(i, 1, math.NaN())
		}
		r := X.Row(i)
		y[i] = step(r) + 4*r[0]*r[3] + rng.NormFloat64()
	}
	p := DefaultParams()
	p.Trees, p.MaxDepth, p.MinSamplesLeaf, p.Subsample, p.ColSample = 25, 6, 3, 0.8, 0.75
	m, err := Fit(X, y, nil, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if m.shapTables() == nil {
		t.Fatal("no tables for a depth-6 model of 25 trees")
	}
	repeated := false
	for i := range m.trees {
		for _, f := range m.shap.tabs[i].feats {
			if len(f) > 0 && len(f) < m.trees[i].depth(0) {
				repeated = true // a path that unwound a repeated feature
			}
		}
	}
	if !repeated {
		t.Fatal("no leaf path repeats a feature: the test does not exercise unwinding")
	}
	Xt := uniformMatrix(testRNG(31), 200, 4)
	for i := 0; i < Xt.Rows; i += 3 {
		Xt.Set(i, 1, math.NaN())
	}
	path := m.shapPath()
	for i := 0; i < Xt.Rows; i++ {
		row := Xt.Row(i)
		fast, _ := m.SHAP(row)
		slow := make([]float64, len(fast))
		for k := range m.trees {
			m.trees[k].shap(row, slow, path, 0, 0, 1, 1, -1)
		}
		for f := range fast {
			if fast[f] != slow[f] {
				t.Fatalf("row %d feature %d: table %v, recursion %v", i, f, fast[f], slow[f])
			}
		}
	}
	// ExplainBatch (tree by tree) gives Explain's explanations exactly.
	batch, err := m.ExplainBatch(Xt, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < Xt.Rows; i++ {
		one := m.Explain(Xt.Row(i), 3)
		b := batch[i]
		if b.Expected != one.Expected || b.Margin != one.Margin || len(b.Top) != 3 {
			t.Fatalf("row %d: batch %+v, single %+v", i, b, one)
		}
		for j := range one.Top {
			if b.Top[j].Feature != one.Top[j].Feature || b.Top[j].SHAP != one.Top[j].SHAP || !(b.Top[j].Value == one.Top[j].Value || math.IsNaN(one.Top[j].Value)) {
				t.Fatalf("row %d top %d: batch %+v, single %+v", i, j, b.Top[j], one.Top[j])
			}
		}
	}
	if _, err := m.ExplainBatch(NewMatrix(2, 3), 3); !errors.Is(err, ErrShape) {
		t.Errorf("explain batch of 3 columns for 4 features: %v, want ErrShape", err)
	}
	// Beyond the size bound: no tables, the recursion.
	p.Trees, p.MaxDepth, p.MinSamplesLeaf = 3, 16, 1
	big, err := Fit(X, y, nil, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	var size int
	for i := range big.trees {
		size += big.trees[i].shapTableSize(0, 0)
	}
	if size <= maxShapTableFloats {
		t.Fatalf("the deep model's tables need %d floats, not beyond the bound", size)
	}
	if big.shapTables() != nil {
		t.Errorf("tables of %d floats built for a depth-%d model", size, big.maxDepth)
	}
}
