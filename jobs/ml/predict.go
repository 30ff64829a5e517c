package ml

import (
	"cmp"
	"fmt"
	"slices"
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
	if err := X.check(); err != nil {
		return nil, fmt.Errorf("ml: predict batch: %w", err)
	}
	if X.Cols != len(m.names) {
		return nil, fmt.Errorf("ml: predict batch: %d columns, model has %d features: %w", X.Cols, len(m.names), ErrShape)
	}
	out := make([]float64, X.Rows)
	for i := range out {
		out[i] = m.base
	}
	// Tree-major order keeps one tree's nodes in cache across all rows.
	for t := range m.trees {
		tr := &m.trees[t]
		for i := range out {
			out[i] += tr.predict(X.Data[i*X.Cols : (i+1)*X.Cols])
		}
	}
	for i, v := range out {
		out[i] = m.link(v)
	}
	return out, nil
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
