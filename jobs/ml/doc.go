// Package ml holds the models battlake trains and applies in Go: small,
// deterministic implementations of standard methods, written for the RUL
// and anomaly stages. It knows nothing of the lake: inputs are a dense
// row-major Matrix of float64 (NaN = missing), feature names and labels;
// outputs are predictions, JSON artifacts and explanation structs. It
// imports the standard library only (no lake, Parquet, schema, physics or
// fleet package).
//
// # Gradient-boosted trees (GBM)
//
// Fit trains histogram-based gradient-boosted regression trees in the style
// of LightGBM/XGBoost "hist" — not CatBoost (no ordered boosting, no
// oblivious trees, no categorical target statistics), and not bit-for-bit
// any of those libraries:
//
//   - features are quantile-binned to at most 255 value bins (uint8) from
//     a seeded row sample; NaN has its own bin and every split learns the
//     side NaN goes (the default direction);
//   - trees grow depth-wise to MaxDepth; the split gain is the second-order
//     G²/(H+λ) score; histograms of the larger child come from the parent
//     minus the smaller child; histogram sums use per-tree quantized
//     gradients (16 bits) and hessians (30 bits) in exact integer
//     arithmetic, as LightGBM's quantized training does, while leaf values
//     use exact float sums;
//   - losses: squared error (mean), quantile/pinball at any Alpha in (0,1)
//     (leaf values re-fitted as the weighted quantile of the residuals) and
//     logistic (binary; Predict returns P(label 1));
//   - row subsample (Bernoulli) and column subsample per tree, from Seed;
//     sample weights; L2 λ; min rows and min hessian per leaf; optional
//     early stopping on a ValidationSet (FitValid);
//   - gain feature importance (Importance), Hyperparameters for
//     ml_model.hyperparameters_json, and a JSON artifact (MarshalJSON,
//     LoadGBM) that is byte-identical for the same seed and data.
//
// SHAP explains a prediction with exact path-dependent TreeSHAP (Lundberg
// et al. 2018, Algorithm 2) in margin space: attributions plus
// ExpectedValue equal PredictMargin. Explain keeps the top features for
// rul_prediction.explanation_json.
//
// # Isolation forest
//
// FitIsolationForest is the isolation forest of Liu, Ting & Zhou (2008):
// 100 trees on seeded subsamples of 256 rows, height limit ⌈log2 256⌉,
// score 2^(−E[h]/c(ψ)). Missing values follow the majority child (they
// never isolate a row). ThresholdAtContamination picks a score cut;
// TopFeatures is a heuristic per-row attribution (features whose splits cut
// the row away from most of the data).
//
// # Calibration and intervals
//
// FitCQR is conformalized quantile regression (Romano et al. 2019): it
// widens a lower/upper quantile band by the finite-sample conformal
// quantile of calibration residuals to reach a target coverage. FitPlatt
// (Platt scaling) and FitIsotonic (pool-adjacent-violators) calibrate
// probabilities.
//
// # Censored RUL
//
// FitKaplanMeier estimates a survival curve. HorizonLabels turns censored
// rows into labels and inverse-probability-of-censoring weights (IPCW,
// censoring curve by Kaplan-Meier) for P(fail within H days) classifiers.
//
// # Metrics
//
// MAE, RMSE, Coverage, MeanWidth, PinballLoss, Brier, AUROC (Mann-Whitney
// with ties, weighted), AlphaLambdaAccuracy (Saxena et al. 2008) and
// ErrorsByHorizon (MAE/RMSE/bias per true-RUL bucket); EvaluateRUL and
// EvaluateClassifier bundle them for ml_model.metrics_json (NaN as null).
//
// # Data helpers
//
// Matrix.SelectRows and Gather subset rows (e.g. the rows HorizonLabels
// kept); GroupSplit holds out whole groups (batteries) by a seeded hash of
// their key, so correlated rows never straddle training and calibration.
//
// # Determinism
//
// Every random choice draws from a local PCG generator seeded by the
// caller; float sums run in a fixed order (Params.Workers splits features,
// never a sum), so the same seed and input give the same model and bytes.
package ml
