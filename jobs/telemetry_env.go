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

// telemetry_env: the site room model (physics.BuildEnvSpan) at 60 s per
// sensor, seen through each sensor's calibration, noise and faults. At
// a few thousand rows a site-day, the sensor model and the row mapping
// stay in one loop on the checked row builder.

// envFaultRates are a room sensor's faults per day (estimates).
var envFaultRates = physics.FaultRates{DropoutPerDay: 0.02, StuckPerDay: 0.005, SpikesPerDay: 0.02}

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
			// The site's span, shared by its sensors (and built once
			// per run for every task that asks).
			span := tel.room(envSpanKey{seed: tel.siteSeed(site), day: day.Unix(), step: step, n: n}, site.Climate, day)
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
