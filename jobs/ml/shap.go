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
	if tabs := m.shapTables(); tabs != nil {
		for i := range m.trees {
			m.trees[i].shapLookup(row, phi, &tabs[i], 0, 0, 0)
		}
		return
	}
	for i := range m.trees {
		m.trees[i].shap(row, phi, path, 0, 0, 1, 1, -1)
	}
}

// Lookup tables (the idea of Yang 2021, "Fast TreeSHAP", v2): a leaf's
// attributions depend on the row only through which side of each split on
// its path the row takes (the "one" fractions of Algorithm 2 are 0 or 1;
// the "zero" fractions are training covers). So for every leaf and every
// hot/cold pattern of its path, Algorithm 2's leaf terms are computed once
// per model, by the very same sequence of path operations as RECURSE; an
// explanation then walks each tree once, adding table entries in RECURSE's
// visiting order (hot child first). The attributions are bit for bit those
// of the recursion, at O(T·L·D) per row instead of O(T·L·D²); the price is
// Σ_leaves 2^depth·depth floats per model, so deep models (beyond
// maxShapTableFloats) keep the recursion.

// maxShapTableFloats bounds a model's tables (16 MiB); depth-5 trees need
// at most 32·32·5 floats each (a 120-tree model: 4.7 MiB).
const maxShapTableFloats = 1 << 21

type shapCache struct {
	once sync.Once
	tabs []shapTable // per tree; nil when too large
}

// shapTable is one tree's leaf terms: for a leaf node n, slot[n] indexes
// feats (the features of its unwound path, path[1..depth] of RECURSE) and
// vals (2^levels patterns × len(feats) terms; pattern bit j set when the
// row takes the leaf's side at the path's j-th split).
type shapTable struct {
	slot  []int32
	feats [][]int32
	vals  [][]float64
}

func (m *GBM) shapTables() []shapTable {
	if m.shap == nil {
		return nil
	}
	m.shap.once.Do(func() {
		var total int
		for i := range m.trees {
			total += m.trees[i].shapTableSize(0, 0)
			if total > maxShapTableFloats {
				return
			}
		}
		tabs := make([]shapTable, len(m.trees))
		path := m.shapPath()
		for i := range m.trees {
			t := &m.trees[i]
			tt := &tabs[i]
			tt.slot = make([]int32, len(t.nodes))
			for n := range t.nodes {
				tt.slot[n] = -1
				if t.nodes[n].Feature < 0 {
					tt.slot[n] = int32(len(tt.feats))
					tt.feats = append(tt.feats, nil)
					tt.vals = append(tt.vals, nil)
				}
			}
			t.shapPrecompute(tt, path, 0, 0, 0, 1, 1, -1, 0)
		}
		m.shap.tabs = tabs
	})
	return m.shap.tabs
}

// shapTableSize bounds the floats of node ni's leaves at level levels (a
// leaf's unwound path has at most levels+1 elements).
func (t *tree) shapTableSize(ni int32, levels int) int {
	nd := &t.nodes[ni]
	if nd.Feature < 0 {
		return (1 << levels) * levels
	}
	return t.shapTableSize(nd.Left, levels+1) + t.shapTableSize(nd.Right, levels+1)
}

// shapPrecompute is RECURSE over every child as hot (the row's side, one
// fraction inOne) and as cold (one fraction 0), with pattern bit level set
// for hot; at a leaf it stores the terms RECURSE would add to phi.
func (t *tree) shapPrecompute(tt *shapTable, parent []pathElem, ni int32, depth, level int, pZero, pOne float64, pFeature int, pat uint32) {
	path := parent[depth:]
	copy(path, parent[:depth])
	extendPath(path, depth, pZero, pOne, pFeature)
	nd := &t.nodes[ni]
	if nd.Feature < 0 {
		s := tt.slot[ni]
		if tt.vals[s] == nil {
			tt.feats[s] = make([]int32, depth)
			for i := 1; i <= depth; i++ {
				tt.feats[s][i-1] = int32(path[i].feature)
			}
			tt.vals[s] = make([]float64, (1<<level)*depth)
		}
		v := tt.vals[s][int(pat)*depth : int(pat+1)*depth]
		for i := 1; i <= depth; i++ {
			w := unwoundPathSum(path, depth, i)
			el := path[i]
			v[i-1] = w * (el.one - el.zero) * nd.Value
		}
		return
	}
	depth, inZero, inOne := unwindFeature(path, depth, int(nd.Feature))
	for _, c := range [2]int32{nd.Left, nd.Right} {
		z := t.nodes[c].Cover / nd.Cover
		t.shapPrecompute(tt, path, c, depth+1, level+1, z*inZero, inOne, int(nd.Feature), pat|1<<level)
		t.shapPrecompute(tt, path, c, depth+1, level+1, z*inZero, 0, int(nd.Feature), pat)
	}
}

// shapLookup adds node ni's leaf terms for row, hot child first (RECURSE's
// order, so the sums are the same).
func (t *tree) shapLookup(row, phi []float64, tt *shapTable, ni int32, level int, pat uint32) {
	nd := &t.nodes[ni]
	if nd.Feature < 0 {
		s := tt.slot[ni]
		f := tt.feats[s]
		v := tt.vals[s][int(pat)*len(f):]
		for i, fi := range f {
			phi[fi] += v[i]
		}
		return
	}
	hot, cold := nd.Right, nd.Left
	x := row[nd.Feature]
	if x <= nd.Threshold || (math.IsNaN(x) && nd.DefaultLeft) {
		hot, cold = nd.Left, nd.Right
	}
	t.shapLookup(row, phi, tt, hot, level+1, pat|1<<level)
	t.shapLookup(row, phi, tt, cold, level+1, pat)
}

// SHAPBatch explains every row of X on up to workers goroutines: row i's
// attributions are phi.Row(i) (identical for any worker count).
func (m *GBM) SHAPBatch(X Matrix, workers int) (phi Matrix, expected float64, err error) {
	if err := m.checkBatch(X, "shap batch"); err != nil {
		return Matrix{}, 0, err
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
	depth, inZero, inOne := unwindFeature(path, depth, int(nd.Feature))
	t.shap(row, phi, path, hot, depth+1, hotZero*inZero, inOne, int(nd.Feature))
	t.shap(row, phi, path, cold, depth+1, coldZero*inZero, 0, int(nd.Feature))
}

// unwindFeature unwinds feature f from path[:depth+1] if it is there (a
// feature already on the path is unwound and re-added at this node): the
// new depth and f's zero and one fractions (1, 1 when absent).
func unwindFeature(path []pathElem, depth, f int) (int, float64, float64) {
	for k := 0; k <= depth; k++ {
		if path[k].feature == f {
			zero, one := path[k].zero, path[k].one
			unwindPath(path, depth, k)
			return depth - 1, zero, one
		}
	}
	return depth, 1, 1
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

// ExplainBatch is Explain of every row of X, the same explanations. With
// lookup tables it runs tree by tree over all rows, so one tree's table
// stays in cache while the rows pass (row by row, each row's table reads
// miss the cache: most of an explanation's cost); each row still adds the
// trees in order, so the sums are Explain's.
func (m *GBM) ExplainBatch(X Matrix, k int) ([]Explanation, error) {
	if err := m.checkBatch(X, "explain batch"); err != nil {
		return nil, err
	}
	out := make([]Explanation, X.Rows)
	tabs := m.shapTables()
	if tabs == nil {
		for i := range out {
			out[i] = m.Explain(X.Row(i), k)
		}
		return out, nil
	}
	phi := NewMatrix(X.Rows, X.Cols)
	for t := range m.trees {
		for i := 0; i < X.Rows; i++ {
			m.trees[t].shapLookup(X.Row(i), phi.Row(i), &tabs[t], 0, 0, 0)
		}
	}
	for i := range out {
		out[i] = m.explanation(X.Row(i), phi.Row(i), k)
	}
	return out, nil
}

// Explain returns the k features with the largest |SHAP| (ties by column
// order); k <= 0 or k > NumFeatures returns all.
func (m *GBM) Explain(row []float64, k int) Explanation {
	phi, _ := m.SHAP(row)
	return m.explanation(row, phi, k)
}

// explanation ranks row's attributions phi.
func (m *GBM) explanation(row, phi []float64, k int) Explanation {
	ev := m.expected
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
