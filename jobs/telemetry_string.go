package jobs

import (
	"context"
	"fmt"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
)

// telemetry_string_raw: the string's voltage is the sum of its jars' true
// simulated voltages (the same JarSim streams as telemetry_jar_raw) seen
// by the string sensor (its noise, a calibration offset of the module);
// current, mode, ripple and flags come from the string's operating
// timeline. On float the current is the string's float current, which
// follows the room temperature, the string's age and a jar in distress
// (physics.FloatCurrentA). The string sensor has its own dropouts and
// stuck readings and shares its gateway's and site server's gaps.

func (tel *telemetry) stringRawJob() pipeline.Job {
	t := schema.MustLookup("telemetry_string_raw")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "telemetry", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		var tasks []pipeline.Task
		for _, ms := range tel.windowMonths() {
			groups := stringsByBucket(tel.Fleet, t.Partition.Buckets)
			for bucket := range groups {
				p := lake.MustPartition(t, ms.Month, bucket)
				strs, month := groups[bucket], ms.Month
				weight := int64(len(strs)) * tel.samplesIn(ms) * 25
				tasks = append(tasks, pipeline.Task{Partition: p, Meta: tel.meta(t.Name, p), Segments: daySegments(ms, tel.sampleInput), Weight: weight,
					Run: func(ctx context.Context, o *lake.Output) error {
						return tel.writeStringRaw(ctx, o, t, strs, daySpan(month, o.Segment()))
					}})
			}
		}
		return tasks, nil
	}}
}

func (tel *telemetry) writeStringRaw(ctx context.Context, o *lake.Output, t *schema.Table, strs []*fleet.String, ms lake.MonthSpan) error {
	w, err := parquetio.NewTypedWriter[parquetio.StringRawRow](o.Data(), t, parquetio.SizedFor(t, int64(len(strs))*tel.samplesIn(ms)))
	if err != nil {
		return err
	}
	ds := &daySim{tel: tel}
	var it stringDay
	buf := make([]parquetio.StringRawRow, 0, tel.batchRows(len(strs), ms))
	vals := newArena32(4 * cap(buf))
	for _, s := range strs {
		for _, day := range Days(ms.From, ms.To) {
			jars := tel.Fleet.StringJarsOn(s.ID, day)
			if len(jars) == 0 {
				continue
			}
			step := tel.Scenario.RatesOn(day).Sample
			if err := ds.startStringDay(&it, s, jars, day, step, tel.samplesOn(day)); err != nil {
				return err
			}
			var stuckV, stuckC int32
			ts0, stepMicros := day.UnixMicro(), step.Microseconds()
			for {
				rd, ok := it.next()
				if !ok {
					break
				}
				row := parquetio.StringRawRow{TS: ts0 + int64(rd.I)*stepMicros, StringID: s.ID, Mode: rd.Mode.String()}
				v, err := quant(rd.VoltageV, 100, 1e6, "voltage_v")
				if err != nil {
					return fmt.Errorf("table %s string %s: %w", t.Name, s.Code, err)
				}
				row.VoltageV = vals.ptr(nonZero(v))
				q, err := quant(rd.CurrentA, 1e3, 1e7, "current_a")
				if err != nil {
					return fmt.Errorf("table %s string %s: %w", t.Name, s.Code, err)
				}
				row.CurrentA = vals.ptr(q)
				if q, err = quant(rd.RippleV, 1e3, 1e5, "ripple_voltage_rms_v"); err != nil {
					return fmt.Errorf("table %s string %s: %w", t.Name, s.Code, err)
				}
				row.RippleVoltageRMSV = vals.ptr(q)
				if q, err = quant(rd.RippleA, 1e3, 1e6, "ripple_current_rms_a"); err != nil {
					return fmt.Errorf("table %s string %s: %w", t.Name, s.Code, err)
				}
				row.RippleCurrentRMSA = vals.ptr(q)
				row.EqualizeFlag = boolPtr(rd.Flags&physics.FlagEqualize != 0)
				row.GeneratorTestFlag = boolPtr(rd.Flags&physics.FlagGeneratorTest != 0)
				row.TransferEventFlag = boolPtr(rd.Flags&physics.FlagTransfer != 0)
				// A stuck sensor repeats the interval's first report.
				if rd.Stuck == stuckHeld && stuckV != 0 {
					row.VoltageV, row.CurrentA = vals.ptr(stuckV), vals.ptr(stuckC)
				} else if rd.Stuck != notStuck {
					stuckV, stuckC = *row.VoltageV, *row.CurrentA
				}
				buf = append(buf, row)
				if len(buf) == cap(buf) {
					if err := w.Write(buf); err != nil {
						return err
					}
					buf = buf[:0]
					vals.reset()
				}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := w.Write(buf); err != nil {
		return err
	}
	o.SetRows(w.Rows())
	return w.Close()
}
