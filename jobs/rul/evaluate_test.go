package rul

import (
	"math"
	"testing"

	"github.com/battlake/battlake/jobs/derive"
)

// The truth features: the fade rate is the true SOH lost over the 90-day
// window, per year; the straight-line extrapolation runs to 80 % at that
// rate (0 below 80 %, 20 years without a fall, NaN without a true SOH).
func TestTruthFeaturesHandCase(t *testing.T) {
	s, _, _ := twoJarSet()
	n := len(s.Labels)
	tf := &truthFeatures{s: s, now: make([]float64, n), then: make([]float64, n)}
	for i := range tf.now {
		tf.now[i], tf.then[i] = math.NaN(), math.NaN()
	}
	ia := derive.RULFeatureIndex("age_days")
	s.Frame.Row(0)[ia] = 1000
	tf.now[0], tf.then[0] = 90, 91 // 1 % per 90 days
	tf.now[1], tf.then[1] = 79.5, 80
	tf.now[2], tf.then[2] = 95, 95 // no fade
	tf.now[3] = 92                 // no SOH 90 days before
	row := tf.row(0)
	if row[0] != 1000 || row[1] != 90 || math.Abs(row[2]-365.25/90) > 1e-12 {
		t.Errorf("row 0 = %v, want [1000 90 %v]", row, 365.25/90)
	}
	for i, want := range []float64{900, 0, maxRULDays, maxRULDays, math.NaN()} {
		got := tf.linear(i)
		if ok := math.IsNaN(want) && math.IsNaN(got) || math.Abs(got-want) <= 1e-9; !ok {
			t.Errorf("linear(%d) = %v, want %v", i, got, want)
		}
	}
	if r := tf.row(3); !math.IsNaN(r[2]) || r[1] != 92 {
		t.Errorf("row 3 = %v, want a missing rate", r)
	}
}
