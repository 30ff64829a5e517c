package ml

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Metrics over paired slices. They return NaN for empty input and panic on
// length mismatch (a programming error, not a data condition).

func samelen(name string, a, b int) {
	if a != b {
		panic(fmt.Sprintf("ml: %s: lengths %d and %d differ", name, a, b))
	}
}

// MAE is the mean absolute error mean|pred−truth|.
func MAE(pred, truth []float64) float64 {
	samelen("mae", len(pred), len(truth))
	if len(pred) == 0 {
		return math.NaN()
	}
	var s float64
	for i := range pred {
		s += math.Abs(pred[i] - truth[i])
	}
	return s / float64(len(pred))
}

// RMSE is the root mean squared error.
func RMSE(pred, truth []float64) float64 {
	samelen("rmse", len(pred), len(truth))
	if len(pred) == 0 {
		return math.NaN()
	}
	var s float64
	for i := range pred {
		d := pred[i] - truth[i]
		s += d * d
	}
	return math.Sqrt(s / float64(len(pred)))
}

// Coverage is the fraction of truths inside the closed interval [lo, hi].
func Coverage(lo, hi, truth []float64) float64 {
	samelen("coverage", len(lo), len(truth))
	samelen("coverage", len(hi), len(truth))
	if len(truth) == 0 {
		return math.NaN()
	}
	n := 0
	for i, y := range truth {
		if y >= lo[i] && y <= hi[i] {
			n++
		}
	}
	return float64(n) / float64(len(truth))
}

// MeanWidth is the mean interval width mean(hi−lo).
func MeanWidth(lo, hi []float64) float64 {
	samelen("mean width", len(lo), len(hi))
	if len(lo) == 0 {
		return math.NaN()
	}
	var s float64
	for i := range lo {
		s += hi[i] - lo[i]
	}
	return s / float64(len(lo))
}

// PinballLoss is the mean pinball (quantile) loss at level alpha:
// alpha·(y−q) when y ≥ q, (1−alpha)·(q−y) otherwise.
func PinballLoss(q, truth []float64, alpha float64) float64 {
	samelen("pinball", len(q), len(truth))
	if len(q) == 0 {
		return math.NaN()
	}
	var s float64
	for i := range q {
		s += pinball(truth[i], q[i], alpha)
	}
	return s / float64(len(q))
}

// Brier is the (weighted) mean squared difference between probability and
// 0/1 label; w nil means unweighted.
func Brier(prob, label, w []float64) float64 {
	samelen("brier", len(prob), len(label))
	if w != nil {
		samelen("brier", len(w), len(label))
	}
	var s, sw float64
	for i := range prob {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		d := prob[i] - label[i]
		s += wi * d * d
		sw += wi
	}
	if sw == 0 {
		return math.NaN()
	}
	return s / sw
}

// AUROC is the area under the ROC curve as the (weighted) Mann-Whitney
// statistic: the probability that a random positive (label > 0.5) scores
// above a random negative, ties counting ½. w nil means unweighted. NaN when
// either class is empty.
func AUROC(score, label, w []float64) float64 {
	samelen("auroc", len(score), len(label))
	if w != nil {
		samelen("auroc", len(w), len(label))
	}
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(score[a], score[b]) })
	weight := func(i int) float64 {
		if w == nil {
			return 1
		}
		return w[i]
	}
	var negBelow, pos, neg, num float64
	for i := 0; i < len(idx); {
		j := i
		var tp, tn float64 // positives and negatives tied at this score
		for ; j < len(idx) && score[idx[j]] == score[idx[i]]; j++ {
			if label[idx[j]] > 0.5 {
				tp += weight(idx[j])
			} else {
				tn += weight(idx[j])
			}
		}
		num += tp * (negBelow + tn/2)
		negBelow += tn
		pos += tp
		neg += tn
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return num / (pos * neg)
}

// AlphaLambdaAccuracy is the alpha-lambda accuracy of Saxena et al. (2008)
// pooled over predictions: the fraction of pairs with truth > 0 whose
// prediction lies in the cone [(1−alpha)·truth, (1+alpha)·truth]
// (inclusive). Pairs with truth ≤ 0 (already failed) are excluded and n
// counts the pairs used. The original metric evaluates the cone at one
// time fraction λ of each unit's life; selecting the rows at λ is the
// caller's job (pass only those), so this function is that metric for any
// λ. Typical alpha: 0.2.
func AlphaLambdaAccuracy(pred, truth []float64, alpha float64) (acc float64, n int) {
	samelen("alpha-lambda", len(pred), len(truth))
	hit := 0
	for i, y := range truth {
		if !(y > 0) {
			continue
		}
		n++
		if math.Abs(pred[i]-y) <= alpha*y {
			hit++
		}
	}
	if n == 0 {
		return math.NaN(), 0
	}
	return float64(hit) / float64(n), n
}

// DefaultHorizonEdges are the true-RUL bucket edges in days: [0,30),
// [30,90), [90,180), [180,365), [365,∞).
var DefaultHorizonEdges = []float64{0, 30, 90, 180, 365, math.Inf(1)}

// HorizonError is the error summary of the rows whose truth lies in [Lo, Hi).
type HorizonError struct {
	Lo   float64 `json:"lo_days"`
	Hi   float64 `json:"hi_days"` // +Inf for the open last bucket (null in JSON)
	N    int     `json:"n"`
	MAE  float64 `json:"mae"`
	RMSE float64 `json:"rmse"`
	Bias float64 `json:"bias"` // mean(pred − truth); > 0 is optimistic for RUL
}

// ErrorsByHorizon buckets rows by true RUL with increasing edges
// (len(edges)−1 buckets, [edges[k], edges[k+1])); rows outside all buckets
// are ignored. Empty buckets have N = 0 and NaN errors.
func ErrorsByHorizon(pred, truth, edges []float64) []HorizonError {
	samelen("errors by horizon", len(pred), len(truth))
	out := make([]HorizonError, max(0, len(edges)-1))
	sa := make([]float64, len(out))
	ss := make([]float64, len(out))
	sb := make([]float64, len(out))
	for k := range out {
		out[k].Lo, out[k].Hi = edges[k], edges[k+1]
	}
	for i, y := range truth {
		// first bucket whose upper edge is > y
		k := sortSearchUpper(edges, y) - 1
		if k < 0 || k >= len(out) {
			continue
		}
		d := pred[i] - y
		out[k].N++
		sa[k] += math.Abs(d)
		ss[k] += d * d
		sb[k] += d
	}
	for k := range out {
		if n := float64(out[k].N); n > 0 {
			out[k].MAE, out[k].RMSE, out[k].Bias = sa[k]/n, math.Sqrt(ss[k]/n), sb[k]/n
		} else {
			out[k].MAE, out[k].RMSE, out[k].Bias = math.NaN(), math.NaN(), math.NaN()
		}
	}
	return out
}

// sortSearchUpper returns the number of edges ≤ y.
func sortSearchUpper(edges []float64, y float64) int {
	n := 0
	for n < len(edges) && edges[n] <= y {
		n++
	}
	return n
}
