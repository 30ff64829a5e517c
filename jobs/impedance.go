package jobs

import (
	"context"
	"fmt"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
)

// impedance_measurement_raw

func (tx *transactions) impedanceJob() pipeline.Job {
	t := schema.MustLookup("impedance_measurement_raw")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "transactions", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		d := tx.plan()
		var tasks []pipeline.Task
		for _, ms := range tx.historyMonths() {
			rs := d.impByMonth[ms.Month]
			tasks = append(tasks, rowTask(tx.Env, t.Name, lake.MustPartition(t, ms.Month, -1), int64(len(rs))+1, []lake.Segment{tx.historySegment(ms, historySettle)},
				func(ctx context.Context, s *RowSink, _ lake.Segment) error {
					for _, x := range rs {
						if err := s.Add(func(b *parquetio.RowBuilder) {
							b.Set("measurement_id", x.ID).Set("battery_id", x.Battery.ID).Set("maintenance_event_id", x.Event.ID).
								Set("measured_at", x.MeasuredAt).Set("resistance_mohm", x.RMOhm).Set("conductance_s", x.GS).
								Set("temperature_c", x.TempC).Set("instrument_model", x.Instrument)
						}); err != nil {
							return fmt.Errorf("impedance %s: %w", x.Battery.Code, err)
						}
					}
					return nil
				}))
		}
		return tasks, nil
	}}
}
