package rul

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/ml"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Evaluation scores the models on the test strings against the hidden,
// uncensored truth, at the prediction days (every month end of the
// telemetry and the horizon), point in time: each day is predicted by the
// model set of its cutoff (the latest on or before it, see TrainRolling),
// next to three baselines and a truth-informed reference:
//
//   - train-mean: the IPCW mean of the observed training labels of the
//     day's cutoff;
//   - captest-linear: each jar's capacity tests fitted linearly and
//     extrapolated to 80 % (the training mean when the fit does not fall);
//   - age-only: gradient-boosted trees on age alone, trained like the model
//     at the same cutoff;
//   - truth-reference: what the hidden state says about a jar on the day,
//     learned like the model: gradient-boosted trees on the jar's true SOH,
//     its true fade over the previous 90 days (% per year) and its age,
//     trained at the same cutoff on the train strings' observed ends of
//     service (IPCW). It knows the true state and the true current rate but
//     no future event (sudden failures, an onset of accelerated wear): it
//     bounds what a model of the (noisy, sparse) observations could reach.
//   - truth-linear-90d (reported, not the reference): the true SOH
//     extrapolated to 80 % along a straight line at its true 90-day rate.
//     VRLA fade is not linear: past a knee (85-90 % SOH) it runs several
//     times faster, so the straight line calls most healthy jars years too
//     long (on the historian's test rows it is biased +1,300 days beyond two
//     years and scores worse than age alone); the rate was a recent window
//     already, the extrapolation's shape was the fault. The learned
//     reference takes the shape from the data.
//
// The fused estimate (Fuse) and the twin's own extrapolation are scored
// too; the twin on the rows where it has an estimate (TwinRows), where the
// model and the fused estimate are also scored for comparison.
type Evaluation struct {
	Rows        int               `json:"test_rows"`
	Batteries   int               `json:"test_batteries"`
	Days        []string          `json:"as_of_days"`
	Cutoffs     map[string]string `json:"cutoff_of_day"`
	Methods     []MethodScore     `json:"methods"`
	Coverage95  float64           `json:"interval_coverage_95"`
	MeanWidth   float64           `json:"interval_mean_width_days"`
	FusedCov95  float64           `json:"fused_interval_coverage_95"`
	FusedWidth  float64           `json:"fused_interval_mean_width_days"`
	TwinRows    []MethodScore     `json:"on_twin_rows"`
	AUROC30     float64           `json:"auroc_30d"`
	AUROC90     float64           `json:"auroc_90d"`
	Brier30     float64           `json:"brier_30d"`
	Brier90     float64           `json:"brier_90d"`
	Positives30 int               `json:"positives_30d"`
	Positives90 int               `json:"positives_90d"`
	AlphaLambda float64           `json:"alpha_lambda_accuracy_0_2"`
	ByHorizon   []ml.HorizonError `json:"rul_by_horizon"`
	BestBase    string            `json:"best_baseline"`
	GapClosed   float64           `json:"gap_closed_share"`
	RMSEGain    float64           `json:"rmse_reduction_vs_best_baseline"`
	FusedGap    float64           `json:"fused_gap_closed_share"`
	FusedGain   float64           `json:"fused_rmse_reduction_vs_best_baseline"`
	Sensor      SensorScore       `json:"soh_sensor"`
}

// SensorScore is the soft sensor's error on the test rows against the
// hidden truth, next to the spread of the truth (its standard deviation:
// the RMSE of a constant estimate).
type SensorScore struct {
	N, NFade         int
	SOHRMSE, SOHSD   float64
	FadeRMSE, FadeSD float64
}

// MethodScore is one method's RUL error on the test rows.
type MethodScore struct {
	Name string  `json:"name"`
	N    int     `json:"n"`
	MAE  float64 `json:"mae_days"`
	RMSE float64 `json:"rmse_days"`
}

// evalRow is one test row's estimates: what the summaries aggregate.
type evalRow struct {
	model                       int // index of the day's model set
	battery                     uuid.UUID
	day                         time.Time
	truth, pred, lo, hi         float64
	p30, p90                    float64
	fused, flo, fhi, twin, ref  float64
	linear                      float64 // truth-linear-90d
	sohEst, fadeEst, soh, fade  float64 // the sensor's estimates and the truth
	trainMean, captest, ageOnly float64
}

// Evaluate scores the model sets ms (in cutoff order) on s's test split,
// point in time: the rolling evaluation, and each model set's own on the
// days it served (its gates).
func Evaluate(ctx context.Context, l *lake.Lake, s *Set, ms []*Models, h Hyper) (*Evaluation, []*Evaluation, error) {
	days := map[time.Time]bool{}
	for _, d := range s.Days {
		if !d.Before(s.telemetryStart()) && modelAt(ms, d) != nil {
			days[d] = true
		}
	}
	rows := s.rowsOf("test", func(i int) bool { return days[s.Frame.Rows[i].AsOf] })
	per := make([]*Evaluation, len(ms))
	if len(rows) == 0 {
		for k := range per {
			per[k] = &Evaluation{}
		}
		return &Evaluation{}, per, nil
	}
	tf, err := loadTruthFeatures(ctx, l, s)
	if err != nil {
		return nil, nil, err
	}
	// The age-only baseline and the truth-informed reference of each
	// cutoff, as the model was trained.
	ages, refs := make([]*ml.GBM, len(ms)), make([]*ml.GBM, len(ms))
	for k, m := range ms {
		v := s.At(m.Cutoff)
		if ages[k], err = ageModel(v, h); err != nil {
			return nil, nil, err
		}
		if refs[k], err = truthModel(v, tf, h); err != nil {
			return nil, nil, err
		}
	}
	idx := map[*Models]int{}
	for k, m := range ms {
		idx[m] = k
	}
	ic, ia := derive.RULFeatureIndex("captest_days_to_80"), derive.RULFeatureIndex("age_days")
	ev := make([]evalRow, len(rows))
	for k, i := range rows {
		x, r := s.Frame.Row(i), s.Frame.Rows[i]
		m := modelAt(ms, r.AsOf)
		p := m.Predict(x)
		f := m.fused(p, x)
		e := evalRow{model: idx[m], battery: r.Battery, day: r.AsOf, truth: s.Labels[i].TrueRULDays, pred: p.RUL, lo: p.Lo, hi: p.Hi, p30: p.P30, p90: p.P90,
			fused: f.RUL, flo: f.Lo, fhi: f.Hi, twin: f.Twin, linear: tf.linear(i), trainMean: m.TrainMean, captest: m.TrainMean}
		e.ref = math.Max(0, refs[idx[m]].Predict(tf.row(i)))
		e.sohEst, e.fadeEst = m.Sensor.Estimate(x)
		e.soh, e.fade = tf.now[i], fadeLabel(tf.now[i], tf.then[i])
		if v := x[ic]; !math.IsNaN(v) {
			e.captest = math.Min(v, maxRULDays)
		}
		e.ageOnly = math.Max(0, ages[e.model].Predict(x[ia:ia+1]))
		ev[k] = e
	}
	for k := range ms {
		var sub []evalRow
		for _, e := range ev {
			if e.model == k {
				sub = append(sub, e)
			}
		}
		per[k] = summarize(sub, ms)
	}
	return summarize(ev, ms), per, nil
}

// summarize computes the scores of rows.
func summarize(rows []evalRow, ms []*Models) *Evaluation {
	ev := &Evaluation{Rows: len(rows), Cutoffs: map[string]string{}}
	if len(rows) == 0 {
		return ev
	}
	n := len(rows)
	col := func(get func(e *evalRow) float64) []float64 {
		out := make([]float64, n)
		for k := range rows {
			out[k] = get(&rows[k])
		}
		return out
	}
	truth := col(func(e *evalRow) float64 { return e.truth })
	pred, lo, hi := col(func(e *evalRow) float64 { return e.pred }), col(func(e *evalRow) float64 { return e.lo }), col(func(e *evalRow) float64 { return e.hi })
	fused, flo, fhi := col(func(e *evalRow) float64 { return e.fused }), col(func(e *evalRow) float64 { return e.flo }), col(func(e *evalRow) float64 { return e.fhi })
	p30, p90 := col(func(e *evalRow) float64 { return e.p30 }), col(func(e *evalRow) float64 { return e.p90 })
	y30, y90 := make([]float64, n), make([]float64, n)
	bats, days := map[uuid.UUID]bool{}, map[time.Time]bool{}
	for k := range rows {
		e := &rows[k]
		bats[e.battery] = true
		if !days[e.day] {
			days[e.day] = true
			ev.Days = append(ev.Days, e.day.Format(time.DateOnly))
			ev.Cutoffs[e.day.Format(time.DateOnly)] = ms[e.model].Cutoff.Format(time.DateOnly)
		}
		if e.truth <= 30 {
			y30[k] = 1
			ev.Positives30++
		}
		if e.truth <= 90 {
			y90[k] = 1
			ev.Positives90++
		}
	}
	sort.Strings(ev.Days)
	ev.Batteries = len(bats)
	score := func(name string, p []float64) MethodScore {
		return MethodScore{name, len(p), ml.MAE(p, truth), ml.RMSE(p, truth)}
	}
	ev.Methods = append(ev.Methods, score("model", pred), score("fused", fused))
	best := math.Inf(1)
	for _, b := range []struct {
		name string
		get  func(e *evalRow) float64
	}{{"train-mean", func(e *evalRow) float64 { return e.trainMean }}, {"captest-linear", func(e *evalRow) float64 { return e.captest }}, {"age-only", func(e *evalRow) float64 { return e.ageOnly }}} {
		sc := score(b.name, col(b.get))
		ev.Methods = append(ev.Methods, sc)
		if sc.RMSE < best {
			best, ev.BestBase = sc.RMSE, b.name
		}
	}
	refSc := score("truth-reference", col(func(e *evalRow) float64 { return e.ref }))
	ev.Methods = append(ev.Methods, refSc, score("truth-linear-90d", col(func(e *evalRow) float64 { return e.linear })))
	// The twin where it has an estimate, with the model and the fused
	// estimate on the same rows.
	var tw, tm, tf, tt []float64
	for _, e := range rows {
		if !math.IsNaN(e.twin) {
			tw, tm, tf, tt = append(tw, e.twin), append(tm, e.pred), append(tf, e.fused), append(tt, e.truth)
		}
	}
	if len(tw) > 0 {
		for _, m := range []struct {
			name string
			p    []float64
		}{{"digital-twin", tw}, {"model", tm}, {"fused", tf}} {
			ev.TwinRows = append(ev.TwinRows, MethodScore{m.name, len(tt), ml.MAE(m.p, tt), ml.RMSE(m.p, tt)})
		}
	}
	ev.RMSEGain = 1 - ev.Methods[0].RMSE/best
	ev.GapClosed = (best - ev.Methods[0].RMSE) / (best - refSc.RMSE)
	ev.FusedGain = 1 - ev.Methods[1].RMSE/best
	ev.FusedGap = (best - ev.Methods[1].RMSE) / (best - refSc.RMSE)
	ev.Coverage95, ev.MeanWidth = ml.Coverage(lo, hi, truth), ml.MeanWidth(lo, hi)
	ev.FusedCov95, ev.FusedWidth = ml.Coverage(flo, fhi, truth), ml.MeanWidth(flo, fhi)
	ev.AUROC30, ev.AUROC90 = ml.AUROC(p30, y30, nil), ml.AUROC(p90, y90, nil)
	ev.Brier30, ev.Brier90 = ml.Brier(p30, y30, nil), ml.Brier(p90, y90, nil)
	ev.AlphaLambda, _ = ml.AlphaLambdaAccuracy(pred, truth, 0.2)
	ev.ByHorizon = ml.ErrorsByHorizon(pred, truth, []float64{0, 30, 90, 180, 365, 730, 1e9})
	ev.Sensor = sensorScore(rows)
	return ev
}

// sensorScore scores the sensor on the rows with a known truth.
func sensorScore(rows []evalRow) SensorScore {
	var se, st, fe, ft []float64
	for _, e := range rows {
		if !math.IsNaN(e.soh) {
			se, st = append(se, e.sohEst), append(st, e.soh)
		}
		if !math.IsNaN(e.fade) {
			fe, ft = append(fe, e.fadeEst), append(ft, e.fade)
		}
	}
	return SensorScore{N: len(st), NFade: len(ft), SOHRMSE: ml.RMSE(se, st), SOHSD: stddev(st), FadeRMSE: ml.RMSE(fe, ft), FadeSD: stddev(ft)}
}

// stddev is the population standard deviation (NaN without values).
func stddev(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	var m, ss float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(v)))
}

func (s *Set) telemetryStart() time.Time { return s.telemetry }

// ageModel is the age-only baseline, trained like the RUL point model.
func ageModel(s *Set, h Hyper) (*ml.GBM, error) {
	train := s.rowsOf("train", nil)
	w := s.ipcw(train)
	ia := derive.RULFeatureIndex("age_days")
	var xs, y, wt []float64
	for _, i := range train {
		if wi, ok := w[i]; ok {
			xs = append(xs, s.Frame.Row(i)[ia])
			y = append(y, s.Labels[i].RULDays)
			wt = append(wt, wi)
		}
	}
	X, err := ml.MatrixFrom(len(y), 1, xs)
	if err != nil {
		return nil, err
	}
	p := h.RUL
	p.ColSample = 1
	g, err := ml.Fit(X, y, wt, []string{"age_days"}, p)
	if err != nil {
		return nil, fmt.Errorf("train age-only baseline: %w", err)
	}
	return g, nil
}

// maxRULDays caps extrapolations (20 years): a flat fit is not a
// prediction of eternal life.
const maxRULDays = 20 * 365.25

// truthWindow is the window of the true fade rate (days).
const truthWindow = 90

// truthFeatures are the hidden state of every row of a set: its true SOH
// on the as-of day and truthWindow days before (NaN when unknown: before
// installation, or outside the truth).
type truthFeatures struct {
	s         *Set
	now, then []float64
}

// truthNames are the truth-informed reference's features.
var truthNames = []string{"age_days", "true_soh_pct", "true_fade_pct_per_year"}

// row is row i's reference features.
func (tf *truthFeatures) row(i int) []float64 {
	rate := (tf.then[i] - tf.now[i]) * 365.25 / truthWindow
	return []float64{tf.s.Frame.Row(i)[derive.RULFeatureIndex("age_days")], tf.now[i], rate}
}

// linear is row i's straight-line extrapolation of its true SOH to 80 %
// at its true rate (20 years when it does not fall).
func (tf *truthFeatures) linear(i int) float64 {
	now, then := tf.now[i], tf.then[i]
	switch {
	case math.IsNaN(now):
		return math.NaN()
	case now < 80:
		return 0
	case math.IsNaN(then) || then <= now:
		return maxRULDays
	}
	return math.Min(maxRULDays, (now-80)/((then-now)/truthWindow))
}

// loadTruthFeatures is the true SOH of every row of s (evaluation only),
// read with the set (BuildSet) or here.
func loadTruthFeatures(ctx context.Context, l *lake.Lake, s *Set) (*truthFeatures, error) {
	if s.soh != nil {
		return &truthFeatures{s: s, now: s.soh, then: s.soh90}, nil
	}
	now, then, err := loadSOH(ctx, l, s)
	if err != nil {
		return nil, err
	}
	return &truthFeatures{s: s, now: now, then: then}, nil
}

// loadSOH reads the true SOH of every row of s on its as-of day and
// truthWindow days before (NaN when unknown: before installation, or
// outside the truth).
func loadSOH(ctx context.Context, l *lake.Lake, s *Set) (now, then []float64, err error) {
	need := map[time.Time]bool{}
	for _, d := range s.Days {
		need[d], need[d.AddDate(0, 0, -truthWindow)] = true, true
	}
	soh, err := trueSOH(ctx, l, need)
	if err != nil {
		return nil, nil, err
	}
	at := func(r derive.RULRow, back int) float64 {
		if v, ok := soh[sohKey{r.Battery, r.AsOf.AddDate(0, 0, -back)}]; ok {
			return v
		}
		return math.NaN()
	}
	now, then = make([]float64, len(s.Labels)), make([]float64, len(s.Labels))
	for i, r := range s.Frame.Rows {
		now[i], then[i] = at(r, 0), at(r, truthWindow)
	}
	return now, then, nil
}

// truthModel is the truth-informed reference at s's cutoff, trained like
// the RUL point model on the truth features.
func truthModel(s *Set, tf *truthFeatures, h Hyper) (*ml.GBM, error) {
	train := s.rowsOf("train", nil)
	w := s.ipcw(train)
	var xs, y, wt []float64
	for _, i := range train {
		if wi, ok := w[i]; ok {
			xs = append(xs, tf.row(i)...)
			y = append(y, s.Labels[i].RULDays)
			wt = append(wt, wi)
		}
	}
	X, err := ml.MatrixFrom(len(y), len(truthNames), xs)
	if err != nil {
		return nil, err
	}
	p := h.RUL
	p.ColSample = 1
	g, err := ml.Fit(X, y, wt, truthNames, p)
	if err != nil {
		return nil, fmt.Errorf("train truth-informed reference: %w", err)
	}
	return g, nil
}

type sohKey struct {
	b uuid.UUID
	d time.Time
}

// trueSOH reads truth_battery_daily's SOH on days, each file once.
func trueSOH(ctx context.Context, l *lake.Lake, days map[time.Time]bool) (map[sohKey]float64, error) {
	ix, err := derive.Load(ctx, l, schema.MustLookup("truth_battery_daily"))
	if err != nil {
		return nil, err
	}
	var ds []time.Time
	for d := range days {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a].Before(ds[b]) })
	seen := map[string]bool{}
	var files []lake.SegmentFile
	for _, d := range ds {
		for _, f := range ix.Overlapping(d, d.AddDate(0, 0, 1)) {
			if !seen[f.Data.Key] {
				seen[f.Data.Key] = true
				files = append(files, f)
			}
		}
	}
	out := map[sohKey]float64{}
	for _, f := range files {
		err := derive.EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: []string{"day", "battery_id", "soh_pct"}}, func(b *parquetio.SliceBatch) error {
			for i := 0; i < b.Rows; i++ {
				day := time.Unix(int64(b.Cols[0].Int32[i])*86400, 0).UTC()
				if days[day] {
					out[sohKey{b.Cols[1].UUID[i], day}] = float64(b.Cols[2].Int32[i]) / 100
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// passes is the promotion gate: test interval coverage within
// [0.90, 0.99] on the days the model set served, and an RMSE below the
// best baseline's there.
func (ev *Evaluation) passes() bool {
	return ev.Rows > 0 && ev.Coverage95 >= 0.90 && ev.Coverage95 <= 0.99 && ev.RMSEGain > 0
}

// lifecycle assigns the ml_model status of each model set (cutoff order)
// from its own evaluation: the newest set that passes the gate is
// `production`; an older one that passed is `retired` (it was production
// until a newer cutoff replaced it); a set that failed its gate stays in
// `staging` for a person to look at (never promoted).
func lifecycle(per []*Evaluation) []string {
	prod := -1
	for k := len(per) - 1; k >= 0; k-- {
		if per[k].passes() {
			prod = k
			break
		}
	}
	out := make([]string, len(per))
	for k, ev := range per {
		switch {
		case k == prod:
			out[k] = "production"
		case k < prod && ev.passes():
			out[k] = "retired"
		default:
			out[k] = "staging"
		}
	}
	return out
}

// RULMetrics is metrics_json of the RUL model.
func (ev *Evaluation) RULMetrics() map[string]any {
	by := make([]map[string]any, len(ev.ByHorizon))
	for k, b := range ev.ByHorizon {
		by[k] = map[string]any{"lo_days": b.Lo, "hi_days": b.Hi, "n": b.N, "mae": nz(b.MAE), "rmse": nz(b.RMSE), "bias": nz(b.Bias)}
	}
	methods := func(ms []MethodScore) map[string]any {
		out := map[string]any{}
		for _, m := range ms {
			out[m.Name] = map[string]any{"n": m.N, "mae_days": nz(m.MAE), "rmse_days": nz(m.RMSE)}
		}
		return out
	}
	return map[string]any{"split": "test", "rows": ev.Rows, "batteries": ev.Batteries, "as_of_days": ev.Days, "cutoff_of_day": ev.Cutoffs,
		"methods": methods(ev.Methods), "on_twin_rows": methods(ev.TwinRows), "best_baseline": ev.BestBase, "rmse_reduction_vs_best_baseline": nz(ev.RMSEGain),
		"gap_closed_share": nz(ev.GapClosed), "interval_coverage_95": nz(ev.Coverage95), "interval_mean_width_days": nz(ev.MeanWidth),
		"fused": map[string]any{"rmse_reduction_vs_best_baseline": nz(ev.FusedGain), "gap_closed_share": nz(ev.FusedGap),
			"interval_coverage_95": nz(ev.FusedCov95), "interval_mean_width_days": nz(ev.FusedWidth)},
		"alpha_lambda_accuracy_0_2": nz(ev.AlphaLambda), "rul_by_horizon": by}
}

// SensorMetrics is metrics_json of the soft sensor.
func (ev *Evaluation) SensorMetrics() map[string]any {
	sc := ev.Sensor
	return map[string]any{"split": "test", "rows": sc.N, "soh_rmse_pct": nz(sc.SOHRMSE), "soh_sd_pct": nz(sc.SOHSD),
		"fade_rows": sc.NFade, "fade_rmse_pct_per_year": nz(sc.FadeRMSE), "fade_sd_pct_per_year": nz(sc.FadeSD)}
}

// FailureMetrics is metrics_json of a failure-probability model.
func (ev *Evaluation) FailureMetrics(days int) map[string]any {
	if days == 30 {
		return map[string]any{"split": "test", "rows": ev.Rows, "positives": ev.Positives30, "auroc": nz(ev.AUROC30), "brier": nz(ev.Brier30)}
	}
	return map[string]any{"split": "test", "rows": ev.Rows, "positives": ev.Positives90, "auroc": nz(ev.AUROC90), "brier": nz(ev.Brier90)}
}

// nz maps NaN and ±Inf (no JSON form) to -1.
func nz(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	return v
}

// String prints the evaluation as a table.
func (ev *Evaluation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "RUL evaluation on the test strings, point in time: %d rows, %d batteries, as of %d days (%s .. %s)\n",
		ev.Rows, ev.Batteries, len(ev.Days), first(ev.Days), last(ev.Days))
	var cuts []string
	for _, d := range ev.Days {
		cuts = append(cuts, d+" <- "+ev.Cutoffs[d])
	}
	fmt.Fprintf(&b, "model set of each day (as-of day <- training cutoff): %s\n", strings.Join(cuts, ", "))
	fmt.Fprintf(&b, "\n%-18s %7s %12s %12s\n", "method", "n", "MAE (days)", "RMSE (days)")
	for _, m := range ev.Methods {
		fmt.Fprintf(&b, "%-18s %7d %12.1f %12.1f\n", m.Name, m.N, m.MAE, m.RMSE)
	}
	if len(ev.TwinRows) > 0 {
		fmt.Fprintf(&b, "on the rows with a twin estimate:\n")
		for _, m := range ev.TwinRows {
			fmt.Fprintf(&b, "  %-16s %7d %12.1f %12.1f\n", m.Name, m.N, m.MAE, m.RMSE)
		}
	}
	gap := func(v float64) string {
		if ev.refRMSE() >= ev.bestRMSE() {
			return "n/a: the truth reference is no better than the best baseline"
		}
		return fmt.Sprintf("%.1f %%", 100*v)
	}
	fmt.Fprintf(&b, "\nbest baseline %s; model: RMSE reduction %.1f %% (target >= 30 %%), gap to the truth reference closed: %s (target >= 60 %%)\n",
		ev.BestBase, 100*ev.RMSEGain, gap(ev.GapClosed))
	fmt.Fprintf(&b, "fused: RMSE reduction %.1f %%, gap closed: %s\n", 100*ev.FusedGain, gap(ev.FusedGap))
	fmt.Fprintf(&b, "95 %% interval coverage: model %.3f, mean width %.0f days; fused %.3f, mean width %.0f days (target 0.93-0.97)\n",
		ev.Coverage95, ev.MeanWidth, ev.FusedCov95, ev.FusedWidth)
	fmt.Fprintf(&b, "failure within 30 d: AUROC %.3f, Brier %.4f (%d positives); within 90 d: AUROC %.3f (target >= 0.90), Brier %.4f (%d positives)\n",
		ev.AUROC30, ev.Brier30, ev.Positives30, ev.AUROC90, ev.Brier90, ev.Positives90)
	fmt.Fprintf(&b, "soh soft sensor: SOH RMSE %.2f %% (true SOH spread %.2f %%, %d rows), 90-day fade RMSE %.2f %%/year (spread %.2f, %d rows)\n",
		ev.Sensor.SOHRMSE, ev.Sensor.SOHSD, ev.Sensor.N, ev.Sensor.FadeRMSE, ev.Sensor.FadeSD, ev.Sensor.NFade)
	fmt.Fprintf(&b, "alpha-lambda accuracy (alpha 0.2, all as-of days pooled): %.3f\n", ev.AlphaLambda)
	fmt.Fprintf(&b, "\n%-16s %6s %10s %10s %10s\n", "true RUL (days)", "n", "MAE", "RMSE", "bias")
	for _, h := range ev.ByHorizon {
		hi := fmt.Sprintf("%.0f", h.Hi)
		if h.Hi >= 1e9 {
			hi = "inf"
		}
		fmt.Fprintf(&b, "%-16s %6d %10.1f %10.1f %10.1f\n", fmt.Sprintf("[%.0f, %s)", h.Lo, hi), h.N, h.MAE, h.RMSE, h.Bias)
	}
	return b.String()
}

func (ev *Evaluation) rmseOf(name string) float64 {
	for _, m := range ev.Methods {
		if m.Name == name {
			return m.RMSE
		}
	}
	return math.NaN()
}

func (ev *Evaluation) refRMSE() float64  { return ev.rmseOf("truth-reference") }
func (ev *Evaluation) bestRMSE() float64 { return ev.rmseOf(ev.BestBase) }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// EvaluateLake scores the registered models of lake l (built with root
// seed seed) on the test strings: what `battlake evaluate` prints.
func EvaluateLake(ctx context.Context, l *lake.Lake, seed uint64) (*Evaluation, error) {
	sh := &shared{l: l, hyper: DefaultHyper(seed)}
	s, err := sh.build(ctx)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("evaluate: the lake has no jar telemetry")
	}
	reg, _, err := loadRegistry(ctx, l)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, fmt.Errorf("evaluate: no ml_model in the lake: run the rul stage first")
	}
	ms, _, err := loaded(reg)
	if err != nil {
		return nil, err
	}
	ev, _, err := Evaluate(ctx, l, s, ms, sh.hyper)
	return ev, err
}
