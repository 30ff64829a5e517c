package ml

import (
	"encoding/json"
	"math"
)

// RULReport summarizes a RUL model on held-out rows, for
// ml_model.metrics_json (NaN/Inf fields are written as null).
type RULReport struct {
	N                int            `json:"n"`
	MAE              float64        `json:"mae_days"`
	RMSE             float64        `json:"rmse_days"`
	AlphaLambda      float64        `json:"alpha_lambda_accuracy"` // alpha 0.2, rows with truth > 0
	IntervalCoverage float64        `json:"interval_coverage"`     // NaN without an interval
	IntervalWidth    float64        `json:"interval_mean_width_days"`
	ByHorizon        []HorizonError `json:"by_horizon"`
}

// EvaluateRUL computes a RULReport from point predictions, an optional
// interval (lo, hi nil to skip) and true RUL in days, bucketed by
// DefaultHorizonEdges.
func EvaluateRUL(pred, lo, hi, truth []float64) RULReport {
	r := RULReport{N: len(truth), MAE: MAE(pred, truth), RMSE: RMSE(pred, truth),
		IntervalCoverage: math.NaN(), IntervalWidth: math.NaN(),
		ByHorizon: ErrorsByHorizon(pred, truth, DefaultHorizonEdges)}
	r.AlphaLambda, _ = AlphaLambdaAccuracy(pred, truth, 0.2)
	if lo != nil && hi != nil {
		r.IntervalCoverage, r.IntervalWidth = Coverage(lo, hi, truth), MeanWidth(lo, hi)
	}
	return r
}

// MarshalJSON writes NaN fields as null.
func (r RULReport) MarshalJSON() ([]byte, error) {
	type plain RULReport // no methods: no recursion
	return json.Marshal(struct {
		plain
		MAE              jsonNum `json:"mae_days"`
		RMSE             jsonNum `json:"rmse_days"`
		AlphaLambda      jsonNum `json:"alpha_lambda_accuracy"`
		IntervalCoverage jsonNum `json:"interval_coverage"`
		IntervalWidth    jsonNum `json:"interval_mean_width_days"`
	}{plain(r), jsonNum(r.MAE), jsonNum(r.RMSE), jsonNum(r.AlphaLambda), jsonNum(r.IntervalCoverage), jsonNum(r.IntervalWidth)})
}

// ClassifierReport summarizes a probability model on held-out rows.
type ClassifierReport struct {
	N         int     `json:"n"`
	Positives float64 `json:"positives"` // Σ weight of label-1 rows
	AUROC     float64 `json:"auroc"`
	Brier     float64 `json:"brier"`
}

// EvaluateClassifier computes AUROC and Brier score (w nil = unweighted;
// pass IPCW weights to evaluate a censored horizon classifier).
func EvaluateClassifier(prob, label, w []float64) ClassifierReport {
	r := ClassifierReport{N: len(label), AUROC: AUROC(prob, label, w), Brier: Brier(prob, label, w)}
	for i, l := range label {
		if l > 0.5 {
			if w == nil {
				r.Positives++
			} else {
				r.Positives += w[i]
			}
		}
	}
	return r
}

// MarshalJSON writes NaN fields (one class only) as null.
func (r ClassifierReport) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		N         int     `json:"n"`
		Positives float64 `json:"positives"`
		AUROC     jsonNum `json:"auroc"`
		Brier     jsonNum `json:"brier"`
	}{r.N, r.Positives, jsonNum(r.AUROC), jsonNum(r.Brier)})
}
