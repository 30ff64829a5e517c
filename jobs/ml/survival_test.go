package ml

import (
	"errors"
	"math"
	"testing"
)

func TestKaplanMeierHandCase(t *testing.T) {
	// Risk sets: t=1: 5 at risk, 1 event → 0.8; t=2: 4 at risk, 1 event
	// (the censoring at 2 counts after) → 0.6; t=3: 2 at risk, 1 event → 0.3.
	km, err := FitKaplanMeier([]float64{2, 1, 3, 2, 4}, []bool{true, true, true, false, false})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.8, 0.6, 0.3}
	if len(km.Times) != 3 || km.Times[0] != 1 || km.Times[1] != 2 || km.Times[2] != 3 {
		t.Fatalf("times %v, want [1 2 3]", km.Times)
	}
	for i, w := range want {
		if !close(km.Surv[i], w, 1e-12) {
			t.Errorf("S(%v) = %v, want %v", km.Times[i], km.Surv[i], w)
		}
	}
	for _, c := range []struct{ t, at, before float64 }{{0.5, 1, 1}, {1, 0.8, 1}, {2, 0.6, 0.8}, {2.5, 0.6, 0.6}, {10, 0.3, 0.3}} {
		if a, b := km.At(c.t), km.Before(c.t); !close(a, c.at, 1e-12) || !close(b, c.before, 1e-12) {
			t.Errorf("t=%v: At %v Before %v, want %v %v", c.t, a, b, c.at, c.before)
		}
	}
}

func TestHorizonLabelsIPCW(t *testing.T) {
	// Failure T ~ Exp(rate 1/200 d), censoring C ~ Exp(rate 1/150 d),
	// independent. True P(T ≤ 90) = 1 − e^(−0.45).
	rng := testRNG(50)
	n := 4000
	dur := make([]float64, n)
	obs := make([]bool, n)
	for i := range dur {
		tf := rng.ExpFloat64() * 200
		tc := rng.ExpFloat64() * 150
		dur[i], obs[i] = min(tf, tc), tf <= tc
	}
	const H = 90.0
	truth := 1 - math.Exp(-H/200)
	hs, err := HorizonLabels(dur, obs, H, CensorIPCW, 0)
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for k, l := range hs.Label {
		s += hs.Weight[k] * l
		if i := hs.Index[k]; (l == 1) != (obs[i] && dur[i] <= H) {
			t.Fatalf("row %d: label %v for duration %.1f observed %v", i, l, dur[i], obs[i])
		}
	}
	ipcw := s / float64(n)
	km, _ := FitKaplanMeier(dur, obs)
	// Satten & Datta (2001): with no ties the IPCW estimate is exactly 1 − KM.
	if !close(ipcw, 1-km.At(H), 1e-9) {
		t.Errorf("IPCW estimate %.9f, 1 − KM(H) %.9f", ipcw, 1-km.At(H))
	}
	// KM's sd here is ~0.009.
	if !close(ipcw, truth, 0.03) {
		t.Errorf("IPCW estimate %.4f, truth %.4f", ipcw, truth)
	}
	// Dropping the censored rows instead overstates early failure.
	hd, _ := HorizonLabels(dur, obs, H, CensorDrop, 0)
	var pos float64
	for k, l := range hd.Label {
		if hd.Weight[k] != 1 {
			t.Fatal("drop mode must weight rows 1")
		}
		pos += l
	}
	if naive := pos / float64(len(hd.Label)); naive < truth+0.03 {
		t.Errorf("naive drop estimate %.4f not above truth %.4f: test data lost its censoring bias", naive, truth)
	}
	// The floor caps weights.
	hf, _ := HorizonLabels(dur, obs, H, CensorIPCW, 0.8)
	for _, w := range hf.Weight {
		if w > 1/0.8+1e-12 {
			t.Fatalf("weight %v above 1/minG", w)
		}
	}
	if _, err := HorizonLabels(dur, obs, 0, CensorIPCW, 0); !errors.Is(err, ErrParams) {
		t.Errorf("horizon 0: %v", err)
	}
}
