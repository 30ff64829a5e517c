package jobs

import (
	"context"
	"fmt"
	"time"

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
	w, err := parquetio.NewTypedWriter[stringRawRow](o.Data(), t)
	if err != nil {
		return err
	}
	ds := &daySim{tel: tel}
	var it stringDay
	buf := make([]stringRawRow, 0, tel.batchRows(len(strs), ms))
	vals := newArena32(3 * cap(buf))
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
				row := stringRawRow{TS: ts0 + int64(rd.I)*stepMicros, StringID: s.ID, Mode: rd.Mode.String()}
				if row.VoltageV, err = quant(rd.VoltageV, 100, 1e6, "voltage_v"); err != nil {
					return fmt.Errorf("table %s string %s: %w", t.Name, s.Code, err)
				}
				row.VoltageV = nonZero(row.VoltageV)
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
					row.VoltageV, row.CurrentA = stuckV, vals.ptr(stuckC)
				} else if rd.Stuck != notStuck {
					stuckV, stuckC = row.VoltageV, *row.CurrentA
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

// envFaultRates are a room sensor's faults per day (estimates).
var envFaultRates = physics.FaultRates{DropoutPerDay: 0.02, StuckPerDay: 0.005, SpikesPerDay: 0.02}

// --- telemetry_env -----------------------------------------------------------

func (tel *telemetry) envJob() pipeline.Job {
	t := schema.MustLookup("telemetry_env")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "telemetry", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		var tasks []pipeline.Task
		for _, ms := range tel.windowMonths() {
			p := lake.MustPartition(t, ms.Month, -1)
			month := ms.Month
			var weight int64
			for _, d := range Days(ms.From, ms.To) {
				weight += int64(len(tel.Fleet.Sensors)) * int64(24*time.Hour/tel.Scenario.RatesOn(d).Env)
			}
			tasks = append(tasks, rowTask(tel.Env, t.Name, p, weight, daySegments(ms, tel.envInput), func(ctx context.Context, s *RowSink, seg lake.Segment) error {
				return tel.emitEnv(ctx, s, daySpan(month, seg))
			}))
		}
		return tasks, nil
	}}
}

func (tel *telemetry) emitEnv(ctx context.Context, s *RowSink, ms lake.MonthSpan) error {
	var span physics.EnvSpan
	var faults []physics.SensorFault
	for _, sn := range sensorsByID(tel.Fleet) {
		site := tel.Fleet.SiteByID[sn.LocationID]
		seed := tel.Seed("sensor", sn.Code)
		// Calibration of the sensor (estimates for a room T/RH probe):
		// ±0.2 °C and ±2 % RH (1 σ), redrawn at each yearly calibration.
		calSeed := physics.Mix(seed, physics.HashString("cal"))
		for _, day := range Days(ms.From, ms.To) {
			if day.Before(site.CommissionedDate) {
				continue // the site's sensors report from commissioning on
			}
			step := tel.Scenario.RatesOn(day).Env
			n := int(24 * time.Hour / step)
			physics.BuildEnvSpan(&span, tel.siteSeed(site), site.Climate, day, step, n)
			faults = physics.JarSensorFaults(faults, physics.Mix(seed, DayNumber(day)), day, n, envFaultRates)
			y := uint64(day.Year())
			calT, calH := 0.2*physics.Gauss(calSeed, 2*y), 2*physics.Gauss(calSeed, 2*y+1)
			abs0 := uint64(day.Unix()) / uint64(step/time.Second)
			var stuckT, stuckH float64
			for i := 0; i < n; i++ {
				fault := physics.ActiveFault(faults, i)
				if fault != nil && fault.Kind == physics.FaultDropout {
					continue
				}
				ts := day.Add(time.Duration(i) * step)
				temp := float64(span.TempC[i]) + sn.OffsetC + calT + 0.15*physics.FastGauss(seed, abs0+uint64(i))
				hum := float64(span.Humidity[i]) + calH + 0.8*physics.FastGauss(seed^0x9e37, abs0+uint64(i))
				hum = min(max(hum, 5), 99.9)
				if fault != nil && fault.Kind == physics.FaultStuck {
					if i == fault.From || stuckT == 0 {
						stuckT, stuckH = temp, hum
					}
					temp, hum = stuckT, stuckH
				} else if fault != nil && fault.Kind == physics.FaultSpike && fault.Channel == physics.ChannelTemperature {
					temp += fault.Magnitude
				}
				if err := s.Add(func(b *parquetio.RowBuilder) {
					b.Set("ts", ts).Set("sensor_id", sn.ID)
					// A sensor reports only what it measures.
					if sn.SensorType != fleet.SensorHumidity {
						b.Set("temperature_c", round(temp, 1))
					}
					if sn.SensorType != fleet.SensorTemperature {
						b.Set("humidity_pct", round(hum, 1))
					}
					b.Set("hvac_status", span.HVAC[i].String())
				}); err != nil {
					return fmt.Errorf("sensor %s: %w", sn.Code, err)
				}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}
