package ml

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Isolation forest (Liu, Ting & Zhou 2008). Each tree isolates a seeded
// subsample of SampleSize rows by random axis-parallel splits; anomalies
// are isolated in fewer splits. The score of x is s = 2^(−E[h(x)]/c(ψ)),
// h the path length (plus c(size) at an external node holding more than one
// training point) and c(n) = 2H(n−1) − 2(n−1)/n the mean path length of an
// unsuccessful BST search. s → 1 marks anomalies, s ≲ 0.5 normal points.
//
// NaN handling: a split draws its feature among those with at least two
// distinct non-missing values in the node and its cut uniformly between
// their min and max. Rows missing that feature follow the child holding
// more of the node's non-missing points (MissingLeft), in training and in
// scoring, so a missing value is never what isolates a row: missingness
// neither raises nor lowers a score.

// IForestParams configures FitIsolationForest.
type IForestParams struct {
	Trees      int    `json:"trees"`       // default 100
	SampleSize int    `json:"sample_size"` // ψ, rows per tree; default 256 (capped at the row count)
	MaxDepth   int    `json:"max_depth"`   // 0 = ceil(log2 ψ), the paper's height limit
	Seed       uint64 `json:"seed"`
}

// DefaultIForestParams are the paper's defaults: 100 trees of 256 rows.
func DefaultIForestParams() IForestParams {
	return IForestParams{Trees: 100, SampleSize: 256, Seed: 1}
}

// Validate reports a parameter out of range, wrapping ErrParams.
func (p IForestParams) Validate() error {
	switch {
	case p.Trees < 1:
		return fmt.Errorf("iforest params: trees %d < 1: %w", p.Trees, ErrParams)
	case p.SampleSize < 2:
		return fmt.Errorf("iforest params: sample size %d < 2: %w", p.SampleSize, ErrParams)
	case p.MaxDepth < 0:
		return fmt.Errorf("iforest params: max depth %d < 0: %w", p.MaxDepth, ErrParams)
	}
	return nil
}

// IsolationForest is a fitted forest.
type IsolationForest struct {
	params IForestParams
	names  []string
	psi    int // rows per tree actually used: min(SampleSize, rows)
	trees  []itree
}

type itree struct {
	nodes []inode
}

// inode: Feature < 0 is an external node. Rows with x < Threshold go Left.
type inode struct {
	Feature     int32
	MissingLeft bool
	Left, Right int32
	Threshold   float64
	Size        int32   // training rows (of the subsample) reaching the node
	adj         float64 // c(Size) on external nodes, cached (not serialized)
}

// FitIsolationForest fits a forest on X (NaN = missing, ±Inf rejected).
// names labels the columns (nil = "f0", …).
func FitIsolationForest(X Matrix, names []string, p IForestParams) (*IsolationForest, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("ml: fit iforest: %w", err)
	}
	if err := X.check(); err != nil {
		return nil, fmt.Errorf("ml: fit iforest: %w", err)
	}
	if X.Rows < 2 || X.Cols == 0 {
		return nil, fmt.Errorf("ml: fit iforest: matrix %dx%d: %w", X.Rows, X.Cols, ErrEmpty)
	}
	if err := X.checkNoInf(); err != nil {
		return nil, fmt.Errorf("ml: fit iforest: %w", err)
	}
	if names == nil {
		names = make([]string, X.Cols)
		for i := range names {
			names[i] = fmt.Sprintf("f%d", i)
		}
	} else if len(names) != X.Cols {
		return nil, fmt.Errorf("ml: fit iforest: %d names for %d columns: %w", len(names), X.Cols, ErrShape)
	}
	psi := min(p.SampleSize, X.Rows)
	limit := p.MaxDepth
	if limit == 0 {
		limit = int(math.Ceil(math.Log2(float64(psi))))
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x69666f72 /* "ifor" */))
	f := &IsolationForest{params: p, names: slices.Clone(names), psi: psi, trees: make([]itree, p.Trees)}
	cand := make([]int, 0, X.Cols)
	lo := make([]float64, X.Cols)
	hi := make([]float64, X.Cols)
	for t := range f.trees {
		rows := sampleIndex(X.Rows, psi, rng)
		tr := &f.trees[t]
		var grow func(rows []int, depth int) int32
		grow = func(rows []int, depth int) int32 {
			id := int32(len(tr.nodes))
			tr.nodes = append(tr.nodes, inode{Feature: -1, Size: int32(len(rows))})
			if depth >= limit || len(rows) <= 1 {
				return id
			}
			cand = cand[:0]
			for c := 0; c < X.Cols; c++ {
				lo[c], hi[c] = math.Inf(1), math.Inf(-1)
				for _, r := range rows {
					if v := X.Data[r*X.Cols+c]; v == v {
						lo[c], hi[c] = min(lo[c], v), max(hi[c], v)
					}
				}
				if hi[c] > lo[c] {
					cand = append(cand, c)
				}
			}
			if len(cand) == 0 {
				return id // all rows identical where observed
			}
			c := cand[rng.IntN(len(cand))]
			cut := lo[c] + rng.Float64()*(hi[c]-lo[c])
			for cut <= lo[c] { // a cut at the min would leave the left side empty
				cut = lo[c] + rng.Float64()*(hi[c]-lo[c])
			}
			var left, right, miss []int
			for _, r := range rows {
				switch v := X.Data[r*X.Cols+c]; {
				case v != v:
					miss = append(miss, r)
				case v < cut:
					left = append(left, r)
				default:
					right = append(right, r)
				}
			}
			missLeft := len(left) >= len(right)
			if missLeft {
				left = append(left, miss...)
			} else {
				right = append(right, miss...)
			}
			l := grow(left, depth+1)
			r := grow(right, depth+1)
			tr.nodes[id] = inode{Feature: int32(c), MissingLeft: missLeft, Left: l, Right: r, Threshold: cut, Size: int32(len(rows))}
			return id
		}
		grow(rows, 0)
		tr.cache()
	}
	return f, nil
}

// avgPathLength is c(n), the mean path length of an unsuccessful search in
// a binary search tree of n points: 2H(n−1) − 2(n−1)/n with
// H(i) ≈ ln(i) + Euler's γ; c(1) = 0, c(2) = 1.
func avgPathLength(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	m := float64(n - 1)
	return 2*(math.Log(m)+0.5772156649015329) - 2*m/float64(n)
}

// cache stores c(Size) on external nodes (a log per leaf per scored row
// otherwise).
func (t *itree) cache() {
	for i := range t.nodes {
		if t.nodes[i].Feature < 0 {
			t.nodes[i].adj = avgPathLength(int(t.nodes[i].Size))
		}
	}
}

func (t *itree) next(nd *inode, x float64) int32 {
	switch {
	case x != x:
		if nd.MissingLeft {
			return nd.Left
		}
		return nd.Right
	case x < nd.Threshold:
		return nd.Left
	}
	return nd.Right
}

func (t *itree) pathLength(row []float64) float64 {
	i, depth := int32(0), 0
	for {
		nd := &t.nodes[i]
		if nd.Feature < 0 {
			return float64(depth) + nd.adj
		}
		i = t.next(nd, row[nd.Feature])
		depth++
	}
}

// Score is the anomaly score of row in (0,1]; row must have one value per
// training column.
func (f *IsolationForest) Score(row []float64) float64 {
	if len(row) != len(f.names) {
		panic(fmt.Sprintf("ml: iforest score: row has %d values, model %d features", len(row), len(f.names)))
	}
	var s float64
	for i := range f.trees {
		s += f.trees[i].pathLength(row)
	}
	return math.Exp2(-(s / float64(len(f.trees))) / avgPathLength(f.psi))
}

// ScoreBatch scores every row of X.
func (f *IsolationForest) ScoreBatch(X Matrix) ([]float64, error) {
	if err := X.check(); err != nil {
		return nil, fmt.Errorf("ml: iforest score batch: %w", err)
	}
	if X.Cols != len(f.names) {
		return nil, fmt.Errorf("ml: iforest score batch: %d columns, model has %d: %w", X.Cols, len(f.names), ErrShape)
	}
	out := make([]float64, X.Rows)
	for i := range out {
		out[i] = f.Score(X.Row(i))
	}
	return out, nil
}

// ThresholdAtContamination returns the score threshold that flags the
// top ceil(contamination·n) scores: the k-th largest score. Rows with
// score >= threshold are anomalies (ties can flag a few more than k).
// contamination must be in (0,1).
func ThresholdAtContamination(scores []float64, contamination float64) (float64, error) {
	if !(contamination > 0 && contamination < 1) {
		return 0, fmt.Errorf("ml: contamination %v not in (0,1): %w", contamination, ErrParams)
	}
	if len(scores) == 0 {
		return 0, fmt.Errorf("ml: contamination threshold: %w", ErrEmpty)
	}
	s := slices.Clone(scores)
	slices.Sort(s)
	k := int(math.Ceil(contamination*float64(len(s)) - 1e-9)) // 0.05·100 is 5.000000000000001
	return s[len(s)-k], nil
}

// FeatureScore is one feature's share of a row's isolation.
type FeatureScore struct {
	Feature string  `json:"feature"`
	Index   int     `json:"index"`
	Score   float64 `json:"score"`
}

// TopFeatures approximates which features isolate row: every split on the
// row's path in every tree credits its feature with how much better than a
// median cut it separated the row from the node's training points,
// max(0, 1 − 2·n_child/n_node), summed along the path and averaged over
// trees. A split that cuts the row away from almost all the data earns
// nearly 1; a cut that leaves it with half or more of the crowd earns 0. A heuristic in the spirit of DIFFI (Carletti et al.
// 2020), not an exact attribution. Returns the k best (k <= 0: all),
// largest first, ties by column order.
func (f *IsolationForest) TopFeatures(row []float64, k int) []FeatureScore {
	credit := make([]float64, len(f.names))
	for ti := range f.trees {
		t := &f.trees[ti]
		i := int32(0)
		for {
			nd := &t.nodes[i]
			if nd.Feature < 0 {
				break
			}
			next := t.next(nd, row[nd.Feature])
			credit[nd.Feature] += max(0, 1-2*float64(t.nodes[next].Size)/float64(nd.Size))
			i = next
		}
	}
	out := make([]FeatureScore, len(credit))
	for c, v := range credit {
		out[c] = FeatureScore{Feature: f.names[c], Index: c, Score: v / float64(len(f.trees))}
	}
	slices.SortStableFunc(out, func(a, b FeatureScore) int { return cmp.Compare(b.Score, a.Score) })
	if k > 0 && k < len(out) {
		out = out[:k]
	}
	return out
}

// FeatureNames returns a copy of the column names.
func (f *IsolationForest) FeatureNames() []string { return slices.Clone(f.names) }

// Hyperparameters is the map for ml_model.hyperparameters_json.
func (f *IsolationForest) Hyperparameters() map[string]any {
	return map[string]any{
		"algorithm":        "isolation_forest",
		"trees":            f.params.Trees,
		"sample_size":      f.params.SampleSize,
		"sample_size_used": f.psi,
		"max_depth":        f.params.MaxDepth,
		"seed":             f.params.Seed,
	}
}

const iforestFormat = "battlake-iforest/1"

type iforestArtifact struct {
	Format   string          `json:"format"`
	Params   IForestParams   `json:"params"`
	Features []string        `json:"features"`
	Psi      int             `json:"sample_size_used"`
	Trees    []itreeArtifact `json:"trees"`
}

type itreeArtifact struct {
	Feature     []int32   `json:"feature"`
	Threshold   []float64 `json:"threshold"`
	MissingLeft []bool    `json:"missing_left"`
	Left        []int32   `json:"left"`
	Right       []int32   `json:"right"`
	Size        []int32   `json:"size"`
}

// MarshalJSON writes a deterministic JSON artifact.
func (f *IsolationForest) MarshalJSON() ([]byte, error) {
	a := iforestArtifact{Format: iforestFormat, Params: f.params, Features: f.names, Psi: f.psi, Trees: make([]itreeArtifact, len(f.trees))}
	for i, t := range f.trees {
		n := len(t.nodes)
		ta := itreeArtifact{Feature: make([]int32, n), Threshold: make([]float64, n), MissingLeft: make([]bool, n),
			Left: make([]int32, n), Right: make([]int32, n), Size: make([]int32, n)}
		for j, nd := range t.nodes {
			ta.Feature[j], ta.Threshold[j], ta.MissingLeft[j] = nd.Feature, nd.Threshold, nd.MissingLeft
			ta.Left[j], ta.Right[j], ta.Size[j] = nd.Left, nd.Right, nd.Size
		}
		a.Trees[i] = ta
	}
	return json.Marshal(a)
}

// LoadIsolationForest parses an artifact written by MarshalJSON (errors
// wrap ErrArtifact).
func LoadIsolationForest(data []byte) (*IsolationForest, error) {
	var a iforestArtifact
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("ml: load iforest: %w: %w", ErrArtifact, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("ml: load iforest: "+format+": %w", append(args, ErrArtifact)...)
	}
	if a.Format != iforestFormat {
		return nil, bad("format %q, want %q", a.Format, iforestFormat)
	}
	if err := a.Params.Validate(); err != nil {
		return nil, bad("%v", err)
	}
	if len(a.Features) == 0 || a.Psi < 2 || len(a.Trees) == 0 {
		return nil, bad("no features, trees or sample")
	}
	f := &IsolationForest{params: a.Params, names: a.Features, psi: a.Psi, trees: make([]itree, len(a.Trees))}
	for i, ta := range a.Trees {
		n := len(ta.Feature)
		if n == 0 || len(ta.Threshold) != n || len(ta.MissingLeft) != n || len(ta.Left) != n || len(ta.Right) != n || len(ta.Size) != n {
			return nil, bad("tree %d: ragged or empty node arrays", i)
		}
		nodes := make([]inode, n)
		for j := range nodes {
			nd := inode{Feature: ta.Feature[j], Threshold: ta.Threshold[j], MissingLeft: ta.MissingLeft[j],
				Left: ta.Left[j], Right: ta.Right[j], Size: ta.Size[j]}
			if int(nd.Feature) >= len(a.Features) || nd.Size < 0 {
				return nil, bad("tree %d node %d: feature %d, size %d", i, j, nd.Feature, nd.Size)
			}
			if nd.Feature >= 0 && (nd.Left <= int32(j) || nd.Right <= int32(j) || int(nd.Left) >= n || int(nd.Right) >= n || nd.Size == 0) {
				return nil, bad("tree %d node %d: children %d,%d", i, j, nd.Left, nd.Right)
			}
			nodes[j] = nd
		}
		f.trees[i] = itree{nodes: nodes}
		f.trees[i].cache()
	}
	return f, nil
}
