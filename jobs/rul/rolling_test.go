package rul

import (
	"math"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/ml"
	"github.com/google/uuid"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestQuarterEndOnOrBefore(t *testing.T) {
	for in, want := range map[string]string{
		"2025-08-31": "2025-06-30", "2025-09-30": "2025-09-30", "2025-10-31": "2025-09-30",
		"2026-01-31": "2025-12-31", "2026-03-31": "2026-03-31", "2026-04-01": "2026-03-31", "2026-12-31": "2026-12-31",
	} {
		if got := quarterEndOnOrBefore(day(in)); !got.Equal(day(want)) {
			t.Errorf("quarter end on or before %s = %s, want %s", in, got.Format(time.DateOnly), want)
		}
	}
}

// twoJarSet: jar A ends 2026-02-15, jar B 2026-08-20; rows as of every
// month end from 2025-10-31 to the horizon 2026-10-31 (telemetry from
// 2025-09-01).
func twoJarSet() (*Set, uuid.UUID, uuid.UUID) {
	a, b := uuid.MustParse("00000000-0000-0000-0000-00000000000a"), uuid.MustParse("00000000-0000-0000-0000-00000000000b")
	tr := &Truth{EOS: map[uuid.UUID]time.Time{a: day("2026-02-15"), b: day("2026-08-20")}}
	h := day("2026-10-31")
	s := &Set{Frame: &derive.RULFrame{}, Horizon: h, telemetry: day("2025-09-01"), truth: tr}
	nf := len(derive.RULFeatureNames)
	for d := day("2025-11-01"); !d.After(h.AddDate(0, 0, 1)); d = d.AddDate(0, 1, 0) {
		asOf := d.AddDate(0, 0, -1)
		s.Days = append(s.Days, asOf)
		for _, id := range []uuid.UUID{a, b} {
			lb, _ := tr.LabelOf(id, asOf, h)
			s.Frame.Rows = append(s.Frame.Rows, derive.RULRow{AsOf: asOf, Battery: id})
			s.Frame.X = append(s.Frame.X, make([]float64, nf)...)
			s.Labels = append(s.Labels, lb)
			s.Splits = append(s.Splits, "train")
		}
	}
	return s, a, b
}

// At(c) censors every label at c and drops the rows after c: what a model
// trained at c may know.
func TestSetAtCensorsAtTheCutoff(t *testing.T) {
	s, a, b := twoJarSet()
	c := day("2026-03-31")
	v := s.At(c)
	rows := v.rowsOf("train", nil)
	for _, i := range rows {
		r, lb := v.Frame.Rows[i], v.Labels[i]
		if r.AsOf.After(c) {
			t.Fatalf("row as of %s kept at cutoff %s", r.AsOf.Format(time.DateOnly), c.Format(time.DateOnly))
		}
		switch r.Battery {
		case a: // ended before c: observed, its true RUL
			if !lb.Observed || lb.RULDays != lb.TrueRULDays {
				t.Errorf("jar A as of %s: %+v, want observed with its true RUL", r.AsOf.Format(time.DateOnly), lb)
			}
		case b: // ends after c: censored at c, though observed at the horizon
			want := c.Sub(r.AsOf).Hours() / 24
			if lb.Observed || lb.RULDays != want || lb.TrueRULDays <= want {
				t.Errorf("jar B as of %s: %+v, want censored at %v days", r.AsOf.Format(time.DateOnly), lb, want)
			}
			if s.Labels[i].Observed != true {
				t.Errorf("jar B at the horizon should be observed")
			}
			if want < 90 && lb.Fail90 != -1 || want >= 90 && lb.Fail90 != 0 {
				t.Errorf("jar B as of %s: fail_within_90d %d with %v days to the cutoff", r.AsOf.Format(time.DateOnly), lb.Fail90, want)
			}
		}
	}
	// 2025-10-31 .. 2026-03-31: six month ends, two jars.
	if len(rows) != 12 {
		t.Fatalf("%d rows at cutoff %s, want 12", len(rows), c.Format(time.DateOnly))
	}
	if got := len(s.rowsOf("train", nil)); got != 2*len(s.Days) {
		t.Fatalf("the horizon's set lost rows: %d", got)
	}
}

func TestCutoffsQuarterlyAndHorizon(t *testing.T) {
	s, _, _ := twoJarSet()
	var got []string
	for _, c := range s.Cutoffs() {
		got = append(got, c.Format(time.DateOnly))
	}
	want := []string{"2025-09-30", "2025-12-31", "2026-03-31", "2026-06-30", "2026-09-30", "2026-10-31"}
	if len(got) != len(want) {
		t.Fatalf("cutoffs %v, want %v", got, want)
	}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("cutoffs %v, want %v", got, want)
		}
	}
	ms := []*Models{{Cutoff: day("2025-09-30")}, {Cutoff: day("2025-12-31")}, {Cutoff: day("2026-10-31")}}
	for d, w := range map[string]int{"2025-09-29": -1, "2025-09-30": 0, "2025-11-30": 0, "2025-12-31": 1, "2026-09-30": 1, "2026-10-31": 2} {
		m := modelAt(ms, day(d))
		if w < 0 && m != nil || w >= 0 && m != ms[w] {
			t.Errorf("model of %s: %v, want set %d", d, m, w)
		}
	}
}

func TestLifecycle(t *testing.T) {
	pass := &Evaluation{Rows: 10, Coverage95: 0.95, RMSEGain: 0.3}
	fail := &Evaluation{Rows: 10, Coverage95: 0.7, RMSEGain: 0.3}
	got := lifecycle([]*Evaluation{pass, fail, pass, fail})
	want := []string{"retired", "staging", "production", "staging"}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("lifecycle %v, want %v", got, want)
		}
	}
	if got := lifecycle([]*Evaluation{fail, {}}); got[0] != "staging" || got[1] != "staging" {
		t.Fatalf("nothing passes: %v", got)
	}
}

// The fused interval brackets its estimate and the ML interval; without a
// twin estimate the fused prediction is the ML one; with one, its stratum's
// weight.
func TestFusedCombination(t *testing.T) {
	m := &Models{Fuse: Fuse{Edges: fuseEdges, Strata: []FuseStratum{{W: 0.75}, {W: 1}, {W: 0.9}}}}
	x := make([]float64, len(derive.RULFeatureNames))
	for j := range x {
		x[j] = math.NaN()
	}
	p := Prediction{RUL: 400, Lo: 300, Hi: 600}
	f := m.fused(p, x)
	if f.RUL != 400 || f.WeightML != 1 || f.Lo != 300 || f.Hi != 600 || f.Stratum != -1 {
		t.Fatalf("without the twin: %+v", f)
	}
	x[derive.RULFeatureIndex("age_days")], x[derive.RULFeatureIndex("twin_capacity_fade_pct")] = 1000, 10 // twin: 1000 days
	f = m.fused(p, x)
	if f.Twin != 1000 || f.Stratum != 1 || f.RUL != 400 || f.WeightML != 1 {
		t.Fatalf("twin in the 1-3 year stratum: %+v", f)
	}
	x[derive.RULFeatureIndex("twin_capacity_fade_pct")] = 19.9 // twin: ~5 days
	f = m.fused(p, x)
	tw := 1000 * 0.1 / 19.9
	if f.Stratum != 0 || math.Abs(f.RUL-(0.75*400+0.25*tw)) > 1e-9 || f.WeightML != 0.75 || f.Lo != 300 || f.Hi != 600 {
		t.Fatalf("twin within a year: %+v", f)
	}
	m.Fuse.Strata[0].W = 0.2 // the fused point leaves the ML interval: the hull holds it
	if f = m.fused(p, x); !(f.Lo == f.RUL && f.RUL < 300 && f.Hi == 600) {
		t.Fatalf("fused point below the ML interval: %+v", f)
	}
}

// The weight is fitted from the validation rows: a twin that is right on
// the observed rows and never contradicted by the censored ones gets all
// the weight; one that calls censored long-lived jars short loses it.
func TestFitFuseCensoringAware(t *testing.T) {
	s, _, _ := twoJarSet()
	fit := func(follow int, twin func(i int) float64, label func(i int) Label) Fuse {
		v := *s
		v.Horizon = s.Horizon.AddDate(follow, 0, 0) // the cutoff: rows followed that many more years
		v.Frame = &derive.RULFrame{Rows: s.Frame.Rows, X: append([]float64(nil), s.Frame.X...)}
		v.Labels = make([]Label, len(s.Labels))
		var val []int
		for i := range s.Labels {
			x := v.Frame.Row(i)
			for j := range x {
				x[j] = math.NaN()
			}
			// age 1000 and a fade that extrapolates to twin(i) days
			tw := twin(i)
			x[derive.RULFeatureIndex("age_days")], x[derive.RULFeatureIndex("twin_capacity_fade_pct")] = 1000, 20*1000/(1000+tw)
			v.Labels[i] = label(i)
			val = append(val, i, i) // twice: above minFuseRows
		}
		m := &Models{Point: constGBM(t, 300), Lo: constGBM(t, 0), Hi: constGBM(t, 1000)}
		return fitFuse(&v, m, val)
	}
	// Observed ends 100 days out; the twin says 100, the ML model 300.
	f := fit(1, func(int) float64 { return 100 }, func(int) Label { return Label{RULDays: 100, Observed: true} })
	if f.Strata[0].W != 0 || f.Strata[0].Observed != 2*len(s.Labels) {
		t.Fatalf("a twin right on every observed row: %+v", f.Strata)
	}
	// Censored 250 days out (the jars live longer): the twin's 100 is
	// known wrong, the ML model's 300 is not.
	f = fit(1, func(int) float64 { return 100 }, func(int) Label { return Label{RULDays: 250} })
	if f.Strata[0].W != 1 || f.Strata[0].Censored != 2*len(s.Labels) {
		t.Fatalf("a twin that calls censored jars short: %+v", f.Strata)
	}
	// Rows followed for less than a year do not fit the twin's first
	// stratum: at the set's own horizon only the oldest day's rows qualify,
	// too few to move the weight.
	f = fit(0, func(int) float64 { return 100 }, func(int) Label { return Label{RULDays: 100, Observed: true} })
	if f.Strata[0].W != 1 || f.Strata[0].Observed != 4 {
		t.Fatalf("short follow-up: %+v", f.Strata)
	}
}

// constGBM predicts v everywhere (over RULFeatures).
func constGBM(t *testing.T, v float64) *ml.GBM {
	t.Helper()
	const n = 50
	X := ml.NewMatrix(n, len(RULFeatures))
	y := make([]float64, n)
	for i := range y {
		y[i] = v
	}
	p := ml.DefaultParams()
	p.Trees = 2
	g, err := ml.Fit(X, y, nil, RULFeatures, p)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
