package ml

import (
	"math"
	"testing"
)

// benchData is a fixed 200K × 40 synthetic regression set: a nonlinear
// function of 6 features, 34 noise features, 5 % NaN in two columns.
func benchData(rows int) (Matrix, []float64) {
	rng := testRNG(99)
	X := uniformMatrix(rng, rows, 40)
	y := make([]float64, rows)
	for i := range y {
		r := X.Row(i)
		if rng.Float64() < 0.05 {
			r[3] = math.NaN()
		}
		if rng.Float64() < 0.05 {
			r[7] = math.NaN()
		}
		y[i] = 500*r[0] + 200*math.Sin(6*r[1]) + 100*r[2]*r[4] + 50*step(r[5:]) + 30*rng.NormFloat64()
	}
	return X, y
}

func benchFit(b *testing.B, p Params) {
	X, y := benchData(200_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Fit(X, y, nil, nil, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(X.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/fit")
}

// BenchmarkFitSquared200Kx40: the brief's target is ≤ 3 s per fit on one core
// (200 trees, depth 5).
func BenchmarkFitSquared200Kx40(b *testing.B) { benchFit(b, DefaultParams()) }

func BenchmarkFitSquared200Kx40Subsample(b *testing.B) {
	p := DefaultParams()
	p.Subsample = 0.5
	benchFit(b, p)
}

// BenchmarkFitSquared200Kx40Workers2: histograms on two goroutines (run it
// with GOMAXPROCS ≥ 2); the model is identical to the one-worker fit.
func BenchmarkFitSquared200Kx40Workers2(b *testing.B) {
	p := DefaultParams()
	p.Workers = 2
	benchFit(b, p)
}

func BenchmarkFitQuantile200Kx40(b *testing.B) {
	p := DefaultParams()
	p.Loss, p.Alpha = LossQuantile, 0.9
	benchFit(b, p)
}

// BenchmarkPredict30K: 200 trees of depth 5 (fitted on 20K rows to keep the
// setup short; tree size, not training rows, sets the cost), 30K rows.
// BenchmarkFitLogistic200Kx40: labels y > median, varying hessians (the
// second packed accumulator).
func BenchmarkFitLogistic200Kx40(b *testing.B) {
	X, y := benchData(200_000)
	for i, v := range y {
		y[i] = 0
		if v > 450 {
			y[i] = 1
		}
	}
	p := DefaultParams()
	p.Loss = LossLogistic
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Fit(X, y, nil, nil, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(X.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/fit")
}

func BenchmarkPredict30K(b *testing.B) {
	X, y := benchData(20_000)
	m, err := Fit(X, y, nil, nil, DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	Xp := uniformMatrix(testRNG(98), 30_000, 40)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.PredictBatch(Xp); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(Xp.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkSHAP1K(b *testing.B) {
	X, y := benchData(20_000)
	m, err := Fit(X, y, nil, nil, DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < 1000; r++ {
			m.SHAP(X.Row(r))
		}
	}
	b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkIForestFitScore30K(b *testing.B) {
	X := uniformMatrix(testRNG(97), 30_000, 40)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := FitIsolationForest(X, nil, DefaultIForestParams())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.ScoreBatch(X); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(X.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
