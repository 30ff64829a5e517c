package ml

import (
	"fmt"
	"math"
	"slices"
)

// KaplanMeier is a right-censored survival curve S(t) = P(T > t), a step
// function: S(t) = Surv[k] for Times[k] <= t < Times[k+1], 1 before
// Times[0]. Times are the distinct event times.
type KaplanMeier struct {
	Times []float64 `json:"times"`
	Surv  []float64 `json:"surv"`
}

// FitKaplanMeier estimates S from durations and event flags (true = the
// event was observed at that duration, false = censored then). At tied
// times, events are counted before censorings (the usual convention: a
// unit censored at t was at risk at t).
func FitKaplanMeier(duration []float64, observed []bool) (KaplanMeier, error) {
	if len(duration) != len(observed) {
		return KaplanMeier{}, fmt.Errorf("ml: kaplan-meier: %d durations, %d flags: %w", len(duration), len(observed), ErrShape)
	}
	if len(duration) == 0 {
		return KaplanMeier{}, fmt.Errorf("ml: kaplan-meier: %w", ErrEmpty)
	}
	idx := make([]int, len(duration))
	for i, d := range duration {
		if math.IsNaN(d) || math.IsInf(d, 0) || d < 0 {
			return KaplanMeier{}, fmt.Errorf("ml: kaplan-meier: duration %d is %v: %w", i, d, ErrNonFinite)
		}
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case duration[a] < duration[b]:
			return -1
		case duration[a] > duration[b]:
			return 1
		}
		return 0
	})
	atRisk := float64(len(idx))
	km := KaplanMeier{}
	s := 1.0
	for k := 0; k < len(idx); {
		t := duration[idx[k]]
		var d, all float64
		for ; k < len(idx) && duration[idx[k]] == t; k++ {
			all++
			if observed[idx[k]] {
				d++
			}
		}
		if d > 0 {
			s *= 1 - d/atRisk
			km.Times = append(km.Times, t)
			km.Surv = append(km.Surv, s)
		}
		atRisk -= all
	}
	return km, nil
}

// At returns S(t) (right-continuous: events at t are included).
func (km KaplanMeier) At(t float64) float64 {
	k := sortSearchUpper(km.Times, t) // number of event times <= t
	if k == 0 {
		return 1
	}
	return km.Surv[k-1]
}

// Before returns S(t−), the survival just before t.
func (km KaplanMeier) Before(t float64) float64 {
	k, _ := slices.BinarySearch(km.Times, t) // number of event times < t
	if k == 0 {
		return 1
	}
	return km.Surv[k-1]
}

// CensorMode says what HorizonLabels does with rows censored before the
// horizon (their outcome by then is unknown).
type CensorMode int

const (
	// CensorIPCW keeps the informative rows and reweights them by the
	// inverse probability of remaining uncensored (see HorizonLabels).
	CensorIPCW CensorMode = iota
	// CensorDrop drops rows censored before the horizon and gives every
	// other row weight 1: simple, but biased towards early failures.
	CensorDrop
)

// HorizonSet is a P(fail within H) training set built from censored rows.
type HorizonSet struct {
	Index  []int     // rows kept, ascending, into the caller's inputs
	Label  []float64 // 1 = failed within H, 0 = survived past H
	Weight []float64 // > 0
}

// HorizonLabels turns censored survival rows (duration T_i from the row's
// time to failure or to the end of follow-up, observed_i true when it ended
// in a failure) into labels and weights for a classifier of
// P(T ≤ horizon), in the same time unit (days for RUL).
//
//   - failed within the horizon (observed, T ≤ H): label 1;
//   - followed beyond the horizon (T > H, failed or not): label 0;
//   - censored within the horizon (not observed, T ≤ H): unknown, dropped.
//
// With CensorIPCW the kept rows are weighted by the inverse probability of
// censoring weights of Graf et al. (1999): 1/Ĝ(T_i−) for label 1 and
// 1/Ĝ(H) for label 0, Ĝ the Kaplan-Meier estimate of the censoring
// survival P(C > t) (censorings as events, failures as censorings). Under
// censoring independent of failure, the weighted mean Σ w·label / n
// estimates P(T ≤ H) without bias; with no ties it equals 1 − KM(H) (Satten
// & Datta 2001). Ĝ is floored at minG (e.g. 0.05) so a few late rows
// cannot take huge weights; minG = 0 disables the floor (rows with Ĝ = 0
// are then dropped). With CensorDrop all kept weights are 1.
func HorizonLabels(duration []float64, observed []bool, horizon float64, mode CensorMode, minG float64) (HorizonSet, error) {
	if !(horizon > 0) || math.IsInf(horizon, 0) {
		return HorizonSet{}, fmt.Errorf("ml: horizon labels: horizon %v: %w", horizon, ErrParams)
	}
	if !(minG >= 0 && minG < 1) {
		return HorizonSet{}, fmt.Errorf("ml: horizon labels: min G %v not in [0,1): %w", minG, ErrParams)
	}
	var g KaplanMeier
	if mode == CensorIPCW {
		cens := make([]bool, len(observed))
		for i, o := range observed {
			cens[i] = !o
		}
		var err error
		if g, err = FitKaplanMeier(duration, cens); err != nil {
			return HorizonSet{}, fmt.Errorf("ml: horizon labels: censoring curve: %w", err)
		}
	} else if mode != CensorDrop {
		return HorizonSet{}, fmt.Errorf("ml: horizon labels: censor mode %d: %w", mode, ErrParams)
	} else if len(duration) != len(observed) {
		return HorizonSet{}, fmt.Errorf("ml: horizon labels: %d durations, %d flags: %w", len(duration), len(observed), ErrShape)
	}
	var hs HorizonSet
	for i, t := range duration {
		if math.IsNaN(t) || t < 0 {
			return HorizonSet{}, fmt.Errorf("ml: horizon labels: duration %d is %v: %w", i, t, ErrNonFinite)
		}
		var label, gv float64
		switch {
		case t > horizon:
			label, gv = 0, g.At(horizon)
		case observed[i]:
			label, gv = 1, g.Before(t)
		default:
			continue // censored inside the horizon: outcome unknown
		}
		wt := 1.0
		if mode == CensorIPCW {
			gv = max(gv, minG)
			if gv <= 0 {
				continue
			}
			wt = 1 / gv
		}
		hs.Index = append(hs.Index, i)
		hs.Label = append(hs.Label, label)
		hs.Weight = append(hs.Weight, wt)
	}
	if len(hs.Index) == 0 {
		return HorizonSet{}, fmt.Errorf("ml: horizon labels: no row informative at horizon %v: %w", horizon, ErrEmpty)
	}
	return hs, nil
}
