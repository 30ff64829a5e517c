package rul

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/google/uuid"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/ml"
)

// The SOH soft sensor: gradient-boosted trees that estimate a jar's
// current state of health, and its fade over the previous 90 days, from
// the point-in-time features, stacked under the RUL models (their
// estimates are two more RUL features).
//
// Why: the observations carry the hidden SOH (the ohmic drift alone
// explains ~80 % of its variance), but the RUL label is censored and
// weighted (IPCW), so a RUL model learns the SOH from few, noisy rows.
// The SOH itself is an auxiliary label, like the RUL labels from the
// hidden truth: the true SOH on the as-of day, known at any cutoff on or
// after it, never censored, so the sensor learns from every training row.
//
// At a cutoff the sensor is fitted on the train strings' rows as of that
// day or earlier, in SensorFolds folds by string: the estimate of a
// training row comes from the folds that did not see its string
// (out-of-fold), so the RUL model learns how far to trust an estimate on a
// jar the sensor never saw, which is what it gets on the validation and
// test strings and at prediction (there the estimate is the mean of the
// fold models). Prediction reads the fitted sensor, never the truth.

// SensorNames are the soft sensor's outputs (RUL features).
var SensorNames = []string{"soh_est_pct", "soh_fade_est_pct_per_year"}

// Sensor is a fitted soft sensor: one SOH and one fade model per fold,
// SOH[f] and Fade[f] fitted on the rows of every other fold.
type Sensor struct {
	SOH, Fade []*ml.GBM
}

// sensorFold is string id's fold among k.
func sensorFold(id uuid.UUID, k int) int {
	x := binary.BigEndian.Uint64(id[:8]) ^ binary.BigEndian.Uint64(id[8:])*0x9e3779b97f4a7c15
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 29
	return int(x % uint64(k))
}

// fadeLabel is the true fade over the previous truthWindow days (% SOH
// per year; NaN when either end is unknown), the truth-informed
// reference's rate. A longer window is smoother and easier to estimate
// (180 days: RMSE 2.96 of a 3.68 spread; 365 days: 0.89 of 1.55; 90 days:
// 5.11 of 5.93) but the RUL model scored the same with each (542-543
// days, README).
func fadeLabel(now, then float64) float64 {
	return (then - now) * 365.25 / truthWindow
}

// fitSensor fits the sensor on rows (the train strings at a cutoff) and
// returns it with the out-of-fold estimates of rows, two per row of the
// set (NaN elsewhere).
func fitSensor(s *Set, rows []int, h Hyper) (*Sensor, []float64, error) {
	if s.soh == nil {
		return nil, nil, fmt.Errorf("fit soh sensor: the set has no true soh (labels)")
	}
	k := max(2, h.SensorFolds)
	fold := make(map[int]int, len(rows))
	for _, i := range rows {
		fold[i] = sensorFold(s.Frame.Rows[i].String, k)
	}
	sn := &Sensor{SOH: make([]*ml.GBM, k), Fade: make([]*ml.GBM, k)}
	oof := make([]float64, 2*len(s.Labels))
	for i := range oof {
		oof[i] = math.NaN()
	}
	names := derive.RULFeatureNames
	for f := 0; f < k; f++ {
		for t, label := range []func(i int) float64{
			func(i int) float64 { return s.soh[i] },
			func(i int) float64 { return fadeLabel(s.soh[i], s.soh90[i]) },
		} {
			var fit []int
			var y []float64
			for _, i := range rows {
				if v := label(i); fold[i] != f && !math.IsNaN(v) {
					fit = append(fit, i)
					y = append(y, v)
				}
			}
			if len(fit) == 0 {
				return nil, nil, fmt.Errorf("fit soh sensor: fold %d: no rows with a true soh", f)
			}
			p := h.Sensor
			p.Seed = h.Sensor.Seed + uint64(2*f+t)
			g, err := ml.Fit(s.matrix(fit), y, nil, names, p)
			if err != nil {
				return nil, nil, fmt.Errorf("fit soh sensor (fold %d): %w", f, err)
			}
			if t == 0 {
				sn.SOH[f] = g
			} else {
				sn.Fade[f] = g
			}
			var held []int
			for _, i := range rows {
				if fold[i] == f {
					held = append(held, i)
				}
			}
			est, err := g.PredictBatch(s.matrix(held))
			if err != nil {
				return nil, nil, err
			}
			for j, i := range held {
				oof[2*i+t] = est[j]
			}
		}
	}
	return sn, oof, nil
}

// Estimate is the sensor's SOH and fade estimate of feature row x: the
// mean of the fold models.
func (sn *Sensor) Estimate(x []float64) (soh, fade float64) {
	for f := range sn.SOH {
		soh += sn.SOH[f].Predict(x)
		fade += sn.Fade[f].Predict(x)
	}
	n := float64(len(sn.SOH))
	return soh / n, fade / n
}

// EstimateBatch is Estimate of every row of X (all features), two values
// per row.
func (sn *Sensor) EstimateBatch(X ml.Matrix) ([]float64, error) {
	out := make([]float64, 2*X.Rows)
	for t, ms := range [][]*ml.GBM{sn.SOH, sn.Fade} {
		for _, g := range ms {
			p, err := g.PredictBatch(X)
			if err != nil {
				return nil, err
			}
			for i, v := range p {
				out[2*i+t] += v
			}
		}
	}
	n := float64(len(sn.SOH))
	for i := range out {
		out[i] /= n
	}
	return out, nil
}

// marshal is the sensor's artifact fields.
func (sn *Sensor) marshal() (soh, fade []json.RawMessage, err error) {
	for t, ms := range [][]*ml.GBM{sn.SOH, sn.Fade} {
		for _, g := range ms {
			b, err := g.MarshalJSON()
			if err != nil {
				return nil, nil, err
			}
			if t == 0 {
				soh = append(soh, b)
			} else {
				fade = append(fade, b)
			}
		}
	}
	return soh, fade, nil
}

// loadSensor rebuilds a sensor from its artifact fields.
func loadSensor(soh, fade []json.RawMessage) (*Sensor, error) {
	if len(soh) == 0 || len(soh) != len(fade) {
		return nil, fmt.Errorf("soh sensor artifact: %d soh and %d fade models: %w", len(soh), len(fade), ErrArtifact)
	}
	sn := &Sensor{}
	for t, raws := range [][]json.RawMessage{soh, fade} {
		for _, raw := range raws {
			g, err := ml.LoadGBM(raw)
			if err != nil {
				return nil, fmt.Errorf("soh sensor artifact: %w", err)
			}
			if t == 0 {
				sn.SOH = append(sn.SOH, g)
			} else {
				sn.Fade = append(sn.Fade, g)
			}
		}
	}
	return sn, nil
}

// ErrArtifact reports a model artifact that is not whole.
var ErrArtifact = errors.New("incomplete model artifact")
