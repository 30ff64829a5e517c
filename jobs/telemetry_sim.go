package jobs

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/google/uuid"
)

// The simulation side of the telemetry family: what each entity-day is
// made of (seeds, events, string configuration, room), the monitoring
// chain that reads it, and pull iterators of the readings. The jar and
// string writers, nine tenths of the stage's rows, only map readings to
// rows; the event-window, ripple and room-sensor writers still pull their
// physics samples (JarSim, RippleWaveform, EnvSpan) in their own loops.

// --- shared per-day simulation context -----------------------------------

// daySim builds the string and environment spans of one string-day and
// simulates jars over it. It owns reusable buffers; one per task.
type daySim struct {
	tel    *telemetry
	span   physics.StringSpan // scratch spans for event windows
	env    physics.EnvSpan
	jar    physics.JarSim
	events []physics.Event
	faults []physics.SensorFault
}

type spanKey struct {
	id   uuid.UUID
	day  int64
	step time.Duration
	n    int
}

type envSpanKey struct {
	seed uint64
	day  int64
	step time.Duration
	n    int
}

// spanShare shares built spans between the tasks of a run, bounded by
// bytes. A span depends only on its key, while the tasks that read it are
// split otherwise: a room's span by site and day, but jar and string tasks
// by bucket (without it every string of every bucket rebuilt its site's
// day: 648 builds a fleet-day for 9 rooms); a string's span by string and
// day, but each of a day's 8 jar buckets holds jars of nearly every string
// (each bucket task built every string-day, and the string task once
// more). Spans are never written once built, so tasks read them at once.
type spanShare[K comparable, S any] struct {
	mu   sync.Mutex
	m    map[K]*spanEntry[S]
	fifo []K
	used int
}

type spanEntry[S any] struct {
	once  sync.Once
	span  S
	bytes int
}

// spanShareBudget bounds each shared cache: a 1-min site-day is ~25 KB,
// a 5 s string-day ~310 KB, so a fleet-day's 81 fit (each task kept
// 64 MB of its own before).
const spanShareBudget = 64 << 20

// get returns the span of k, building it once with build; bytes is its
// size for the budget.
func (c *spanShare[K, S]) get(k K, bytes int, build func(*S)) *S {
	c.mu.Lock()
	x := c.m[k]
	if x == nil {
		if c.m == nil {
			c.m = map[K]*spanEntry[S]{}
		}
		x = &spanEntry[S]{bytes: bytes}
		for c.used+x.bytes > spanShareBudget && len(c.fifo) > 0 {
			old := c.fifo[0]
			c.fifo = c.fifo[1:]
			c.used -= c.m[old].bytes
			delete(c.m, old) // users keep their pointer; never recycled
		}
		c.m[k] = x
		c.fifo = append(c.fifo, k)
		c.used += x.bytes
	}
	c.mu.Unlock()
	x.once.Do(func() { build(&x.span) })
	return &x.span
}

// reset drops every span; users keep the pointers they hold.
func (c *spanShare[K, S]) reset() {
	c.mu.Lock()
	c.m, c.fifo, c.used = nil, nil, 0
	c.mu.Unlock()
}

// room is the shared span of k's room.
func (tel *telemetry) room(k envSpanKey, climate physics.Climate, day time.Time) *physics.EnvSpan {
	return tel.rooms.get(k, 64+k.n*17, func(sp *physics.EnvSpan) { physics.BuildEnvSpan(sp, k.seed, climate, day, k.step, k.n) })
}

// --- observation model ------------------------------------------------------

// The monitoring chain's seeds: a module per rack position (a replacement
// jar is read by the same module), a gateway per string, a BMS server per
// site. Nothing here reads a jar's life: what a sensor adds to a reading
// belongs to the sensor (physics.NewJarSensor).
func (tel *telemetry) moduleSeed(b *fleet.Battery) uint64 { return tel.Seed("bms-module", b.Slot) }
func (tel *telemetry) gatewaySeed(s *fleet.String) uint64 { return tel.Seed("bms-gateway", s.Code) }
func (tel *telemetry) bmsSiteSeed(siteCode string) uint64 { return tel.Seed("bms-site", siteCode) }

// bmsModel is the monitoring product installed at a site.
func (tel *telemetry) bmsModel(siteCode string) physics.BMSModel {
	return physics.BMSModels[tel.bmsSiteSeed(siteCode)%uint64(len(physics.BMSModels))]
}

// jarSensor is the state of b's monitoring module on day.
func (tel *telemetry) jarSensor(b *fleet.Battery, day time.Time) physics.JarSensor {
	site := tel.Fleet.SiteByID[b.LocationID]
	return physics.NewJarSensor(tel.bmsModel(site.Code), tel.moduleSeed(b), tel.bmsSiteSeed(site.Code), day.Add(12*time.Hour))
}

// jarFaults are the faults b's rows see on day: its module's, its string
// gateway's and its site server's.
func (tel *telemetry) jarFaults(dst []physics.SensorFault, b *fleet.Battery, day time.Time, n int) []physics.SensorFault {
	site := tel.Fleet.SiteByID[b.LocationID]
	return physics.JarDayFaults(dst, physics.Mix(tel.moduleSeed(b), DayNumber(day)), tel.gatewaySeed(tel.Fleet.StringByID[b.StringID]),
		tel.bmsSiteSeed(site.Code), day, n, physics.DefaultFaultRates)
}
func (tel *telemetry) stringSeed(s *fleet.String) uint64 { return tel.Seed("string", s.Code) }
func (tel *telemetry) jarSeed(b *fleet.Battery) uint64   { return tel.Seed("jar", b.Code) }

// stringEvents collects the events a string sees on day and the day before
// (carry-over: a recharge can run past midnight).
func (tel *telemetry) stringEvents(dst []physics.Event, s *fleet.String, day time.Time) []physics.Event {
	sys := tel.Fleet.SystemByID[s.SystemID]
	site := tel.Fleet.SiteByID[sys.LocationID]
	dst = dst[:0]
	for _, d := range []time.Time{day.AddDate(0, 0, -1), day} {
		dst = append(dst, physics.SiteEvents(tel.siteSeed(site), sys.Kind, d)...)
		dst = append(dst, physics.EqualizeEvents(tel.stringSeed(s), d)...)
		dst = append(dst, dischargeTestEvents(s, d)...)
	}
	slices.SortStableFunc(dst, func(a, b physics.Event) int { return a.Start.Compare(b.Start) })
	return dst
}

// stringConfig is the operating configuration of s on day. Everything in
// it is a function of the day, never of the scenario's end, so a month
// backfilled alone equals the same month of any longer run.
func (tel *telemetry) stringConfig(s *fleet.String, day time.Time) physics.StringConfig {
	cfg := tel.Fleet.StringConfig(s, day)
	// A jar failed open (an open cell, or the end of a dry-out) opens the
	// string from its failure until it is removed.
	end := day.Add(24 * time.Hour)
	for _, b := range tel.Fleet.StringJars(s.ID) {
		l := &b.Life
		if !l.OpensString() || !l.FailureAt.Before(end) || (!b.Removed.IsZero() && !b.Removed.After(day)) || !b.InstalledDate.Before(end) {
			continue
		}
		cfg.OpenFrom = l.FailureAt.UnixNano()
		if !b.Removed.IsZero() {
			cfg.OpenTo = b.Removed.UnixNano()
		}
		break
	}
	return cfg
}

// prepare returns the string and environment spans of (s, day) at step,
// shared with the run's other tasks (read-only).
func (ds *daySim) prepare(s *fleet.String, day time.Time, step time.Duration, n int) (*physics.StringSpan, *physics.EnvSpan) {
	tel := ds.tel
	sys := tel.Fleet.SystemByID[s.SystemID]
	site := tel.Fleet.SiteByID[sys.LocationID]
	str := tel.strSpans.get(spanKey{id: s.ID, day: day.Unix(), step: step, n: n}, 64+n*18, func(sp *physics.StringSpan) {
		ds.events = tel.stringEvents(ds.events, s, day)
		physics.BuildStringSpan(sp, tel.stringConfig(s, day), tel.stringSeed(s), day, step, n, ds.events)
	})
	envStep, _ := envStepFor(step)
	env := tel.room(envSpanKey{seed: tel.siteSeed(site), day: day.Unix(), step: envStep, n: int(time.Duration(n)*step/envStep) + 1}, site.Climate, day)
	return str, env
}

// envStepFor is the environment resolution a jar simulation at step reads:
// the 60 s room model when step divides it, else step itself; and the ratio.
func envStepFor(step time.Duration) (time.Duration, int) {
	if step <= time.Minute && time.Minute%step == 0 {
		return time.Minute, int(time.Minute / step)
	}
	return step, 1
}

// stringFaultRates are the string sensor's own faults per day (estimates:
// one module per string, like a jar module).
var stringFaultRates = physics.FaultRates{DropoutPerDay: 0.01, StuckPerDay: 0.005, SpikesPerDay: 0.05}

// floatCurrents is the string's float current per env sample of day: the
// jars' mean ambient, the string's age and the worst jar's distress
// (physics.FloatCurrentA), or nil for a string without jars.
func (tel *telemetry) floatCurrents(s *fleet.String, jars []*fleet.Battery, sp *physics.StringSpan, env *physics.EnvSpan, day time.Time, ratio int) []float64 {
	if len(jars) == 0 || env.N == 0 {
		return nil
	}
	capAh := tel.Fleet.ModelByID[s.ModelID].CapacityAh
	m := (sp.N + ratio - 1) / ratio
	out := make([]float64, m)
	lag := env.LagC
	if len(lag) < env.N {
		lag = env.TempC
	}
	for k := range out {
		t := day.Add(time.Duration(k*ratio) * sp.Step)
		age, mult := 0.0, 1.0
		for _, b := range jars {
			age += t.Sub(b.InstalledDate).Hours() / (24 * 365.25)
			if b.Life.Failure != physics.FailureNone {
				mult = max(mult, b.Life.FloatCurrentMult(t))
			}
		}
		out[k] = physics.FloatCurrentA(capAh, float64(lag[min(k, env.N-1)]), age/float64(len(jars)), mult)
	}
	return out
}

// --- readings -------------------------------------------------------------

// jarReading is one report of a jar's BMS module, in physical units.
type jarReading struct {
	I              int // sample index in the day
	VoltageV       float64
	TempC          float64
	ResistanceMOhm float64
	// Ohmic: a new ohmic measurement is taken at this sample (the first of
	// each OhmicRefresh period, in absolute time, so a day alone matches a
	// long run); between them the module holds its last one.
	Ohmic bool
	Stuck stuckState
}

// stuckState is where a sample lies in a stuck-sensor interval.
type stuckState uint8

const (
	notStuck   stuckState = iota
	stuckFirst            // the interval's first sample: reported as read
	stuckHeld             // later samples: the sensor repeats a frozen report
)

// jarDay pulls one jar-day's readings as its module reports them: the jar
// simulation (physics.JarSim, the module's noise and calibration included)
// through the day's faults: dropouts yield nothing, spikes add to their
// channel, stuck intervals are flagged.
type jarDay struct {
	sim      *physics.JarSim
	faults   []physics.SensorFault
	fLo, fHi int // the samples the faults cover
	i, n     int
	stepSec  int64
}

// startJarDay resets ds.jar to b's day at step (n samples) and points it
// at its readings. it is valid until the next prepare or startJarDay.
func (ds *daySim) startJarDay(it *jarDay, b *fleet.Battery, s *fleet.String, day time.Time, step time.Duration, n int) {
	tel := ds.tel
	_, ratio := envStepFor(step)
	span, env := ds.prepare(s, day, step, n)
	ds.jar.Sensor = tel.jarSensor(b, day)
	ds.jar.Reset(&b.Life, tel.jarSeed(b), span, env, ratio)
	ds.faults = tel.jarFaults(ds.faults, b, day, n)
	*it = jarDay{sim: &ds.jar, faults: ds.faults, fLo: n, i: 0, n: n,
		stepSec: int64(step / time.Second)}
	for _, f := range ds.faults {
		it.fLo, it.fHi = min(it.fLo, f.From), max(it.fHi, f.To)
	}
}

// ohmicRefreshSec is a constant so the per-sample modulo compiles to a
// multiply (a division by a field cost 10 % of the jar table's time).
const ohmicRefreshSec = int64(OhmicRefresh / time.Second)

// jarChunk is how many readings jarDay.next returns at a time: pulling
// one reading per call cost the jar table 10-15 % of its CPU time (every
// register of the writer's loop spilled around two nested calls); a
// chunk keeps both loops tight and fits in L1 (256 x 48 B).
const jarChunk = 256

// next returns the day's next reported samples in dst[:0], up to its
// capacity; an empty result is the day's end.
func (d *jarDay) next(dst []jarReading) ([]jarReading, error) {
	// Filled in place: building a reading and appending it cost a copy
	// per sample.
	dst = dst[:cap(dst)]
	k := 0
	for d.i < d.n && k < len(dst) {
		i := d.i
		d.i++
		smp, ok := d.sim.Next() // a dropped sample still advances the jar
		if !ok {
			return dst[:k], fmt.Errorf("simulator ended at sample %d of %d", i, d.n)
		}
		r := &dst[k]
		r.I, r.VoltageV, r.TempC, r.ResistanceMOhm = i, smp.VoltageV, smp.TempC, smp.ResistanceMOhm
		r.Ohmic, r.Stuck = int64(i)*d.stepSec%ohmicRefreshSec < d.stepSec, notStuck
		if i >= d.fLo && i < d.fHi {
			if f := physics.ActiveFault(d.faults, i); f != nil {
				switch f.Kind {
				case physics.FaultDropout:
					continue // the slot is reused
				case physics.FaultSpike:
					if f.Channel == physics.ChannelTemperature {
						r.TempC += f.Magnitude
					} else {
						r.VoltageV += f.Magnitude
					}
				case physics.FaultStuck:
					r.Stuck = stuckFirst
					if i > f.From {
						r.Stuck = stuckHeld
					}
				}
			}
		}
		k++
	}
	return dst[:k], nil
}

// stringReading is one report of a string's sensor and its operating
// timeline, in physical units.
type stringReading struct {
	I                int
	VoltageV         float64
	CurrentA         float64
	RippleV, RippleA float64
	Mode             physics.Mode
	Flags            uint8 // physics.FlagEqualize | ...
	Stuck            stuckState
}

// stringDay pulls one string-day's readings: the sum of its jars' true
// voltages (the same JarSim streams as telemetry_jar_raw) seen by the
// string sensor (calibration, noise, its faults and its gateway's and
// site server's gaps); current, mode, ripple and flags from the string's
// timeline, and on float the float current (floatCurrents).
type stringDay struct {
	sp     *physics.StringSpan
	sumV   []float64
	floatA []float64
	ratio  int
	faults []physics.SensorFault
	seed   uint64
	calV   float64
	abs0   uint64
	i, n   int
}

// startStringDay simulates the jars of s on day (n samples at step) and
// readies it for its readings; jars is not empty. it's sumV and faults
// buffers are reused.
func (ds *daySim) startStringDay(it *stringDay, s *fleet.String, jars []*fleet.Battery, day time.Time, step time.Duration, n int) error {
	tel := ds.tel
	_, ratio := envStepFor(step)
	seed := physics.Mix(tel.stringSeed(s), physics.HashString("string-sensor"))
	sumV := slices.Grow(it.sumV[:0], n)[:n]
	sp, env := ds.prepare(s, day, step, n)
	clear(sumV)
	for _, b := range jars {
		ds.jar.Sensor = physics.JarSensor{}
		ds.jar.Reset(&b.Life, tel.jarSeed(b), sp, env, ratio)
		if !ds.jar.AddTrueV(sumV) {
			return fmt.Errorf("string %s jar %s day %s: simulator ended early", s.Code, b.Code, day.Format(time.DateOnly))
		}
	}
	site := tel.Fleet.SiteByID[s.LocationID]
	faults := physics.JarSensorFaults(it.faults, physics.Mix(seed, DayNumber(day)), day, n, stringFaultRates)
	faults = physics.GatewayFaults(faults, tel.gatewaySeed(s), tel.bmsSiteSeed(site.Code), day, n)
	*it = stringDay{sp: sp, sumV: sumV, floatA: tel.floatCurrents(s, jars, sp, env, day, ratio), ratio: ratio, faults: faults, seed: seed,
		// The string module's calibration offset (0.02 % of reading,
		// 1 σ: estimate), redrawn at its yearly recalibration.
		calV: 0.0002 * physics.Gauss(physics.Mix(seed, physics.HashString("cal")), uint64(day.Year())),
		abs0: uint64(day.Unix()) / uint64(step/time.Second), n: n}
	return nil
}

// next returns the next reported sample; false at the day's end.
func (d *stringDay) next() (stringReading, bool) {
	sp := d.sp
	for d.i < d.n {
		i := d.i
		d.i++
		var fault *physics.SensorFault
		if len(d.faults) > 0 {
			fault = physics.ActiveFault(d.faults, i)
		}
		if fault != nil && fault.Kind == physics.FaultDropout {
			continue
		}
		// String sensor: 0.05 V and 0.05 A noise on top of the physics.
		r := stringReading{I: i, Mode: sp.Mode[i], Flags: sp.Flags[i], RippleV: float64(sp.RippleV[i]), RippleA: float64(sp.RippleA[i]),
			VoltageV: d.sumV[i]*(1+d.calV) + 0.05*physics.FastGauss(d.seed, d.abs0+uint64(i))}
		cur := float64(sp.CurrentA[i])
		if d.floatA != nil && sp.Quiet(i) && sp.Mode[i] == physics.ModeFloat {
			cur = d.floatA[i/d.ratio]
		}
		r.CurrentA = cur + 0.05*physics.FastGauss(d.seed^0x5bd1e995, d.abs0+uint64(i))
		if fault != nil {
			switch fault.Kind {
			case physics.FaultSpike:
				r.VoltageV += 10 * fault.Magnitude // a string sensor's spike: tens of volts
			case physics.FaultStuck:
				r.Stuck = stuckFirst
				if i > fault.From {
					r.Stuck = stuckHeld
				}
			}
		}
		return r, true
	}
	return stringReading{}, false
}
