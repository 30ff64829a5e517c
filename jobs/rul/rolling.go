package rul

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/battlake/battlake/pipeline"
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

// TrainRolling trains a model set at every cutoff, as many at a time as
// the run's idle worker slots allow (pipeline.Spread); each fit is
// deterministic, so the order does not matter. Cutoffs with too few
// observed ends of service are skipped; the horizon's set must train.
func TrainRolling(ctx context.Context, s *Set, h Hyper) ([]*Models, error) {
	cuts := s.Cutoffs()
	out := make([]*Models, len(cuts))
	if err := pipeline.Spread(ctx, len(cuts), func(k int) error {
		c := cuts[k]
		v := s.At(c)
		last := k == len(cuts)-1
		if !last && v.observedTrain() < MinObserved {
			return nil
		}
		var err error
		if out[k], err = train(v, h, last); err != nil {
			return fmt.Errorf("cutoff %s: %w", c.Format(time.DateOnly), err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var ms []*Models
	for _, m := range out {
		if m != nil {
			ms = append(ms, m)
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
// In stratum k (t in [Edges[k], Edges[k+1]); the last stratum up to 20
// years), W_k minimizes a censoring-aware squared error (W on a 0.01 grid
// in [0, 1]) over the stratum's validation rows whose follow-up to the
// cutoff spans the stratum (cutoff - as-of day >= its upper edge):
// (y - fused)² for a row whose end of service was observed,
// max(0, L - fused)² for a row censored at L days (the jar lives at least L
// more days: only an estimate below L is known to be wrong). A stratum with
// fewer than minFuseRows such rows keeps the ML estimate (W 1); so does a
// tie (the ML estimate is the validated default).
//
// Why the follow-up rule, and not IPCW as the ML model: the twin exists
// only in the telemetry era, where an end of service is observable only
// within the months before the cutoff. The rows observed there are jars
// that ended soon, mostly already past their end (0 days left; the twin's
// fade beyond 20 % says 0 too): a least-squares fit on them gave the twin
// 60-90 % of the weight and doubled the RMSE on the historian's test
// strings, as the twin calls most long-lived jars short. Rows followed for
// the stratum's whole range are observed or censored beyond it whatever
// their outcome, so they show both kinds of error without that selection.
//
// The 95 % interval is the hull of the ML interval (conformalized on the
// validation strings, CQR) and the fused point: its coverage is at least
// the ML interval's, calibrated there. A conformal scale on the fused
// scores would need the scores of censored rows, which censoring hides.
type Fuse struct {
	Edges  []float64     `json:"twin_edges_days"`
	Strata []FuseStratum `json:"strata"`
}

// FuseStratum is one stratum's weight and the validation rows it was
// fitted on.
type FuseStratum struct {
	W        float64 `json:"weight_ml"`
	Observed int     `json:"observed_rows"`
	Censored int     `json:"censored_rows"`
}

// fuseEdges are the strata of the twin's estimate: within a year, one to
// three years, beyond.
var fuseEdges = []float64{0, 365, 1095}

// minFuseRows is the fewest validation rows a stratum is fitted on.
const minFuseRows = 30

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

func fitFuse(s *Set, m *Models, val []int) Fuse {
	type obs struct {
		y, ml, tw float64
		observed  bool
	}
	f := Fuse{Edges: fuseEdges, Strata: make([]FuseStratum, len(fuseEdges))}
	by := make([][]obs, len(fuseEdges))
	for _, i := range val {
		x := s.Frame.Row(i)
		tw := twinCapped(x)
		if math.IsNaN(tw) {
			continue
		}
		k := f.stratum(tw)
		upper := maxRULDays
		if k+1 < len(f.Edges) {
			upper = f.Edges[k+1]
		}
		if s.Horizon.Sub(s.Frame.Rows[i].AsOf).Hours()/24 < upper {
			continue // followed for less than the stratum's range
		}
		lb := s.Labels[i]
		by[k] = append(by[k], obs{lb.RULDays, m.predictRUL(x).RUL, tw, lb.Observed})
	}
	for k, rows := range by {
		st := &f.Strata[k]
		st.W = 1
		for _, r := range rows {
			if r.observed {
				st.Observed++
			} else {
				st.Censored++
			}
		}
		if len(rows) < minFuseRows {
			continue
		}
		best := math.Inf(1)
		// From W = 1 down, strict improvements only: among equal losses
		// (censored rows bound the error on one side) the ML estimate,
		// the validated default, keeps the most weight.
		for g := 100; g >= 0; g-- {
			w := float64(g) / 100
			var loss float64
			for _, r := range rows {
				e := r.y - combine(w, r.ml, r.tw)
				if !r.observed {
					e = math.Max(0, e)
				}
				loss += e * e
			}
			if loss < best {
				best, st.W = loss, w
			}
		}
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
	Stratum     int     // -1 without the twin
}

// fused combines prediction p (of x) with the twin's estimate.
func (m *Models) fused(p Prediction, x []float64) Fused {
	tw := twinCapped(x)
	out := Fused{RUL: p.RUL, Lo: p.Lo, Hi: p.Hi, Twin: tw, WeightML: 1, Stratum: m.Fuse.stratum(tw)}
	if out.Stratum < 0 {
		return out // the ML estimate and its interval
	}
	w := m.Fuse.Strata[out.Stratum].W
	out.RUL, out.WeightML = combine(w, p.RUL, tw), w
	out.Lo, out.Hi = math.Min(p.Lo, out.RUL), math.Max(p.Hi, out.RUL)
	return out
}
