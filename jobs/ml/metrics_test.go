package ml

import (
	"math"
	"testing"
)

func TestPointMetricsHandCase(t *testing.T) {
	pred := []float64{1, 2, 3, 4}
	truth := []float64{2, 2, 5, 0}
	// errors −1, 0, −2, 4: MAE 7/4, RMSE √(21/4)
	if got := MAE(pred, truth); got != 1.75 {
		t.Errorf("MAE %v, want 1.75", got)
	}
	if got := RMSE(pred, truth); !close(got, math.Sqrt(21.0/4), 1e-12) {
		t.Errorf("RMSE %v", got)
	}
	// Pinball at 0.9: y≥q → 0.9(y−q): 0.9, 0, 1.8; y<q → 0.1(q−y): 0.4; mean 3.1/4
	if got := PinballLoss(pred, truth, 0.9); !close(got, 3.1/4, 1e-12) {
		t.Errorf("pinball %v, want 0.775", got)
	}
	lo := []float64{0, 0, 0, 0}
	hi := []float64{1, 3, 5, 2}
	// truths 2,2,5,0: inside for rows 2 (2 ≤ 3), 3 (5 ≤ 5, closed), 4; width 11/4
	if got := Coverage(lo, hi, truth); got != 0.75 {
		t.Errorf("coverage %v, want 0.75", got)
	}
	if got := MeanWidth(lo, hi); got != 2.75 {
		t.Errorf("width %v, want 2.75", got)
	}
	if !math.IsNaN(MAE(nil, nil)) {
		t.Error("MAE of nothing must be NaN")
	}
}

func TestBrierAndAUROC(t *testing.T) {
	prob := []float64{0.9, 0.2, 0.6, 0.4}
	label := []float64{1, 0, 0, 1}
	// (0.01 + 0.04 + 0.36 + 0.36)/4
	if got := Brier(prob, label, nil); !close(got, 0.77/4, 1e-12) {
		t.Errorf("brier %v", got)
	}
	// Pairs (pos, neg): (0.9,0.2)✓ (0.9,0.6)✓ (0.4,0.2)✓ (0.4,0.6)✗ → 3/4
	if got := AUROC(prob, label, nil); got != 0.75 {
		t.Errorf("AUROC %v, want 0.75", got)
	}
	// Ties count one half: pos {0.5, 0.5}, neg {0.5, 0.1}: (1/2 + 1 + 1/2 + 1)/4
	if got := AUROC([]float64{0.5, 0.5, 0.5, 0.1}, []float64{1, 1, 0, 0}, nil); got != 0.75 {
		t.Errorf("tied AUROC %v, want 0.75", got)
	}
	// Weight 3 on a row equals three copies of it.
	w := []float64{1, 1, 3, 1}
	rep := AUROC([]float64{0.9, 0.2, 0.6, 0.6, 0.6, 0.4}, []float64{1, 0, 0, 0, 0, 1}, nil)
	if got := AUROC(prob, label, w); !close(got, rep, 1e-12) {
		t.Errorf("weighted AUROC %v, replicated %v", got, rep)
	}
	if !math.IsNaN(AUROC([]float64{1, 2}, []float64{1, 1}, nil)) {
		t.Error("one class must give NaN")
	}
}

func TestAlphaLambdaAccuracy(t *testing.T) {
	// truth 100: cone [80, 120]; truth 10: [8, 12]; truth 0 excluded.
	pred := []float64{80, 121, 11, 5, 3}
	truth := []float64{100, 100, 10, 10, 0}
	acc, n := AlphaLambdaAccuracy(pred, truth, 0.2)
	if n != 4 || acc != 0.5 {
		t.Errorf("accuracy %v over %d, want 0.5 over 4", acc, n)
	}
}

func TestErrorsByHorizon(t *testing.T) {
	truth := []float64{10, 20, 50, 400, 1000, -5}
	pred := []float64{14, 20, 40, 300, 1000, 0}
	b := ErrorsByHorizon(pred, truth, DefaultHorizonEdges)
	if len(b) != 5 {
		t.Fatalf("%d buckets, want 5", len(b))
	}
	// [0,30): errors 4, 0 → MAE 2, RMSE √8, bias 2
	if b[0].N != 2 || b[0].MAE != 2 || !close(b[0].RMSE, math.Sqrt(8), 1e-12) || b[0].Bias != 2 {
		t.Errorf("bucket 0 = %+v", b[0])
	}
	// [30,90): error −10
	if b[1].N != 1 || b[1].MAE != 10 || b[1].Bias != -10 {
		t.Errorf("bucket 1 = %+v", b[1])
	}
	if b[2].N != 0 || !math.IsNaN(b[2].MAE) {
		t.Errorf("empty bucket = %+v", b[2])
	}
	// [365,∞): errors −100, 0; the truth −5 is in no bucket.
	if b[4].N != 2 || b[4].MAE != 50 || !close(b[4].RMSE, math.Sqrt(5000), 1e-9) {
		t.Errorf("bucket 4 = %+v", b[4])
	}
}
