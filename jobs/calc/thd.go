package calc

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"slices"

	"gonum.org/v1/gonum/dsp/fourier"
)

// THD measures the total harmonic distortion of a ripple capture with a
// real FFT (gonum dsp/fourier). One THD value reuses its FFT plan and
// buffers across captures of the same length; it is not safe for
// concurrent use.
//
// Method:
//   - remove the mean (the capture is the AC ripple; any DC offset of the
//     probe would otherwise leak into the lowest bins);
//   - apply a periodic Hann window: a tone on a bin centre then lands in
//     exactly three bins (k−1, k, k+1) and in none further out, and a tone
//     between bins still stays within ±2 bins, where a rectangular window
//     would leak across the whole spectrum;
//   - the fundamental is the strongest bin (within ±20 % of a hint when
//     the caller knows the nominal ripple frequency: 100 Hz for a UPS's
//     inverter draw, 300 Hz for a 6-pulse rectifier on a 50 Hz grid,
//     from battery_system.system_type), refined between bins by Gaussian
//     (log-parabolic) interpolation, which is exact for a Hann main lobe
//     to a few hundredths of a bin;
//   - the power of harmonic h is the sum of |X|² over the three bins
//     around h·f1 (the Hann main lobe), for every h with those bins below
//     Nyquist;
//   - THD = sqrt(Σ_{h≥2} P_h) / sqrt(P_1) × 100.
//
// The bands of neighbouring harmonics must not overlap, so the capture
// must hold at least three cycles of the fundamental (a 40 ms capture at
// 6.4 kHz has 25 Hz bins: 100 Hz is bin 4, 300 Hz bin 12).
type THD struct {
	fft  *fourier.FFT
	win  []float64
	x    []float64
	coef []complex128
	pow  []float64
}

// ErrCapture marks a capture that cannot be analysed (too short for its
// fundamental, flat, or NaN).
var ErrCapture = errors.New("ripple capture cannot be analysed")

// Compute returns the THD (percent) and the fundamental (Hz) of samples
// taken at rateHz. hintHz > 0 restricts the fundamental search to ±20 %
// of it; 0 searches the whole spectrum.
func (t *THD) Compute(samples []float64, rateHz, hintHz float64) (thdPct, f1Hz float64, err error) {
	n := len(samples)
	if n < 16 || !(rateHz > 0) {
		return 0, 0, fmt.Errorf("%w: %d samples at %g Hz", ErrCapture, n, rateHz)
	}
	if t.fft == nil || t.fft.Len() != n {
		t.fft = fourier.NewFFT(n)
		t.win = make([]float64, n)
		for i := range t.win {
			t.win[i] = 0.5 * (1 - math.Cos(2*math.Pi*float64(i)/float64(n)))
		}
		t.x = make([]float64, n)
		t.coef = make([]complex128, n/2+1)
		t.pow = make([]float64, n/2+1)
	}
	mean := 0.0
	for _, v := range samples {
		mean += v
	}
	mean /= float64(n)
	for i, v := range samples {
		t.x[i] = (v - mean) * t.win[i]
	}
	t.fft.Coefficients(t.coef, t.x)
	for k, c := range t.coef {
		a := cmplx.Abs(c)
		t.pow[k] = a * a
	}
	df := rateHz / float64(n)
	last := n/2 - 1 // highest bin with a right neighbour below Nyquist
	lo, hi := 2, last
	if hintHz > 0 {
		lo = max(lo, int(math.Floor(0.8*hintHz/df)))
		hi = min(hi, int(math.Ceil(1.2*hintHz/df)))
	}
	k1 := -1
	for k := lo; k <= hi; k++ {
		if k1 < 0 || t.pow[k] > t.pow[k1] {
			k1 = k
		}
	}
	if k1 < 3 || !(t.pow[k1] > 0) {
		return 0, 0, fmt.Errorf("%w: no fundamental at least three bins above DC (peak bin %d of %d)", ErrCapture, k1, n)
	}
	// Gaussian interpolation of the peak between bins.
	delta := 0.0
	if a, b, c := t.pow[k1-1], t.pow[k1], t.pow[k1+1]; a > 0 && c > 0 {
		la, lb, lc := math.Log(a), math.Log(b), math.Log(c)
		if den := la - 2*lb + lc; den < 0 {
			delta = clamp(0.5*(la-lc)/den, -0.5, 0.5)
		}
	}
	fk := float64(k1) + delta
	band := func(center int) float64 { return t.pow[center-1] + t.pow[center] + t.pow[center+1] }
	p1 := band(k1)
	harm := 0.0
	for h := 2; ; h++ {
		c := int(math.Round(float64(h) * fk))
		if c > last {
			break
		}
		harm += band(c)
	}
	return math.Sqrt(harm/p1) * 100, fk * df, nil
}

// RippleBatch is a batch of ripple_capture rows, sorted by (string_id,
// capture_ts, sample_idx) as the table is. Null32 is NULL.
type RippleBatch struct {
	CaptureTS     []int64 // UTC microseconds, the capture's start
	StringID      []UUID
	SampleIdx     []int32
	SampleRateHz  []int32
	RippleTenthMV []int32 // ripple_voltage_v DECIMAL(6,4): 0.1 mV
}

// Len is the number of rows.
func (b *RippleBatch) Len() int { return len(b.CaptureTS) }

type thdSeries struct {
	knownAt []int64 // capture end: start + samples/rate
	thd     []int32 // thd_pct unscaled (scale 2), Null32 for a skipped capture
}

// RippleTHD turns ripple_capture rows into a THD series per string: one
// value per capture, known from the capture's end. Memory is one value per
// capture (24 a day per string at the default hourly cadence).
type RippleTHD struct {
	thd  THD
	hint func(stringID UUID) float64
	// Skipped counts captures that could not be analysed (missing or NULL
	// samples, too short): they carry a NULL THD rather than a guess, and
	// the string's previous capture does not stand in for them.
	Skipped int
	series  map[UUID]*thdSeries

	open    bool
	curID   UUID
	curTS   int64
	curRate int32
	bad     bool
	buf     []float64
}

// NewRippleTHD returns an accumulator. hint, if not nil, gives a string's
// nominal ripple fundamental in Hz (0 for unknown); see THD.
func NewRippleTHD(hint func(stringID UUID) float64) *RippleTHD {
	return &RippleTHD{hint: hint, series: make(map[UUID]*thdSeries)}
}

// Add consumes a batch; a capture may continue into the next batch.
func (r *RippleTHD) Add(b *RippleBatch) error {
	for i := range b.CaptureTS {
		id, ts := b.StringID[i], b.CaptureTS[i]
		if !r.open || id != r.curID || ts != r.curTS {
			if err := r.Flush(); err != nil {
				return err
			}
			r.open, r.curID, r.curTS, r.curRate, r.bad, r.buf = true, id, ts, b.SampleRateHz[i], false, r.buf[:0]
		}
		if int(b.SampleIdx[i]) != len(r.buf) || b.SampleRateHz[i] != r.curRate || b.RippleTenthMV[i] == Null32 {
			r.bad = true // a gap, a duplicate, a rate change or a NULL sample
		}
		r.buf = append(r.buf, float64(b.RippleTenthMV[i])/scaleRipple)
	}
	return nil
}

func (r *RippleTHD) durationMicros(n int, rate int32) int64 {
	if rate <= 0 {
		return 0
	}
	return int64(math.Round(float64(n) / float64(rate) * microsPerSecond))
}

// Flush completes the open capture. Call it after the last batch.
func (r *RippleTHD) Flush() error {
	if !r.open {
		return nil
	}
	r.open = false
	s := r.series[r.curID]
	if s == nil {
		s = &thdSeries{}
		r.series[r.curID] = s
	}
	known := r.curTS + r.durationMicros(len(r.buf), r.curRate)
	if n := len(s.knownAt); n > 0 && known <= s.knownAt[n-1] {
		return fmt.Errorf("ripple capture of string %s at %d: captures not sorted by (string_id, capture_ts)", idString(r.curID), r.curTS)
	}
	q := Null32
	if !r.bad {
		hint := 0.0
		if r.hint != nil {
			hint = r.hint(r.curID)
		}
		thd, _, err := r.thd.Compute(r.buf, float64(r.curRate), hint)
		switch {
		case errors.Is(err, ErrCapture):
			r.bad = true
		case err != nil:
			return err
		default:
			if q, err = colTHD.q32(thd); err != nil {
				return fmt.Errorf("ripple capture of string %s at %d: %w", idString(r.curID), r.curTS, err)
			}
		}
	}
	if r.bad {
		r.Skipped++
	}
	s.knownAt = append(s.knownAt, known)
	s.thd = append(s.thd, q)
	return nil
}

// StringBatch is a batch of telemetry_string_raw rows (the columns the
// kernels read), sorted by (string_id, ts). Null32 is NULL. The same batch
// feeds StringCalc and StringCurrents.
type StringBatch struct {
	TS            []int64 // UTC microseconds
	StringID      []UUID
	VoltageCentiV []int32 // voltage_v DECIMAL(6,2): 10 mV
	CurrentMA     []int32 // current_a DECIMAL(7,3): mA, positive charging, negative discharging
}

// Len is the number of rows.
func (b *StringBatch) Len() int { return len(b.TS) }

// StringCalcOut holds the computed columns of telemetry_string_calc, row
// for row with the input batch (ts and string_id are the input's own
// columns: the writer takes them from there, nothing is copied).
type StringCalcOut struct {
	PowerCentiW []int64 // power_w DECIMAL(10,2) on INT64, Null64
	THDCentiPct []int32 // thd_pct DECIMAL(5,2), Null32
}

// StringCalc computes telemetry_string_calc.
type StringCalc struct {
	// MaxAge (µs) is how long a capture describes the rectifier: a sample
	// more than MaxAge after the latest capture's end gets NULL THD rather
	// than a stale value. Default 24 h (captures are hourly by default).
	MaxAge int64
	thd    *RippleTHD

	curID  UUID
	curSet bool
	cur    *thdSeries
	idx    int // index of the latest capture known at the previous row, -1 none
	lastTS int64
}

// NewStringCalc returns the kernel over the THD series of every capture
// (call thd.Flush first). Captures must cover the rows' time range plus
// the look-back the as-of needs (MaxAge).
func NewStringCalc(thd *RippleTHD) *StringCalc {
	return &StringCalc{MaxAge: 24 * 3600 * microsPerSecond, thd: thd}
}

// Run fills out (reused; resized to the batch) for one batch.
//
//   - power_w = voltage_v × current_a in exact integer arithmetic on the
//     unscaled values (10 mV × mA = 1e-5 W), rounded half away from zero to
//     the column's 0.01 W; NULL when either input is NULL. Sign follows the
//     current: negative while the string discharges.
//   - thd_pct is the THD of the latest capture that had ended at the
//     sample's ts (capture_ts + its duration ≤ ts): as-of, never a later
//     capture; NULL before the first capture, after MaxAge, or when that
//     capture was skipped.
func (c *StringCalc) Run(in *StringBatch, out *StringCalcOut) error {
	n := in.Len()
	out.PowerCentiW = slices.Grow(out.PowerCentiW[:0], n)[:n]
	out.THDCentiPct = slices.Grow(out.THDCentiPct[:0], n)[:n]
	for i := 0; i < n; i++ {
		ts, id := in.TS[i], in.StringID[i]
		if !c.curSet || id != c.curID {
			c.curSet, c.curID, c.cur, c.idx = true, id, c.thd.series[id], -1
			if c.cur != nil {
				c.idx = searchAsOf(c.cur.knownAt, ts)
			}
		} else if ts < c.lastTS {
			return fmt.Errorf("string %s: ts %d after %d: rows not sorted by (string_id, ts)", idString(id), ts, c.lastTS)
		}
		c.lastTS = ts
		v, a := in.VoltageCentiV[i], in.CurrentMA[i]
		if v == Null32 || a == Null32 {
			out.PowerCentiW[i] = Null64
		} else {
			p := int64(v) * int64(a)
			if p >= 0 {
				p = (p + 500) / 1000
			} else {
				p = -((-p + 500) / 1000)
			}
			if p >= 1e10 || p <= -1e10 {
				return fmt.Errorf("string %s ts %d: column power_w: value %g does not fit", idString(id), ts, float64(p)/100)
			}
			out.PowerCentiW[i] = p
		}
		q := Null32
		if s := c.cur; s != nil {
			for c.idx+1 < len(s.knownAt) && s.knownAt[c.idx+1] <= ts {
				c.idx++
			}
			if c.idx >= 0 && ts-s.knownAt[c.idx] <= c.MaxAge {
				q = s.thd[c.idx]
			}
		}
		out.THDCentiPct[i] = q
	}
	return nil
}

// searchAsOf is the index of the last element of sorted ≤ ts, -1 if none.
func searchAsOf(sorted []int64, ts int64) int {
	i, _ := slices.BinarySearch(sorted, ts+1)
	return i - 1
}
