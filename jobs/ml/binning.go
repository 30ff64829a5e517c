package ml

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// binMapper holds, per feature, the upper edges of its value bins: x goes to
// the first bin b with x <= upper[b], or to the last value bin len(upper).
// NaN goes to its own bin, index len(upper)+1. Splits learned on bin b are
// stored as the raw threshold upper[b], so prediction on float rows never
// needs the mapper and agrees with training exactly.
type binMapper struct {
	upper [][]float64
}

// valueBins is the number of value bins of feature f (missing bin excluded).
func (bm *binMapper) valueBins(f int) int { return len(bm.upper[f]) + 1 }

func (bm *binMapper) bin(f int, x float64) uint8 {
	up := bm.upper[f]
	if x != x {
		return uint8(len(up) + 1)
	}
	// First b with x <= up[b], or len(up): a branch-free lower bound (the
	// conditional add compiles to a conditional move).
	n := len(up)
	if n == 0 {
		return 0
	}
	base := 0
	for n > 1 {
		half := n >> 1
		if up[base+half-1] < x {
			base += half
		}
		n -= half
	}
	if up[base] < x {
		base++
	}
	return uint8(base)
}

// newBinMapper places at most maxBins-1 edges per feature at quantiles of a
// seeded sample of at most sampleRows rows. Features with few distinct
// values get one bin per value (edges at midpoints).
func newBinMapper(X Matrix, maxBins, sampleRows int, rng *rand.Rand) *binMapper {
	rows := sampleIndex(X.Rows, sampleRows, rng)
	bm := &binMapper{upper: make([][]float64, X.Cols)}
	// One row-major pass gathers every feature's sample (a column-wise pass
	// per feature would stream the whole matrix Cols times).
	vals := make([][]float64, X.Cols)
	for f := range vals {
		vals[f] = make([]float64, 0, len(rows))
	}
	for _, r := range rows {
		for f, v := range X.Row(r) {
			if v == v {
				vals[f] = append(vals[f], v)
			}
		}
	}
	for f, v := range vals {
		slices.Sort(v)
		bm.upper[f] = binEdges(v, maxBins)
	}
	return bm
}

// sampleIndex returns min(n, k) distinct row indices in ascending order.
func sampleIndex(n, k int, rng *rand.Rand) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if k >= n {
		return idx
	}
	// Partial Fisher-Yates: the first k slots are a uniform k-subset.
	for i := 0; i < k; i++ {
		j := i + rng.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	idx = idx[:k]
	slices.Sort(idx)
	return idx
}

// binEdges returns strictly increasing edges for sorted finite values.
func binEdges(sorted []float64, maxBins int) []float64 {
	m := len(sorted)
	if m == 0 {
		return nil
	}
	distinct := 1
	for i := 1; i < m && distinct <= maxBins; i++ {
		if sorted[i] != sorted[i-1] {
			distinct++
		}
	}
	var edges []float64
	if distinct <= maxBins {
		for i := 1; i < m; i++ {
			if sorted[i] != sorted[i-1] {
				edges = appendEdge(edges, midpoint(sorted[i-1], sorted[i]))
			}
		}
		return edges
	}
	for j := 1; j < maxBins; j++ {
		v := sorted[j*m/maxBins]
		// The edge sits between v and the next larger value, so a heavily
		// repeated value keeps a bin of its own.
		k := sort.Search(m, func(i int) bool { return sorted[i] > v })
		if k == m {
			break
		}
		edges = appendEdge(edges, midpoint(v, sorted[k]))
	}
	return edges
}

func appendEdge(edges []float64, e float64) []float64 {
	if len(edges) > 0 && e <= edges[len(edges)-1] {
		return edges
	}
	return append(edges, e)
}

func midpoint(a, b float64) float64 {
	m := a/2 + b/2
	if m < a || math.IsInf(m, 0) {
		return a
	}
	return m
}

// binColumns maps X to column-major uint8 bins: out[f][row]. It reads X
// row by row (sequentially) and writes Cols sequential streams.
func (bm *binMapper) binColumns(X Matrix) [][]uint8 {
	out := make([][]uint8, X.Cols)
	for f := range out {
		out[f] = make([]uint8, X.Rows)
	}
	for i := 0; i < X.Rows; i++ {
		for f, x := range X.Row(i) {
			out[f][i] = bm.bin(f, x)
		}
	}
	return out
}
