package jobs

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
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

// telemetry is the phase-2 family: the jobs of the raw time series, the
// seeds and operating inputs only they use (events, string configuration,
// the monitoring chain's sensors and faults; telemetry_sim.go) and the room
// spans their tasks share. A writer pulls readings from an iterator
// (jarDay, stringDay) and maps them to rows. truth (truth.go) writes the
// stage's hidden side from the same event and fault models.
type telemetry struct {
	*Env
	// rooms and strSpans share built spans between the family's tasks.
	rooms    spanShare[envSpanKey, physics.EnvSpan]
	strSpans spanShare[spanKey, physics.StringSpan]
}

func telemetryJobs(e *Env) []pipeline.Job {
	tel := &telemetry{Env: e}
	return []pipeline.Job{
		releasing{tel.jarRawJob(), tel.releaseSpans},
		tel.stringRawJob(),
		tel.envJob(),
		tel.eventWindowJob(),
		tel.rippleJob(),
		truth{tel}.truthDailyJob(),
		truth{tel}.truthEventJob(),
	}
}

// releasing is a job that, once its wave has run, frees caches its
// family's jobs share (pipeline.Releaser).
type releasing struct {
	pipeline.Job
	release func()
}

func (r releasing) Release() { r.release() }

// releaseSpans empties the span caches once the stage has run: every job
// of the family runs in the same wave, and a later run of the family
// rebuilds what it needs.
func (tel *telemetry) releaseSpans() {
	tel.rooms.reset()
	tel.strSpans.reset()
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
	w, err := parquetio.NewTypedWriter[parquetio.JarRawRow](o.Data(), t) // the column writer sizes its own buffers
	if err != nil {
		return err
	}
	ds := &daySim{tel: tel}
	buf := make([]parquetio.JarRawRow, 0, tel.batchRows(len(bats), ms))
	flush := func() error {
		if err := w.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
		return ctx.Err()
	}
	var it jarDay
	readings := make([]jarReading, 0, jarChunk)
	for _, b := range bats {
		s := tel.Fleet.StringByID[b.StringID]
		for _, day := range activeDays(b, ms.From, ms.To) {
			step := tel.Scenario.RatesOn(day).Sample
			ds.startJarDay(&it, b, s, day, step, tel.samplesOn(day))
			// The module's resolution in mV (1 or 5), applied to the
			// integer reading.
			resMV := int32(max(1, math.Round(ds.jar.Sensor.VoltResV*1e3)))
			var stuck [4]int32 // the last report's values: a stuck sensor repeats them
			var heldR, heldG int32
			ts0, stepMicros := day.UnixMicro(), step.Microseconds()
			for {
				rds, err := it.next(readings)
				if err != nil {
					return fmt.Errorf("jar %s day %s: %w", b.Code, day.Format(time.DateOnly), err)
				}
				if len(rds) == 0 {
					break
				}
				for k := range rds {
					rd := &rds[k]
					row := parquetio.JarRawRow{TS: ts0 + int64(rd.I)*stepMicros, BatteryID: b.ID}
					if rd.Stuck == stuckHeld { // repeat the interval's first report
						row.VoltageV, row.TemperatureC, row.ResistanceMOhm, row.ConductanceS = stuck[0], stuck[1], stuck[2], stuck[3]
					} else {
						if row.VoltageV, err = quant(rd.VoltageV, 1e3, 1e5, "voltage_v"); err != nil {
							return jarErr(t, b, row.TS, err)
						}
						if resMV > 1 {
							row.VoltageV = (row.VoltageV + resMV/2) / resMV * resMV // voltages are positive
						}
						row.VoltageV = nonZero(row.VoltageV)
						if row.TemperatureC, err = quant(rd.TempC, 10, 1e4, "temperature_c"); err != nil {
							return jarErr(t, b, row.TS, err)
						}
						row.TemperatureC = nonZero(row.TemperatureC)
						if heldR == 0 || rd.Ohmic {
							if heldR, err = quant(rd.ResistanceMOhm, 1e3, 1e8, "resistance_mohm"); err != nil {
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
						stuck = [4]int32{row.VoltageV, row.TemperatureC, row.ResistanceMOhm, row.ConductanceS}
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
