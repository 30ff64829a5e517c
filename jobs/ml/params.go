package ml

import (
	"fmt"
	"math"
)

// Loss selects the objective of the gradient-boosted trees.
type Loss string

const (
	// LossSquared is ½(y−f)²; predictions estimate the conditional mean.
	LossSquared Loss = "squared"
	// LossQuantile is the pinball loss at Params.Alpha; predictions estimate
	// the conditional Alpha-quantile. Leaf values are re-fitted as the
	// weighted Alpha-quantile of the residuals in the leaf (the Newton step of
	// a piecewise-linear loss is useless), as LightGBM does.
	LossQuantile Loss = "quantile"
	// LossLogistic is the binary log-loss on labels in [0,1]; the margin is a
	// log-odds and Predict returns a probability.
	LossLogistic Loss = "logistic"
)

// Params are the GBM hyperparameters. Start from DefaultParams.
type Params struct {
	Loss  Loss    `json:"loss"`
	Alpha float64 `json:"alpha"` // quantile level in (0,1); used by LossQuantile only

	Trees        int     `json:"trees"`         // boosting rounds (upper bound with early stopping)
	MaxDepth     int     `json:"max_depth"`     // 1..16; depth 5 gives at most 32 leaves
	LearningRate float64 `json:"learning_rate"` // shrinkage in (0,1]

	MinSamplesLeaf int     `json:"min_samples_leaf"` // rows (of the subsample) per leaf, ≥1
	MinHessianLeaf float64 `json:"min_hessian_leaf"` // Σ hessian per leaf, ≥0 (logistic: Σ w·p(1−p))
	Lambda         float64 `json:"lambda"`           // L2 penalty on leaf values, ≥0
	MinGain        float64 `json:"min_gain"`         // a split must improve the objective by more than this

	Subsample float64 `json:"subsample"` // row fraction per tree in (0,1], Bernoulli-sampled from Seed
	ColSample float64 `json:"colsample"` // feature fraction per tree in (0,1], sampled from Seed

	MaxBins       int `json:"max_bins"`        // value bins per feature, 2..255; NaN has its own extra bin
	BinSampleRows int `json:"bin_sample_rows"` // rows (seeded sample) used to place quantile bin edges

	// EarlyStoppingRounds > 0 stops when the validation loss has not improved
	// for that many rounds and keeps the best prefix of trees; it needs a
	// validation set (FitValid).
	EarlyStoppingRounds int `json:"early_stopping_rounds"`

	Seed uint64 `json:"seed"`

	// Workers > 1 builds histograms on that many goroutines (features split
	// among them). Results are identical for any value, so it is not part
	// of the artifact; 0 means 1.
	Workers int `json:"-"`
}

// DefaultParams: 200 trees of depth 5, learning rate 0.1, squared loss.
func DefaultParams() Params {
	return Params{
		Loss:           LossSquared,
		Alpha:          0.5,
		Trees:          200,
		MaxDepth:       5,
		LearningRate:   0.1,
		MinSamplesLeaf: 20,
		MinHessianLeaf: 1e-3,
		Lambda:         1,
		Subsample:      1,
		ColSample:      1,
		MaxBins:        255,
		BinSampleRows:  50_000,
		Seed:           1,
	}
}

// Validate reports the first parameter out of range, wrapping ErrParams.
func (p Params) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("params: "+format+": %w", append(a, ErrParams)...)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch p.Loss {
	case LossSquared, LossLogistic:
	case LossQuantile:
		if !(p.Alpha > 0 && p.Alpha < 1) {
			return bad("quantile alpha %v not in (0,1)", p.Alpha)
		}
	default:
		return bad("unknown loss %q", p.Loss)
	}
	switch {
	case p.Trees < 1:
		return bad("trees %d < 1", p.Trees)
	case p.MaxDepth < 1 || p.MaxDepth > 16:
		return bad("max depth %d not in 1..16", p.MaxDepth)
	case !(p.LearningRate > 0 && p.LearningRate <= 1):
		return bad("learning rate %v not in (0,1]", p.LearningRate)
	case p.MinSamplesLeaf < 1:
		return bad("min samples per leaf %d < 1", p.MinSamplesLeaf)
	case !finite(p.MinHessianLeaf) || p.MinHessianLeaf < 0:
		return bad("min hessian per leaf %v < 0", p.MinHessianLeaf)
	case !finite(p.Lambda) || p.Lambda < 0:
		return bad("lambda %v < 0", p.Lambda)
	case !finite(p.MinGain) || p.MinGain < 0:
		return bad("min gain %v < 0", p.MinGain)
	case !(p.Subsample > 0 && p.Subsample <= 1):
		return bad("subsample %v not in (0,1]", p.Subsample)
	case !(p.ColSample > 0 && p.ColSample <= 1):
		return bad("colsample %v not in (0,1]", p.ColSample)
	case p.MaxBins < 2 || p.MaxBins > 255:
		return bad("max bins %d not in 2..255", p.MaxBins)
	case p.BinSampleRows < 1:
		return bad("bin sample rows %d < 1", p.BinSampleRows)
	case p.Workers < 0:
		return bad("workers %d < 0", p.Workers)
	case p.EarlyStoppingRounds < 0:
		return bad("early stopping rounds %d < 0", p.EarlyStoppingRounds)
	}
	return nil
}
