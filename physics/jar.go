package physics

import (
	"math"
	"time"
)

// JarSim is the electrical and thermal model of one jar driven by its
// string's span and its room's environment: a pull iterator over the span's
// samples. A JarSim is reusable: Reset keeps its buffers, and Next does not
// allocate.
//
// Outside activity clusters (see BuildStringSpan) a jar is at its canonical
// float state, a closed-form function of time: voltage at the charger's
// float setpoint plus the jar's offset, temperature compensation, the
// failure precursor drift and noise; temperature at the lagged room
// temperature plus float heating. Inside a cluster the two-RC model,
// coulomb counting and the thermal lag run as state, entered from the
// canonical state at the cluster's first sample; a span starting inside a
// cluster replays it silently from that sample, so a span alone equals the
// same samples of any longer run.
type JarSim struct {
	life     *JarLife
	envRatio int

	// Inputs of the run in progress (the span, or the replay's span).
	mode   []Mode
	cur    []float32
	sp     []float32
	busy   []bool
	cEnds  []int64   // cluster ends of the span
	cEnd   int64     // end of the cluster in progress
	lagC   []float32 // ambient per env sample; nil: ambConst
	envOff int       // env index of sample 0 is floorDiv(envOff, envRatio)
	t0Ns   int64
	k0     uint64
	i, n   int
	floatV float64 // charger float setting, for the canonical state
	floatA float64

	envIdx, envLeft int
	ambConst        float64

	stepNs                 int64
	dtH                    float64
	a1, b1, a2, b2         float64
	ath, bth, bSOC         float64
	rth, pFloat25, recombV float64
	ratedA, peukert0       float64
	accept                 float64 // A a full jar takes at the boost limit

	seedV, seedR       uint64
	offset, sigV, sigR float64
	openV              float64
	failNs             int64

	// Knots of the slow life quantities at whole hours (absolute), linearly
	// interpolated: pure functions of time, cheap per sample.
	knotStart, knotEnd       int64
	kR, kRd, kC, kCd         float64 // R0 at 25 °C (mΩ), capacity (Ah)
	kHeat, kHeatd, kDr, kDrd float64

	// Per env sample; q* are the canonical-float temperature, voltage
	// offset and resistance factor of a jar without precursor heat.
	amb, eqExc, pFloat float64
	qT, qV, qRf        float64

	pkI, pkC, pk float64 // Peukert factor cache

	// Dynamic state inside a cluster.
	inBusy      bool
	soc, v1, v2 float64
	exc         float64 // °C above ambient from self-heating
	cut         bool

	// Replay buffers.
	preSpan   StringSpan
	preLag    []float32
	preFaults []Event
	preBuf    []float64
}

// replayChunk bounds the private spans of a replay (samples); a variable
// so tests can force many chunks.
var replayChunk int64 = 1 << 15

var (
	tagJarOffset = HashString("jar.float_offset")
	tagJarV      = HashString("jar.noise.v")
	tagJarR      = HashString("jar.noise.r")
	tagJarOpen   = HashString("jar.open_cell_v")
)

const (
	tempNoiseC = 0.05 // jar temperature probe noise σ (estimate)
	socFloatH  = 2.0  // float completes an unfinished charge with τ ≈ 2 h (estimate)
	hourNs     = int64(time.Hour)
)

// Reset prepares s to simulate life's jar over span, in the room env whose
// step is envRatio times span's (env sample of span sample i is
// i/envRatio; env must start at span.Start and have env.Step ==
// envRatio*span.Step; env may be nil: 25 °C). jarSeed must be derived for
// this jar slot and not for the day: it fixes the jar's float offset and
// noise streams. If span starts inside an activity cluster, Reset replays
// the cluster from its first sample at span's step (in bounded chunks;
// ~35 ms per jar for 11 h at 100 ms).
func (s *JarSim) Reset(life *JarLife, jarSeed uint64, span *StringSpan, env *EnvSpan, envRatio int) {
	if envRatio < 1 {
		envRatio = 1
	}
	s.life, s.envRatio = life, envRatio
	s.stepNs = int64(span.Step)
	dt := span.Step.Seconds()
	s.dtH = dt / 3600
	s.a1 = math.Exp(-dt / ecmTau1S)
	s.a2 = math.Exp(-dt / ecmTau2S)
	s.ath = math.Exp(-dt / blockTauSec)
	s.b1, s.b2, s.bth = 1-s.a1, 1-s.a2, 1-s.ath
	s.bSOC = 1 - math.Exp(-s.dtH/socFloatH)
	// Thermal: mass ~0.33 kg/Ah (a 120 Ah block ~40 kg), ~0.75 kJ/kg·K,
	// τ = 2 h → R_th = τ/C_th (estimate). Float recombination heat 0.09 W
	// per cell per 100 Ah (accuoerlikon) at the float current ~0.07 % C:
	// the overcharge current turns into heat at ~7.7 W/A.
	capAh := orDefault(life.RatedAh, 100)
	s.rth = blockTauSec / (0.33 * capAh * 750)
	s.pFloat25 = 0.09 * 6 * capAh / 100
	s.recombV = s.pFloat25 / (0.0007 * capAh)
	s.ratedA = capAh / 10
	s.accept = 0.01 * capAh
	s.peukert0 = orDefault(span.cfg.Spec.Peukert, 1.1)

	s.seedV = Mix(jarSeed, tagJarV, uint64(s.stepNs))
	s.seedR = Mix(jarSeed, tagJarR, uint64(s.stepNs))
	// Jar-to-jar float spread within a string, ~±20-50 mV (brief).
	s.offset = clamp(0.02*Gauss(Mix(jarSeed, tagJarOffset), 0), -0.045, 0.045)
	s.sigV = life.Params.NoiseStd / 4
	s.sigR = life.Params.NoiseStd / 4
	s.openV = 0.3 + 1.5*Unit(Mix(jarSeed, tagJarOpen), 0)
	s.failNs = math.MaxInt64
	if life.Failure != FailureNone {
		s.failNs = life.FailureAt.UnixNano()
	}
	s.knotStart, s.knotEnd = 0, math.MinInt64
	s.pkI, s.inBusy = 0, false
	s.floatV, s.floatA = 13.65, 0.0007*capAh
	if span.built {
		s.floatV, s.floatA = span.floatV, span.floatA
	}

	startNs := span.Start.UnixNano()
	s.ambConst = 25
	if env != nil && env.N > 0 {
		s.ambConst = float64(envTemp(env)[0])
	}
	// Replay the cluster that covers span.Start, from its first sample, in
	// chunks (bounded buffers even for long replays at 100 ms).
	if span.built && span.carryFrom != 0 {
		m := floorDiv(startNs-span.carryFrom, s.stepNs)
		r := int64(envRatio)
		for g0 := -m; g0 < 0; g0 += replayChunk {
			g1 := min(0, g0+replayChunk)
			BuildStringSpan(&s.preSpan, span.cfg, span.seed, span.Start.Add(time.Duration(g0)*span.Step), span.Step, int(g1-g0), span.Events)
			var lag []float32
			off := 0
			if env != nil && env.built && env.N > 0 {
				// The room's jar-lagged temperature before env.Start, on
				// env's grid: what BuildEnvSpan would give, without the
				// per-sample room model (LagC is all a jar reads).
				e0, e1 := floorDiv(g0, r), floorDiv(g1-1, r)
				eStart := env.Start.UnixNano() + e0*int64(env.Step)
				eEnd := env.Start.UnixNano() + (e1+1)*int64(env.Step)
				s.preFaults = envFaults(s.preFaults[:0], env.seed, env.clim, eStart, eEnd)
				var m envModel
				m, s.preBuf = newEnvModel(env.seed, env.clim, s.preFaults, s.preBuf)
				s.preLag = growSlice(s.preLag, int(e1-e0+1))
				s.preBuf = m.fillLag(s.preLag, eStart, int64(env.Step), s.preBuf)
				lag = s.preLag
				off = int(g0 - e0*r)
			}
			s.begin(&s.preSpan, lag, off)
			for s.i < s.n {
				s.next()
			}
		}
	}
	var lag []float32
	if env != nil && env.N > 0 {
		lag = envTemp(env)
	}
	s.begin(span, lag, 0)
}

// envTemp is a jar's ambient: the lagged room temperature when known.
func envTemp(e *EnvSpan) []float32 {
	if len(e.LagC) >= e.N {
		return e.LagC[:e.N]
	}
	return e.TempC[:e.N]
}

func (s *JarSim) begin(span *StringSpan, lag []float32, envOff int) {
	s.mode, s.cur, s.sp, s.busy = span.Mode, span.CurrentA, span.SetpointV, span.busy
	s.cEnds, s.cEnd = span.clusterEnd, math.MinInt64
	if !span.built || len(s.busy) < span.N {
		s.busy, s.cEnds = nil, nil // hand-made span: run the full model everywhere
	}
	s.lagC, s.envOff = lag, envOff
	s.t0Ns = span.Start.UnixNano()
	s.k0 = uint64(floorDiv(s.t0Ns, s.stepNs))
	s.i, s.n = 0, span.N
	s.envIdx = envOff / s.envRatio
	s.envLeft = s.envRatio - envOff%s.envRatio
	s.loadEnv()
}

func (s *JarSim) loadEnv() {
	a := s.ambConst
	if s.envIdx < len(s.lagC) {
		a = float64(s.lagC[s.envIdx])
	} else if n := len(s.lagC); n > 0 {
		a = float64(s.lagC[n-1])
	}
	s.amb = a
	// Float heat doubles per 10 °C with the float current (blueboxbatteries).
	s.pFloat = s.pFloat25 * exp2Fast((a-25)/10)
	s.eqExc = s.rth * s.pFloat
	s.qT = a + s.eqExc
	s.qV = s.offset + compCoefV*(s.qT-25)
	s.qRf = rTempFactor(s.qT)
}

func (s *JarSim) loadKnots(t int64) {
	h := floorDiv(t, hourNs) * hourNs
	l := s.life
	t0, t1 := time.Unix(0, h), time.Unix(0, h+hourNs)
	r0, r1 := l.ResistanceMOhm(t0), l.ResistanceMOhm(t1)
	c0, c1 := l.CapacityAh(t0), l.CapacityAh(t1)
	h0, d0 := l.Precursor(t0)
	h1, d1 := l.Precursor(t1)
	s.knotStart, s.knotEnd = h, h+hourNs
	s.kR, s.kRd = r0, r1-r0
	s.kC, s.kCd = c0, c1-c0
	s.kHeat, s.kHeatd = h0, h1-h0
	s.kDr, s.kDrd = d0, d1-d0
}

// Next returns the jar's next sample, or false after the span's last.
func (s *JarSim) Next() (JarSample, bool) {
	if s.i >= s.n {
		return JarSample{}, false
	}
	return s.next(), true
}

func (s *JarSim) next() JarSample {
	i := s.i
	s.i++
	if s.envLeft == 0 {
		s.envIdx++
		s.envLeft = s.envRatio
		s.loadEnv()
	}
	s.envLeft--
	t := s.t0Ns + int64(i)*s.stepNs
	if t >= s.knotEnd {
		s.loadKnots(t)
	}
	f := float64(t-s.knotStart) * (1.0 / float64(hourNs))
	rb := s.kR + s.kRd*f // mΩ at 25 °C, full charge
	k := s.k0 + uint64(i)
	var v, temp, r, soc float64
	var heat, drift float64
	if s.failNs != math.MaxInt64 { // only jars with a sudden event have a precursor
		heat = s.kHeat + s.kHeatd*f
		drift = s.kDr + s.kDrd*f
	}
	if s.busy != nil && !s.busy[i] {
		// Canonical float: the charger holds the jar at its setpoint.
		s.inBusy = false
		soc = 1
		if s.failNs == math.MaxInt64 {
			temp, v, r = s.qT, float64(s.sp[i])+s.qV, rb*s.qRf
		} else {
			temp = s.amb + s.eqExc + heat
			v = float64(s.sp[i]) + s.offset + compCoefV*(temp-25) + drift
			r = rb * rTempFactor(temp)
		}
	} else {
		v, temp, r, soc = s.dynamic(i, t, rb, heat, drift, f)
	}
	if t >= s.failNs {
		v, temp, r = s.failed(t, v, temp, r)
	}
	// Counter-based noise on the absolute sample index: FastGauss for
	// voltage and resistance, inlined; the temperature probe's noise is a
	// variance-matched triangular draw from a third mix of the two.
	x1 := mix64(s.seedV ^ (k * 0x9e3779b97f4a7c15))
	x2 := mix64(s.seedR ^ (k * 0x9e3779b97f4a7c15))
	x3 := (x1 ^ x2>>17) * 0xbf58476d1ce4e5b9
	return JarSample{
		VoltageV:       v + s.sigV*sum4x16(x1),
		TempC:          temp + tempNoiseC*float64(int64(x3>>48+(x3>>32)&0xffff)-65535)*(1.0/26754.9),
		ResistanceMOhm: r * (1 + s.sigR*sum4x16(x2)),
		SOC:            soc,
	}
}

// sum4x16 is FastGauss's transform of a mixed word (the same values: the
// integer sum is exact), with one signed conversion instead of four
// unsigned ones.
func sum4x16(x uint64) float64 {
	return float64(int64(x&0xffff+(x>>16)&0xffff+(x>>32)&0xffff+x>>48)-131070) * (1.0 / 37837.23)
}

// dynamic steps the two-RC model, coulomb counting and the thermal state.
// rb is R0 at 25 °C and full charge (mΩ).
func (s *JarSim) dynamic(i int, t int64, rb, heat, drift, f float64) (v, temp, r, soc float64) {
	if !s.inBusy {
		s.enterCanonical(rb, heat, drift)
	}
	I := float64(s.cur[i]) // + charges, - discharges (A)
	temp = s.amb + heat + s.eqExc + (s.exc-s.eqExc)*s.settle(t)
	fr := rTempFactor(temp) * rSOCFactor(s.soc)
	r0 := rb * fr / 1000
	r1, r2 := ecmR1Frac*r0, ecmR2Frac*r0
	capAh := s.kC + s.kCd*f
	ct := capTempFactor(temp)
	switch {
	case I < 0 && !s.cut:
		// Peukert, temperature and SOH adjust the capacity (brief). The
		// exponent follows the hourly SOH knot; the factor is cached while
		// the current and the knot stay the same.
		if I != s.pkI || s.kC != s.pkC {
			s.pkI, s.pkC = I, s.kC
			s.pk = peukertFactor(-I, s.ratedA, peukertAt(s.peukert0, s.kC/s.life.RatedAh))
		}
		s.soc = maxf(0, s.soc+I*s.dtH/(capAh*ct*s.pk))
	case I > 0:
		s.soc += I * s.dtH * chargeEff(s.soc) / (capAh * ct)
	}
	m := s.mode[i]
	if m == ModeFloat || m == ModeEqualize {
		s.soc += (1 - s.soc) * s.bSOC
	}
	s.soc = minf(1, s.soc)
	eta := 0.0
	if I > 0 {
		eta = chargeOverpotential(s.soc)
	}
	s.v1 = s.a1*s.v1 + s.b1*(I*r1+eta)
	s.v2 = s.a2*s.v2 + s.b2*(I*r2)
	v = OCV(s.soc, temp) + I*r0 + s.v1 + s.v2 + drift
	if I < 0 {
		v -= depletion(s.soc, -I/s.ratedA)
	}
	iHeat := I
	if sp := float64(s.sp[i]); sp > 0 {
		// Constant-voltage charger: the jar sits at its share of the
		// setpoint; the excess is polarisation held in the fast pair.
		lim := sp + s.offset + compCoefV*(temp-25) + drift
		if v > lim {
			s.v1 -= v - lim
			v = lim
			// At its voltage limit a full jar takes only its acceptance
			// current (estimate ≤ 1 % C at boost voltage), whatever the
			// span's charge schedule assumed.
			if s.soc > 0.99 {
				iHeat = minf(I, s.accept)
			}
		}
	}
	if I < 0 {
		if s.cut || v <= CutoffV {
			s.cut, v = true, CutoffV
		}
	} else {
		s.cut = false
	}
	// Self-heating: I²R in both directions, float recombination heat
	// while on charge, plus the overcharge not stored, which a VRLA block
	// recombines into heat; the overcharge it takes is bounded by its
	// acceptance (the charger would go to its voltage limit).
	p := iHeat * iHeat * (r0 + r1 + r2)
	if I >= 0 {
		p += s.pFloat + s.recombV*minf(s.accept, maxf(0, iHeat-s.floatA)*(1-chargeEff(s.soc)))
	}
	s.exc = s.ath*s.exc + s.bth*s.rth*p
	return v, temp, rb * fr, s.soc
}

// settle is 1 inside a cluster, falling linearly to 0 over its last
// settleBlend: the leftover self-heating fades into the canonical state.
func (s *JarSim) settle(t int64) float64 {
	if t >= s.cEnd {
		s.cEnd = math.MaxInt64
		for _, e := range s.cEnds {
			if e > t {
				s.cEnd = e
				break
			}
		}
	}
	return minf(1, float64(s.cEnd-t)*(1/float64(settleBlend)))
}

// enterCanonical sets the state of a fully charged jar on float at the
// current sample: no diffusion polarisation, the float overpotential in the
// fast pair, float heating in equilibrium.
func (s *JarSim) enterCanonical(rb, heat, drift float64) {
	s.inBusy, s.cut = true, false
	s.soc, s.v2, s.exc = 1, 0, s.eqExc
	temp := s.amb + s.eqExc + heat
	lim := s.floatV + s.offset + compCoefV*(temp-25) + drift
	s.v1 = lim - OCV(1, temp) - s.floatA*rb*rTempFactor(temp)/1000
}

// failed applies a sudden failure's aftermath to a sample.
func (s *JarSim) failed(t int64, v, temp, r float64) (float64, float64, float64) {
	switch s.life.Failure {
	case FailureOpenCell: // an open cell: the block reads near zero
		return s.openV, temp, r * 100
	case FailureDryOut: // no electrolyte path: very high resistance
		return v + 0.2, temp, r * 8
	case FailureThermalRunaway: // heat feeds current feeds heat
		h := float64(t-s.failNs) / float64(hourNs)
		return v - 0.5, temp + 25*(1-math.Exp(-h/6)), r * 1.3
	}
	return v, temp, r
}

// chargeEff is the fraction of charge current stored: all of it until
// ~95 % SOC, then less and less as gassing and recombination take over.
func chargeEff(soc float64) float64 {
	if soc < 0.95 {
		return 1
	}
	return maxf(0, (1-soc)/0.05)
}

// chargeOverpotential drives the fast pair towards the gassing voltage as
// the jar fills, so a constant-current charge reaches the charger's limit
// at ~90 % SOC (estimate).
func chargeOverpotential(soc float64) float64 {
	x := clampf((soc-0.7)/0.3, 0, 1)
	x *= x
	return 2.5 * x * x
}

// depletion is the end-of-discharge (Shepherd-type) polarisation: it grows
// with the discharge rate (multiples of C10 current) as the available
// charge runs out, so a jar hits the 10.5 V cutoff near empty.
func depletion(soc, rate float64) float64 {
	return 0.012 * rate * (1 - soc) / (soc + 0.005)
}

// exp2Fast is 2^y: a quintic (error < 1e-4 relative) for |y| ≤ 1, the
// usual rooms; math.Exp2 beyond.
func exp2Fast(y float64) float64 {
	if y < -1 || y > 1 {
		return math.Exp2(y)
	}
	return 1 + y*(0.693147+y*(0.240227+y*(0.0555041+y*(0.00961813+y*0.00133336))))
}

// StringVoltage is the series sum of jar voltages.
func StringVoltage(jars []float64) float64 {
	s := 0.0
	for _, v := range jars {
		s += v
	}
	return s
}
