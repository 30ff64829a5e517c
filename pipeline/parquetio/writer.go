package parquetio

import (
	"fmt"
	"io"
	"reflect"
	"sync"

	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// RowGroupRows bounds a row group: large enough for good compression and
// DuckDB's parallel scans, small enough to bound the writer's memory.
const RowGroupRows = 1 << 20

// pageBufferSize is a writer's page buffer: a column's page is cut when
// its buffer holds this much (0.98 of it, parquet-go's rule).
const pageBufferSize = 1 << 20

// SmallFile sizes the page buffers of a writer that will write at most
// rows rows whose values take at most colBytes bytes in any one column
// (levels included): the buffers become a power of two at least twice
// that, between 64 KiB and pageBufferSize. A buffer that never fills cuts
// no page before Close, so the file's bytes are those of the default
// writer; but every required column's buffer is allocated whole (cleared)
// per writer, and a history's ~10^4 small day files allocated ~2 MiB each
// for a few KB of rows.
func SmallFile(rows int64, colBytes int) parquet.WriterOption {
	size := int64(64 << 10)
	for size < pageBufferSize && size < 2*rows*int64(colBytes) {
		size *= 2
	}
	return parquet.PageBufferSize(int(min(size, pageBufferSize)))
}

// CreatedBy is written into every file footer. It carries no version or
// build id so that the same inputs give the same bytes on every machine.
const CreatedBy = "battlake"

// writerOptions are shared by both write paths.
// declareSort writes the table's sort order into the footer; only writers
// whose producers guarantee that order may claim it.
func writerOptions(t *schema.Table, s *parquet.Schema, declareSort bool) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		s,
		parquet.Compression(sharedZstd),
		parquet.MaxRowsPerRowGroup(RowGroupRows),
		parquet.PageBufferSize(pageBufferSize),
		parquet.CreatedBy(CreatedBy, "", ""),
		parquet.DataPageStatistics(true),
		parquet.KeyValueMetadata("battlake.table", t.Name),
		parquet.KeyValueMetadata("battlake.schema_version", t.Version()),
	}
	if declareSort && len(t.SortBy) > 0 {
		cols := make([]parquet.SortingColumn, len(t.SortBy))
		for i, c := range t.SortBy {
			cols[i] = parquet.Ascending(c)
		}
		opts = append(opts, parquet.SortingWriterConfig(parquet.SortingColumns(cols...)))
	}
	return opts
}

// RowWriter writes registry rows (generic path).
type RowWriter struct {
	w    *parquet.GenericWriter[any]
	rows int64
}

// NewRowWriter starts a Parquet file of table t on w.
func NewRowWriter(w io.Writer, t *schema.Table) (*RowWriter, error) {
	s, err := Schema(t)
	if err != nil {
		return nil, err
	}
	return &RowWriter{w: parquet.NewGenericWriter[any](w, writerOptions(t, s, false)...)}, nil
}

// NewSmallRowWriter is NewRowWriter with extra options (SmallFile).
func NewSmallRowWriter(w io.Writer, t *schema.Table, extra ...parquet.WriterOption) (*RowWriter, error) {
	s, err := Schema(t)
	if err != nil {
		return nil, err
	}
	return &RowWriter{w: parquet.NewGenericWriter[any](w, append(writerOptions(t, s, false), extra...)...)}, nil
}

// NewSortedRowWriter is NewRowWriter for producers that guarantee t.SortBy
// order (ingest writes merged sorted runs): the footer declares it, as the
// typed writers' footers do, so a file ingested from an export matches the
// synthesizer's.
func NewSortedRowWriter(w io.Writer, t *schema.Table) (*RowWriter, error) {
	s, err := Schema(t)
	if err != nil {
		return nil, err
	}
	return &RowWriter{w: parquet.NewGenericWriter[any](w, writerOptions(t, s, true)...)}, nil
}

// WriteRows appends rows built by a RowBuilder of the same table.
func (rw *RowWriter) WriteRows(rows []parquet.Row) error {
	n, err := rw.w.WriteRows(rows)
	rw.rows += int64(n)
	return err
}

// WriteRowGroup appends a row group of a file with the same schema (an
// export concatenating a table's files); parquet-go copies its pages when
// it can.
func (rw *RowWriter) WriteRowGroup(rg parquet.RowGroup) (int64, error) {
	n, err := rw.w.WriteRowGroup(rg)
	rw.rows += n
	return n, err
}

// Rows counts rows written so far.
func (rw *RowWriter) Rows() int64 { return rw.rows }

// Close flushes and writes the footer.
func (rw *RowWriter) Close() error { return rw.w.Close() }

// TypedWriter is the hot path for high-volume tables: rows are plain Go
// structs whose derived Parquet schema must equal the registry's (same
// column order, types and optionality), so parquet-go writes them column by
// column without reflection per value. Encodings come from the registry.
//
// Optional numeric fields in T follow parquet-go's convention that a zero
// value is NULL; producers never emit a physical zero for those columns
// (a dead jar reads 0.001 V, not 0).
type TypedWriter[T any] struct {
	w    *parquet.GenericWriter[T]
	rows int64
}

// NewTypedWriter starts a file of table t for row type T, failing if T does
// not match the registry exactly (which would silently take parquet-go's
// slow path or, worse, write a different schema). extra options override
// the defaults (tests use small row groups).
func NewTypedWriter[T any](w io.Writer, t *schema.Table, extra ...parquet.WriterOption) (*TypedWriter[T], error) {
	s, err := Schema(t)
	if err != nil {
		return nil, err
	}
	if err := CheckRowType[T](t); err != nil {
		return nil, err
	}
	return &TypedWriter[T]{w: parquet.NewGenericWriter[T](w, append(writerOptions(t, s, true), extra...)...)}, nil
}

// CheckRowType verifies that T's Parquet schema equals table t's. A match
// is remembered: jobs open a writer per day file.
func CheckRowType[T any](t *schema.Table) error {
	key := rowTypeKey{reflect.TypeFor[T](), t}
	if _, ok := rowTypesOK.Load(key); ok {
		return nil
	}
	s, err := Schema(t)
	if err != nil {
		return err
	}
	ts := parquet.SchemaOf(reflect.New(reflect.TypeFor[T]()).Elem().Interface())
	if !parquet.EqualNodes(ts, s) {
		return fmt.Errorf("table %s: row type %v does not match the registry:\nrow type: %v\nregistry: %v", t.Name, reflect.TypeFor[T](), ts, s)
	}
	rowTypesOK.Store(key, true)
	return nil
}

type rowTypeKey struct {
	rt reflect.Type
	t  *schema.Table
}

var rowTypesOK sync.Map // rowTypeKey -> true

// Write appends rows.
func (tw *TypedWriter[T]) Write(rows []T) error {
	n, err := tw.w.Write(rows)
	tw.rows += int64(n)
	return err
}

// Rows counts rows written so far.
func (tw *TypedWriter[T]) Rows() int64 { return tw.rows }

// Close flushes and writes the footer.
func (tw *TypedWriter[T]) Close() error { return tw.w.Close() }
