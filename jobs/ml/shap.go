package ml

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
)

// TreeSHAP: exact path-dependent Shapley values of the margin (Lundberg,
// Erion & Lee 2018, "Consistent individualized feature attribution for tree
// ensembles", Algorithm 2). "Path-dependent" means a feature outside the
// coalition is integrated out with the training covers of the nodes (the
// fraction of training weight that went each way), not with a background
// data set. Attributions satisfy Σφ + ExpectedValue == PredictMargin.

type pathElem struct {
	feature   int
	zero, one float64 // fraction of paths through the node without / with the feature known
	pweight   float64
}

// ExpectedValue is the cover-weighted mean margin over the training data
// (the SHAP base value), in margin space.
func (m *GBM) ExpectedValue() float64 { return m.expected }

func (t *tree) expected() float64 {
	root := t.nodes[0].Cover
	var s float64
	for _, nd := range t.nodes {
		if nd.Feature < 0 {
			s += nd.Value * nd.Cover / root
		}
	}
	return s
}

// SHAP returns per-feature attributions of row's margin (column order) and
// the expected value; phi sums with expected to PredictMargin(row).
func (m *GBM) SHAP(row []float64) (phi []float64, expected float64) {
	phi = make([]float64, len(m.names))
	m.shapInto(row, phi, m.shapPath())
	return phi, m.expected
}

func (m *GBM) shapPath() []pathElem {
	d := m.maxDepth
	return make([]pathElem, (d+2)*(d+3)/2)
}

func (m *GBM) shapInto(row, phi []float64, path []pathElem) {
	if len(row) != len(m.names) {
		panic(fmt.Sprintf("ml: shap: row has %d values, model %d features", len(row), len(m.names)))
	}
	for i := range m.trees {
		m.trees[i].shap(row, phi, path, 0, 0, 1, 1, -1)
	}
}

// SHAPBatch explains every row of X on up to workers goroutines: row i's
// attributions are phi.Row(i) (identical for any worker count).
func (m *GBM) SHAPBatch(X Matrix, workers int) (phi Matrix, expected float64, err error) {
	if err := X.check(); err != nil {
		return Matrix{}, 0, fmt.Errorf("ml: shap batch: %w", err)
	}
	if X.Cols != len(m.names) {
		return Matrix{}, 0, fmt.Errorf("ml: shap batch: %d columns, model has %d features: %w", X.Cols, len(m.names), ErrShape)
	}
	phi = NewMatrix(X.Rows, X.Cols)
	workers = min(max(workers, 1), max(X.Rows/64, 1))
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		lo, hi := k*X.Rows/workers, (k+1)*X.Rows/workers
		wg.Go(func() {
			path := m.shapPath()
			for i := lo; i < hi; i++ {
				m.shapInto(X.Row(i), phi.Row(i), path)
			}
		})
	}
	wg.Wait()
	return phi, m.expected, nil
}

func (t *tree) depth(i int32) int {
	nd := &t.nodes[i]
	if nd.Feature < 0 {
		return 0
	}
	return 1 + max(t.depth(nd.Left), t.depth(nd.Right))
}

// shap is RECURSE of Algorithm 2. parent holds the caller's unique path; this
// call's path lives right after it in the same buffer.
func (t *tree) shap(row, phi []float64, parent []pathElem, ni int32, depth int, pZero, pOne float64, pFeature int) {
	path := parent[depth:]
	copy(path, parent[:depth])
	extendPath(path, depth, pZero, pOne, pFeature)
	nd := &t.nodes[ni]
	if nd.Feature < 0 {
		for i := 1; i <= depth; i++ {
			w := unwoundPathSum(path, depth, i)
			el := path[i]
			phi[el.feature] += w * (el.one - el.zero) * nd.Value
		}
		return
	}
	hot, cold := nd.Right, nd.Left
	x := row[nd.Feature]
	if x <= nd.Threshold || (math.IsNaN(x) && nd.DefaultLeft) {
		hot, cold = nd.Left, nd.Right
	}
	hotZero := t.nodes[hot].Cover / nd.Cover
	coldZero := t.nodes[cold].Cover / nd.Cover
	inZero, inOne := 1.0, 1.0
	// A feature already on the path is unwound and re-added at this node.
	for k := 0; k <= depth; k++ {
		if path[k].feature == int(nd.Feature) {
			inZero, inOne = path[k].zero, path[k].one
			unwindPath(path, depth, k)
			depth--
			break
		}
	}
	t.shap(row, phi, path, hot, depth+1, hotZero*inZero, inOne, int(nd.Feature))
	t.shap(row, phi, path, cold, depth+1, coldZero*inZero, 0, int(nd.Feature))
}

// invInt[k] = 1/k: the path algebra divides by small integers (path
// lengths ≤ MaxDepth+1 ≤ 17); multiplying by reciprocals instead of
// dividing roughly halves the cost of an explanation.
var invInt = func() (t [32]float64) {
	for k := 1; k < len(t); k++ {
		t[k] = 1 / float64(k)
	}
	return t
}()

func extendPath(path []pathElem, d int, zero, one float64, feature int) {
	path[d] = pathElem{feature: feature, zero: zero, one: one}
	if d == 0 {
		path[d].pweight = 1
	}
	inv := invInt[d+1]
	for i := d - 1; i >= 0; i-- {
		path[i+1].pweight += one * path[i].pweight * float64(i+1) * inv
		path[i].pweight = zero * path[i].pweight * float64(d-i) * inv
	}
}

func unwindPath(path []pathElem, d, k int) {
	one, zero := path[k].one, path[k].zero
	next := path[d].pweight
	d1, inv := float64(d+1), invInt[d+1]
	if one != 0 {
		invOne := 1 / one
		for i := d - 1; i >= 0; i-- {
			tmp := path[i].pweight
			path[i].pweight = next * d1 * invInt[i+1] * invOne
			next = tmp - path[i].pweight*zero*float64(d-i)*inv
		}
	} else {
		invZero := 1 / zero
		for i := d - 1; i >= 0; i-- {
			path[i].pweight = path[i].pweight * d1 * invZero * invInt[d-i]
		}
	}
	for i := k; i < d; i++ {
		path[i].feature, path[i].zero, path[i].one = path[i+1].feature, path[i+1].zero, path[i+1].one
	}
}

func unwoundPathSum(path []pathElem, d, k int) float64 {
	one, zero := path[k].one, path[k].zero
	next := path[d].pweight
	d1, inv := float64(d+1), invInt[d+1]
	var total float64
	switch {
	case one != 0:
		invOne := 1 / one
		for i := d - 1; i >= 0; i-- {
			tmp := next * d1 * invInt[i+1] * invOne
			total += tmp
			next = path[i].pweight - tmp*zero*float64(d-i)*inv
		}
	case zero != 0:
		invZero := 1 / zero
		for i := d - 1; i >= 0; i-- {
			total += path[i].pweight * invZero * d1 * invInt[d-i]
		}
	}
	return total
}

// Contribution is one feature's share of a prediction, for explanation_json.
type Contribution struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"` // the input value; NaN (missing) is written as null
	SHAP    float64 `json:"shap"`  // margin units
}

// Explanation is a SHAP summary of one prediction in margin space.
type Explanation struct {
	Expected float64        `json:"expected_value"`
	Margin   float64        `json:"margin"`
	Top      []Contribution `json:"top"`
}

// Explain returns the k features with the largest |SHAP| (ties by column
// order); k <= 0 or k > NumFeatures returns all.
func (m *GBM) Explain(row []float64, k int) Explanation {
	phi, ev := m.SHAP(row)
	idx := make([]int, len(phi))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(math.Abs(phi[b]), math.Abs(phi[a])) })
	if k <= 0 || k > len(idx) {
		k = len(idx)
	}
	e := Explanation{Expected: ev, Margin: m.PredictMargin(row), Top: make([]Contribution, k)}
	for j, f := range idx[:k] {
		e.Top[j] = Contribution{Feature: m.names[f], Value: row[f], SHAP: phi[f]}
	}
	return e
}
