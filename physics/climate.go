package physics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Battery-room environment of a Thai data centre (vrla-physics.md, "Data-
// centre context"): hot season March-May, rainy season May-October, cool
// season November-February; rooms are air-conditioned (22-27 °C) and warm
// quickly when the HVAC fails. Times are UTC; Thailand is UTC+7.

const (
	thaiUTCOffsetH = 7
	secPerDay      = 86400
	// Gregorian mean year: keeps 1 January of any year within a day of the
	// epoch-based year fraction, so seasons need no calendar lookups.
	secPerYear = 365.2425 * secPerDay

	// Jar thermal lag (estimate): a 33-40 kg block (~0.75 kJ/kg·K, ~28 kJ/K)
	// behind ~0.25 K/W of surface resistance has τ ≈ 2 h.
	blockTauSec = 2 * 3600
	lagGridSec  = 300                   // LagC is filtered on a 5-min absolute grid...
	lagTaps     = 6 * blockTauSec / 300 // ...over 6τ (12 h), residual weight e^-6
	faultTailS  = 6 * 3600              // after this a fault no longer warms the room
	faultMaxDur = 8 * 3600              // longest HVAC fault
	faultLookS  = faultMaxDur + faultTailS + 6*blockTauSec + lagGridSec
)

// thaiTempShape is the outdoor monthly anomaly normalised to +1 in the
// hottest month (April). Estimate from Bangkok monthly mean temperatures
// (Jan..Dec ≈ 27.0 28.3 29.5 30.5 30.0 29.5 29.0 28.8 28.3 28.1 27.8 26.9 °C,
// mean 28.6): OutdoorSeasonAmpC is the hot-season swing above the mean.
var thaiTempShape = [12]float64{-0.88, -0.18, 0.46, 1.00, 0.73, 0.46, 0.19, 0.09, -0.18, -0.29, -0.45, -0.94}

// thaiRHAnom is the outdoor relative-humidity anomaly in points (estimate
// from Bangkok normals: dry December-March, wettest September).
var thaiRHAnom = [12]float64{-6.6, -3.6, -3.6, -2.6, 1.4, 2.4, 3.4, 4.4, 6.4, 5.4, -0.6, -6.6}

// thaiRainy is 1 in the rainy season (May-October): clouds damp the daily swing.
var thaiRainy = [12]float64{0, 0, 0, 0.3, 1, 1, 1, 1, 1, 1, 0.4, 0}

var (
	tagHVAC     = HashString("env.hvac_fault")
	tagWeather  = HashString("env.weather")
	tagRoom     = HashString("env.room")
	tagHumidity = HashString("env.humidity")
	tagCycle    = HashString("env.cycle")
	tagWarmTau  = HashString("env.warm_tau")
)

// lagW are the normalised weights of the jar thermal lag, a first-order
// filter sampled on the lag grid and truncated at 6τ. A finite window keeps
// LagC a pure function of absolute time (no state carried between spans).
var lagW = func() (w [lagTaps]float64) {
	a := math.Exp(-float64(lagGridSec) / blockTauSec)
	sum := 0.0
	for k := range w {
		w[k] = math.Pow(a, float64(k))
		sum += w[k]
	}
	for k := range w {
		w[k] /= sum
	}
	return
}()

// Validate reports parameters outside the physically sensible range.
func (c Climate) Validate() error {
	var errs []error
	check := func(name string, v, lo, hi float64) {
		if math.IsNaN(v) || v < lo || v > hi {
			errs = append(errs, fmt.Errorf("climate: %s = %v outside [%v, %v]", name, v, lo, hi))
		}
	}
	check("OutdoorMeanC", c.OutdoorMeanC, -10, 45)
	check("OutdoorSeasonAmpC", c.OutdoorSeasonAmpC, 0, 15)
	check("OutdoorDailyAmpC", c.OutdoorDailyAmpC, 0, 15)
	check("RoomSetpointC", c.RoomSetpointC, 15, 35)
	check("RoomCouplingC", c.RoomCouplingC, 0, 10)
	check("HumidityMeanPct", c.HumidityMeanPct, 5, 95)
	check("HVACFaultsPerYear", c.HVACFaultsPerYear, 0, 365)
	return errors.Join(errs...)
}

// EnvEvents returns the HVAC faults that start on the UTC day containing
// day: a Poisson number with mean HVACFaultsPerYear/365.25, each 1-8 h
// (skewed to short ones), minute-aligned. Pure function of (seed, day).
func EnvEvents(seed uint64, c Climate, day time.Time) []Event {
	d := dayNumber(day)
	s := Mix(seed, tagHVAC, uint64(d))
	n := poisson(Unit(s, 0), c.HVACFaultsPerYear/365.25)
	if n == 0 {
		return nil
	}
	evs := make([]Event, n)
	for j := range evs {
		startS := d*secPerDay + int64(Unit(s, uint64(1+2*j))*secPerDay)
		startS -= startS % 60
		u := Unit(s, uint64(2+2*j))
		dur := int64(3600 + (faultMaxDur-3600)*u*u)
		dur -= dur % 60
		evs[j] = Event{Kind: EventHVACFault, Start: time.Unix(startS, 0).UTC(), End: time.Unix(startS+dur, 0).UTC()}
	}
	slices.SortFunc(evs, func(a, b Event) int { return a.Start.Compare(b.Start) })
	for j := range evs {
		evs[j].Seq = uint32(j)
	}
	return evs
}

// envModel evaluates the room at any absolute time (seconds since epoch).
type envModel struct {
	c                      Climate
	weather, roomN, humN   valueNoise
	cyclePhase             float64
	tauWarm, tauCool       float64 // s
	faultS, faultE         []float64
	endGap, endFrac        []float64 // warming and fraction reached at each fault's end
	standbyWarmC, cycleSec float64
}

func newEnvModel(seed uint64, c Climate, faults []Event, buf []float64) (envModel, []float64) {
	m := envModel{
		c:          c,
		weather:    valueNoise{seed: Mix(seed, tagWeather), period: 6 * 3600},
		roomN:      valueNoise{seed: Mix(seed, tagRoom), period: 1800},
		humN:       valueNoise{seed: Mix(seed, tagHumidity), period: 2 * 3600},
		cyclePhase: Unit(Mix(seed, tagCycle), 0),
		// A room without cooling approaches outdoor (+ equipment heat) with
		// τ of 1-2 h (brief; "warm quickly when HVAC fails"); the restored
		// HVAC pulls it down faster.
		tauWarm:      3600 * (1 + Unit(Mix(seed, tagWarmTau), 0)),
		tauCool:      1800,
		standbyWarmC: 0.2,
		cycleSec:     1200, // compressor cycle when the room is below setpoint
	}
	nf := len(faults)
	buf = slices.Grow(buf[:0], 4*nf)[:4*nf]
	m.faultS, m.faultE, m.endGap, m.endFrac = buf[:nf], buf[nf:2*nf], buf[2*nf:3*nf], buf[3*nf:]
	for i, f := range faults {
		s, e := float64(f.Start.UnixNano())/1e9, float64(f.End.UnixNano())/1e9
		m.faultS[i], m.faultE[i] = s, e
		out := m.outdoor(e)
		rc, _ := m.controlled(e, out)
		m.endFrac[i] = 1 - math.Exp(-(e-s)/m.tauWarm)
		m.endGap[i] = faultTarget(out, rc) - rc
	}
	return m, buf
}

func (m *envModel) outdoor(sec float64) float64 {
	hLocal := math.Mod(sec/3600+thaiUTCOffsetH, 24)
	daily := math.Cos(2 * math.Pi * (hLocal - 15) / 24) // peaks ~15:00 local
	amp := m.c.OutdoorDailyAmpC * (1 - 0.3*monthTable(&thaiRainy, sec))
	return m.c.OutdoorMeanC + m.c.OutdoorSeasonAmpC*monthTable(&thaiTempShape, sec) +
		amp*daily + 1.0*m.weather.at(sec)
}

// controlled is the room with HVAC working: the setpoint plus a coupling to
// outdoor, and compressor standby cycling when the room is below setpoint.
func (m *envModel) controlled(sec, out float64) (float64, HVACState) {
	rc := m.c.RoomSetpointC + m.c.RoomCouplingC*(out-m.c.RoomSetpointC)/10 + 0.25*m.roomN.at(sec)
	duty := clamp((m.c.RoomSetpointC-rc)/0.6+0.1, 0, 0.85)
	if duty > 0.1 {
		ph := sec/m.cycleSec + m.cyclePhase
		ph -= math.Floor(ph)
		if ph < duty { // off part of the cycle: the room creeps up
			return rc + m.standbyWarmC*ph/duty, HVACStandby
		}
	}
	return rc, HVACRunning
}

// faultTarget: without cooling the room tends to outdoor plus the heat of
// its equipment (estimate +4 °C), and never cools below where it is.
func faultTarget(out, rc float64) float64 { return math.Max(out+4, rc+1.5) }

// fault returns the extra warming of the room by HVAC faults and the
// fraction of the way the room has gone towards outdoor conditions.
func (m *envModel) fault(sec, out, rc float64) (dT, frac float64, active bool) {
	for i := range m.faultS {
		s, e := m.faultS[i], m.faultE[i]
		if sec < s || sec >= e+faultTailS {
			continue
		}
		var f, gap float64
		if sec < e {
			active = true
			f = 1 - math.Exp(-(sec-s)/m.tauWarm)
			gap = faultTarget(out, rc) - rc
		} else {
			f = m.endFrac[i] * math.Exp(-(sec-e)/m.tauCool)
			gap = m.endGap[i]
		}
		if f*gap > dT {
			dT, frac = f*gap, f
		}
	}
	return
}

func (m *envModel) room(sec float64) (tempC float64, st HVACState, frac float64) {
	out := m.outdoor(sec)
	rc, st := m.controlled(sec, out)
	dT, frac, active := m.fault(sec, out, rc)
	if active {
		st = HVACFault
	}
	return rc + dT, st, frac
}

// humidity: a conditioned room holds its humidity setpoint (the site's
// HumidityMeanPct, 40-60 % RH: ASHRAE's recommended envelope tops out at
// 60 %; vrla-physics.md) with a small daily swing and noise; only while the
// HVAC is down (and during its recovery) does it drift towards the humid
// outdoor air (seasonal, peaking at the cool dawn).
func (m *envModel) humidity(sec, frac float64) float64 {
	hLocal := math.Mod(sec/3600+thaiUTCOffsetH, 24)
	daily := math.Cos(2 * math.Pi * (hLocal - 5) / 24)
	an := monthTable(&thaiRHAnom, sec)
	rh := m.c.HumidityMeanPct + 0.1*an + 0.8*daily + 1.0*m.humN.at(sec)
	if frac > 0 {
		out := math.Min(98, 74+an+10*daily)
		rh += frac * (out - rh)
	}
	return clamp(rh, 5, 99)
}

// BuildEnvSpan fills dst (reusing its slices) with the room's temperature,
// humidity, HVAC state and jar-lagged temperature at start + i*step. Every
// sample is a pure function of (seed, c, absolute time): HVAC faults of
// earlier days that are still warming the room are included. c is assumed
// valid (see Validate).
func BuildEnvSpan(dst *EnvSpan, seed uint64, c Climate, start time.Time, step time.Duration, n int) {
	start = start.UTC()
	dst.Start, dst.Step, dst.N = start, step, n
	dst.TempC = growSlice(dst.TempC, n)
	dst.Humidity = growSlice(dst.Humidity, n)
	dst.HVAC = growSlice(dst.HVAC, n)
	dst.LagC = growSlice(dst.LagC, n)
	dst.clim, dst.seed, dst.built = c, seed, true

	startNs, stepNs := start.UnixNano(), int64(step)
	endNs := startNs + int64(n)*stepNs
	dst.Events = envFaults(dst.Events[:0], seed, c, startNs, endNs)
	var m envModel
	m, dst.scratch = newEnvModel(seed, c, dst.Events, dst.scratch)
	dst.scratch = m.fillLag(dst.LagC, startNs, stepNs, dst.scratch)
	for i := range n {
		sec := float64(startNs+int64(i)*stepNs) / 1e9
		t, st, frac := m.room(sec)
		dst.TempC[i] = float32(t)
		dst.HVAC[i] = st
		dst.Humidity[i] = float32(m.humidity(sec, frac))
	}
	// Keep only the faults overlapping the span.
	k := 0
	for _, e := range dst.Events {
		if e.Start.UnixNano() < endNs && e.End.UnixNano() > startNs {
			dst.Events[k] = e
			k++
		}
	}
	dst.Events = dst.Events[:k]
}

// envFaults appends the HVAC faults that can touch [start - lag window, end).
func envFaults(dst []Event, seed uint64, c Climate, startNs, endNs int64) []Event {
	for d := floorDiv(startNs/1e9-faultLookS, secPerDay); d <= floorDiv((endNs-1)/1e9, secPerDay); d++ {
		dst = append(dst, EnvEvents(seed, c, time.Unix(d*secPerDay, 0))...)
	}
	return dst
}

// fillLag fills lag with LagC at startNs + i*stepNs: the room on the lag
// grid from lagTaps-1 points before the first sample's grid point to one
// past the last, the FIR, then linear interpolation. It appends its work
// space to buf and returns it.
func (m *envModel) fillLag(lag []float32, startNs, stepNs int64, buf []float64) []float64 {
	n := len(lag)
	if n == 0 {
		return buf
	}
	const gNs = lagGridSec * 1e9
	gA := floorDiv(startNs, gNs)
	gB := floorDiv(startNs+int64(n-1)*stepNs, gNs) + 1
	nr, ng := int(gB-gA)+lagTaps, int(gB-gA+1)
	nb := len(buf)
	buf = slices.Grow(buf, nr+ng)[:nb+nr+ng]
	room, grid := buf[nb:nb+nr], buf[nb+nr:]
	g0 := gA - lagTaps + 1
	for j := range room {
		room[j], _, _ = m.room(float64((g0 + int64(j)) * lagGridSec))
	}
	for j := range grid {
		s := 0.0
		for k := 0; k < lagTaps; k++ {
			s += lagW[k] * room[j+lagTaps-1-k]
		}
		grid[j] = s
	}
	for i := range lag {
		tNs := startNs + int64(i)*stepNs
		g := floorDiv(tNs, gNs)
		f := float64(tNs-g*gNs) / gNs
		j := int(g - gA)
		lag[i] = float32(grid[j] + (grid[j+1]-grid[j])*f)
	}
	return buf
}

// monthTable interpolates a monthly table with knots at mid-month.
func monthTable(tab *[12]float64, sec float64) float64 {
	y := sec / secPerYear
	x := (y-math.Floor(y))*12 - 0.5
	k := math.Floor(x)
	f := x - k
	i := (int(k) + 12) % 12
	j := (i + 1) % 12
	return tab[i] + (tab[j]-tab[i])*f
}

// valueNoise is counter-based smooth noise: standard normal knots every
// period seconds of absolute time, smoothstep-interpolated, so a value is a
// pure function of (seed, time). The two knots around the last evaluation
// are cached for sequential scans.
type valueNoise struct {
	seed   uint64
	period float64
	k      int64
	a, b   float64
	ok     bool
}

func (n *valueNoise) at(sec float64) float64 {
	x := sec / n.period
	kf := math.Floor(x)
	if k := int64(kf); !n.ok || k != n.k {
		if n.ok && k == n.k+1 {
			n.a = n.b
		} else {
			n.a = Gauss(n.seed, uint64(k))
		}
		n.b = Gauss(n.seed, uint64(k+1))
		n.k, n.ok = k, true
	}
	f := x - kf
	f = f * f * (3 - 2*f)
	return n.a + (n.b-n.a)*f
}

// poisson inverts the Poisson CDF at u.
func poisson(u, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	p := math.Exp(-lambda)
	c, k := p, 0
	for u > c && k < 1000 {
		k++
		p *= lambda / float64(k)
		c += p
	}
	return k
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func dayNumber(t time.Time) int64 { return floorDiv(t.Unix(), secPerDay) }

func growSlice[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
