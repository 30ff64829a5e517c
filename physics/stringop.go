package physics

import (
	"math"
	"slices"
	"time"
)

// String operation: what the charger and the load impose on every jar of a
// series string. Voltages follow vrla-physics.md "Electrical": float
// 2.25-2.30 V/cell (13.50-13.80 V per block), boost/equalize 2.40-2.45 V/cell
// (14.40-14.70 V), for a limited time.

var (
	tagSiteDay    = HashString("site.events")
	tagGenDay     = HashString("site.gentest_day")
	tagGenSlot    = HashString("site.gentest_slot")
	tagEqMonth    = HashString("string.equalize_month")
	tagEqDay      = HashString("string.equalize_day")
	tagEqRun      = HashString("string.equalize_run")
	tagFloatOff   = HashString("string.float_offset")
	tagWalkIn     = HashString("string.walk_in")
	tagOvercharge = HashString("string.overcharge")
	tagRipple     = HashString("string.ripple")
)

const (
	nsPerHour = float64(time.Hour)
	// A finished recharge still leaves RC and thermal transients in the
	// jars; after this tail the RC pairs have settled (τ2 ≤ 1 h) and the
	// jars' self-heating is within ~0.1 °C of float equilibrium (τ = 2 h);
	// JarSim blends the rest away over the tail's last settleBlend, so the
	// jars rejoin their canonical float state (a pure function of time)
	// without a step.
	settleTail  = 6 * time.Hour
	settleBlend = 2 * time.Hour
	// Outages per month per site (brief: "a few"), more in the rainy season
	// (afternoon thunderstorms; estimate).
	outagesPerMonth = 3.0
	surgesPerDay    = 0.1
)

// NominalLoadA is the per-string load of a typical string of a system type
// (vrla-physics.md: a UPS string runs at roughly 1-3 C, ~200 A on 120 Ah
// blocks; rectifier banks at C/10-C/5). Site events carry CurrentA on this
// scale; BuildStringSpan rescales it to the string's own LoadA.
func NominalLoadA(sys SystemType) float64 {
	if sys == SystemRectifier {
		return 18
	}
	return 200
}

// SiteEvents returns the utility and load events that start on the UTC day
// containing day, for a site seed: outages (most seconds to a minute until
// the generator takes over, some minutes, rare ones up to an hour), the
// monthly generator test (a fixed day of month and time per site, ~30 min,
// a few seconds on battery at the transfer) and short load surges. Event
// timing depends on seed and day only, so all systems of a site see the
// same outages; sys sets CurrentA (NominalLoadA times a load factor).
func SiteEvents(seed uint64, sys SystemType, day time.Time) []Event {
	d := dayNumber(day)
	s := Mix(seed, tagSiteDay, uint64(d))
	dayNs := d * secPerDay * 1e9
	mon := time.Unix(d*secPerDay, 0).UTC().Month()
	rainy := mon >= time.May && mon <= time.October
	load := NominalLoadA(sys)
	var evs []Event
	c := uint64(0)
	next := func() float64 { c++; return Unit(s, c) }

	lam := outagesPerMonth / 30.44 * 0.7
	if rainy {
		lam = outagesPerMonth / 30.44 * 1.3
	}
	for range poisson(next(), lam) {
		var tod float64 // seconds into the UTC day
		if rainy && next() < 0.6 {
			tod = (6 + 6*next()) * 3600 // 13:00-19:00 local
		} else {
			tod = next() * secPerDay
		}
		var dur float64
		switch u := next(); {
		case u < 0.70:
			dur = 2 * math.Pow(30, next()) // 2-60 s: generator takes over
		case u < 0.95:
			dur = 60 * math.Pow(10, next()) // 1-10 min
		default:
			dur = 600 * math.Pow(6, next()) // 10-60 min
		}
		st := dayNs + int64(tod*1e3)*1e6
		evs = append(evs, Event{Kind: EventTransfer, Start: time.Unix(0, st).UTC(),
			End: time.Unix(0, st+int64(dur*1e3)*1e6).UTC(), CurrentA: load * (0.85 + 0.3*next())})
	}
	// Monthly generator test: fixed day of month (1-28) and slot per site,
	// from 10:00 local.
	dom := 1 + int(Mix(seed, tagGenDay)%28)
	if time.Unix(d*secPerDay, 0).UTC().Day() == dom {
		slot := int64(Mix(seed, tagGenSlot) % 4)
		st := dayNs + (3*3600+slot*900)*1e9
		dur := int64((25 + 10*next()) * 60 * 1e9)
		onB := time.Duration((3 + 7*next()) * 1e9).Truncate(100 * time.Millisecond)
		evs = append(evs, Event{Kind: EventGeneratorTest, Start: time.Unix(0, st).UTC(),
			End: time.Unix(0, st+dur).UTC(), CurrentA: load * (0.85 + 0.3*next()), OnBattery: onB})
	}
	// Load surges: the battery supplies what exceeds the charger's limit.
	for range poisson(next(), surgesPerDay) {
		st := dayNs + int64(next()*secPerDay*1e3)*1e6
		dur := int64((0.2 + 2.8*next()) * 1e9)
		dur -= dur % 1e8
		evs = append(evs, Event{Kind: EventSurge, Start: time.Unix(0, st).UTC(),
			End: time.Unix(0, st+dur).UTC(), CurrentA: load * (0.3 + 0.5*next())})
	}
	sortEvents(evs)
	for j := range evs {
		evs[j].Seq = uint32(j)
	}
	return evs
}

// EqualizeEvents returns the scheduled equalize charge starting on the UTC
// day containing day, for a string (or system) seed: quarterly, on a fixed
// month-of-quarter and day-of-month, from 09:00 local for 8-12 h.
func EqualizeEvents(seed uint64, day time.Time) []Event {
	d := dayNumber(day)
	t := time.Unix(d*secPerDay, 0).UTC()
	if (int(t.Month())-1)%3 != int(Mix(seed, tagEqMonth)%3) || t.Day() != 1+int(Mix(seed, tagEqDay)%28) {
		return nil
	}
	s := Mix(seed, tagEqRun, uint64(d))
	st := t.Add(2*time.Hour + time.Duration(Mix(s, 1)%4)*30*time.Minute)
	dur := time.Duration((8 + 4*Unit(s, 2)) * float64(time.Hour)).Truncate(time.Minute)
	return []Event{{Kind: EventEqualize, Start: st, End: st.Add(dur)}}
}

func sortEvents(evs []Event) {
	slices.SortStableFunc(evs, func(a, b Event) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return int(a.Kind) - int(b.Kind)
	})
}

// chargerParams are the string's derived charger and load constants.
type chargerParams struct {
	capAh, floatA, imax                    float64
	floatV, boostV, eqV                    float64
	overcharge                             float64 // Ah returned per Ah removed
	walkInNs                               int64
	iSwitch, iEnd, boostTrig               float64
	rippleBaseA, rippleZ                   float64
	seedRip                                uint64
	stepNs, mergeGapNs                     int64
	loadScale                              float64
	ups                                    bool
	peukert                                float64
	floatMin, floatMax, boostMin, boostMax float64
}

func newChargerParams(cfg StringConfig, seed uint64, step time.Duration) chargerParams {
	sp := cfg.Spec
	p := chargerParams{capAh: orDefault(sp.CapacityAh, 100)}
	p.floatMin, p.floatMax = orDefault(sp.FloatMinV, 13.5), orDefault(sp.FloatMaxV, 13.8)
	p.boostMin, p.boostMax = orDefault(sp.BoostMinV, 14.4), orDefault(sp.BoostMaxV, 14.7)
	// Charger float setting: mid band plus the string's trim (cfg, or
	// ±40 mV drawn from the seed when unset).
	trim := cfg.FloatTrimV
	if trim == 0 {
		trim = 0.04 * (2*Unit(Mix(seed, tagFloatOff), 0) - 1)
	}
	p.floatV = (p.floatMin+p.floatMax)/2 + trim
	p.boostV = p.boostMin + 0.4*(p.boostMax-p.boostMin)
	p.eqV = p.boostMin + 0.6*(p.boostMax-p.boostMin)
	p.imax = orDefault(sp.MaxChargeA, 0.25*p.capAh)
	// Float current ~0.07 % of C at 25 °C, doubling per 10 °C
	// (vrla-physics.md: "Float current doubles per ~10 °C").
	room := orDefault(cfg.RoomC, 25)
	p.floatA = 0.0007 * p.capAh * math.Exp2((room-25)/10)
	// Recharge returns 1.05-1.1 × the Ah removed (brief).
	p.overcharge = 1.05 + 0.05*Unit(Mix(seed, tagOvercharge), 0)
	// Rectifier soft start after the AC returns (estimate 5-30 s): idle.
	p.walkInNs = int64((5 + 25*Unit(Mix(seed, tagWalkIn), 0)) * 1e9)
	p.iSwitch = 0.005 * p.capAh  // boost → float below 0.5 % C
	p.iEnd = 0.0002 * p.capAh    // recharge done
	p.boostTrig = 0.02 * p.capAh // a deficit above 2 % C triggers boost
	w := clamp(cfg.RectifierWear, 0, 1)
	// Ripple current ~1 % C when new to ~6 % C when worn: the 0.05 C limit
	// (vrla-physics.md "Ripple") is crossed by worn rectifiers only.
	p.rippleBaseA = p.capAh * (0.008 + 0.02*w + 0.03*w*w)
	jars := cfg.Jars
	if jars <= 0 {
		jars = 24
	}
	// String impedance at 100-300 Hz: ~1.3 × the ohmic R of its blocks.
	p.rippleZ = float64(jars) * orDefault(sp.R0mOhm, 4) / 1000 * 1.3
	p.seedRip = Mix(seed, tagRipple, uint64(step))
	p.stepNs = int64(step)
	// Clusters closer than this merge; the step is taken as at least 1 s so
	// that a sub-second span and the 1 s replay of its cluster (see
	// JarSim.Reset) group events alike.
	p.mergeGapNs = 2*max(int64(step), int64(time.Second)) + int64(time.Minute)
	p.loadScale = 1
	if cfg.LoadA > 0 {
		p.loadScale = cfg.LoadA / NominalLoadA(cfg.System)
	}
	p.ups = cfg.System == SystemUPS
	p.peukert = orDefault(sp.Peukert, 1.1)
	return p
}

func orDefault(v, d float64) float64 {
	if v > 0 {
		return v
	}
	return d
}

// eventCurrent is the string current drawn by a discharge-type event:
// capacity tests as given, site events rescaled to the string's load.
func (p *chargerParams) eventCurrent(e Event) float64 {
	if e.Kind == EventDischargeTest {
		return e.CurrentA
	}
	return e.CurrentA * p.loadScale
}

type segKind uint8

const (
	segCharge segKind = iota
	segDischarge
	segIdle
)

// segment is a piece of a cluster's charger timeline. A charge segment
// returns deficit d0 (Ah) from its start: constant current imax (bulk)
// down to imax·τ, then an exponential taper with time constant τ (the
// charger at its voltage limit).
type segment struct {
	from, to int64 // unix ns
	kind     segKind
	cur      float64 // discharge current, A
	d0, tauH float64
	bulkH    float64
	boost    bool
}

func (p *chargerParams) newCharge(from int64, d float64, boosting bool) segment {
	s := segment{from: from, to: math.MaxInt64, kind: segCharge, d0: d}
	s.boost = boosting || d >= p.boostTrig
	if s.boost {
		// The taper holds the last ~15 % of the charge (at least 20 min).
		s.tauH = math.Max(0.15*d/p.imax, 1.0/3)
	} else {
		s.tauH = 0.25
	}
	s.bulkH = math.Max(0, (d-p.imax*s.tauH)/p.imax)
	return s
}

// excessA is the charge current above float at t.
func (s *segment) excessA(p *chargerParams, t int64) float64 {
	h := float64(t-s.from) / nsPerHour
	if h < s.bulkH {
		return p.imax
	}
	dt := math.Min(s.d0, p.imax*s.tauH)
	return dt / s.tauH * math.Exp(-(h-s.bulkH)/s.tauH)
}

func (s *segment) deficitAt(p *chargerParams, t int64) float64 {
	h := float64(t-s.from) / nsPerHour
	if h < s.bulkH {
		return s.d0 - p.imax*h
	}
	return math.Min(s.d0, p.imax*s.tauH) * math.Exp(-(h-s.bulkH)/s.tauH)
}

// doneAt is when the recharge current falls below iEnd.
func (s *segment) doneAt(p *chargerParams) int64 {
	i0 := math.Min(s.d0, p.imax*s.tauH) / s.tauH
	h := s.bulkH
	if i0 > p.iEnd {
		h += s.tauH * math.Log(i0/p.iEnd)
	}
	return s.from + int64(h*nsPerHour)
}

type dInterval struct {
	a, b  int64
	cur   float64
	surge bool
}

// planCluster lays out the charger timeline of a cluster of events (sorted
// by start) into segs, starting from a fully charged string, and returns it
// with the cluster's end (activity end plus the settling tail).
func (p *chargerParams) planCluster(evs []Event, segs []segment) ([]segment, int64) {
	segs = segs[:0]
	start := evs[0].Start.UnixNano()
	end := start
	var ivs [16]dInterval
	di := ivs[:0]
	var pts [32]int64
	bp := pts[:0]
	for _, e := range evs {
		a, b := e.Start.UnixNano(), e.End.UnixNano()
		end = max(end, b)
		if !e.Discharges() {
			continue
		}
		b = e.DischargeEnd().UnixNano()
		if I := p.eventCurrent(e); I > 0 {
			// A discharge cannot outlast the charge a string holds (a UPS
			// at 1-3 C has 5-15 min of autonomy, then drops the load):
			// stop it when even a new string (1.1 × rated, Peukert)
			// would be at cutoff, so the recharge returns what was taken
			// out.
			h := 1.1 * p.capAh * peukertFactor(I, p.capAh/10, p.peukert) / I
			b = min(b, a+int64(h*nsPerHour))
		}
		if b <= a {
			continue
		}
		di = append(di, dInterval{a, b, p.eventCurrent(e), e.Kind == EventSurge})
		bp = append(bp, a, b)
	}
	slices.Sort(bp)
	bp = slices.Compact(bp)

	cur := p.newCharge(start, 0, false)
	deficit, boosting, surgeOnly := 0.0, false, false
	// closeAt ends the current segment at t, carrying the deficit and
	// whether the charger was in boost.
	closeAt := func(t int64) {
		if cur.kind == segIdle && t >= cur.to { // walk-in over: recharge began
			segs = append(segs, cur)
			cur = p.newCharge(cur.to, deficit, boosting)
		}
		if cur.kind == segCharge {
			deficit = cur.deficitAt(p, t)
			boosting = cur.boost && cur.excessA(p, t) >= p.iSwitch
		}
		cur.to = t
		if t > cur.from {
			segs = append(segs, cur)
		}
	}
	// afterDischarge: the charger walks in (idle) unless only a surge drew
	// current (the charger never stopped), then recharges the deficit.
	afterDischarge := func(t int64) {
		closeAt(t)
		if !surgeOnly && p.walkInNs > 0 {
			cur = segment{from: t, to: t + p.walkInNs, kind: segIdle}
		} else {
			cur = p.newCharge(t, deficit, boosting)
		}
	}
	for k := 0; k+1 < len(bp); k++ {
		a, b := bp[k], bp[k+1]
		I, so := 0.0, true
		for _, v := range di {
			if v.a <= a && v.b >= b {
				I += v.cur
				so = so && v.surge
			}
		}
		if I > 0 {
			closeAt(a)
			deficit += I * float64(b-a) / nsPerHour * p.overcharge
			cur, surgeOnly = segment{from: a, to: b, kind: segDischarge, cur: I}, so
		} else if cur.kind == segDischarge {
			afterDischarge(a)
		}
	}
	if cur.kind == segDischarge {
		afterDischarge(bp[len(bp)-1])
	}
	if cur.kind == segIdle {
		segs = append(segs, cur)
		cur = p.newCharge(cur.to, deficit, boosting)
	}
	cur.to = math.MaxInt64
	segs = append(segs, cur)
	end = max(end, cur.doneAt(p))
	return segs, end + int64(settleTail)
}

// BuildStringSpan fills dst (reusing its slices) with the string's operating
// timeline at start + i*step. Flags: FlagTransfer while an outage is on
// battery and for a whole generator test, FlagGeneratorTest for the test,
// FlagEqualize for an equalize. Give it every site and string event of the
// span's days and of the day before (recharges cross midnight), including
// capacity tests (EventDischargeTest, CurrentA as the test current, End the
// planned end; the discharge also stops when even a new string would be at
// cutoff). Jars latch at CutoffV when they reach it; for a realistic
// recharge, run the jars once, then rebuild with End at the first jar's
// cutoff. Events are grouped into clusters (an event, the recharge it
// causes and a settling tail; overlapping clusters merge); each cluster is
// laid out from its first event with the string fully charged, so every
// sample is a pure function of (cfg, seed, absolute time, events).
func BuildStringSpan(dst *StringSpan, cfg StringConfig, seed uint64, start time.Time, step time.Duration, n int, events []Event) {
	start = start.UTC()
	dst.Start, dst.Step, dst.N = start, step, n
	dst.Mode = growSlice(dst.Mode, n)
	dst.CurrentA = growSlice(dst.CurrentA, n)
	dst.SetpointV = growSlice(dst.SetpointV, n)
	dst.Flags = growSlice(dst.Flags, n)
	dst.RippleV = growSlice(dst.RippleV, n)
	dst.RippleA = growSlice(dst.RippleA, n)
	dst.busy = growSlice(dst.busy, n)
	dst.cfg, dst.seed, dst.built, dst.carryFrom = cfg, seed, true, 0
	p := newChargerParams(cfg, seed, step)
	dst.floatV, dst.floatA = p.floatV, p.floatA
	startNs, stepNs := start.UnixNano(), int64(step)
	endNs := startNs + int64(n)*stepNs

	fSet, fCur := float32(p.floatV), float32(p.floatA)
	for i := range n {
		dst.Mode[i], dst.CurrentA[i], dst.SetpointV[i], dst.Flags[i], dst.busy[i] = ModeFloat, fCur, fSet, 0, false
	}

	open := func(t int64) bool {
		return cfg.OpenFrom != 0 && t >= cfg.OpenFrom && (cfg.OpenTo == 0 || t < cfg.OpenTo)
	}
	evs := dst.evs[:0]
	for _, e := range events {
		// An open string carries no current: its events do not reach it.
		if (e.Discharges() || e.Kind == EventEqualize) && !open(e.Start.UnixNano()) {
			evs = append(evs, e)
		}
	}
	sortEvents(evs)
	dst.evs = evs
	// Flags straight from the events.
	for _, e := range evs {
		switch e.Kind {
		case EventTransfer:
			setFlags(dst.Flags, FlagTransfer, e.Start.UnixNano(), e.End.UnixNano(), startNs, stepNs)
		case EventGeneratorTest: // the load is transferred for the whole test
			setFlags(dst.Flags, FlagGeneratorTest|FlagTransfer, e.Start.UnixNano(), e.End.UnixNano(), startNs, stepNs)
		case EventEqualize:
			setFlags(dst.Flags, FlagEqualize, e.Start.UnixNano(), e.End.UnixNano(), startNs, stepNs)
		}
	}

	dst.Events = dst.Events[:0]
	dst.clusterEnd = dst.clusterEnd[:0]
	for i := 0; i < len(evs); {
		j := i + 1
		var cEnd int64
		dst.segs, cEnd = p.planCluster(evs[i:j], dst.segs)
		for j < len(evs) && evs[j].Start.UnixNano() < cEnd+p.mergeGapNs {
			j++
			dst.segs, cEnd = p.planCluster(evs[i:j], dst.segs)
		}
		cStart := evs[i].Start.UnixNano()
		if cStart < endNs && cEnd > startNs {
			dst.Events = append(dst.Events, evs[i:j]...)
			dst.clusterEnd = append(dst.clusterEnd, cEnd)
			if cStart <= startNs {
				dst.carryFrom = cStart
			}
			p.fillCluster(dst, evs[i:j], cStart, cEnd, startNs)
		}
		i = j
	}

	// An open cell opens its series string (vrla-physics.md): no current,
	// no charger setpoint across the jars, which rest at open circuit.
	if cfg.OpenFrom != 0 {
		if open(startNs) {
			dst.carryFrom = 0
		}
		for i := range n {
			if open(startNs + int64(i)*stepNs) {
				dst.Mode[i], dst.CurrentA[i], dst.SetpointV[i], dst.busy[i] = ModeIdle, 0, 0, false
			}
		}
	}

	// Ripple from the rectifier model (see ripple.go).
	drift := valueNoise{seed: p.seedRip, period: 1800}
	for i := range n {
		if dst.Mode[i] == ModeIdle && !dst.busy[i] {
			dst.RippleA[i], dst.RippleV[i] = 0, 0 // open string: no ripple current
			continue
		}
		ra := p.rippleA(dst.Mode[i], float64(dst.CurrentA[i]), startNs+int64(i)*stepNs, &drift)
		dst.RippleA[i] = float32(ra)
		dst.RippleV[i] = float32(ra * p.rippleZ)
	}
}

func (p *chargerParams) fillCluster(dst *StringSpan, evs []Event, cStart, cEnd, startNs int64) {
	stepNs := p.stepNs
	i0 := max(0, int(ceilDiv(cStart-startNs, stepNs)))
	i1 := min(dst.N, int(ceilDiv(cEnd-startNs, stepNs)))
	segs := dst.segs
	k := 0
	for i := i0; i < i1; i++ {
		t := startNs + int64(i)*stepNs
		for k+1 < len(segs) && t >= segs[k].to {
			k++
		}
		s := &segs[k]
		dst.busy[i] = true
		switch s.kind {
		case segDischarge:
			dst.Mode[i], dst.CurrentA[i], dst.SetpointV[i] = ModeDischarge, float32(-s.cur), 0
		case segIdle:
			dst.Mode[i], dst.CurrentA[i], dst.SetpointV[i] = ModeIdle, 0, 0
		default:
			x := s.excessA(p, t)
			switch {
			case dst.Flags[i]&FlagEqualize != 0:
				// Equalize at boost voltage on a charged string: the
				// current settles from ~0.8 % C to ~0.2 % C (estimate).
				eq := 0.0
				for _, e := range evs {
					if e.Kind == EventEqualize && e.Start.UnixNano() <= t && t < e.End.UnixNano() {
						eq = p.capAh * (0.002 + 0.006*math.Exp(-float64(t-e.Start.UnixNano())/nsPerHour))
					}
				}
				dst.Mode[i], dst.CurrentA[i], dst.SetpointV[i] = ModeEqualize, float32(p.floatA+math.Max(x, eq)), float32(p.eqV)
			case s.boost && x >= p.iSwitch:
				dst.Mode[i], dst.CurrentA[i], dst.SetpointV[i] = ModeBoost, float32(p.floatA+x), float32(p.boostV)
			default:
				dst.Mode[i], dst.CurrentA[i], dst.SetpointV[i] = ModeFloat, float32(p.floatA+x), float32(p.floatV)
			}
		}
	}
}

// rippleA is the RMS ripple current at a sample: the rectifier's ripple
// (higher in boost), or on battery a UPS inverter's 100 Hz draw from the DC
// link; slow drift and jitter are counter-based on absolute time.
func (p *chargerParams) rippleA(m Mode, cur float64, tNs int64, drift *valueNoise) float64 {
	var ra float64
	switch m {
	case ModeFloat:
		ra = p.rippleBaseA
	case ModeBoost, ModeEqualize:
		ra = 1.6 * p.rippleBaseA
	case ModeDischarge:
		if p.ups {
			ra = 0.04*math.Abs(cur) + 0.05*p.rippleBaseA
		} else {
			ra = 0.005*math.Abs(cur) + 0.05*p.rippleBaseA
		}
	default:
		ra = 0.1 * p.rippleBaseA
	}
	sec := float64(tNs) / 1e9
	k := uint64(floorDiv(tNs, p.stepNs))
	return ra * (1 + 0.08*drift.at(sec) + 0.02*FastGauss(p.seedRip, k))
}

// StringStress is the mean ageing stress of a string's jars in a room of
// climate c (see Stress): the room's mean; its hours above 30 °C from HVAC
// faults (each 1-8 h, skewed short, ~2.5 h on average, of which the room
// spends about two hours above 30 °C once it has warmed: estimate); the
// discharges of the outage model (SiteEvents: ~3 a month, on battery until
// the generator takes over or the string reaches cutoff) and a capacity
// test every ~2 years at ~80 % depth; the float trim above the
// compensated setpoint; and the ripple current of the string's charger at
// its wear.
func StringStress(cfg StringConfig, c Climate) Stress {
	p := newChargerParams(cfg, 0, time.Second)
	s := Stress{RoomC: c.RoomMeanC(), HoursAbove30PerYear: 2 * c.HVACFaultsPerYear, HotC: 33,
		FloatExcessV: math.Max(0, cfg.FloatTrimV), RippleC: p.rippleBaseA / p.capAh}
	// Mean depth of an outage: the on-battery time distribution of
	// SiteEvents (70 % 2-60 s, 25 % 1-10 min, 5 % 10-60 min, log-uniform),
	// capped by the string's autonomy at its load.
	load := cfg.LoadA
	if load <= 0 {
		load = NominalLoadA(cfg.System)
	}
	autoH := 1.1 * p.capAh * peukertFactor(load, p.capAh/10, p.peukert) / load
	meanS := 0.0
	for _, b := range [...]struct{ w, lo, hi float64 }{{0.70, 2, 60}, {0.25, 60, 600}, {0.05, 600, 3600}} {
		for k := range 16 { // log-uniform quadrature
			d := b.lo * math.Pow(b.hi/b.lo, (float64(k)+0.5)/16)
			meanS += b.w / 16 * math.Min(d, autoH*3600)
		}
	}
	outages := outagesPerMonth * 12
	dodOut := load * meanS / 3600 / p.capAh
	const tests, dodTest = 0.5, 0.8
	s.DischargesPerYear = outages + tests
	s.MeanDoD = (outages*dodOut + tests*dodTest) / s.DischargesPerYear
	return s
}

// Quiet reports whether sample i is outside every activity cluster: the
// string is on float (or open) with every jar in its canonical state.
func (sp *StringSpan) Quiet(i int) bool { return sp.built && !sp.busy[i] }

// FloatCurrentA is a string's float current on a charged string of capAh
// blocks: ~0.07 % C at 25 °C, doubling per 10 °C (vrla-physics.md: "Float
// current doubles per ~10 °C"), rising with the string's age (estimate
// +8 %/yr: grid corrosion and a weaker oxygen cycle), times mult for a jar
// in distress (JarLife.FloatCurrentMult: a thermal-runaway onset draws
// more than 3x its steady value, a drying jar more).
func FloatCurrentA(capAh, tempC, ageYears, mult float64) float64 {
	return 0.0007 * capAh * math.Exp2((tempC-25)/10) * (1 + 0.08*math.Max(0, ageYears)) * math.Max(1, mult)
}

func setFlags(f []uint8, bit uint8, a, b, startNs, stepNs int64) {
	i0 := max(0, int(ceilDiv(a-startNs, stepNs)))
	i1 := min(len(f), int(ceilDiv(b-startNs, stepNs)))
	for i := i0; i < i1; i++ {
		f[i] |= bit
	}
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
