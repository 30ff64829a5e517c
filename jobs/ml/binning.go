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
	lut   []binLUT // per feature: a coarse index that narrows the search
}

// binLUT splits [upper[0], upper[last]] into lutCells equal cells; first[c]
// counts the edges whose cell is < c. Since cell(x) is monotone in x, the
// answer for x in cell c lies in [first[c], first[c+1]]: usually one or
// two edges, whatever the distribution (crowded cells just search more).
type binLUT struct {
	lo, scale float64
	first     []uint8 // lutCells+1 entries; edges ≤ 254 fit a byte
}

const lutCells = 1024

func (l *binLUT) cell(x float64) int {
	c := int((x - l.lo) * l.scale)
	return min(max(c, 0), lutCells-1)
}

func newBinLUT(up []float64) binLUT {
	n := len(up)
	l := binLUT{lo: up[0], first: make([]uint8, lutCells+1)}
	if span := up[n-1] - up[0]; span > 0 && !math.IsInf(span, 0) {
		l.scale = lutCells / span
	}
	b := 0
	for c := 0; c <= lutCells; c++ {
		for b < n && l.cell(up[b]) < c {
			b++
		}
		l.first[c] = uint8(b)
	}
	return l
}

// valueBins is the number of value bins of feature f (missing bin excluded).
func (bm *binMapper) valueBins(f int) int { return len(bm.upper[f]) + 1 }

func (bm *binMapper) bin(f int, x float64) uint8 {
	up := bm.upper[f]
	if x != x {
		return uint8(len(up) + 1)
	}
	// First b with x <= up[b], or len(up).
	n := len(up)
	switch {
	case n == 0 || x <= up[0]:
		return 0
	case x > up[n-1]:
		return uint8(n)
	}
	l := &bm.lut[f]
	c := l.cell(x)
	base, end := int(l.first[c]), int(l.first[c+1])
	// The answer is in [base, end] (up[end] ≥ x holds: end ≤ n−1 here or
	// its cell is beyond x's); a branch-free lower bound over that range.
	up = up[:min(end+1, n)]
	n = len(up) - base
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
	bm.lut = make([]binLUT, X.Cols)
	for f, v := range vals {
		slices.Sort(v)
		bm.upper[f] = binEdges(v, maxBins)
		if len(bm.upper[f]) > 0 {
			bm.lut[f] = newBinLUT(bm.upper[f])
		}
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

// binGroups maps X to bins packed eight features per word: bin of
// feature f of row i in out[f/8][i], bits 8(f%8)..8(f%8)+7.
func (bm *binMapper) binGroups(X Matrix) [][]uint64 {
	out := make([][]uint64, (X.Cols+7)/8)
	for g := range out {
		out[g] = make([]uint64, X.Rows)
	}
	for i := 0; i < X.Rows; i++ {
		for f, x := range X.Row(i) {
			out[f/8][i] |= uint64(bm.bin(f, x)) << (8 * (f % 8))
		}
	}
	return out
}
