package physics

import (
	"math"
	"time"
)

// DC-bus ripple. A three-phase 6-pulse rectifier leaves a 300 Hz ripple on a
// 50 Hz grid; a UPS's single-phase inverter draws 100 Hz from its DC link.
// Worn rectifiers (drifting filter capacitors, unbalanced thyristor firing)
// add harmonics. RMS ripple stays below 0.5 % of float voltage normally and
// the ripple current limit is about 0.05 C (vrla-physics.md "Ripple").

// rippleShape is the relative amplitude of harmonics 2..7 of the ripple
// fundamental (estimate: falling with order).
var rippleShape = [...]float64{1, 0.8, 0.5, 0.45, 0.3, 0.25}

var tagRippleWave = HashString("ripple.waveform")

// RippleFundamentalHz is the ripple's fundamental for the string's system.
func RippleFundamentalHz(cfg StringConfig) float64 {
	if cfg.System == SystemRectifier {
		return 300
	}
	return 100
}

// RippleTHD is the true total harmonic distortion (percent) of the ripple
// waveform: 2 % for a new rectifier to 15 % fully worn.
func RippleTHD(cfg StringConfig) float64 {
	return 2 + 13*clamp(cfg.RectifierWear, 0, 1)
}

// RippleWaveform fills dst with a capture of the DC-bus ripple voltage (V,
// AC component) starting at t, sampled at sampleRateHz: the fundamental and
// harmonics 2..7 with random phases (a pure function of seed and t), at the
// string's float-mode RMS ripple (see BuildStringSpan), plus a little
// broadband noise. Harmonics at or above Nyquist are left out, so use at
// least 2×7× the fundamental (4.2 kHz for rectifier strings) to get the
// whole of RippleTHD.
func RippleWaveform(dst []float64, seed uint64, t time.Time, cfg StringConfig, sampleRateHz int) {
	if len(dst) == 0 || sampleRateHz <= 0 {
		return
	}
	p := newChargerParams(cfg, seed, time.Second)
	rms := p.rippleBaseA * p.rippleZ
	f1 := RippleFundamentalHz(cfg)
	thd := RippleTHD(cfg) / 100
	norm := 0.0
	for _, a := range rippleShape {
		norm += a * a
	}
	norm = math.Sqrt(norm)
	a1 := rms * math.Sqrt(2/(1+thd*thd)) // fundamental peak amplitude
	var amp, w, ph [len(rippleShape) + 1]float64
	s := Mix(seed, tagRippleWave, uint64(t.UnixNano()))
	nyq := float64(sampleRateHz) / 2
	for h := range amp {
		f := f1 * float64(h+1)
		if f >= nyq {
			break
		}
		if h == 0 {
			amp[h] = a1
		} else {
			amp[h] = a1 * thd * rippleShape[h-1] / norm
		}
		w[h] = 2 * math.Pi * f / float64(sampleRateHz)
		ph[h] = 2 * math.Pi * Unit(s, uint64(h))
	}
	sn := Mix(s, 99)
	for j := range dst {
		x := float64(j)
		v := 0.0
		for h := range amp {
			if amp[h] != 0 {
				v += amp[h] * math.Sin(w[h]*x+ph[h])
			}
		}
		dst[j] = v + 0.003*a1*FastGauss(sn, uint64(j))
	}
}
