package jobs

import (
	"context"
	"fmt"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// RowSink streams registry rows of one table into a Parquet writer in
// batches, so memory stays bounded by the batch, not the partition.
type RowSink struct {
	b     *parquetio.RowBuilder
	w     *parquetio.RowWriter
	batch []parquet.Row
}

const rowBatch = 4096

// NewRowSink writes rows of t to w.
func NewRowSink(w *parquetio.RowWriter, t *schema.Table) *RowSink {
	return &RowSink{b: parquetio.NewRowBuilder(t), w: w, batch: make([]parquet.Row, 0, rowBatch)}
}

// Add builds one row with set and queues it.
func (s *RowSink) Add(set func(b *parquetio.RowBuilder)) error {
	set(s.b.Reset())
	row, err := s.b.Row()
	if err != nil {
		return fmt.Errorf("row %d: %w", s.w.Rows()+int64(len(s.batch))+1, err)
	}
	s.batch = append(s.batch, row)
	if len(s.batch) == cap(s.batch) {
		return s.flush()
	}
	return nil
}

func (s *RowSink) flush() error {
	if len(s.batch) == 0 {
		return nil
	}
	err := s.w.WriteRows(s.batch)
	s.batch = s.batch[:0]
	return err
}

// Close flushes and finishes the file, returning the row count.
func (s *RowSink) Close() (int64, error) {
	if err := s.flush(); err != nil {
		return 0, err
	}
	return s.w.Rows(), s.w.Close()
}

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
			s := NewRowSink(rw, p.Table)
			if err := emit(ctx, s, o.Segment()); err != nil {
				return err
			}
			n, err := s.Close()
			o.SetRows(n)
			return err
		},
	}
}
