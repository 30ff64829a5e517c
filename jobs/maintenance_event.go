package jobs

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
)

// maintenance_event

func (tx *transactions) maintenanceJob() pipeline.Job {
	t := schema.MustLookup("maintenance_event")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "transactions", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		d := tx.plan()
		months := map[string]bool{}
		for _, ms := range tx.historyMonths() {
			months[ms.Month] = true
		}
		for m := range d.evByMonth {
			months[m] = true
		}
		keys := make([]string, 0, len(months))
		for m := range months {
			keys = append(keys, m)
		}
		slices.Sort(keys)
		var tasks []pipeline.Task
		for _, m := range keys {
			evs := d.evByMonth[m]
			start, _ := time.Parse("2006-01", m)
			seg := tx.historySegment(lake.MonthSpan{Month: m, From: start}, historySettle)
			tasks = append(tasks, rowTask(tx.Env, t.Name, lake.MustPartition(t, m, -1), int64(len(evs))+1, []lake.Segment{seg},
				func(ctx context.Context, s *RowSink, _ lake.Segment) error { return emitEvents(s, evs) }))
		}
		return tasks, nil
	}}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func emitEvents(s *RowSink, evs []*mEvent) error {
	for _, ev := range evs {
		if err := s.Add(func(b *parquetio.RowBuilder) {
			b.Set("event_id", ev.ID).Set("string_id", ev.String.ID).Set("location_id", ev.Site.ID).
				Set("event_type", ev.Type).Set("event_subtype", nullable(ev.Subtype)).
				Set("scheduled_date", ev.Scheduled).Set("completed_date", ev.Completed).
				Set("status", ev.Status).Set("work_order_id", ev.WorkOrder).Set("notes", nullable(ev.Notes)).
				Set("photo_urls", nil).Set("ir_scan_url", nil).
				Set("created_at", ev.CreatedAt).Set("updated_at", ev.UpdatedAt)
			if ev.Battery != nil {
				b.Set("battery_id", ev.Battery.ID)
			}
			if ev.Tech != nil {
				b.Set("technician_id", ev.Tech.ID)
			}
		}); err != nil {
			return fmt.Errorf("event %s: %w", ev.ID, err)
		}
	}
	return nil
}
