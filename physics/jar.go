package physics

import (
	"math"
	"slices"
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
// cluster replays it silently from that sample (see Reset), so a span of
// 1 s steps or more alone equals the same samples of any longer run, and a
// sub-second one (an event window) is within a few mV of them.
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
	// openFrom is when the string opened (unix ns), for the rest state.
	openFrom int64

	envIdx, envLeft int
	ambConst        float64

	stepCoef
	rth, pFloat25, recombV float64
	ratedA, peukert0       float64
	accept                 float64 // A a full jar takes at the boost limit

	// Sensor is the observation model of the jar's monitoring module
	// (NewJarSensor); the zero value is a perfect sensor. Reset keeps it.
	Sensor JarSensor

	seedV, seedR uint64
	offset       float64
	openV        float64
	failNs       int64
	// quietNs: before it the sudden failure's precursor is zero at both
	// hourly knots around any sample, so a jar with a failure ahead runs
	// canonical float like a jar without one (most of the jars that have
	// one: it lies months or years ahead).
	quietNs int64

	// Knots of the slow life quantities at whole hours (absolute), linearly
	// interpolated: pure functions of time, cheap per sample.
	knotStart, knotEnd       int64
	kR, kRd, kC, kCd         float64 // R0 at 25 °C (mΩ), capacity (Ah)
	kHeat, kHeatd, kDr, kDrd float64
	// the knot at knotEnd, reused as the next hour's start: at 1 h steps
	// every sample loads knots, and this halves the life-model calls.
	k1R, k1C, k1Heat, k1Dr float64

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
	// The discharge in progress: its start (unix ns) and SOC then, for the
	// coup de fouet.
	disFrom     int64
	disSOC      float64
	inDischarge bool

	// Replay buffers: at span's step (head) and at the coarse step of
	// sub-second spans (bulk).
	head, bulk replayBuf
	preFaults  []Event
	preBuf     []float64
	mini       StringSpan    // a coarse sample's timeline at span's step
	latch      []replayInput // a coarse sample's inputs, r times
	subMode    [1]Mode       // the input of a fine sample of a coarse one
	subCur     [1]float32
	subSp      [1]float32
}

// stepCoef are the coefficients of one step: the discretised RC pairs
// (exact for a current held over the step), thermal lag and float
// completion.
type stepCoef struct {
	stepNs         int64
	dtH            float64
	a1, b1, a2, b2 float64
	ath, bth, bSOC float64
}

func newStepCoef(stepNs int64) stepCoef {
	c := stepCoef{stepNs: stepNs}
	dt := time.Duration(stepNs).Seconds()
	c.dtH = dt / 3600
	c.a1 = math.Exp(-dt / ecmTau1S)
	c.a2 = math.Exp(-dt / ecmTau2S)
	c.ath = math.Exp(-dt / blockTauSec)
	c.b1, c.b2, c.bth = 1-c.a1, 1-c.a2, 1-c.ath
	c.bSOC = 1 - math.Exp(-c.dtH/socFloatH)
	return c
}

// replayChunk bounds the private spans of a replay (samples); a variable
// so tests can force many chunks.
var replayChunk int64 = 1 << 15

// replayMaxStep bounds the step of the bulk of a replay for spans whose
// step is shorter (event windows at 100-500 ms): the RC pairs and the
// thermal lag are discretised exactly for a current held over a step and
// their time constants are ≥ 30 s, and the samples where the current or
// mode changes within a step, or a jar reaches the cutoff, are replayed at
// the span's step, so the state a 1 s replay leaves at a window's start is
// within a few mV, mK and 0.05 % SOC of a replay at the window's step, at
// a tenth of the cost. A variable so tests can replay at the span's step
// (0).
var replayMaxStep = time.Second

var (
	tagJarOffset = HashString("jar.float_offset")
	tagJarV      = HashString("jar.noise.v")
	tagJarR      = HashString("jar.noise.r")
	tagJarOpen   = HashString("jar.open_cell_v")
)

const (
	socFloatH = 2.0 // float completes an unfinished charge with τ ≈ 2 h (estimate)
	hourNs    = int64(time.Hour)
)

// Reset prepares s to simulate life's jar over span, in the room env whose
// step is envRatio times span's (env sample of span sample i is
// i/envRatio; env must start at span.Start and have env.Step ==
// envRatio*span.Step; env may be nil: 25 °C). jarSeed must be derived for
// this jar slot and not for the day: it fixes the jar's float offset and
// noise streams.
//
// If span starts inside an activity cluster, Reset replays the cluster
// from its first sample, in bounded chunks. Spans of 1 s and more replay
// at their own step, so they equal the same samples of any longer run.
// Sub-second spans (event windows) replay the cluster's first fraction of
// a second at their step and the rest at a coarse step of r steps (r·step
// the largest multiple of their step up to replayMaxStep), ending exactly
// at span.Start: each coarse sample stands for the r fine ones up to it,
// and those whose inputs change within them (an event's edge, a mode or
// setpoint change) or whose jar reaches the discharge cutoff are replayed
// as the r fine samples. The jar's state at span.Start is then within a
// few mV, 0.01 °C and 0.05 % SOC of a replay at the span's step
// (TestSubSecondReplayMatchesFineReplay), at ~1 ms per jar for 5 h of
// cluster instead of ~19 ms. The replay's timeline and ambient are kept,
// so the jars of a string reset over the same span build them once.
func (s *JarSim) Reset(life *JarLife, jarSeed uint64, span *StringSpan, env *EnvSpan, envRatio int) {
	if envRatio < 1 {
		envRatio = 1
	}
	s.life, s.envRatio = life, envRatio
	s.stepCoef = newStepCoef(int64(span.Step))
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
	s.openV = 0.3 + 1.5*Unit(Mix(jarSeed, tagJarOpen), 0)
	s.failNs, s.quietNs = math.MaxInt64, int64(math.MaxInt64)
	if life.Failure != FailureNone {
		s.failNs = life.FailureAt.UnixNano()
		s.quietNs = s.failNs - int64(life.precursorDays*24*float64(hourNs)) - 2*hourNs
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
	// Replay the cluster that covers span.Start, from its first sample.
	if span.built && span.carryFrom != 0 {
		fine := s.stepCoef
		m := floorDiv(startNs-span.carryFrom, fine.stepNs) // samples at span's step
		head, r, q := m, int64(1), int64(0)
		if fine.stepNs < int64(replayMaxStep) && int64(replayMaxStep)/fine.stepNs >= 2 {
			r = int64(replayMaxStep) / fine.stepNs
			q, head = m/r, m%r
		}
		// The first samples at span's step, on env's grid (all of the
		// replay for spans of 1 s and more).
		var envOrg, envStep int64
		if env != nil {
			envOrg, envStep = env.Start.UnixNano(), int64(env.Step)
		}
		s.replay(&s.head, span, env, startNs, -m, head-m, envOrg, envStep, envRatio, fine)
		if q > 0 {
			// Then q samples at r times span's step, the last at
			// span.Start - step, with the ambient on their own grid.
			org := startNs - fine.stepNs
			s.stepCoef = newStepCoef(r * fine.stepNs)
			s.replay(&s.bulk, span, env, org, 1-q, 1, org, s.stepNs, 1, fine)
			s.stepCoef = fine
		}
		s.envRatio = envRatio
	}
	var lag []float32
	if env != nil && env.N > 0 {
		lag = envTemp(env)
	}
	s.begin(span, lag, 0)
}

// replayBuf is a replay's string timeline and ambient, with what they were
// built from (both are pure functions of it), so an identical replay (the
// next jar of the string) reuses them; and, for a coarse replay, the
// samples to replay at the span's step with their inputs at that step.
type replayBuf struct {
	span StringSpan
	lag  []float32

	ok     bool // span (and refine) hold the timeline of this key
	fineNs int64
	cfg    StringConfig
	seed   uint64
	start  int64
	step   time.Duration
	n      int
	events []Event

	lagOK   bool // lag holds the ambient of this key
	envSeed uint64
	clim    Climate
	eStart  int64
	eStep   int64
	nLag    int

	refine []int32       // sample indexes, increasing
	in     []replayInput // r per refined sample
}

// replayInput is what the string imposes on a jar at one sample.
type replayInput struct {
	mode Mode
	cur  float32
	sp   float32
}

func (b *replayBuf) holds(span *StringSpan, start int64, step time.Duration, n int, fineNs int64) bool {
	if !b.ok || b.fineNs != fineNs || b.cfg != span.cfg || b.seed != span.seed || b.start != start || b.step != step || b.n != n || len(b.events) != len(span.Events) {
		return false
	}
	for i := range b.events {
		if b.events[i] != span.Events[i] {
			return false
		}
	}
	return true
}

// replay runs silently the samples org + g*step, g in [g0, g1), of the
// cluster that covers span.Start (s's step coefficients set for step), in
// chunks of at most replayChunk samples, with the ambient env's lagged
// room temperature on the grid envOrg + e*envStep, envStep =
// envRatio*step (sample g reads grid point floor(g/envRatio) when org =
// envOrg). If step is a multiple r > 1 of fine's, it is a coarse replay of
// samples at fine's step: each sample stands for the r fine samples up to
// it, and a sample whose inputs change within those (an event's edge, a
// mode, setpoint or cluster change since the previous sample; the first
// sample) or whose jar reaches the discharge cutoff is replayed as the r
// fine samples. When the replay is one chunk, b keeps its inputs for the
// next identical replay.
func (s *JarSim) replay(b *replayBuf, span *StringSpan, env *EnvSpan, org, g0, g1, envOrg, envStep int64, envRatio int, fine stepCoef) {
	if g0 >= g1 {
		return
	}
	s.envRatio = envRatio
	step := time.Duration(s.stepNs)
	r := s.stepNs / fine.stepNs
	if s.stepNs%fine.stepNs != 0 {
		r = 1
	}
	er := int64(envRatio)
	useEnv := env != nil && env.built && env.N > 0
	whole := g1-g0 <= replayChunk
	var prev replayInput
	var prevBusy bool
	for a := g0; a < g1; a += replayChunk {
		c := min(g1, a+replayChunk)
		start, n := org+a*s.stepNs, int(c-a)
		if !whole || !b.holds(span, start, step, n, fine.stepNs) {
			BuildStringSpan(&b.span, span.cfg, span.seed, time.Unix(0, start), step, n, span.Events)
			b.ok, b.fineNs = whole, fine.stepNs
			b.cfg, b.seed, b.start, b.step, b.n = span.cfg, span.seed, start, step, n
			b.events = append(b.events[:0], span.Events...)
			b.refine, b.in = b.refine[:0], b.in[:0]
			if r > 1 {
				prev, prevBusy = s.refine(b, span, a == g0, prev, prevBusy, r, fine.stepNs)
			}
		}
		var lag []float32
		off := 0
		if useEnv {
			// The room's jar-lagged temperature before env.Start, on the
			// env grid: what BuildEnvSpan would give, without the
			// per-sample room model (LagC is all a jar reads).
			e0, e1 := floorDiv(a, er), floorDiv(c-1, er)
			eStart := envOrg + e0*envStep
			nLag := int(e1 - e0 + 1)
			if !b.lagOK || b.envSeed != env.seed || b.clim != env.clim || b.eStart != eStart || b.eStep != envStep || b.nLag != nLag {
				eEnd := envOrg + (e1+1)*envStep
				s.preFaults = envFaults(s.preFaults[:0], env.seed, env.clim, eStart, eEnd)
				var m envModel
				m, s.preBuf = newEnvModel(env.seed, env.clim, s.preFaults, s.preBuf)
				b.lag = growSlice(b.lag, nLag)
				s.preBuf = m.fillLag(b.lag, eStart, envStep, s.preBuf)
				b.lagOK = whole
				b.envSeed, b.clim, b.eStart, b.eStep, b.nLag = env.seed, env.clim, eStart, envStep, nLag
			}
			lag = b.lag[:nLag]
			off = int(a - e0*er)
		}
		s.begin(&b.span, lag, off)
		if r == 1 {
			for s.i < s.n {
				s.advance()
			}
			continue
		}
		coarse := s.stepCoef
		k := 0
		for s.i < s.n {
			i := s.i
			if k < len(b.refine) && int(b.refine[k]) == i {
				s.advanceFine(b.in[k*int(r):(k+1)*int(r)], &coarse, &fine)
				k++
				continue
			}
			if s.cur[i] >= 0 || s.cut {
				s.advance()
				continue
			}
			// A discharge: if the jar reaches the cutoff within this
			// sample, find when at the fine step (its SOC stays there).
			soc, v1, v2, exc, inBusy := s.soc, s.v1, s.v2, s.exc, s.inBusy
			s.advance()
			if s.cut {
				s.soc, s.v1, s.v2, s.exc, s.inBusy, s.cut = soc, v1, v2, exc, inBusy, false
				s.i, s.envLeft = i, s.envLeft+1
				s.latch = s.latch[:0]
				for range r {
					s.latch = append(s.latch, replayInput{s.mode[i], s.cur[i], s.sp[i]})
				}
				s.advanceFine(s.latch, &coarse, &fine)
			}
		}
	}
}

// refine lists the samples of b's chunk (at r fine steps of fineNs each;
// first: the replay's first chunk; prev: the inputs of the previous
// chunk's last sample) to replay at the fine step, with their inputs at
// that step, and returns the inputs of the chunk's last sample.
func (s *JarSim) refine(b *replayBuf, span *StringSpan, first bool, prev replayInput, prevBusy bool, r, fineNs int64) (replayInput, bool) {
	sp := &b.span
	for i := range sp.N {
		in := replayInput{sp.Mode[i], sp.CurrentA[i], sp.SetpointV[i]}
		if (i == 0 && first) || in.mode != prev.mode || in.sp != prev.sp || sp.busy[i] != prevBusy ||
			(in.mode == ModeDischarge && in.cur != prev.cur) {
			b.refine = append(b.refine, int32(i))
		}
		prev, prevBusy = in, sp.busy[i]
	}
	// Edges of events within a sample (a surge shorter than a sample).
	t0, step := sp.Start.UnixNano(), int64(sp.Step)
	for _, e := range span.Events {
		for _, x := range [3]int64{e.Start.UnixNano(), e.End.UnixNano(), e.DischargeEnd().UnixNano()} {
			if k := ceilDiv(x-t0, step); k >= 0 && k < int64(sp.N) {
				b.refine = append(b.refine, int32(k))
			}
		}
	}
	slices.Sort(b.refine)
	b.refine = slices.Compact(b.refine)
	for _, k := range b.refine {
		t := t0 + int64(k)*step
		BuildStringSpan(&s.mini, span.cfg, span.seed, time.Unix(0, t-(r-1)*fineNs), time.Duration(fineNs), int(r), span.Events)
		for j := range int(r) {
			b.in = append(b.in, replayInput{s.mini.Mode[j], s.mini.CurrentA[j], s.mini.SetpointV[j]})
		}
	}
	return prev, prevBusy
}

// tick moves to the next sample: its index and time, with the ambient and
// the hourly life knots that cover it loaded.
func (s *JarSim) tick() (int, int64) {
	i := s.i
	s.i++
	if s.envLeft == 0 {
		s.envIdx++
		s.envLeft = s.envRatio
		s.loadEnv()
	}
	s.envLeft--
	return i, s.t0Ns + int64(i)*s.stepNs
}

// knotsAt loads the hourly life knots that cover t, if not loaded. They
// are pure functions of the hour, so loading them only where a sample
// reads them (NextTrueV skips them at canonical float) changes no value.
func (s *JarSim) knotsAt(t int64) {
	if t >= s.knotEnd {
		s.loadKnots(t)
	}
}

// advance is next without the sample: the state update only (replays).
func (s *JarSim) advance() {
	i, t := s.tick()
	if s.busy != nil && !s.busy[i] {
		s.inBusy = false
		return
	}
	s.knotsAt(t)
	f := float64(t-s.knotStart) * (1.0 / float64(hourNs))
	var heat, drift float64
	if s.failNs != math.MaxInt64 {
		heat = s.kHeat + s.kHeatd*f
		drift = s.kDr + s.kDrd*f
	}
	s.dynamic(i, t, s.kR+s.kRd*f, heat, drift, f)
}

// advanceFine replays the next (coarse) sample as len(in) samples at the
// fine step ending at its time, with inputs in; the ambient is the coarse
// sample's and the slow life quantities follow their hourly knots.
func (s *JarSim) advanceFine(in []replayInput, coarse, fine *stepCoef) {
	_, t := s.tick()
	s.knotsAt(t)
	mode, cur, sp := s.mode, s.cur, s.sp
	s.mode, s.cur, s.sp = s.subMode[:], s.subCur[:], s.subSp[:]
	s.stepCoef = *fine
	for j, x := range in {
		tj := t - int64(len(in)-1-j)*fine.stepNs
		f := float64(tj-s.knotStart) * (1.0 / float64(hourNs))
		var heat, drift float64
		if s.failNs != math.MaxInt64 {
			heat = s.kHeat + s.kHeatd*f
			drift = s.kDr + s.kDrd*f
		}
		s.subMode[0], s.subCur[0], s.subSp[0] = x.mode, x.cur, x.sp
		s.dynamic(0, tj, s.kR+s.kRd*f, heat, drift, f)
	}
	s.stepCoef = *coarse
	s.mode, s.cur, s.sp = mode, cur, sp
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
	s.openFrom = span.cfg.OpenFrom
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
	var r0, c0, h0, d0 float64
	if h == s.knotEnd {
		r0, c0, h0, d0 = s.k1R, s.k1C, s.k1Heat, s.k1Dr
	} else {
		r0, c0 = l.ResistanceAndCapacity(t0)
		h0, d0 = l.Precursor(t0)
	}
	r1, c1 := l.ResistanceAndCapacity(t1)
	h1, d1 := l.Precursor(t1)
	s.k1R, s.k1C, s.k1Heat, s.k1Dr = r1, c1, h1, d1
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

// NextTrueV is Next's TrueVoltageV alone, for a string's sum: the same
// state, without the sensor's draws, and at canonical float of a jar with
// no sudden failure precursor under way without the life knots (its
// voltage does not read them), which were most of a 1 h history's string
// telemetry.
func (s *JarSim) NextTrueV() (float64, bool) {
	if s.i >= s.n {
		return 0, false
	}
	i, t := s.tick()
	if s.busy != nil && !s.busy[i] && t < s.quietNs && s.sp[i] != 0 {
		s.inBusy = false
		return float64(s.sp[i]) + s.qV, true // truth's canonical float branch
	}
	s.knotsAt(t)
	v, _, _, _ := s.truth(i, t)
	return v, true
}

// AddTrueV adds the jar's true voltage at each of its next len(sum)
// samples to sum, in order: NextTrueV over a span in one call, the same
// values, with the canonical float runs in a tight loop (a string's sum
// of its jars was a tenth of the telemetry stage). It returns false if the
// span ends first.
func (s *JarSim) AddTrueV(sum []float64) bool {
	for k := 0; k < len(sum); {
		if s.i >= s.n {
			return false
		}
		if s.envLeft == 0 { // tick's step to the next ambient sample
			s.envIdx++
			s.envLeft = s.envRatio
			s.loadEnv()
		}
		// the samples left in this ambient step, canonical float while
		// they last (NextTrueV's fast branch, inlined)
		for m := min(len(sum)-k, s.n-s.i, s.envLeft); m > 0 && s.busy != nil; m-- {
			i := s.i
			if s.busy[i] || s.sp[i] == 0 || s.t0Ns+int64(i)*s.stepNs >= s.quietNs {
				break
			}
			s.i++
			s.envLeft--
			s.inBusy = false
			sum[k] += float64(s.sp[i]) + s.qV
			k++
		}
		// stopped short of the step's end: a sample off canonical float
		if k < len(sum) && s.i < s.n && s.envLeft > 0 {
			v, _ := s.NextTrueV()
			sum[k] += v
			k++
		}
	}
	return true
}

func (s *JarSim) next() JarSample {
	i, t := s.tick()
	s.knotsAt(t)
	v, temp, r, soc := s.truth(i, t)
	// Counter-based noise on the absolute sample index: FastGauss for
	// voltage and resistance, inlined; the temperature probe's noise is a
	// variance-matched triangular draw from a third mix of the two.
	k := s.k0 + uint64(i)
	x1 := mix64(s.seedV ^ (k * 0x9e3779b97f4a7c15))
	x2 := mix64(s.seedR ^ (k * 0x9e3779b97f4a7c15))
	x3 := (x1 ^ x2>>17) * 0xbf58476d1ce4e5b9
	o := &s.Sensor
	return JarSample{
		VoltageV:       v + o.VoltOffsetV + o.VoltSigmaV*sum4x16(x1),
		TempC:          temp + o.TempBiasC + o.TempSigmaC*float64(int64(x3>>48+(x3>>32)&0xffff)-65535)*(1.0/26754.9),
		ResistanceMOhm: r * (1 + o.OhmicGainErr + o.OhmicRepeat*sum4x16(x2)),
		SOC:            soc,
		TrueVoltageV:   v,
	}
}

// truth is the jar's true state at sample i (time t), knots loaded.
func (s *JarSim) truth(i int, t int64) (v, temp, r, soc float64) {
	f := float64(t-s.knotStart) * (1.0 / float64(hourNs))
	rb := s.kR + s.kRd*f // mΩ at 25 °C, full charge
	var heat, drift float64
	if s.failNs != math.MaxInt64 { // only jars with a sudden event have a precursor
		heat = s.kHeat + s.kHeatd*f
		drift = s.kDr + s.kDrd*f
	}
	if s.busy != nil && !s.busy[i] {
		// Canonical float: the charger holds the jar at its setpoint.
		s.inBusy = false
		soc = 1
		if s.sp[i] == 0 {
			// Open string: no current; the jar relaxes from float to
			// its open-circuit voltage (surface charge, τ ≈ 2 h:
			// estimate) and loses its float heat.
			temp = s.amb + heat
			relax := s.floatV + s.offset - OCV(1, 25)
			v = OCV(1, temp) + drift + relax*math.Exp(-float64(t-s.openFrom)/float64(2*hourNs))
			r = rb * rTempFactor(temp)
		} else if t < s.quietNs {
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
	return v, temp, r, soc
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
	if I < 0 && !s.inDischarge {
		s.inDischarge, s.disFrom, s.disSOC = true, t, s.soc
	} else if I >= 0 {
		s.inDischarge = false
	}
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
		v -= depletion(s.soc, -I/s.ratedA) + coupDeFouet(float64(t-s.disFrom)/1e9, s.disSOC, -I/s.ratedA)
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
	s.inBusy, s.cut, s.inDischarge = true, false, false
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
	case FailureDryOut: // the dry-out ends in an open cell
		return s.openV, temp, r * 100
	case FailureShort: // a shorted cell: the block loses ~2.1 V and heats
		return v - 2.1, temp + 4, r * 0.8
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
