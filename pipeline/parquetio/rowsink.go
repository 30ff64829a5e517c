package parquetio

import (
	"fmt"

	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// RowSink streams registry rows of one table into a Parquet writer in
// batches, so memory stays bounded by the batch, not the partition.
type RowSink struct {
	b     *RowBuilder
	w     *RowWriter
	batch []parquet.Row
}

const rowBatch = 4096

// NewRowSink writes rows of t to w.
func NewRowSink(w *RowWriter, t *schema.Table) *RowSink {
	// The batch grows to rowBatch as rows come: most files of a 1 h
	// history day hold a few rows, and a full batch each was 100 KB.
	return &RowSink{b: NewRowBuilder(t), w: w}
}

// Add builds one row with set and queues it.
func (s *RowSink) Add(set func(b *RowBuilder)) error {
	set(s.b.Reset())
	row, err := s.b.Row()
	if err != nil {
		return fmt.Errorf("row %d: %w", s.w.Rows()+int64(len(s.batch))+1, err)
	}
	s.batch = append(s.batch, row)
	if len(s.batch) == rowBatch {
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
	s.w.openFor(s.batch) // no-op if a full batch was written already
	if err := s.flush(); err != nil {
		return 0, err
	}
	return s.w.Rows(), s.w.Close()
}
