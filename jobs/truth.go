package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
)

// Hidden truth (_truth/): daily true SOH, capacity, resistance and RUL per
// battery over its whole life up to the scenario end, and the events the
// synthesizer injected. Only label and evaluation jobs may read it.

// truth is the telemetry stage's hidden side: it reads the telemetry
// family's event and fault models (what was injected), none of its
// caches and no simulation.
type truth struct{ *telemetry }

func (tr truth) truthDailyJob() pipeline.Job {
	t := schema.MustLookup("truth_battery_daily")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "telemetry", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		var tasks []pipeline.Task
		for _, ms := range tr.historyMonths() {
			groups := batteriesByBucket(tr.Fleet, t.Partition.Buckets, ms.From, ms.To)
			for bucket := range groups {
				if t.Partition.Buckets <= 1 {
					bucket = -1
				}
				p := lake.MustPartition(t, ms.Month, bucket)
				bats, ms := groups[max(bucket, 0)], ms
				tasks = append(tasks, pipeline.Task{Partition: p, Meta: tr.meta(t.Name, p), Segments: []lake.Segment{tr.historySegment(ms, 0)},
					Weight: int64(len(bats)) * 31, Run: func(ctx context.Context, o *lake.Output) error { return tr.writeTruthDaily(o, t, bats, ms) }})
			}
		}
		return tasks, nil
	}}
}

// truthDailyRow is truth_battery_daily on the typed fast path (the
// checked row builder took 17 s of task time for the default run's 6.3 M
// rows, a third of the telemetry stage), written by the table's own page
// writer.
type truthDailyRow = parquetio.TruthDailyRow

func (tr truth) writeTruthDaily(o *lake.Output, t *schema.Table, bats []*fleet.Battery, ms lake.MonthSpan) error {
	// The month's days once, not per battery (activeDays listed them per
	// jar: a sixth of the table's time); the column writer sizes its own
	// buffers.
	monthDays := Days(ms.From, ms.To)
	w, err := parquetio.NewTypedWriter[truthDailyRow](o.Data(), t)
	if err != nil {
		return err
	}
	rows := make([]truthDailyRow, 0, 31)
	for _, b := range bats {
		l := &b.Life
		rows = rows[:0]
		for _, day := range monthDays {
			if !b.ActiveOn(day) {
				continue
			}
			end := day.Add(24*time.Hour - time.Second) // state at the end of the day
			soh, rMOhm := l.SOHAndResistance(end)
			if l.Failed(end) {
				soh = 0.05
			}
			// Quantised field by field: a loop over pointers to the
			// row's fields moved every row to the heap (46 MB for two
			// months of one site's history).
			r := truthDailyRow{Day: int32(day.Unix() / 86400), BatteryID: b.ID}
			var e1, e2, e3, e4 error
			r.SOHPct, e1 = quant(soh*100, 1e2, 1e5, "soh_pct")
			r.CapacityAh, e2 = quant(soh*l.RatedAh, 1e2, 1e6, "capacity_ah")
			r.ResistanceMOhm, e3 = quant(rMOhm, 1e3, 1e8, "resistance_mohm")
			r.RULDays, e4 = quant(l.End.Sub(end).Hours()/24, 1e1, 1e6, "rul_days")
			if err := errors.Join(e1, e2, e3, e4); err != nil {
				return fmt.Errorf("table %s battery %s day %s: %w", t.Name, b.Code, day.Format(time.DateOnly), err)
			}
			rows = append(rows, r)
		}
		if err := w.Write(rows); err != nil {
			return err
		}
	}
	o.SetRows(w.Rows())
	return w.Close()
}

// truth_event: what was injected — operational events in the telemetry
// window, sensor faults per jar-day, and every sudden failure in history.
func (tr truth) truthEventJob() pipeline.Job {
	t := schema.MustLookup("truth_event")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "telemetry", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		// A history segment (sudden failures, as of the end) in months
		// with a failure, and a day segment (operational events, sensor
		// faults) for each telemetry day: no empty partitions for the
		// quiet years, and a daily run adds one file.
		failed := map[string]bool{}
		for _, b := range tr.Fleet.Batteries {
			if b.Life.Failure != physics.FailureNone && b.Life.FailureAt.Before(tr.Scenario.End.Time) {
				failed[lake.Month(b.Life.FailureAt)] = true
			}
		}
		days := map[string][]lake.Segment{}
		for _, ms := range tr.windowMonths() {
			days[ms.Month] = daySegments(ms, tr.sampleInput)
		}
		var tasks []pipeline.Task
		for _, ms := range tr.historyMonths() {
			segs := days[ms.Month]
			if failed[ms.Month] {
				segs = append([]lake.Segment{tr.historySegment(ms, 0)}, segs...)
			}
			if len(segs) == 0 {
				continue
			}
			p := lake.MustPartition(t, ms.Month, -1)
			ms := ms
			tasks = append(tasks, rowTask(tr.Env, t.Name, p, 1000, segs,
				func(ctx context.Context, s *RowSink, seg lake.Segment) error {
					if seg.Name == lake.AsOfName {
						return tr.emitTruthFailures(s, ms)
					}
					return tr.emitTruthEvents(s, daySpan(ms.Month, seg))
				}))
		}
		return tasks, nil
	}}
}

// truthEventAdder returns the row writer of truth_event.
func (tr truth) truthEventAdder(s *RowSink) func(kind string, bat *fleet.Battery, str *fleet.String, site *fleet.Site, from, to time.Time, details map[string]any, label string) error {
	return func(kind string, bat *fleet.Battery, str *fleet.String, site *fleet.Site, from, to time.Time, details map[string]any, label string) error {
		id := fleet.ID(tr.RootSeed, "truth_event", label)
		return s.Add(func(b *parquetio.RowBuilder) {
			b.Set("event_id", id).Set("event_kind", kind).Set("location_id", site.ID).Set("start_ts", from).Set("end_ts", to).Set("details_json", details)
			if bat != nil {
				b.Set("battery_id", bat.ID)
			}
			if str != nil {
				b.Set("string_id", str.ID)
			}
		})
	}
}

// emitTruthFailures writes the sudden failures of history month ms (up to
// the end).
func (tr truth) emitTruthFailures(s *RowSink, ms lake.MonthSpan) error {
	add := tr.truthEventAdder(s)
	for _, b := range tr.Fleet.Batteries {
		l := &b.Life
		if l.Failure == physics.FailureNone || l.FailureAt.Before(ms.From) || !l.FailureAt.Before(ms.To) {
			continue
		}
		site := tr.Fleet.SiteByID[b.LocationID]
		if err := add(l.Failure.String(), b, tr.Fleet.StringByID[b.StringID], site, l.FailureAt, time.Time{}, map[string]any{"profile": l.Profile.String()}, "failure/"+b.Code); err != nil {
			return err
		}
	}
	return nil
}

// emitTruthEvents writes the operational events and sensor faults of the
// telemetry days in ms.
func (tr truth) emitTruthEvents(s *RowSink, ms lake.MonthSpan) error {
	add := tr.truthEventAdder(s)
	strs := stringsByID(tr.Fleet)
	for _, day := range Days(ms.From, ms.To) {
		for _, str := range strs {
			if day.Before(str.InstalledDate) {
				continue
			}
			site := tr.Fleet.SiteByID[str.LocationID]
			for _, ev := range tr.eventsStartingOn(str, day) {
				label := fmt.Sprintf("%s/%s/%d", str.Code, ev.Start.Format(time.RFC3339), ev.Kind)
				if err := add(ev.Kind.String(), nil, str, site, ev.Start, ev.End, map[string]any{"current_a": round(ev.CurrentA, 3)}, label); err != nil {
					return err
				}
			}
		}
		for _, site := range tr.Fleet.Sites {
			if day.Before(site.CommissionedDate) {
				continue
			}
			for _, ev := range physics.EnvEvents(tr.siteSeed(site), site.Climate, day) {
				if err := add(ev.Kind.String(), nil, nil, site, ev.Start, ev.End, map[string]any{}, fmt.Sprintf("%s/%s/hvac", site.Code, ev.Start.Format(time.RFC3339))); err != nil {
					return err
				}
			}
		}
		n := tr.samplesOn(day)
		step := tr.Scenario.RatesOn(day).Sample
		var faults []physics.SensorFault
		for _, b := range tr.Fleet.BatteriesActiveOn(day) {
			faults = tr.jarFaults(faults, b, day, n)
			for k, f := range faults {
				site := tr.Fleet.SiteByID[b.LocationID]
				fromTS, toTS := day.Add(time.Duration(f.From)*step), day.Add(time.Duration(f.To)*step)
				label := fmt.Sprintf("%s/%s/fault/%d", b.Code, day.Format(time.DateOnly), k)
				if err := add(f.Kind.String(), b, tr.Fleet.StringByID[b.StringID], site, fromTS, toTS, map[string]any{"magnitude": round(f.Magnitude, 3)}, label); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
