package rul

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/ml"
)

// The models, trained on the train strings with what the training set
// knew at its horizon (censored jars stay censored):
//
//   - SOH soft sensor: gradient-boosted trees that estimate the jar's SOH
//     and its recent fade from every feature (sensor.go);
//   - RUL: gradient-boosted trees in Go (package ml) on age and the
//     sensor's estimates: a squared-loss model
//     for the point estimate and quantile-loss models at 2.5 % and 97.5 %,
//     widened by conformalized quantile regression calibrated on the
//     validation strings. They learn from rows whose end of service was
//     observed, weighted by the inverse probability of being observed
//     (IPCW, Kaplan-Meier of the censoring times): a row of a long-lived jar
//     is observed only from old as-of days, and the weights undo that bias.
//   - P(failure within 30 / 90 days): logistic gradient-boosted trees on the
//     rows whose outcome over the horizon is known.
//   - Anomaly: an isolation forest over the telemetry-era features.

// RULFeatures are the RUL models' inputs: the jar's age and the soft
// sensor's estimates of its SOH and of its fade over the last 90 days
// (sensor.go), nothing else. The raw features reach the RUL models only
// through the sensor: on the default lake the 13 capacity-test and ohmic
// features scored 655 days RMSE on the test strings (age alone 666), 667
// with the two estimates next to them, and the three inputs alone 542; each
// raw feature added back made it worse (README). The RUL label is censored
// and IPCW-weighted, too few and too noisy rows for the trees to find the
// SOH in a dozen noisy features themselves; the sensor learns it from an
// uncensored label on every training row.
//
// The telemetry-era features (feature store, twin) and the counts of tests
// and readings are the sensor's inputs, not the RUL models': they tell the
// era, and in the telemetry era an observed end of service is a short one
// (the censoring), so a RUL regression on them would learn the era.
var RULFeatures = []string{"age_days", SensorNames[0], SensorNames[1]}

// rulCols are the columns of RULFeatures in a feature row; the sensor's
// outputs are -1 (SOH) and -2 (fade).
var rulCols = colsOf(RULFeatures)

func colsOf(names []string) []int {
	out := make([]int, len(names))
	for k, n := range names {
		switch n {
		case SensorNames[0]:
			out[k] = -1
		case SensorNames[1]:
			out[k] = -2
		default:
			out[k] = derive.RULFeatureIndex(n)
		}
	}
	return out
}

// rulRow projects feature row x with the sensor's estimates soh and fade
// onto RULFeatures, into dst.
func rulRow(dst, x []float64, soh, fade float64) []float64 {
	dst = dst[:0]
	for _, j := range rulCols {
		switch j {
		case -1:
			dst = append(dst, soh)
		case -2:
			dst = append(dst, fade)
		default:
			dst = append(dst, x[j])
		}
	}
	return dst
}

// rulInput is the RUL models' input of feature row x: its features and
// the sensor's estimates (NaN without a sensor).
func (m *Models) rulInput(dst, x []float64) []float64 {
	soh, fade := math.NaN(), math.NaN()
	if m.Sensor != nil {
		soh, fade = m.Sensor.Estimate(x)
	}
	return rulRow(dst, x, soh, fade)
}

// inputBatch is rulInput of every row of X (all features), blocked.
func (m *Models) inputBatch(X ml.Matrix) (ml.Matrix, error) {
	V := ml.NewMatrix(X.Rows, len(RULFeatures))
	var est []float64
	if m.Sensor != nil {
		var err error
		if est, err = m.Sensor.EstimateBatch(X); err != nil {
			return V, err
		}
	}
	for i := 0; i < X.Rows; i++ {
		soh, fade := math.NaN(), math.NaN()
		if est != nil {
			soh, fade = est[2*i], est[2*i+1]
		}
		rulRow(V.Row(i)[:0], X.Row(i), soh, fade)
	}
	return V, nil
}

// MinObserved is the fewest training rows with an observed end of service
// the stage trains on; below it the stage writes the training set only.
const MinObserved = 50

func (s *Set) observedTrain() int {
	return len(s.rowsOf("train", func(i int) bool { return s.Labels[i].Observed }))
}

// Quantiles of the 95 % interval.
const loQ, hiQ = 0.025, 0.975

// maxIPCW caps the inverse-probability weights: the few rows observed
// against long odds must not dominate a fit.
const maxIPCW = 20

// Models is a trained model set.
type Models struct {
	// Cutoff is the training cutoff: the models know the labels of rows as
	// of that day or earlier, right-censored there.
	Cutoff        time.Time
	Point, Lo, Hi *ml.GBM
	// CQR widens [Lo, Hi] by this many days on each side (Romano et al.
	// 2019), the finite-sample conformal quantile of the validation scores.
	CQR      float64
	P30, P90 *ml.GBM
	Forest   *ml.IsolationForest
	// AnomalyThreshold is the score above which a battery is anomalous.
	AnomalyThreshold float64
	// ForestRows is how many rows the forest was fitted on.
	ForestRows int
	// TrainMean is the IPCW mean of the observed training labels (the
	// "training mean" baseline).
	TrainMean float64
	// Fuse combines the ML estimate with the twin's extrapolation (see
	// fitFuse).
	Fuse Fuse
	// Sensor is the SOH soft sensor under the RUL models.
	Sensor *Sensor
}

// Hyper are the hyperparameters of every model, fixed for a seed.
type Hyper struct {
	RUL, Quantile, Failure ml.Params
	// The failure-within models keep one in FailureFarKeep of the rows
	// known to have at least FailureFarDays left (certain negatives for 30
	// and 90 days, most of the set), weighted FailureFarKeep: the same
	// expected loss at a fraction of the rows (negative subsampling). The
	// rows kept are a hash of battery and as-of day, the same at every
	// cutoff.
	FailureFarDays float64 `json:"failure_far_days"`
	FailureFarKeep int     `json:"failure_far_keep"`
	Forest         ml.IForestParams
	Contamination  float64
	// Sensor are the soft sensor's parameters (SOH and fade, squared
	// loss), fitted in SensorFolds folds by string.
	Sensor      ml.Params
	SensorFolds int `json:"sensor_folds"`
}

// DefaultHyper: depth-5 trees, 150 rounds, row and column subsampling.
func DefaultHyper(seed uint64) Hyper {
	p := ml.DefaultParams()
	p.Trees, p.MaxDepth, p.LearningRate, p.MinSamplesLeaf = 120, 5, 0.08, 40
	p.Subsample, p.ColSample, p.Seed = 0.7, 0.8, seed
	q := p
	q.Loss = ml.LossQuantile
	f := p
	f.Loss = ml.LossLogistic
	fp := ml.DefaultIForestParams()
	fp.Seed = seed
	sn := p
	return Hyper{RUL: p, Quantile: q, Failure: f, FailureFarDays: 365, FailureFarKeep: 10, Forest: fp, Contamination: 0.02, Sensor: sn, SensorFolds: 2}
}

// rowsOf lists the rows of split (all splits when ""); rows a cutoff view
// excludes (split "") are never listed.
func (s *Set) rowsOf(split string, keep func(i int) bool) []int {
	var out []int
	for i := range s.Labels {
		if s.Splits[i] != "" && (split == "" || s.Splits[i] == split) && (keep == nil || keep(i)) {
			out = append(out, i)
		}
	}
	return out
}

// matrix stacks rows' features.
func (s *Set) matrix(rows []int) ml.Matrix {
	nf := len(derive.RULFeatureNames)
	m := ml.NewMatrix(len(rows), nf)
	for k, i := range rows {
		copy(m.Row(k), s.Frame.Row(i))
	}
	return m
}

// ipcw weights the observed rows by 1/G(T-), G the Kaplan-Meier survival
// of the censoring times of rows (censoring is the event there).
func (s *Set) ipcw(rows []int) map[int]float64 {
	dur := make([]float64, len(rows))
	censored := make([]bool, len(rows))
	for k, i := range rows {
		dur[k], censored[k] = s.Labels[i].RULDays, !s.Labels[i].Observed
	}
	g, err := ml.FitKaplanMeier(dur, censored)
	w := map[int]float64{}
	if err != nil {
		return w // no rows: nothing to weight
	}
	for _, i := range rows {
		if s.Labels[i].Observed {
			w[i] = math.Min(maxIPCW, 1/math.Max(g.Before(s.Labels[i].RULDays), 1e-9))
		}
	}
	return w
}

// Train fits every model on the set's train strings and calibrates on its
// validation strings, at the set's horizon.
func Train(s *Set, h Hyper) (*Models, error) { return train(s, h, true) }

func train(s *Set, h Hyper, forest bool) (*Models, error) {
	train := s.rowsOf("train", nil)
	if len(train) == 0 {
		return nil, fmt.Errorf("train rul models: no training rows")
	}
	w := s.ipcw(train)
	var obs []int
	var y, wt []float64
	var sumW, sumWY float64
	for _, i := range train {
		if wi, ok := w[i]; ok {
			obs = append(obs, i)
			y = append(y, s.Labels[i].RULDays)
			wt = append(wt, wi)
			sumW += wi
			sumWY += wi * s.Labels[i].RULDays
		}
	}
	if len(obs) < MinObserved {
		return nil, fmt.Errorf("train rul models: %d observed ends of service in the train strings, need %d", len(obs), MinObserved)
	}
	names := derive.RULFeatureNames
	m := &Models{TrainMean: sumWY / sumW, Cutoff: s.Horizon}
	sn, oof, err := fitSensor(s, train, h)
	if err != nil {
		return nil, err
	}
	m.Sensor = sn
	// The RUL models learn from the sensor's out-of-fold estimates.
	X := ml.NewMatrix(len(obs), len(RULFeatures))
	for k, i := range obs {
		rulRow(X.Row(k)[:0], s.Frame.Row(i), oof[2*i], oof[2*i+1])
	}
	if m.Point, err = ml.Fit(X, y, wt, RULFeatures, h.RUL); err != nil {
		return nil, fmt.Errorf("train rul point model: %w", err)
	}
	lo, hi := h.Quantile, h.Quantile
	lo.Alpha, hi.Alpha = loQ, hiQ
	if m.Lo, err = ml.Fit(X, y, wt, RULFeatures, lo); err != nil {
		return nil, fmt.Errorf("train rul lower quantile: %w", err)
	}
	if m.Hi, err = ml.Fit(X, y, wt, RULFeatures, hi); err != nil {
		return nil, fmt.Errorf("train rul upper quantile: %w", err)
	}
	// Conformal correction on the validation strings' observed rows.
	val := s.rowsOf("validation", nil)
	vw := s.ipcw(val)
	var scores, sw []float64
	for _, i := range val {
		wi, ok := vw[i]
		if !ok {
			continue
		}
		x := m.rulInput(nil, s.Frame.Row(i))
		yl := s.Labels[i].RULDays
		scores = append(scores, math.Max(m.Lo.Predict(x)-yl, yl-m.Hi.Predict(x)))
		sw = append(sw, wi)
	}
	m.CQR = weightedConformal(scores, sw, 1-(loQ+1-hiQ))
	m.Fuse = fitFuse(s, m, val)
	for _, fc := range []struct {
		dst  **ml.GBM
		days int
	}{{&m.P30, 30}, {&m.P90, 90}} {
		var rows []int
		var lab, wt []float64
		for _, i := range train {
			v := s.Labels[i].Fail30
			if fc.days == 90 {
				v = s.Labels[i].Fail90
			}
			if v < 0 {
				continue
			}
			w := 1.0
			if h.FailureFarKeep > 1 && s.Labels[i].RULDays >= h.FailureFarDays {
				if farHash(s.Frame.Rows[i].Battery, s.Frame.Rows[i].AsOf, h.Failure.Seed)%uint64(h.FailureFarKeep) != 0 {
					continue
				}
				w = float64(h.FailureFarKeep)
			}
			rows = append(rows, i)
			lab = append(lab, float64(v))
			wt = append(wt, w)
		}
		if *fc.dst, err = ml.Fit(s.matrix(rows), lab, wt, names, h.Failure); err != nil {
			return nil, fmt.Errorf("train failure-within-%dd model: %w", fc.days, err)
		}
	}
	// Anomaly model: rows with telemetry-era features.
	tel := s.rowsOf("train", func(i int) bool { return !math.IsNaN(s.Frame.Row(i)[derive.RULFeatureIndex("fs_v_mean")]) })
	if forest && len(tel) > 0 {
		m.ForestRows = len(tel)
		if m.Forest, err = ml.FitIsolationForest(s.matrix(tel), names, h.Forest); err != nil {
			return nil, fmt.Errorf("train anomaly forest: %w", err)
		}
		scores := make([]float64, len(tel))
		for k, i := range tel {
			scores[k] = m.Forest.Score(s.Frame.Row(i))
		}
		if m.AnomalyThreshold, err = ml.ThresholdAtContamination(scores, h.Contamination); err != nil {
			return nil, fmt.Errorf("anomaly threshold: %w", err)
		}
	}
	return m, nil
}

// farHash picks the far rows the failure models keep: a splitmix64 mix
// of battery, as-of day and seed.
func farHash(b uuid.UUID, asOf time.Time, seed uint64) uint64 {
	x := binary.BigEndian.Uint64(b[:8]) ^ bits.RotateLeft64(binary.BigEndian.Uint64(b[8:]), 29) ^ uint64(asOf.Unix()/86400)*0x9e3779b97f4a7c15 ^ seed
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// weightedConformal is the weighted (1-alpha)(1+1/n) conformal quantile.
func weightedConformal(scores, w []float64, level float64) float64 {
	if len(scores) == 0 {
		return 0
	}
	idx := make([]int, len(scores))
	var total float64
	for i := range idx {
		idx[i] = i
		total += w[i]
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	n := float64(len(scores))
	target := math.Min(1, level*(n+1)/n) * total
	var acc float64
	for _, i := range idx {
		acc += w[i]
		if acc >= target {
			return scores[i]
		}
	}
	return scores[idx[len(idx)-1]]
}

// Prediction is one battery's RUL prediction.
type Prediction struct {
	RUL, Lo, Hi, P30, P90, Confidence float64
	Anomaly                           float64 // NaN without the forest or features
}

// predictRUL is the RUL estimate and its interval alone.
func (m *Models) predictRUL(x []float64) Prediction {
	v := m.rulInput(nil, x)
	return m.rulFrom(m.Point.Predict(v), m.Lo.Predict(v), m.Hi.Predict(v))
}

// rulFrom is the RUL estimate and its interval from the point and quantile
// models' outputs.
func (m *Models) rulFrom(point, lo, hi float64) Prediction {
	p := Prediction{RUL: math.Max(0, point), Anomaly: math.NaN()}
	p.Lo = math.Max(0, lo-m.CQR)
	p.Hi = math.Max(p.Lo, hi+m.CQR)
	p.RUL = math.Min(math.Max(p.RUL, p.Lo), p.Hi)
	return p
}

// withFailure adds the failure probabilities (the models' outputs p30,
// p90) and the confidence to p.
func withFailure(p Prediction, p30, p90 float64) Prediction {
	p.P30 = p30
	p.P90 = math.Max(p.P30, p90) // within 90 days includes within 30
	// Confidence: how narrow the 95 % interval is next to the estimate
	// (1 for a point, 0.5 when the width equals the estimate plus 30 days).
	p.Confidence = 1 / (1 + (p.Hi-p.Lo)/(p.RUL+30))
	return p
}

// Predict applies the models to one feature row.
func (m *Models) Predict(x []float64) Prediction {
	p := withFailure(m.predictRUL(x), m.P30.Predict(x), m.P90.Predict(x))
	if m.Forest != nil && !math.IsNaN(x[derive.RULFeatureIndex("fs_v_mean")]) {
		p.Anomaly = m.Forest.Score(x)
	}
	return p
}

// predictBatch is Predict of every row of X (all features; V the same
// rows' RUL inputs, RULFeatures) without the anomaly score (NaN): the
// ensembles run blocked over the rows (ml.PredictBatch, the same values).
func (m *Models) predictBatch(X, V ml.Matrix) ([]Prediction, error) {
	var out [5][]float64
	for k, g := range []struct {
		m *ml.GBM
		x ml.Matrix
	}{{m.Point, V}, {m.Lo, V}, {m.Hi, V}, {m.P30, X}, {m.P90, X}} {
		var err error
		if out[k], err = g.m.PredictBatch(g.x); err != nil {
			return nil, err
		}
	}
	ps := make([]Prediction, X.Rows)
	for i := range ps {
		ps[i] = withFailure(m.rulFrom(out[0][i], out[1][i], out[2][i]), out[3][i], out[4][i])
	}
	return ps, nil
}

// Bundle is the serialized model set (one artifact per registry model).
type Bundle struct {
	Cutoff           string          `json:"cutoff,omitempty"`
	Fuse             *Fuse           `json:"fuse,omitempty"`
	Point, Lo, Hi    json.RawMessage `json:",omitempty"`
	CQR              float64         `json:"cqr_days"`
	TrainMean        float64         `json:"train_mean_days"`
	P30, P90         json.RawMessage `json:",omitempty"`
	Forest           json.RawMessage `json:",omitempty"`
	AnomalyThreshold float64         `json:"anomaly_threshold"`
	// The soft sensor's fold models (NameSensor).
	SOH  []json.RawMessage `json:"soh,omitempty"`
	Fade []json.RawMessage `json:"fade,omitempty"`
}
