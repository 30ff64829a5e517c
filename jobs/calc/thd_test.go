package calc

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// synth fills a ripple waveform: fundamental f1 with peak a1, harmonics
// 2..len(rel)+1 at a1·thd·rel[h]/|rel| (so the true THD is thd), random
// phases, and Gaussian noise of sigma·a1.
func synth(n int, rate, f1, a1, thd float64, rel []float64, sigma float64, rng *rand.Rand) []float64 {
	norm := 0.0
	for _, r := range rel {
		norm += r * r
	}
	norm = math.Sqrt(norm)
	x := make([]float64, n)
	for h := 1; h <= len(rel)+1; h++ {
		amp := a1
		if h > 1 {
			amp = a1 * thd * rel[h-2] / norm
		}
		ph := 2 * math.Pi * rng.Float64()
		w := 2 * math.Pi * f1 * float64(h) / rate
		for j := range x {
			x[j] += amp * math.Sin(w*float64(j)+ph)
		}
	}
	for j := range x {
		x[j] += 0.01 + sigma*a1*rng.NormFloat64() // a DC offset too
	}
	return x
}

func TestTHDKnownHarmonics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shape := []float64{1, 0.8, 0.5, 0.45, 0.3, 0.25} // harmonics 2..7
	var k THD
	for _, c := range []struct {
		name         string
		n            int
		rate, f1     float64
		thdPct, hint float64
	}{
		{"rectifier 300 Hz, new", 256, 6400, 300, 2, 0},
		{"rectifier 300 Hz, worn", 256, 6400, 300, 15, 0},
		{"UPS 100 Hz", 256, 6400, 100, 8, 0},
		{"UPS 100 Hz with a hint", 256, 6400, 100, 8, 100},
		{"60 Hz grid rectifier 360 Hz, between bins", 256, 6400, 360, 10, 0},
		{"longer capture between bins", 1024, 6400, 310, 5, 300},
	} {
		for trial := range 5 {
			x := synth(c.n, c.rate, c.f1, 0.05, c.thdPct/100, shape, 0.003, rng)
			got, f1, err := k.Compute(x, c.rate, c.hint)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if math.Abs(got-c.thdPct) > 0.1 {
				t.Errorf("%s trial %d: THD %.3f %%, want %.1f ± 0.1", c.name, trial, got, c.thdPct)
			}
			if math.Abs(f1-c.f1) > 1 {
				t.Errorf("%s trial %d: fundamental %.2f Hz, want %g", c.name, trial, f1, c.f1)
			}
		}
	}
	// A pure tone has no distortion; a square wave has THD 48.3 % (odd
	// harmonics 1/h; here up to Nyquist, harmonics 3..15 of 200 Hz: 46.4 %).
	x := synth(256, 6400, 200, 1, 0, []float64{1}, 0, rng)
	if got, _, _ := k.Compute(x, 6400, 0); got > 0.01 {
		t.Errorf("pure tone: THD %.4f %%", got)
	}
	sq := make([]float64, 256)
	for j := range sq {
		for h := 1; h <= 15; h += 2 {
			sq[j] += math.Sin(2*math.Pi*200*float64(h)*float64(j)/6400) / float64(h)
		}
	}
	want := 0.0
	for h := 3; h <= 15; h += 2 {
		want += 1 / float64(h*h)
	}
	want = math.Sqrt(want) * 100
	if got, _, _ := k.Compute(sq, 6400, 0); math.Abs(got-want) > 0.1 {
		t.Errorf("square wave: THD %.3f %%, want %.3f", got, want)
	}
	if _, _, err := k.Compute(make([]float64, 256), 6400, 0); err == nil {
		t.Error("flat capture: no error")
	}
	if _, _, err := k.Compute(synth(256, 6400, 25, 1, 0.1, shape, 0, rng), 6400, 0); err == nil || !strings.Contains(err.Error(), "three bins") {
		t.Errorf("one-cycle capture: %v", err)
	}
}

// rippleRows appends one capture's rows.
func rippleRows(b *RippleBatch, s UUID, ts int64, x []float64) {
	for j, v := range x {
		b.CaptureTS = append(b.CaptureTS, ts)
		b.StringID = append(b.StringID, s)
		b.SampleIdx = append(b.SampleIdx, int32(j))
		b.SampleRateHz = append(b.SampleRateHz, 6400)
		b.RippleTenthMV = append(b.RippleTenthMV, int32(math.Round(v*1e4)))
	}
}

func TestStringCalcPowerAndTHDAsOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shape := []float64{1, 0.8, 0.5, 0.45, 0.3, 0.25}
	s1, s2 := id(1), id(2)
	t0 := int64(1_000_000) * hourUS
	capUS := int64(40_000) // 256 samples at 6.4 kHz
	var rb RippleBatch
	rippleRows(&rb, s1, t0, synth(256, 6400, 300, 0.05, 0.03, shape, 0.003, rng))
	rippleRows(&rb, s1, t0+hourUS, synth(256, 6400, 300, 0.05, 0.12, shape, 0.003, rng))
	bad := synth(256, 6400, 300, 0.05, 0.07, shape, 0.003, rng)
	rippleRows(&rb, s1, t0+2*hourUS, bad)
	gap := 2*256 + 100 // capture 3 loses sample 100
	rb = RippleBatch{del(rb.CaptureTS, gap), del(rb.StringID, gap), del(rb.SampleIdx, gap), del(rb.SampleRateHz, gap), del(rb.RippleTenthMV, gap)}
	rippleRows(&rb, s2, t0, synth(256, 6400, 100, 0.05, 0.05, shape, 0.003, rng))
	r := NewRippleTHD(nil)
	// Split the rows into uneven batches: captures cross batch boundaries.
	for lo := 0; lo < rb.Len(); lo += 100 {
		hi := min(lo+100, rb.Len())
		part := RippleBatch{rb.CaptureTS[lo:hi], rb.StringID[lo:hi], rb.SampleIdx[lo:hi], rb.SampleRateHz[lo:hi], rb.RippleTenthMV[lo:hi]}
		if err := r.Add(&part); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if r.Skipped != 1 {
		t.Errorf("skipped %d captures, want the one with a missing sample", r.Skipped)
	}
	in := StringBatch{}
	add := func(s UUID, ts int64, v, a int32) {
		in.TS, in.StringID = append(in.TS, ts), append(in.StringID, s)
		in.VoltageCentiV, in.CurrentMA = append(in.VoltageCentiV, v), append(in.CurrentMA, a)
	}
	add(s1, t0-1, 28850, -12345)               // before any capture
	add(s1, t0+capUS-1, 28850, 5)              // capture 1 not finished yet
	add(s1, t0+capUS, -100, 5)                 // capture 1 known
	add(s1, t0+hourUS+capUS/2, 100, -5)        // during capture 2: still capture 1
	add(s1, t0+hourUS+capUS, Null32, 1000)     // capture 2
	add(s1, t0+2*hourUS+capUS, 28850, Null32)  // the gapped capture: NULL, not capture 2
	add(s2, t0+capUS+25*hourUS, 28850, 100000) // older than MaxAge: NULL
	add(s2, t0+capUS+5*hourUS, 28850, 100000)  // unsorted
	c := NewStringCalc(r)
	var out StringCalcOut
	err := c.Run(&StringBatch{in.TS[:7], in.StringID[:7], in.VoltageCentiV[:7], in.CurrentMA[:7]}, &out)
	if err != nil {
		t.Fatal(err)
	}
	// 288.50 V × −12.345 A = −3561.53 W; 288.50 V × 0.005 A = 1.4425 W;
	// −1.00 V × 0.005 A = −0.005 W rounds half away from zero to −0.01 W.
	wantP := []int64{-356153, 144, -1, -1, Null64, Null64, 2885000}
	for i, w := range wantP {
		if out.PowerCentiW[i] != w {
			t.Errorf("row %d: power %d, want %d", i, out.PowerCentiW[i], w)
		}
	}
	thd1, thd2 := out.THDCentiPct[2], out.THDCentiPct[4]
	if math.Abs(float64(thd1)-300) > 10 || math.Abs(float64(thd2)-1200) > 10 {
		t.Errorf("THD of captures 1 and 2: %d, %d (×0.01 %%), want ~300 and ~1200", thd1, thd2)
	}
	wantT := []int32{Null32, Null32, thd1, thd1, thd2, Null32, Null32}
	for i, w := range wantT {
		if out.THDCentiPct[i] != w {
			t.Errorf("row %d: THD %d, want %d", i, out.THDCentiPct[i], w)
		}
	}
	if err := c.Run(&StringBatch{in.TS[7:], in.StringID[7:], in.VoltageCentiV[7:], in.CurrentMA[7:]}, &out); err == nil || !strings.Contains(err.Error(), "not sorted") {
		t.Errorf("unsorted rows: %v", err)
	}
	// Valid decimals cannot overflow DECIMAL(10,2) (9999.99 V × 9999.999 A
	// < 1e8 W); values beyond their own precision are refused.
	over := StringBatch{[]int64{t0}, []UUID{s1}, []int32{2_000_000_000}, []int32{2_000_000_000}}
	if err := NewStringCalc(r).Run(&over, &out); err == nil || !strings.Contains(err.Error(), "power_w") {
		t.Errorf("overflowing power: %v", err)
	}
}

func del[T any](s []T, i int) []T { return append(s[:i:i], s[i+1:]...) }
