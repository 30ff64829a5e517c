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
// telemetry and the horizon), next to three baselines and a
// truth-informed reference:
//
//   - train-mean: the IPCW mean of the observed training labels;
//   - captest-linear: each jar's capacity tests fitted linearly and
//     extrapolated to 80 % (the training mean when the fit does not fall);
//   - age-only: gradient-boosted trees on age alone, trained like the model;
//   - truth-reference: the jar's true SOH on the day, extrapolated to 80 %
//     at its true rate over the previous 90 days. It knows the hidden
//     state but no future event (sudden failures, rate changes): it bounds
//     what a model of the observations could reach.
type Evaluation struct {
	Rows        int               `json:"test_rows"`
	Batteries   int               `json:"test_batteries"`
	Days        []string          `json:"as_of_days"`
	Methods     []MethodScore     `json:"methods"`
	Coverage95  float64           `json:"interval_coverage_95"`
	MeanWidth   float64           `json:"interval_mean_width_days"`
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
}

// MethodScore is one method's RUL error on the test rows.
type MethodScore struct {
	Name string  `json:"name"`
	MAE  float64 `json:"mae_days"`
	RMSE float64 `json:"rmse_days"`
}

// Evaluate scores m on s's test split.
func Evaluate(ctx context.Context, l *lake.Lake, s *Set, m *Models, h Hyper) (*Evaluation, error) {
	days := map[time.Time]bool{}
	ev := &Evaluation{}
	for _, d := range s.Days {
		if !d.Before(s.telemetryStart()) {
			days[d] = true
			ev.Days = append(ev.Days, d.Format(time.DateOnly))
		}
	}
	rows := s.rowsOf("test", func(i int) bool { return days[s.Frame.Rows[i].AsOf] })
	if len(rows) == 0 {
		return ev, nil
	}
	ev.Rows = len(rows)
	bats := map[uuid.UUID]bool{}
	for _, i := range rows {
		bats[s.Frame.Rows[i].Battery] = true
	}
	ev.Batteries = len(bats)
	ref, err := referenceRUL(ctx, l, s, rows, 90)
	if err != nil {
		return nil, err
	}
	age, err := ageModel(s, h)
	if err != nil {
		return nil, err
	}
	truth := make([]float64, len(rows))
	pred, lo, hi, p30, p90 := make([]float64, len(rows)), make([]float64, len(rows)), make([]float64, len(rows)), make([]float64, len(rows)), make([]float64, len(rows))
	base := map[string][]float64{"train-mean": make([]float64, len(rows)), "captest-linear": make([]float64, len(rows)), "age-only": make([]float64, len(rows))}
	y30, y90 := make([]float64, len(rows)), make([]float64, len(rows))
	ic, ia := derive.RULFeatureIndex("captest_days_to_80"), derive.RULFeatureIndex("age_days")
	for k, i := range rows {
		x := s.Frame.Row(i)
		truth[k] = s.Labels[i].TrueRULDays
		p := m.Predict(x)
		pred[k], lo[k], hi[k], p30[k], p90[k] = p.RUL, p.Lo, p.Hi, p.P30, p.P90
		base["train-mean"][k] = m.TrainMean
		base["captest-linear"][k] = m.TrainMean
		if v := x[ic]; !math.IsNaN(v) {
			base["captest-linear"][k] = math.Min(v, maxRULDays)
		}
		base["age-only"][k] = math.Max(0, age.Predict(x[ia:ia+1]))
		if truth[k] <= 30 {
			y30[k] = 1
			ev.Positives30++
		}
		if truth[k] <= 90 {
			y90[k] = 1
			ev.Positives90++
		}
	}
	ev.Methods = append(ev.Methods, MethodScore{"model", ml.MAE(pred, truth), ml.RMSE(pred, truth)})
	ev.BestBase = ""
	best := math.Inf(1)
	for _, name := range []string{"train-mean", "captest-linear", "age-only"} {
		sc := MethodScore{name, ml.MAE(base[name], truth), ml.RMSE(base[name], truth)}
		ev.Methods = append(ev.Methods, sc)
		if sc.RMSE < best {
			best, ev.BestBase = sc.RMSE, name
		}
	}
	refSc := MethodScore{"truth-reference", ml.MAE(ref, truth), ml.RMSE(ref, truth)}
	ev.Methods = append(ev.Methods, refSc)
	model := ev.Methods[0].RMSE
	ev.RMSEGain = 1 - model/best
	ev.GapClosed = (best - model) / (best - refSc.RMSE)
	ev.Coverage95 = ml.Coverage(lo, hi, truth)
	ev.MeanWidth = ml.MeanWidth(lo, hi)
	ev.AUROC30, ev.AUROC90 = ml.AUROC(p30, y30, nil), ml.AUROC(p90, y90, nil)
	ev.Brier30, ev.Brier90 = ml.Brier(p30, y30, nil), ml.Brier(p90, y90, nil)
	ev.AlphaLambda, _ = ml.AlphaLambdaAccuracy(pred, truth, 0.2)
	ev.ByHorizon = ml.ErrorsByHorizon(pred, truth, []float64{0, 30, 90, 180, 365, 730, 1e9})
	return ev, nil
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

// referenceRUL extrapolates each row's true SOH to 80 % at its true rate
// over the previous window days (0: since installation, from 100 %).
func referenceRUL(ctx context.Context, l *lake.Lake, s *Set, rows []int, window int) ([]float64, error) {
	need := map[time.Time]bool{}
	for _, i := range rows {
		d := s.Frame.Rows[i].AsOf
		need[d] = true
		if window > 0 {
			need[d.AddDate(0, 0, -window)] = true
		}
	}
	soh, err := trueSOH(ctx, l, need)
	if err != nil {
		return nil, err
	}
	ia := derive.RULFeatureIndex("age_days")
	out := make([]float64, len(rows))
	for k, i := range rows {
		r := s.Frame.Rows[i]
		now, okNow := soh[sohKey{r.Battery, r.AsOf}]
		then, okThen, span := 100.0, true, s.Frame.Row(i)[ia]
		if window > 0 {
			then, okThen = soh[sohKey{r.Battery, r.AsOf.AddDate(0, 0, -window)}]
			span = float64(window)
		}
		switch {
		case !okNow:
			out[k] = math.NaN()
		case now < 80:
			out[k] = 0
		case !okThen || then <= now:
			out[k] = maxRULDays // no measurable fade yet: far
		default:
			out[k] = math.Min(maxRULDays, (now-80)/((then-now)/span))
		}
	}
	return out, nil
}

type sohKey struct {
	b uuid.UUID
	d time.Time
}

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
	out := map[sohKey]float64{}
	for _, d := range ds {
		for _, f := range ix.Overlapping(d, d.AddDate(0, 0, 1)) {
			err := derive.EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: []string{"day", "battery_id", "soh_pct"}}, func(b *parquetio.SliceBatch) error {
				for i := 0; i < b.Rows; i++ {
					day := time.Unix(int64(b.Cols[0].Int32[i])*86400, 0).UTC()
					if day.Equal(d) {
						out[sohKey{b.Cols[1].UUID[i], d}] = float64(b.Cols[2].Int32[i]) / 100
					}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// status gates promotion: a model set goes to production when its test
// interval coverage is within [0.90, 0.99] and it beats the best baseline;
// otherwise it stays in staging for a person to look at.
func (ev *Evaluation) status() string {
	if ev.Rows > 0 && ev.Coverage95 >= 0.90 && ev.Coverage95 <= 0.99 && ev.RMSEGain > 0 {
		return "production"
	}
	return "staging"
}

// RULMetrics is metrics_json of the RUL model.
func (ev *Evaluation) RULMetrics() map[string]any {
	by := make([]map[string]any, len(ev.ByHorizon))
	for k, b := range ev.ByHorizon {
		by[k] = map[string]any{"lo_days": b.Lo, "hi_days": b.Hi, "n": b.N, "mae": nz(b.MAE), "rmse": nz(b.RMSE), "bias": nz(b.Bias)}
	}
	methods := map[string]any{}
	for _, m := range ev.Methods {
		methods[m.Name] = map[string]float64{"mae_days": nz(m.MAE), "rmse_days": nz(m.RMSE)}
	}
	return map[string]any{"split": "test", "rows": ev.Rows, "batteries": ev.Batteries, "as_of_days": ev.Days,
		"methods": methods, "best_baseline": ev.BestBase, "rmse_reduction_vs_best_baseline": nz(ev.RMSEGain),
		"gap_closed_share": nz(ev.GapClosed), "interval_coverage_95": nz(ev.Coverage95), "interval_mean_width_days": nz(ev.MeanWidth),
		"alpha_lambda_accuracy_0_2": nz(ev.AlphaLambda), "rul_by_horizon": by}
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
	fmt.Fprintf(&b, "RUL evaluation on the test strings: %d rows, %d batteries, as of %d days (%s .. %s)\n",
		ev.Rows, ev.Batteries, len(ev.Days), first(ev.Days), last(ev.Days))
	fmt.Fprintf(&b, "\n%-18s %12s %12s\n", "method", "MAE (days)", "RMSE (days)")
	for _, m := range ev.Methods {
		fmt.Fprintf(&b, "%-18s %12.1f %12.1f\n", m.Name, m.MAE, m.RMSE)
	}
	gap := fmt.Sprintf("%.1f %%", 100*ev.GapClosed)
	if ev.refRMSE() >= ev.bestRMSE() {
		gap = "n/a: the truth reference is no better than the best baseline"
	}
	fmt.Fprintf(&b, "\nbest baseline %s; RMSE reduction %.1f %% (target >= 30 %%); gap to the truth reference closed: %s (target >= 60 %%)\n",
		ev.BestBase, 100*ev.RMSEGain, gap)
	fmt.Fprintf(&b, "95 %% interval coverage %.3f (target 0.93-0.97), mean width %.0f days\n", ev.Coverage95, ev.MeanWidth)
	fmt.Fprintf(&b, "failure within 30 d: AUROC %.3f, Brier %.4f (%d positives); within 90 d: AUROC %.3f (target >= 0.90), Brier %.4f (%d positives)\n",
		ev.AUROC30, ev.Brier30, ev.Positives30, ev.AUROC90, ev.Brier90, ev.Positives90)
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
	m, _, err := loaded(reg)
	if err != nil {
		return nil, err
	}
	return Evaluate(ctx, l, s, m, sh.hyper)
}
