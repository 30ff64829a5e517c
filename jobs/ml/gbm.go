package ml

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// GBM is a fitted gradient-boosted tree ensemble. The raw score (margin) of
// a row is BaseScore + Σ tree leaf values (learning rate already folded
// into the leaves); Predict maps it through the link of the loss.
type GBM struct {
	params   Params
	names    []string
	base     float64
	trees    []tree
	bestIter int     // trees kept; == len(trees)
	bestLoss float64 // validation loss of the kept trees; NaN without a validation set

	expected float64 // cached ExpectedValue (prepare)
	maxDepth int     // deepest tree, sizes the TreeSHAP path buffer (prepare)
	// shap holds the TreeSHAP lookup tables, built on the first
	// explanation (prepare allocates it; see shapTables).
	shap *shapCache
}

// prepare caches what explanations need; Fit and loading call it.
func (m *GBM) prepare() {
	m.expected, m.maxDepth = m.base, 0
	m.shap = &shapCache{}
	for i := range m.trees {
		m.expected += m.trees[i].expected()
		m.maxDepth = max(m.maxDepth, m.trees[i].depth(0))
	}
}

type tree struct {
	nodes []node  // nodes[0] is the root; children have larger indices, Right == Left+1
	pred  []pnode // compact copy of nodes for prediction (compile)
}

// node of a binary tree. Feature < 0 marks a leaf. Rows with
// x[Feature] <= Threshold go Left, larger values Right, NaN by DefaultLeft.
type node struct {
	Feature     int32
	DefaultLeft bool
	Left, Right int32
	Threshold   float64
	Value       float64 // leaf value (margin units); 0 on split nodes
	Cover       float64 // Σ training weights of the (subsampled) rows reaching the node
	Gain        float64 // loss reduction of the split (½ of the usual G²/H score difference)
}

// ValidationSet is held-out data for early stopping.
type ValidationSet struct {
	X Matrix
	Y []float64
	W []float64 // nil means all ones
}

// Fit trains a GBM on X (rows × features, NaN = missing, at most 2,097,151
// rows) with labels y and sample weights w (nil = all ones; otherwise
// finite and > 0). names labels the columns (nil = "f0", "f1", …).
func Fit(X Matrix, y, w []float64, names []string, p Params) (*GBM, error) {
	return FitValid(X, y, w, names, p, nil)
}

// FitValid is Fit with a validation set used for early stopping when
// p.EarlyStoppingRounds > 0 (the best prefix of trees is kept).
func FitValid(X Matrix, y, w []float64, names []string, p Params, valid *ValidationSet) (*GBM, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("ml: fit gbm: %w", err)
	}
	w, names, err := checkTrainingData(X, y, w, names, p.Loss)
	if err != nil {
		return nil, fmt.Errorf("ml: fit gbm: %w", err)
	}
	var vw []float64
	if valid != nil {
		if valid.X.Cols != X.Cols {
			return nil, fmt.Errorf("ml: fit gbm: validation has %d features, training %d: %w", valid.X.Cols, X.Cols, ErrShape)
		}
		if vw, _, err = checkTrainingData(valid.X, valid.Y, valid.W, names, p.Loss); err != nil {
			return nil, fmt.Errorf("ml: fit gbm: validation set: %w", err)
		}
	} else if p.EarlyStoppingRounds > 0 {
		return nil, fmt.Errorf("ml: fit gbm: early stopping without a validation set: %w", ErrParams)
	}

	rng := rand.New(rand.NewPCG(p.Seed, 0x62617474 /* "batt" */))
	bm := newBinMapper(X, p.MaxBins, p.BinSampleRows, rng)
	b := newBuilder(X, y, w, bm, p)
	m := &GBM{params: p, names: names, base: b.initScore(), bestLoss: math.NaN()}
	for i := range b.margin {
		b.margin[i] = m.base
	}
	var vmargin []float64
	if valid != nil {
		vmargin = make([]float64, valid.X.Rows)
		for i := range vmargin {
			vmargin[i] = m.base
		}
	}
	bestLoss, lastLoss := math.Inf(1), math.NaN()
	for t := 0; t < p.Trees; t++ {
		tr := b.growTree(rng)
		m.trees = append(m.trees, tr)
		if valid == nil {
			continue
		}
		for i := range vmargin {
			vmargin[i] += tr.predict(valid.X.Row(i))
		}
		lastLoss = meanLoss(p, valid.Y, vmargin, vw)
		if lastLoss < bestLoss {
			bestLoss, m.bestIter = lastLoss, t+1
		}
		if p.EarlyStoppingRounds > 0 && t+1-m.bestIter >= p.EarlyStoppingRounds {
			break
		}
	}
	m.bestLoss = lastLoss // validation loss of the trees kept
	if valid != nil && p.EarlyStoppingRounds > 0 {
		m.trees = m.trees[:m.bestIter]
		m.bestLoss = bestLoss
	}
	m.bestIter = len(m.trees)
	m.prepare()
	return m, nil
}

// checkTrainingData validates shapes and values; it returns w (ones when nil)
// and names (generated when nil).
func checkTrainingData(X Matrix, y, w []float64, names []string, loss Loss) ([]float64, []string, error) {
	if err := X.check(); err != nil {
		return nil, nil, err
	}
	if X.Rows == 0 || X.Cols == 0 {
		return nil, nil, fmt.Errorf("matrix %dx%d: %w", X.Rows, X.Cols, ErrEmpty)
	}
	if X.Rows > maxRows {
		return nil, nil, fmt.Errorf("%d rows, at most %d per fit: %w", X.Rows, maxRows, ErrShape)
	}
	if err := X.checkNoInf(); err != nil {
		return nil, nil, err
	}
	if len(y) != X.Rows {
		return nil, nil, fmt.Errorf("%d labels for %d rows: %w", len(y), X.Rows, ErrShape)
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("label %d is %v: %w", i, v, ErrNonFinite)
		}
		if loss == LossLogistic && (v < 0 || v > 1) {
			return nil, nil, fmt.Errorf("logistic label %d is %v, not in [0,1]: %w", i, v, ErrParams)
		}
	}
	if w == nil {
		w = make([]float64, X.Rows)
		for i := range w {
			w[i] = 1
		}
	} else if len(w) != X.Rows {
		return nil, nil, fmt.Errorf("%d weights for %d rows: %w", len(w), X.Rows, ErrShape)
	}
	for i, v := range w {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("weight %d is %v (must be finite and > 0; drop zero-weight rows): %w", i, v, ErrParams)
		}
	}
	if names == nil {
		names = make([]string, X.Cols)
		for i := range names {
			names[i] = fmt.Sprintf("f%d", i)
		}
	} else if len(names) != X.Cols {
		return nil, nil, fmt.Errorf("%d feature names for %d columns: %w", len(names), X.Cols, ErrShape)
	} else {
		names = append([]string(nil), names...)
	}
	return w, names, nil
}

// lossAt is the per-row loss used for early stopping.
func lossAt(p Params, y, f float64) float64 {
	switch p.Loss {
	case LossQuantile:
		return pinball(y, f, p.Alpha)
	case LossLogistic:
		return softplus(f) - y*f
	default:
		d := y - f
		return 0.5 * d * d
	}
}

func meanLoss(p Params, y, f, w []float64) float64 {
	var s, sw float64
	for i := range y {
		s += w[i] * lossAt(p, y[i], f[i])
		sw += w[i]
	}
	return s / sw
}

func pinball(y, q, alpha float64) float64 {
	if y >= q {
		return alpha * (y - q)
	}
	return (1 - alpha) * (q - y)
}

// softplus is log(1+e^f) without overflow.
func softplus(f float64) float64 {
	if f > 0 {
		return f + math.Log1p(math.Exp(-f))
	}
	return math.Log1p(math.Exp(f))
}

func sigmoid(f float64) float64 {
	if f >= 0 {
		return 1 / (1 + math.Exp(-f))
	}
	e := math.Exp(f)
	return e / (1 + e)
}

// pnode is the 16-byte prediction form of a node: a split holds its
// threshold, feature and kid = Left<<1 | NaN-goes-right (Right is always
// Left+1); a leaf has feat −1 and its value in thr.
type pnode struct {
	thr  float64
	feat int32
	kid  uint32
}

// compile builds the prediction nodes; it needs Right == Left+1, which
// growTree guarantees and loading checks.
func (t *tree) compile() {
	t.pred = make([]pnode, len(t.nodes))
	for i, nd := range t.nodes {
		if nd.Feature < 0 {
			t.pred[i] = pnode{thr: nd.Value, feat: -1}
			continue
		}
		k := uint32(nd.Left) << 1
		if !nd.DefaultLeft {
			k |= 1
		}
		t.pred[i] = pnode{thr: nd.Threshold, feat: nd.Feature, kid: k}
	}
}

// predict returns the tree's leaf value for a float row. The child step is
// branch-free (Left + went-right), which matters: a mispredicted branch per
// level would cost more than the rest of the walk.
func (t *tree) predict(row []float64) float64 {
	p := t.pred
	i := uint32(0)
	for {
		n := &p[i]
		if n.feat < 0 {
			return n.thr
		}
		x := row[n.feat]
		var right uint32
		if x > n.thr {
			right = 1
		}
		if x != x {
			right = n.kid & 1
		}
		i = n.kid>>1 + right
	}
}
