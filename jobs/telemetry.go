package jobs

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Telemetry (phase 2). Partitions are (month, bucket) for jar and string
// tables and (month) for the environment; each partition streams its
// entities in id order and, per entity, its days in order, so rows land
// sorted by (entity id, ts) with memory bounded by one entity-day.
//
// Every sample is a pure function of (root seed, entity, absolute time):
// day d of a jar is simulated from its own seeds, with the state carried in
// from day d-1's events recomputed rather than remembered. So one day, one
// month or one bucket generated alone equals the same slice of a longer run.

// telemetry is the phase-2 family: the jobs of the raw time series and
// their truth, the seeds and operating inputs (events, string
// configuration, the monitoring chain's sensors and faults) only they use,
// and the room spans their tasks share. A task simulates with a daySim
// (physics pull iterators) and maps the samples to rows.
type telemetry struct {
	*Env
	// rooms shares built room spans between the family's tasks.
	rooms envSpanCache
}

func telemetryJobs(e *Env) []pipeline.Job {
	tel := &telemetry{Env: e}
	return []pipeline.Job{
		tel.jarRawJob(),
		tel.stringRawJob(),
		tel.envJob(),
		tel.eventWindowJob(),
		tel.rippleJob(),
		tel.truthDailyJob(),
		tel.truthEventJob(),
	}
}

// sampleInput, envInput and rippleInput name the rates a table's rows of
// day depend on; they enter the fingerprints of those tables' day segments
// only (derived stages read sample_interval back: derive.Index.Interval).
func (tel *telemetry) sampleInput(day time.Time) []string {
	return []string{"sample_interval=" + tel.Scenario.RatesOn(day).Sample.String()}
}
func (tel *telemetry) envInput(day time.Time) []string {
	return []string{"env_interval=" + tel.Scenario.RatesOn(day).Env.String()}
}
func (tel *telemetry) rippleInput(day time.Time) []string {
	return []string{"ripple_every=" + tel.Scenario.RatesOn(day).Ripple.String()}
}

// captureInput: a day's event windows with or without their samples.
func (tel *telemetry) captureInput(day time.Time) []string {
	if tel.Scenario.RatesOn(day).Captures {
		return nil // as before the historian: unchanged fingerprints
	}
	return []string{"captures=none"}
}

// samplesOn is the number of jar and string samples of day.
func (tel *telemetry) samplesOn(day time.Time) int {
	return int(24 * time.Hour / tel.Scenario.RatesOn(day).Sample)
}

// samplesIn is the number of samples per entity over the days of ms (plan
// weights).
func (tel *telemetry) samplesIn(ms lake.MonthSpan) int64 {
	var n int64
	for _, d := range Days(ms.From, ms.To) {
		n += int64(tel.samplesOn(d))
	}
	return n
}

// activeDays lists the days of [from,to) on which b is in service.
func activeDays(b *fleet.Battery, from, to time.Time) []time.Time {
	var out []time.Time
	for _, d := range Days(from, to) {
		if b.ActiveOn(d) {
			out = append(out, d)
		}
	}
	return out
}

// activeIn reports whether activeDays(b, from, to) is not empty, without
// listing the days: planning asked it for every battery and month since
// the first installation (22 M day checks for the fleet's truth).
func activeIn(b *fleet.Battery, from, to time.Time) bool {
	first := from.UTC().Truncate(24 * time.Hour)
	if b.InstalledDate.After(first) {
		// The first midnight at or after the installation.
		first = b.InstalledDate.UTC().Truncate(24 * time.Hour)
		if first.Before(b.InstalledDate) {
			first = first.Add(24 * time.Hour)
		}
	}
	return first.Before(to) && (b.Removed.IsZero() || first.Before(b.Removed))
}

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
	cache  spanCache
}

type spanKey struct {
	id   uuid.UUID
	day  int64
	step time.Duration
}

type cachedSpans struct {
	str   physics.StringSpan
	env   *physics.EnvSpan // shared, read-only (envSpanCache)
	bytes int
}

// envSpanCache shares built room spans between the tasks of a run. A
// room's span depends only on its site, day and step, while jar and string
// tasks are split by bucket and the task cache is keyed by string: without
// it every string of every bucket rebuilt its site's day (648 builds a
// fleet-day for 9 rooms; on 1 h historian days that rebuild was half of
// the jar telemetry's time). Spans are never written once built.
type envSpanCache struct {
	mu   sync.Mutex
	m    map[envSpanKey]*envSpanEntry
	fifo []envSpanKey
	used int
}

type envSpanKey struct {
	seed uint64
	day  int64
	step time.Duration
	n    int
}

type envSpanEntry struct {
	once  sync.Once
	span  physics.EnvSpan
	bytes int
}

// envSpanBudget bounds the shared cache (a 1-min site-day is ~25 KB).
const envSpanBudget = 32 << 20

// get returns the span of k, building it once with build.
func (c *envSpanCache) get(k envSpanKey, build func(*physics.EnvSpan)) *physics.EnvSpan {
	c.mu.Lock()
	x := c.m[k]
	if x == nil {
		if c.m == nil {
			c.m = map[envSpanKey]*envSpanEntry{}
		}
		x = &envSpanEntry{bytes: 64 + k.n*17}
		for c.used+x.bytes > envSpanBudget && len(c.fifo) > 0 {
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

// spanCache keeps the spans of recently prepared string-days, bounded by
// bytes. Rows are written battery by battery, so the ~3 jars of a string
// in a bucket each need the same string-days: at coarse sample intervals
// a whole partition's string-days fit and each is built once instead of
// once per jar (a year at 5 min spent most of its time rebuilding them);
// at 5 s few fit, and a miss costs only the build it replaces.
type spanCache struct {
	m     map[spanKey]*cachedSpans
	fifo  []spanKey
	used  int
	spare *cachedSpans
}

// spanCacheBudget bounds one task's cache.
const spanCacheBudget = 64 << 20

func (c *spanCache) get(k spanKey) *cachedSpans {
	if c.m == nil {
		return nil
	}
	return c.m[k]
}

// slot returns a spans holder for k, evicting the oldest entries to stay
// within budget; the caller fills it and then calls put.
func (c *spanCache) slot() *cachedSpans {
	if c.spare != nil {
		x := c.spare
		c.spare = nil
		return x
	}
	return &cachedSpans{}
}

func (c *spanCache) put(k spanKey, x *cachedSpans) {
	if c.m == nil {
		c.m = map[spanKey]*cachedSpans{}
	}
	x.bytes = x.str.N * 18
	for c.used+x.bytes > spanCacheBudget && len(c.fifo) > 0 {
		old := c.fifo[0]
		c.fifo = c.fifo[1:]
		ev := c.m[old]
		delete(c.m, old)
		c.used -= ev.bytes
		c.spare = ev // recycle one holder's buffers
	}
	if x.bytes > spanCacheBudget {
		return
	}
	c.m[k] = x
	c.fifo = append(c.fifo, k)
	c.used += x.bytes
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

// prepare returns the string and environment spans of (s, day) at step.
// They stay valid until the next prepare call.
func (ds *daySim) prepare(s *fleet.String, day time.Time, step time.Duration, n int) (*physics.StringSpan, *physics.EnvSpan) {
	k := spanKey{id: s.ID, day: day.Unix(), step: step}
	if x := ds.cache.get(k); x != nil {
		return &x.str, x.env
	}
	tel := ds.tel
	sys := tel.Fleet.SystemByID[s.SystemID]
	site := tel.Fleet.SiteByID[sys.LocationID]
	x := ds.cache.slot()
	ds.events = tel.stringEvents(ds.events, s, day)
	physics.BuildStringSpan(&x.str, tel.stringConfig(s, day), tel.stringSeed(s), day, step, n, ds.events)
	envStep, _ := envStepFor(step)
	ek := envSpanKey{seed: tel.siteSeed(site), day: day.Unix(), step: envStep, n: int(time.Duration(n)*step/envStep) + 1}
	x.env = tel.rooms.get(ek, func(sp *physics.EnvSpan) {
		physics.BuildEnvSpan(sp, ek.seed, site.Climate, day, ek.step, ek.n)
	})
	ds.cache.put(k, x)
	return &x.str, x.env
}

// envStepFor is the environment resolution a jar simulation at step reads:
// the 60 s room model when step divides it, else step itself; and the ratio.
func envStepFor(step time.Duration) (time.Duration, int) {
	if step <= time.Minute && time.Minute%step == 0 {
		return time.Minute, int(time.Minute / step)
	}
	return step, 1
}

// --- telemetry_jar_raw ------------------------------------------------------

func (tel *telemetry) jarRawJob() pipeline.Job {
	t := schema.MustLookup("telemetry_jar_raw")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "telemetry", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		var tasks []pipeline.Task
		for _, ms := range tel.windowMonths() {
			groups := batteriesByBucket(tel.Fleet, t.Partition.Buckets, ms.From, ms.To)
			for bucket := 0; bucket < t.Partition.Buckets; bucket++ {
				p := lake.MustPartition(t, ms.Month, bucket)
				bats, month := groups[bucket], ms.Month
				weight := int64(len(bats)) * tel.samplesIn(ms)
				tasks = append(tasks, pipeline.Task{Partition: p, Meta: tel.meta(t.Name, p), Segments: daySegments(ms, tel.sampleInput), Weight: weight,
					Run: func(ctx context.Context, o *lake.Output) error {
						return tel.writeJarRaw(ctx, o, t, bats, daySpan(month, o.Segment()))
					}})
			}
		}
		return tasks, nil
	}}
}

// batteriesByBucket groups the batteries in service at any time in
// [from,to) by bucket, each group sorted by id.
func batteriesByBucket(f *fleet.Fleet, buckets int, from, to time.Time) [][]*fleet.Battery {
	groups := make([][]*fleet.Battery, max(buckets, 1))
	for _, b := range f.Batteries { // sorted by id
		if !activeIn(b, from, to) {
			continue
		}
		k := max(lake.Bucket(b.ID, buckets), 0)
		groups[k] = append(groups[k], b)
	}
	return groups
}

// batchRows sizes a writer's row batch: jarBatch, or the most rows entities
// can have over ms if fewer (a 1 h history day of a bucket is a few
// thousand rows, and a full batch per file cost more than the rows).
// Batches flush only when full, so the size changes no page boundary.
func (tel *telemetry) batchRows(entities int, ms lake.MonthSpan) int {
	n := int64(entities) * tel.samplesIn(ms)
	return int(max(min(n, jarBatch), 1))
}

// Quantisation to the seed's decimals, with the range check the registry
// demands: a value that does not fit is an error, never clipped.
func quant(x float64, scale float64, limit int32, what string) (int32, error) {
	q := math.Round(x * scale)
	if !(math.Abs(q) < float64(limit)) {
		return 0, fmt.Errorf("%s: value %g does not fit", what, x)
	}
	return int32(q), nil
}

func nonZero(q int32) int32 {
	if q == 0 {
		return 1 // zero is NULL on the typed path; one unit of the last decimal
	}
	return q
}

const jarBatch = 1 << 14

// OhmicRefresh is how often the BMS takes an ohmic (internal resistance)
// measurement: a test-current injection every 15 minutes, held between
// refreshes, as monitoring systems report it. Voltage and temperature are
// read every sample. Holding also keeps the resistance and conductance
// columns from costing most of the file (measured: 3.6 of 4.6 bytes/row
// with a fresh noisy reading every 5 s).
const OhmicRefresh = 15 * time.Minute

func (tel *telemetry) writeJarRaw(ctx context.Context, o *lake.Output, t *schema.Table, bats []*fleet.Battery, ms lake.MonthSpan) error {
	w, err := parquetio.NewTypedWriter[jarRawRow](o.Data(), t)
	if err != nil {
		return err
	}
	ds := &daySim{tel: tel}
	buf := make([]jarRawRow, 0, tel.batchRows(len(bats), ms))
	flush := func() error {
		if err := w.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
		return ctx.Err()
	}
	for _, b := range bats {
		s := tel.Fleet.StringByID[b.StringID]
		jarSeed := tel.jarSeed(b)
		for _, day := range activeDays(b, ms.From, ms.To) {
			step := tel.Scenario.RatesOn(day).Sample
			n := tel.samplesOn(day)
			_, ratio := envStepFor(step)
			stepMicros := step.Microseconds()
			span, env := ds.prepare(s, day, step, n)
			ds.jar.Sensor = tel.jarSensor(b, day)
			ds.jar.Reset(&b.Life, jarSeed, span, env, ratio)
			ds.faults = tel.jarFaults(ds.faults, b, day, n)
			// The module's resolution in mV (1 or 5), applied to the
			// integer reading; the samples the day's faults cover.
			resMV := int32(max(1, math.Round(ds.jar.Sensor.VoltResV*1e3)))
			fLo, fHi := n, 0
			for _, f := range ds.faults {
				fLo, fHi = min(fLo, f.From), max(fHi, f.To)
			}
			var stuck jarRawRow
			var heldR, heldG int32
			ts0 := day.UnixMicro()
			stepSec := int64(step / time.Second)
			refreshSec := int64(OhmicRefresh / time.Second)
			for i := 0; i < n; i++ {
				smp, ok := ds.jar.Next()
				if !ok {
					return fmt.Errorf("jar %s day %s: simulator ended at sample %d of %d", b.Code, day.Format(time.DateOnly), i, n)
				}
				var fault *physics.SensorFault
				if i >= fLo && i < fHi {
					fault = physics.ActiveFault(ds.faults, i)
				}
				if fault != nil && fault.Kind == physics.FaultDropout {
					continue
				}
				v, tc := smp.VoltageV, smp.TempC
				if fault != nil && fault.Kind == physics.FaultSpike {
					if fault.Channel == physics.ChannelTemperature {
						tc += fault.Magnitude
					} else {
						v += fault.Magnitude
					}
				}
				row := jarRawRow{TS: ts0 + int64(i)*stepMicros, BatteryID: b.ID}
				if fault != nil && fault.Kind == physics.FaultStuck && i > fault.From {
					row.VoltageV, row.TemperatureC, row.ResistanceMOhm, row.ConductanceS = stuck.VoltageV, stuck.TemperatureC, stuck.ResistanceMOhm, stuck.ConductanceS
				} else {
					if row.VoltageV, err = quant(v, 1e3, 1e5, "voltage_v"); err != nil {
						return jarErr(t, b, row.TS, err)
					}
					if resMV > 1 {
						row.VoltageV = (row.VoltageV + resMV/2) / resMV * resMV // voltages are positive
					}
					row.VoltageV = nonZero(row.VoltageV)
					if row.TemperatureC, err = quant(tc, 10, 1e4, "temperature_c"); err != nil {
						return jarErr(t, b, row.TS, err)
					}
					row.TemperatureC = nonZero(row.TemperatureC)
					// A new ohmic reading at the first sample of each refresh
					// period (absolute time, so a day alone matches a long run).
					if sec := int64(i) * stepSec; heldR == 0 || sec%refreshSec < stepSec {
						if heldR, err = quant(smp.ResistanceMOhm, 1e3, 1e8, "resistance_mohm"); err != nil {
							return jarErr(t, b, row.TS, err)
						}
						heldR = nonZero(heldR)
						// Conductance is 1/R of the reported resistance, as a BMS computes it.
						if heldG, err = quant(1e3/(float64(heldR)/1e3), 1e5, 1e8, "conductance_s"); err != nil {
							return jarErr(t, b, row.TS, err)
						}
						heldG = nonZero(heldG)
					}
					row.ResistanceMOhm, row.ConductanceS = heldR, heldG
					stuck = row
				}
				buf = append(buf, row)
				if len(buf) == cap(buf) {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	o.SetRows(w.Rows())
	return w.Close()
}

func jarErr(t *schema.Table, b *fleet.Battery, tsMicros int64, err error) error {
	return fmt.Errorf("table %s battery %s ts %s column %w", t.Name, b.Code, time.UnixMicro(tsMicros).UTC().Format(time.RFC3339), err)
}
