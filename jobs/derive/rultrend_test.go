package derive

import (
	"math"
	"testing"
)

// rSeries is n days of telemetry resistance from day number first: 5 mΩ
// rising 0.01 mΩ a day, with no row on days 100-109 (an outage). The days
// are added last to first, to exercise the series' growth both ways.
func rSeries(first int32, n int) *dailyR {
	d := &dailyR{}
	for k := n - 1; k >= 0; k-- {
		i := d.slot(first + int32(k))
		if k < 100 || k >= 110 {
			d.r[i] = float32(5 + 0.01*float64(k))
		}
	}
	return d
}

func trendsOf(d *dailyR, day int32) map[string]float64 {
	out := map[string]float64{}
	trendFeatures(d, day, func(n string, v float64) { out[n] = v })
	return out
}

func TestTrendFeaturesHandChecked(t *testing.T) {
	const first = 20000
	// As of day 199: the 60-day window is days 140..199 (mean 5 + 0.01·169.5);
	// the 180-day window days 20..199 less the outage, 170 days (mean
	// 5 + 0.01·(Σk)/170); the 365-day window has 190 of 365 days: known.
	// As of day 150: the 60-day window is days 91..150 less the outage (50
	// days); the 365-day window has 141 days, fewer than half: unknown.
	sum180 := 0.0
	for k := 20; k < 200; k++ {
		if k < 100 || k >= 110 {
			sum180 += float64(k)
		}
	}
	sum365 := 0.0
	for k := 0; k < 200; k++ {
		if k < 100 || k >= 110 {
			sum365 += float64(k)
		}
	}
	slope := 0.01 * 365.25 // mΩ per year
	cases := []struct {
		day  int32
		want map[string]float64
	}{
		{199, map[string]float64{
			"r_trend60_pct_per_year":  slope / (5 + 0.01*169.5) * 100,
			"r_trend180_pct_per_year": slope / (5 + 0.01*sum180/170) * 100,
			"r_trend365_pct_per_year": slope / (5 + 0.01*sum365/190) * 100,
		}},
		{150, map[string]float64{
			"r_trend60_pct_per_year":  slope / (5 + 0.01*(60*120.5-10*104.5)/50) * 100,
			"r_trend180_pct_per_year": slope / (5 + 0.01*(151*75-10*104.5)/141) * 100,
		}},
	}
	d := rSeries(first, 200)
	for _, c := range cases {
		got := trendsOf(d, first+c.day)
		for name, w := range c.want {
			g, ok := got[name]
			if !ok || math.Abs(g-w) > 1e-4*math.Abs(w) {
				t.Errorf("as of day %d: %s = %v (set %v), want %v", c.day, name, g, ok, w)
			}
		}
		for name, v := range got {
			if _, ok := c.want[name]; !ok {
				t.Errorf("as of day %d: %s = %v, want unset (window covered less than half)", c.day, name, v)
			}
		}
	}
	for _, name := range trendNames() {
		if RULFeatureIndex(name) < 0 {
			t.Errorf("%s is not a RUL feature", name)
		}
	}
}

// TestTrendFeaturesPointInTime: a value as of day d does not change when
// later days are added, even days that would turn every trend.
func TestTrendFeaturesPointInTime(t *testing.T) {
	const first = 20000
	for _, asOf := range []int{40, 120, 250, 500} {
		short := rSeries(first, asOf+1)
		long := rSeries(first, 700)
		for k := asOf + 1; k < 700; k++ {
			long.r[k] = 1 // a later collapse of the resistance
		}
		a, b := trendsOf(short, first+int32(asOf)), trendsOf(long, first+int32(asOf))
		if len(a) == 0 {
			t.Fatalf("as of day %d: no trend set", asOf)
		}
		if len(a) != len(b) {
			t.Errorf("as of day %d: %d trends with the history to that day, %d with later days", asOf, len(a), len(b))
		}
		for name, v := range a {
			if b[name] != v {
				t.Errorf("as of day %d: %s = %v, %v once later days are added", asOf, name, v, b[name])
			}
		}
	}
	// Before the telemetry starts, nothing is known.
	if got := trendsOf(rSeries(first, 200), first-1); len(got) != 0 {
		t.Errorf("before the telemetry: %v, want no trend", got)
	}
}
