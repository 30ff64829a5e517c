package ml

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
)

// NumFeatures is the number of input columns the model expects.
func (m *GBM) NumFeatures() int { return len(m.names) }

// FeatureNames returns a copy of the column names, in column order.
func (m *GBM) FeatureNames() []string { return slices.Clone(m.names) }

// Params returns the hyperparameters the model was trained with.
func (m *GBM) Params() Params { return m.params }

// NumTrees is the number of trees kept (after early stopping).
func (m *GBM) NumTrees() int { return len(m.trees) }

// BaseScore is the constant margin every prediction starts from.
func (m *GBM) BaseScore() float64 { return m.base }

// ValidationLoss is the mean validation loss of the kept trees (NaN when the
// model was fitted without a validation set).
func (m *GBM) ValidationLoss() float64 { return m.bestLoss }

// PredictMargin returns the raw score (log-odds for LossLogistic). row must
// have NumFeatures values; NaN means missing.
func (m *GBM) PredictMargin(row []float64) float64 {
	if len(row) != len(m.names) {
		panic(fmt.Sprintf("ml: predict: row has %d values, model %d features", len(row), len(m.names)))
	}
	s := m.base
	for i := range m.trees {
		s += m.trees[i].predict(row)
	}
	return s
}

// Predict returns the prediction in label space: the mean (squared), the
// Alpha-quantile (quantile) or the probability of label 1 (logistic).
func (m *GBM) Predict(row []float64) float64 {
	return m.link(m.PredictMargin(row))
}

func (m *GBM) link(margin float64) float64 {
	if m.params.Loss == LossLogistic {
		return sigmoid(margin)
	}
	return margin
}

// PredictBatch predicts every row of X.
func (m *GBM) PredictBatch(X Matrix) ([]float64, error) {
	return m.PredictBatchWorkers(X, 1)
}

// PredictBatchWorkers is PredictBatch on up to workers goroutines (each
// takes a contiguous share of the rows; results are identical).
func (m *GBM) PredictBatchWorkers(X Matrix, workers int) ([]float64, error) {
	if err := m.checkBatch(X, "predict batch"); err != nil {
		return nil, err
	}
	out := make([]float64, X.Rows)
	workers = min(max(workers, 1), (X.Rows+1023)/1024)
	if workers <= 1 {
		m.predictRows(X, 0, X.Rows, out)
		return out, nil
	}
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		lo, hi := k*X.Rows/workers, (k+1)*X.Rows/workers
		wg.Go(func() { m.predictRows(X, lo, hi, out) })
	}
	wg.Wait()
	return out, nil
}

// checkBatch checks that X is a well-formed matrix of the model's
// features; op names the caller in the error.
func (m *GBM) checkBatch(X Matrix, op string) error {
	if err := X.check(); err != nil {
		return fmt.Errorf("ml: %s: %w", op, err)
	}
	if X.Cols != len(m.names) {
		return fmt.Errorf("ml: %s: %d columns, model has %d features: %w", op, X.Cols, len(m.names), ErrShape)
	}
	return nil
}

// predictRows writes the predictions of rows [lo, hi) of X into out.
func (m *GBM) predictRows(X Matrix, lo, hi int, out []float64) {
	// Rows go in blocks of 8 through one tree at a time, level by level:
	// eight independent node-to-node load chains overlap instead of
	// waiting on each other, and the block's rows stay in L1. Each row
	// still adds the trees in order, so results equal PredictMargin's.
	const blk = 8
	for i0 := lo; i0 < hi; i0 += blk {
		nr := min(blk, hi-i0)
		var acc [blk]float64
		for k := range acc {
			acc[k] = m.base
		}
		rows := X.Data[i0*X.Cols : (i0+nr)*X.Cols]
		for t := range m.trees {
			p := m.trees[t].pred
			var at [blk]uint32
			for moving := true; moving; {
				moving = false
				for k := 0; k < nr; k++ {
					n := &p[at[k]]
					if n.feat < 0 {
						continue
					}
					moving = true
					x := rows[k*X.Cols+int(n.feat)]
					var right uint32
					if x > n.thr {
						right = 1
					}
					if x != x {
						right = n.kid & 1
					}
					at[k] = n.kid>>1 + right
				}
			}
			for k := 0; k < nr; k++ {
				acc[k] += p[at[k]].thr
			}
		}
		for k := 0; k < nr; k++ {
			out[i0+k] = m.link(acc[k])
		}
	}
}

// FeatureImportance is the total split gain (loss reduction) and the split
// count of one feature over the ensemble.
type FeatureImportance struct {
	Feature string  `json:"feature"`
	Index   int     `json:"index"`
	Gain    float64 `json:"gain"`
	Splits  int     `json:"splits"`
}

// Importance returns every feature's gain importance, largest gain first
// (ties by column index).
func (m *GBM) Importance() []FeatureImportance {
	out := make([]FeatureImportance, len(m.names))
	for f, n := range m.names {
		out[f] = FeatureImportance{Feature: n, Index: f}
	}
	for i := range m.trees {
		for _, nd := range m.trees[i].nodes {
			if nd.Feature >= 0 {
				out[nd.Feature].Gain += nd.Gain
				out[nd.Feature].Splits++
			}
		}
	}
	slices.SortStableFunc(out, func(a, b FeatureImportance) int {
		if c := cmp.Compare(b.Gain, a.Gain); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
	return out
}

// Hyperparameters is the map for ml_model.hyperparameters_json: every
// training parameter plus the number of trees kept. encoding/json writes
// map keys sorted, so the JSON is deterministic.
func (m *GBM) Hyperparameters() map[string]any {
	p := m.params
	h := map[string]any{
		"algorithm":             "battlake-gbm",
		"loss":                  string(p.Loss),
		"trees":                 p.Trees,
		"trees_kept":            len(m.trees),
		"max_depth":             p.MaxDepth,
		"learning_rate":         p.LearningRate,
		"min_samples_leaf":      p.MinSamplesLeaf,
		"min_hessian_leaf":      p.MinHessianLeaf,
		"lambda":                p.Lambda,
		"min_gain":              p.MinGain,
		"subsample":             p.Subsample,
		"colsample":             p.ColSample,
		"max_bins":              p.MaxBins,
		"bin_sample_rows":       p.BinSampleRows,
		"early_stopping_rounds": p.EarlyStoppingRounds,
		"seed":                  p.Seed,
	}
	if p.Loss == LossQuantile {
		h["alpha"] = p.Alpha
	}
	return h
}
