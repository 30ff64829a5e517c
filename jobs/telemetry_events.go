package jobs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// stringsByBucket groups the strings by bucket, each group sorted by id.
func stringsByBucket(f *fleet.Fleet, buckets int) [][]*fleet.String {
	groups := make([][]*fleet.String, max(buckets, 1))
	for _, s := range stringsByID(f) {
		k := max(lake.Bucket(s.ID, buckets), 0)
		groups[k] = append(groups[k], s)
	}
	return groups
}

// eventsStartingOn are the events of s that start on day (no carry-over).
func (tel *telemetry) eventsStartingOn(s *fleet.String, day time.Time) []physics.Event {
	var out []physics.Event
	for _, ev := range tel.stringEvents(nil, s, day) {
		if sameDay(ev.Start, day) {
			out = append(out, ev)
		}
	}
	return out
}

// --- telemetry_event_window + event_window_sample blobs -------------------

// Each window's high-rate samples (every jar of the string at 100-500 ms)
// are one Parquet object under _blobs/, published before the window row that
// references it, so data_blob_url never dangles.

func (tel *telemetry) eventWindowJob() pipeline.Job {
	t := schema.MustLookup("telemetry_event_window")
	st := schema.MustLookup("event_window_sample")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "telemetry", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		var tasks []pipeline.Task
		for _, ms := range tel.windowMonths() {
			p := lake.MustPartition(t, ms.Month, -1)
			month := ms.Month
			tasks = append(tasks, pipeline.Task{Partition: p, Meta: tel.meta(t.Name, p), Segments: daySegments(ms, tel.captureInput), Weight: int64(len(tel.Fleet.Strings)) * 20000,
				Run: func(ctx context.Context, o *lake.Output) error {
					return tel.writeEventWindows(ctx, o, t, st, daySpan(month, o.Segment()))
				}})
		}
		return tasks, nil
	}}
}

func (tel *telemetry) windowID(s *fleet.String, ev physics.Event) uuid.UUID {
	return fleet.ID(tel.RootSeed, "event_window", fmt.Sprintf("%s/%s/%d", s.Code, ev.Start.Format(time.RFC3339), ev.Kind))
}

func (tel *telemetry) writeEventWindows(ctx context.Context, o *lake.Output, t, st *schema.Table, ms lake.MonthSpan) error {
	rw, err := parquetio.NewRowWriter(o.Data(), t)
	if err != nil {
		return err
	}
	sink := parquetio.NewRowSink(rw, t)
	ds := &daySim{tel: tel}
	for _, s := range stringsByID(tel.Fleet) {
		// A window opens before its event (10 s for a transfer), so an
		// event just after midnight on the 1st has its window in this
		// month: look one day past the month and keep the windows that
		// start inside it (start_ts is the partition key).
		for _, day := range Days(ms.From, ms.To.AddDate(0, 0, 1)) {
			if day.Before(s.InstalledDate) {
				continue // no string, no captures
			}
			for _, ev := range tel.eventsStartingOn(s, day) {
				wt := ev.Kind.WindowType()
				if wt == "" {
					continue
				}
				from, to := physics.WindowBounds(ev)
				if from.Before(ms.From) || !from.Before(ms.To) {
					continue
				}
				step := physics.WindowStep(ev.Kind)
				id := tel.windowID(s, ev)
				// On history days the capture's samples were not retained:
				// the row keeps the event, url and count are NULL. The
				// segment's day (start_ts) decides, like its other rates.
				keep := tel.Scenario.RatesOn(ms.From).Captures
				key := o.BlobKey(id.String())
				var samples int64
				if keep {
					if err := o.WriteBlob(key, func(w io.Writer) (int64, error) {
						n, err := tel.writeWindowSamples(ctx, w, st, ds, s, id, day, from, to, step)
						samples = n
						return n, err
					}); err != nil {
						return err
					}
				}
				if err := sink.Add(func(b *parquetio.RowBuilder) {
					b.Set("window_id", id).Set("string_id", s.ID).Set("event_type", wt).
						Set("start_ts", from).Set("end_ts", to).Set("sample_rate_ms", int(step/time.Millisecond))
					if keep {
						b.Set("data_blob_url", key).Set("samples_count", int(samples))
					}
				}); err != nil {
					return err
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	n, err := sink.Close()
	o.SetRows(n)
	return err
}

// writeWindowSamples simulates every jar of s over [from,to) at step. day
// is the event's day: its events (with the day before) drive the span, and
// its jars are the ones captured, even when the window opens before
// midnight.
func (tel *telemetry) writeWindowSamples(ctx context.Context, w io.Writer, st *schema.Table, ds *daySim, s *fleet.String, id uuid.UUID, day, from, to time.Time, step time.Duration) (int64, error) {
	n := int(to.Sub(from) / step)
	jars := tel.Fleet.StringJarsOn(s.ID, day)
	tw, err := parquetio.NewTypedWriter[windowSampleRow](w, st, parquetio.SizedFor(st, int64(len(jars))*int64(n)))
	if err != nil {
		return 0, err
	}
	sys := tel.Fleet.SystemByID[s.SystemID]
	site := tel.Fleet.SiteByID[sys.LocationID]
	ds.events = tel.stringEvents(ds.events, s, day)
	physics.BuildStringSpan(&ds.span, tel.stringConfig(s, day), tel.stringSeed(s), from, step, n, ds.events)
	physics.BuildEnvSpan(&ds.env, tel.siteSeed(site), site.Climate, from, step, n)
	slices.SortFunc(jars, func(a, b *fleet.Battery) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	buf := make([]windowSampleRow, 0, n)
	vals := newArena32(n)
	for _, b := range jars {
		ds.jar.Sensor = tel.jarSensor(b, day)
		ds.jar.Reset(&b.Life, tel.jarSeed(b), &ds.span, &ds.env, 1)
		for i := 0; i < n; i++ {
			smp, ok := ds.jar.Next()
			if !ok {
				return 0, fmt.Errorf("window %s jar %s: simulator ended at sample %d of %d", id, b.Code, i, n)
			}
			row := windowSampleRow{WindowID: id, TS: from.Add(time.Duration(i) * step).UnixMicro(), BatteryID: b.ID}
			var q int32
			if q, err = quant(physics.Quantize(smp.VoltageV, ds.jar.Sensor.VoltResV), 1e3, 1e5, "voltage_v"); err != nil {
				return 0, err
			}
			row.VoltageV = nonZero(q)
			if q, err = quant(float64(ds.span.CurrentA[i]), 1e3, 1e7, "current_a"); err != nil {
				return 0, err
			}
			row.CurrentA = vals.ptr(q)
			if q, err = quant(smp.TempC, 10, 1e4, "temperature_c"); err != nil {
				return 0, err
			}
			row.TemperatureC = nonZero(q)
			buf = append(buf, row)
		}
		var err error
		if buf, err = writeAligned(tw, buf, vals, false); err != nil {
			return 0, err
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	if _, err := writeAligned(tw, buf, vals, true); err != nil {
		return 0, err
	}
	return tw.Rows(), tw.Close()
}

// writeAligned writes buf's rows in a whole number of 64-row chunks (all
// of them when final) and returns the rest, moved to buf's front with
// their currents re-homed in the reset arena. parquet-go splits each write
// call into 64-row chunks and checks for a page cut only at a chunk's end,
// so a long capture (a 15 min outage at 100 ms is 218 K rows) cut pages at
// rows that depended on the jars' sample count; ingest writes 1024-row
// batches. With every call starting at a multiple of 64 from the file's
// start, both write the same bytes (TestWindowSamplesWriteLikeIngest).
func writeAligned(tw *parquetio.TypedWriter[windowSampleRow], buf []windowSampleRow, vals *arena32, final bool) ([]windowSampleRow, error) {
	k := len(buf)
	if !final {
		k -= k % 64
	}
	if k > 0 {
		if err := tw.Write(buf[:k]); err != nil {
			return buf, err
		}
	}
	// Fewer than 64 rows are carried: read their currents before the
	// arena's slots are reused.
	n := copy(buf, buf[k:])
	buf = buf[:n]
	var cur [64]int32
	for i := range buf {
		if p := buf[i].CurrentA; p != nil {
			cur[i] = *p
		}
	}
	vals.reset()
	for i := range buf {
		if buf[i].CurrentA != nil {
			buf[i].CurrentA = vals.ptr(cur[i])
		}
	}
	return buf, nil
}

// --- ripple_capture -----------------------------------------------------------

// rippleSamples per capture: 40 ms at 6.4 kHz (4 cycles of 100 Hz, 12 of 300 Hz), enough
// to resolve the 100/300 Hz ripple and its harmonics by FFT.
const (
	rippleRateHz  = 6400
	rippleSamples = 256
)

func (tel *telemetry) rippleJob() pipeline.Job {
	t := schema.MustLookup("ripple_capture")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "telemetry", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		var tasks []pipeline.Task
		for _, ms := range tel.windowMonths() {
			groups := stringsByBucket(tel.Fleet, t.Partition.Buckets)
			for bucket := range groups {
				p := lake.MustPartition(t, ms.Month, bucket)
				strs, month := groups[bucket], ms.Month
				var captures int64
				for _, d := range Days(ms.From, ms.To) {
					captures += int64(24 * time.Hour / tel.Scenario.RatesOn(d).Ripple)
				}
				tasks = append(tasks, pipeline.Task{Partition: p, Meta: tel.meta(t.Name, p), Segments: daySegments(ms, tel.rippleInput),
					Weight: int64(len(strs)) * captures * rippleSamples,
					Run: func(ctx context.Context, o *lake.Output) error {
						return tel.writeRipple(ctx, o, t, strs, daySpan(month, o.Segment()))
					}})
			}
		}
		return tasks, nil
	}}
}

func (tel *telemetry) writeRipple(ctx context.Context, o *lake.Output, t *schema.Table, strs []*fleet.String, ms lake.MonthSpan) error {
	every := tel.Scenario.RatesOn(ms.From).Ripple // ms is one day
	captures := int64((ms.To.Sub(ms.From) + every - 1) / every)
	tw, err := parquetio.NewTypedWriter[rippleRow](o.Data(), t, parquetio.SizedFor(t, int64(len(strs))*captures*rippleSamples))
	if err != nil {
		return err
	}
	wave := make([]float64, rippleSamples)
	buf := make([]rippleRow, 0, rippleSamples)
	vals := newArena32(rippleSamples)
	for _, s := range strs {
		cfg := tel.stringConfig(s, ms.From)
		seed := physics.Mix(tel.stringSeed(s), physics.HashString("ripple"))
		for ts := ms.From; ts.Before(ms.To); ts = ts.Add(every) {
			if ts.Before(s.InstalledDate) {
				continue // the string's charger is not there yet
			}
			cfg.RectifierWear = tel.Fleet.StringConfig(s, ts).RectifierWear
			physics.RippleWaveform(wave, seed, ts, cfg, rippleRateHz)
			for i, v := range wave {
				q, err := quant(v, 1e4, 1e6, "ripple_voltage_v")
				if err != nil {
					return fmt.Errorf("table %s string %s: %w", t.Name, s.Code, err)
				}
				buf = append(buf, rippleRow{CaptureTS: ts.UnixMicro(), StringID: s.ID, SampleIdx: int32(i), SampleRateHz: rippleRateHz, RippleVoltageV: vals.ptr(q)})
			}
			if err := tw.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
			vals.reset()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	o.SetRows(tw.Rows())
	return tw.Close()
}
