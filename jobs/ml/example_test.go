package ml_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/battlake/battlake/jobs/ml"
)

// Example_rulWorkflow sketches the RUL stage on synthetic censored data:
// a median RUL model with a 95 % conformal band, and a calibrated
// P(fail within 90 days) classifier trained with IPCW weights.
func Example_rulWorkflow() {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 6000
	names := []string{"soh_pct", "r_growth_pct", "temp_c"}
	X := ml.NewMatrix(n, 3)
	rul := make([]float64, n)    // days to failure (truth, for the example)
	dur := make([]float64, n)    // observed follow-up: min(failure, censoring)
	failed := make([]bool, n)    // failure observed
	battery := make([]string, n) // group key for splits
	for i := 0; i < n; i++ {
		soh := 80 + 20*rng.Float64()
		rg := 50 * rng.Float64()
		temp := 20 + 15*rng.Float64()
		X.Set(i, 0, soh)
		X.Set(i, 1, rg)
		X.Set(i, 2, temp)
		rul[i] = math.Max(1, 20*(soh-78)-5*rg-4*(temp-25)+60*rng.NormFloat64())
		c := 400 * rng.ExpFloat64()
		dur[i], failed[i] = math.Min(rul[i], c), rul[i] <= c
		battery[i] = fmt.Sprintf("b%04d", i/3)
	}
	train, held, _ := ml.GroupSplit(battery, 0.4, 7)
	calib, test := held[:len(held)/2], held[len(held)/2:]

	// RUL regression on uncensored rows: median plus a 5-95 % band,
	// conformalized on the calibration batteries. (Uncensored-only training
	// under-represents long lives, and the noise here is ±60 d on lives of
	// 50-450 d, so the ±20 % alpha-lambda cone is hit less than half the
	// time; the band still covers.)
	var obs []int
	for _, i := range train {
		if failed[i] {
			obs = append(obs, i)
		}
	}
	fit := func(loss ml.Loss, alpha float64) *ml.GBM {
		p := ml.DefaultParams()
		p.Loss, p.Alpha, p.Trees, p.MaxDepth = loss, alpha, 80, 4
		m, err := ml.Fit(X.SelectRows(obs), ml.Gather(rul, obs), nil, names, p)
		if err != nil {
			panic(err)
		}
		return m
	}
	med, lo, hi := fit(ml.LossQuantile, 0.5), fit(ml.LossQuantile, 0.05), fit(ml.LossQuantile, 0.95)
	pl, _ := lo.PredictBatch(X.SelectRows(calib))
	ph, _ := hi.PredictBatch(X.SelectRows(calib))
	cqr, _ := ml.FitCQR(pl, ph, ml.Gather(rul, calib), 0.95)
	Xt := X.SelectRows(test)
	pm, _ := med.PredictBatch(Xt)
	tl, _ := lo.PredictBatch(Xt)
	th, _ := hi.PredictBatch(Xt)
	for i := range tl {
		tl[i], th[i] = cqr.Apply(tl[i], th[i])
	}
	truth := ml.Gather(rul, test)
	acc, _ := ml.AlphaLambdaAccuracy(pm, truth, 0.2)
	fmt.Println("95% band covers >= 93%:", ml.Coverage(tl, th, truth) >= 0.93)
	fmt.Println("alpha-lambda accuracy above 0.3:", acc > 0.3)

	// P(fail within 90 d): IPCW labels, logistic GBM, Platt on calibration.
	hs, _ := ml.HorizonLabels(ml.Gather(dur, train), gatherBool(failed, train), 90, ml.CensorIPCW, 0.05)
	rows := make([]int, len(hs.Index))
	for k, j := range hs.Index {
		rows[k] = train[j]
	}
	p := ml.DefaultParams()
	p.Loss, p.Trees, p.MaxDepth = ml.LossLogistic, 80, 4
	clf, _ := ml.Fit(X.SelectRows(rows), hs.Label, hs.Weight, names, p)
	label := func(i int) float64 {
		if rul[i] <= 90 {
			return 1
		}
		return 0
	}
	var cs, cl, ts, tlab []float64
	for _, i := range calib {
		cs = append(cs, clf.PredictMargin(X.Row(i)))
		cl = append(cl, label(i))
	}
	platt, _ := ml.FitPlatt(cs, cl, nil)
	for _, i := range test {
		ts = append(ts, platt.Prob(clf.PredictMargin(X.Row(i))))
		tlab = append(tlab, label(i))
	}
	fmt.Println("AUROC above 0.9:", ml.AUROC(ts, tlab, nil) > 0.9)

	// Explanation of one prediction, top 2 features by |SHAP|.
	e := med.Explain(Xt.Row(0), 2)
	fmt.Println("explanation adds up:", math.Abs(e.Expected+sumSHAP(med, Xt.Row(0))-e.Margin) < 1e-6)
	// Output:
	// 95% band covers >= 93%: true
	// alpha-lambda accuracy above 0.3: true
	// AUROC above 0.9: true
	// explanation adds up: true
}

func gatherBool(v []bool, idx []int) []bool {
	out := make([]bool, len(idx))
	for k, i := range idx {
		out[k] = v[i]
	}
	return out
}

func sumSHAP(m *ml.GBM, row []float64) float64 {
	phi, _ := m.SHAP(row)
	var s float64
	for _, v := range phi {
		s += v
	}
	return s
}
