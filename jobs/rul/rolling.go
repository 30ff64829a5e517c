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
// the twin's extrapolation t (capped at 20 years), fitted on the validation
// strings (never set by hand), by stratum of the twin's estimate:
//
//	fused = W_k·m + (1 - W_k)·t      (fused = m where the twin has no estimate)
//
// In stratum k (t in [Edges[k], Edges[k+1])), W_k minimizes the
// IPCW-weighted squared error over the stratum's validation rows whose end
// of service was observed by the cutoff, clipped to [0, 1], and the 95 %
// interval scales the ML interval's two half-widths around the fused
// estimate by Scale_k, the weighted conformal quantile (as the CQR
// widening) of the stratum's normalized validation scores
// max((fused - y)/(m - lo), (y - fused)/(hi - m)). A stratum with fewer than
// minFuseRows such rows keeps the ML estimate and interval (W 1, Scale 1).
//
// Why strata: the twin exists only in the telemetry era, where an end of
// service is observable only within the months to the cutoff, so the rows a
// weight can be fitted on are the jars that ended soon. A single weight
// fitted there is the weight for short-lived jars, applied to every jar
// (on the historian lake it gave the twin 60-90 % and doubled the RMSE on
// the test strings); by the twin's own estimate, a jar it calls far from
// its end is fused only as far as such jars' observed ends support.
type Fuse struct {
	Edges  []float64     `json:"twin_edges_days"`
	Strata []FuseStratum `json:"strata"`
}

// FuseStratum is one stratum's weight and interval scale.
type FuseStratum struct {
	W     float64 `json:"weight_ml"`
	Scale float64 `json:"interval_scale"`
	Rows  int     `json:"rows"`
}

// fuseEdges are the strata of the twin's estimate: within a year, one to
// three years, beyond.
var fuseEdges = []float64{0, 365, 1095}

// minFuseRows is the fewest validation rows a stratum is fitted on.
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

// stratum is the index of tw's stratum (-1 without a twin estimate or
// strata).
func (f *Fuse) stratum(tw float64) int {
	if math.IsNaN(tw) || len(f.Strata) == 0 {
		return -1
	}
	k := sort.Search(len(f.Edges), func(i int) bool { return f.Edges[i] > tw }) - 1
	return min(max(k, 0), len(f.Strata)-1)
}

func fitFuse(s *Set, m *Models, val []int, vw map[int]float64) Fuse {
	type obs struct{ y, w, ml, lo, hi, tw float64 }
	f := Fuse{Edges: fuseEdges, Strata: make([]FuseStratum, len(fuseEdges))}
	by := make([][]obs, len(fuseEdges))
	for _, i := range val {
		wi, ok := vw[i]
		if !ok {
			continue
		}
		x := s.Frame.Row(i)
		tw := twinCapped(x)
		if math.IsNaN(tw) {
			continue
		}
		p := m.predictRUL(x)
		k := f.stratum(tw)
		by[k] = append(by[k], obs{s.Labels[i].RULDays, wi, p.RUL, p.Lo, p.Hi, tw})
	}
	for k, rows := range by {
		st := &f.Strata[k]
		st.W, st.Scale, st.Rows = 1, 1, len(rows)
		if len(rows) < minFuseRows {
			continue
		}
		var num, den float64
		for _, r := range rows {
			num += r.w * (r.y - r.tw) * (r.ml - r.tw)
			den += r.w * (r.ml - r.tw) * (r.ml - r.tw)
		}
		if den > 0 {
			st.W = math.Min(1, math.Max(0, num/den))
		}
		scores, sw := make([]float64, len(rows)), make([]float64, len(rows))
		for j, r := range rows {
			c := combine(st.W, r.ml, r.tw)
			scores[j] = math.Max((c-r.y)/math.Max(r.ml-r.lo, minHalfDays), (r.y-c)/math.Max(r.hi-r.ml, minHalfDays))
			sw[j] = r.w
		}
		st.Scale = math.Max(0, weightedConformal(scores, sw, hiQ-loQ))
	}
	return f
}

// combine is the fused point of ML estimate ml and twin estimate tw.
func combine(w, ml, tw float64) float64 { return math.Max(0, w*ml+(1-w)*tw) }

// Fused is one fused estimate with its interval.
type Fused struct {
	RUL, Lo, Hi float64
	Twin        float64 // NaN without a twin estimate
	WeightML    float64 // the weight the ML estimate got (1 without the twin)
	Scale       float64 // the interval scale used
	Stratum     int     // -1 without the twin
}

// fused combines prediction p (of x) with the twin's estimate.
func (m *Models) fused(p Prediction, x []float64) Fused {
	tw := twinCapped(x)
	out := Fused{RUL: p.RUL, Lo: p.Lo, Hi: p.Hi, Twin: tw, WeightML: 1, Scale: 1, Stratum: m.Fuse.stratum(tw)}
	if out.Stratum < 0 {
		return out // the ML estimate and its interval
	}
	st := m.Fuse.Strata[out.Stratum]
	c := combine(st.W, p.RUL, tw)
	out.RUL, out.WeightML, out.Scale = c, st.W, st.Scale
	out.Lo = math.Max(0, c-st.Scale*math.Max(p.RUL-p.Lo, minHalfDays))
	out.Hi = math.Max(out.Lo, c+st.Scale*math.Max(p.Hi-p.RUL, minHalfDays))
	return out
}
