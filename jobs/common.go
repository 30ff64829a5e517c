package jobs

import (
	"context"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
)

// RowSink is parquetio.RowSink: the batched checked-row writer the small
// tables share with the derived jobs.
type RowSink = parquetio.RowSink

// rowTask is a task whose segments are written row by row by emit.
func rowTask(e *Env, jobName string, p lake.Partition, weight int64, segs []lake.Segment, emit func(ctx context.Context, s *RowSink, seg lake.Segment) error) pipeline.Task {
	return pipeline.Task{
		Partition: p,
		Meta:      e.meta(jobName, p),
		Segments:  segs,
		Weight:    weight,
		Run: func(ctx context.Context, o *lake.Output) error {
			rw, err := parquetio.NewRowWriter(o.Data(), p.Table)
			if err != nil {
				return err
			}
			s := parquetio.NewRowSink(rw, p.Table)
			if err := emit(ctx, s, o.Segment()); err != nil {
				return err
			}
			n, err := s.Close()
			o.SetRows(n)
			return err
		},
	}
}
