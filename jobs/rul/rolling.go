package rul

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
)

// Rolling retraining. A prediction as of day d uses the model set trained
// at the latest cutoff on or before d, knowing only what was known then:
//
//   - cutoffs are the quarter ends (Mar 31, Jun 30, Sep 30, Dec 31) each
//     prediction day falls after (the quarter end on or before it), and the
//     horizon: a month-end prediction uses a model at most three months
//     old; the run date's is trained up to the run date. Quarterly, not
//     monthly: a model set costs ~5 fits, and the jars' fade is slow;
//   - at cutoff c, every label is right-censored at c (an end of service
//     after c is censored there, at c - as-of days) and rows as of a day
//     after c are left out (Set.At). The train strings fit the models, the
//     validation strings calibrate the conformal widening and the fused
//     weight, as at the horizon;
//   - the anomaly forest is unsupervised (no label to leak) and is fitted at
//     the horizon only.
//
// A cutoff whose train strings hold fewer than MinObserved observed ends of
// service gets no model: its days get no ML prediction.

// Cutoffs are the training cutoffs of the set's prediction days (every
// as-of day from the telemetry on): for each, the latest quarter end on or
// before it, and the horizon itself.
func (s *Set) Cutoffs() []time.Time {
	seen := map[time.Time]bool{}
	var out []time.Time
	for _, d := range s.Days {
		if d.Before(s.telemetry) {
			continue
		}
		c := d
		if !d.Equal(s.Horizon) {
			c = quarterEndOnOrBefore(d)
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// quarterEndOnOrBefore is the last day of a calendar quarter on or before d.
func quarterEndOnOrBefore(d time.Time) time.Time {
	y, m, _ := d.Date()
	q := time.Date(y, time.Month((int(m)-1)/3*3+1), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 3, -1) // end of d's quarter
	if q.After(d) {
		q = time.Date(y, time.Month((int(m)-1)/3*3+1), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1) // end of the previous one
	}
	return q
}

// At is the set as known at cutoff c: rows as of a day after c are
// excluded (split ""), and every label is right-censored at c. The frame
// is shared; the uncensored truth stays for evaluation.
func (s *Set) At(c time.Time) *Set {
	if c.Equal(s.Horizon) {
		return s
	}
	v := *s
	v.Horizon = c
	v.Labels = make([]Label, len(s.Labels))
	v.Splits = make([]string, len(s.Splits))
	for i, r := range s.Frame.Rows {
		if r.AsOf.After(c) {
			continue
		}
		v.Labels[i], _ = s.truth.LabelOf(r.Battery, r.AsOf, c)
		v.Splits[i] = s.Splits[i]
	}
	return &v
}

// TrainRolling trains a model set at every cutoff (two at a time; each
// fit is deterministic, so the order does not matter). Cutoffs with too
// few observed ends of service are skipped; the horizon's set must train.
func TrainRolling(s *Set, h Hyper) ([]*Models, error) {
	cuts := s.Cutoffs()
	out := make([]*Models, len(cuts))
	errs := make([]error, len(cuts))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for k, c := range cuts {
		v := s.At(c)
		last := k == len(cuts)-1
		if !last && v.observedTrain() < MinObserved {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[k], errs[k] = train(v, h, last)
			if errs[k] != nil {
				errs[k] = fmt.Errorf("cutoff %s: %w", c.Format(time.DateOnly), errs[k])
			}
		}()
	}
	wg.Wait()
	var ms []*Models
	for k := range cuts {
		if errs[k] != nil {
			return nil, errs[k]
		}
		if out[k] != nil {
			ms = append(ms, out[k])
		}
	}
	return ms, nil
}

// modelAt is the model set of the latest cutoff on or before d (nil when
// none): ms is in cutoff order.
func modelAt(ms []*Models, d time.Time) *Models {
	k := sort.Search(len(ms), func(i int) bool { return ms[i].Cutoff.After(d) }) - 1
	if k < 0 {
		return nil
	}
	return ms[k]
}

// --- fused ------------------------------------------------------------------

// Fuse is the fused estimate: a stacked combination of the ML estimate m and
// the twin's extrapolation t, fitted on the validation strings (never set
// by hand):
//
//	fused = W·m + (1 - W)·t      (fused = m where the twin has no estimate)
//
// W minimizes the IPCW-weighted squared error over the validation rows
// whose end of service was observed by the cutoff and which have both
// estimates (t capped at 20 years), clipped to [0, 1]; with fewer than
// minFuseRows such rows W = 1. The 95 % interval scales the ML interval's
// two half-widths around the fused estimate by Scale, the weighted
// conformal quantile (as the CQR widening) of the normalized validation
// scores max((fused - y)/(m - lo), (y - fused)/(hi - m)): calibrated on
// the validation strings, so its coverage holds there by construction.
type Fuse struct {
	W     float64 `json:"weight_ml"`
	Scale float64 `json:"interval_scale"`
	Rows  int     `json:"weight_rows"`
	Calib int     `json:"calibration_rows"`
}

// minFuseRows is the fewest validation rows with both estimates the weight
// is fitted on.
const minFuseRows = 30

// minHalfDays floors an interval half-width in the normalized scores.
const minHalfDays = 1.0

// twinCapped is the twin's estimate for fusing: NaN without one, capped at
// 20 years (a jar with almost no fade extrapolates to centuries).
func twinCapped(x []float64) float64 {
	t := twinRUL(x)
	if math.IsNaN(t) {
		return t
	}
	return math.Min(t, maxRULDays)
}

func fitFuse(s *Set, m *Models, val []int, vw map[int]float64) Fuse {
	type obs struct{ y, w, ml, lo, hi, tw float64 }
	var rows []obs
	for _, i := range val {
		wi, ok := vw[i]
		if !ok {
			continue
		}
		x := s.Frame.Row(i)
		p := m.predictRUL(x)
		rows = append(rows, obs{s.Labels[i].RULDays, wi, p.RUL, p.Lo, p.Hi, twinCapped(x)})
	}
	f := Fuse{W: 1}
	var num, den float64
	for _, r := range rows {
		if math.IsNaN(r.tw) {
			continue
		}
		f.Rows++
		num += r.w * (r.y - r.tw) * (r.ml - r.tw)
		den += r.w * (r.ml - r.tw) * (r.ml - r.tw)
	}
	if f.Rows >= minFuseRows && den > 0 {
		f.W = math.Min(1, math.Max(0, num/den))
	} else {
		f.Rows = 0
	}
	scores, sw := make([]float64, 0, len(rows)), make([]float64, 0, len(rows))
	for _, r := range rows {
		c := f.combine(r.ml, r.tw)
		scores = append(scores, math.Max((c-r.y)/math.Max(r.ml-r.lo, minHalfDays), (r.y-c)/math.Max(r.hi-r.ml, minHalfDays)))
		sw = append(sw, r.w)
	}
	f.Calib = len(scores)
	f.Scale = math.Max(0, weightedConformal(scores, sw, hiQ-loQ))
	if len(scores) == 0 {
		f.Scale = 1 // no calibration rows: the ML interval's own widths
	}
	return f
}

// combine is the fused point of ML estimate ml and twin estimate tw (NaN:
// none).
func (f Fuse) combine(ml, tw float64) float64 {
	if math.IsNaN(tw) {
		return ml
	}
	return math.Max(0, f.W*ml+(1-f.W)*tw)
}

// Fused is one fused estimate with its interval.
type Fused struct {
	RUL, Lo, Hi float64
	Twin        float64 // NaN without a twin estimate
	WeightML    float64 // the weight the ML estimate got (1 without the twin)
}

// fused combines prediction p (of x) with the twin's estimate.
func (m *Models) fused(p Prediction, x []float64) Fused {
	tw := twinCapped(x)
	c := m.Fuse.combine(p.RUL, tw)
	out := Fused{RUL: c, Twin: tw, WeightML: 1}
	if !math.IsNaN(tw) {
		out.WeightML = m.Fuse.W
	}
	out.Lo = math.Max(0, c-m.Fuse.Scale*math.Max(p.RUL-p.Lo, minHalfDays))
	out.Hi = math.Max(out.Lo, c+m.Fuse.Scale*math.Max(p.Hi-p.RUL, minHalfDays))
	return out
}
