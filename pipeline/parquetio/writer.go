package parquetio

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync"

	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// RowGroupRows bounds a row group: large enough for good compression and
// DuckDB's parallel scans, small enough to bound the writer's memory.
const RowGroupRows = 1 << 20

// pageBufferSize is every writer's page buffer: a column's page is cut when
// its buffered values reach it (0.98 of it, in parquet-go).
const pageBufferSize = 1 << 20

// A new parquet-go writer allocates, for each required column, a buffer of
// pageBufferSize (zeroed) before the first value. A 1 h historian day file
// holds a few thousand rows, so those buffers, their zeroing and the GC
// they drove cost more than the rows (thousands of small day files). A
// writer told how many rows its file can hold at most sizes its page
// buffer to that bound instead, when every column's buffered bytes stay
// under half of it: a page is only ever cut when the buffer is full, so a
// file that never fills either buffer gets the same single page per
// column, and the same bytes (TestSizedWriterWritesSameBytes).
// (parquet-go's Writer.Reset would reuse the buffers, but in v0.32 it
// clears each column's path in the footer of the next file.)

// maxValueBytes bounds the bytes one value of c takes in a column buffer
// (value, offsets, definition levels, sort index, dictionary entry), or
// -1 for columns whose values have no bound (text, JSON).
func maxValueBytes(c *schema.Column) int {
	const overhead = 16 // offsets, levels, row and sort indexes
	var w int
	switch c.Type.Kind {
	case schema.KindUUID:
		w = 16
	case schema.KindDecimal, schema.KindTimestamptz, schema.KindTimestamp, schema.KindBigInt, schema.KindDouble:
		w = 8
	case schema.KindDate, schema.KindInt:
		w = 4
	case schema.KindBoolean:
		w = 1
	case schema.KindVarchar:
		w = 4 * c.Type.Length // UTF-8: at most 4 bytes a character
		if w <= 0 {
			return -1
		}
	case schema.KindEnum:
		for _, v := range c.Type.Values {
			w = max(w, len(v))
		}
	default:
		return -1
	}
	return 2*w + overhead // a dictionary holds each value once more
}

// SizedFor is the writer option for a file of t that holds at most rows
// rows: a page buffer just large enough for them (see pageBufferSize), or
// the default when no bound is known or it would not be smaller.
func SizedFor(t *schema.Table, rows int64) parquet.WriterOption {
	per := 0
	for i := range t.Columns {
		b := maxValueBytes(&t.Columns[i])
		if b < 0 {
			return sizedOption(pageBufferSize)
		}
		per = max(per, b)
	}
	return sizedOption(sizedBuffer(max(rows, 0) * int64(per)))
}

// sizedOption sets the page buffer, and caps the output buffer (32 KiB by
// default, one per file) to it: neither changes a byte of the file.
type sizedOption int

func (s sizedOption) ConfigureWriter(c *parquet.WriterConfig) {
	c.PageBufferSize = int(s)
	c.WriteBufferSize = min(c.WriteBufferSize, int(s))
}

// sizedBuffer is the page buffer for a file whose largest column buffers
// at most bound bytes: twice the bound (parquet-go cuts at 0.98 of the
// buffer) plus slack, capped at the default.
func sizedBuffer(bound int64) int {
	if b := 2*bound + 4096; b < pageBufferSize {
		return int(b)
	}
	return pageBufferSize
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
		parquet.Compression(codecFor(t)),
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

// RowWriter writes registry rows (generic path). Its parquet-go writer is
// made at the first write, so a RowSink that holds a whole small file can
// size its page buffer to the rows (see pageBufferSize).
type RowWriter struct {
	w    *parquet.GenericWriter[any]
	rows int64
	out  io.Writer
	opts []parquet.WriterOption
}

// NewRowWriter starts a Parquet file of table t on w.
func NewRowWriter(w io.Writer, t *schema.Table) (*RowWriter, error) {
	return newRowWriter(w, t, false)
}

func newRowWriter(w io.Writer, t *schema.Table, sorted bool) (*RowWriter, error) {
	s, err := Schema(t)
	if err != nil {
		return nil, err
	}
	return &RowWriter{out: w, opts: writerOptions(t, s, sorted)}, nil
}

// open makes the parquet-go writer, with extra options last.
func (rw *RowWriter) open(extra ...parquet.WriterOption) *parquet.GenericWriter[any] {
	if rw.w == nil {
		rw.w = parquet.NewGenericWriter[any](rw.out, append(rw.opts, extra...)...)
	}
	return rw.w
}

// openFor opens the writer for a file of exactly rows (its first write is
// also its last): the page buffer fits the largest column's values.
func (rw *RowWriter) openFor(rows []parquet.Row) {
	if rw.w != nil {
		return
	}
	var cols []int64
	for _, r := range rows {
		for _, v := range r {
			c := v.Column()
			if c < 0 {
				return // not a leaf value: no bound
			}
			for len(cols) <= c {
				cols = append(cols, 0)
			}
			// the value, and as much again for a dictionary entry, plus
			// offsets, levels and indexes (as maxValueBytes)
			n := 16
			if !v.IsNull() && (v.Kind() == parquet.ByteArray || v.Kind() == parquet.FixedLenByteArray) {
				n = max(n, len(v.ByteArray()))
			}
			cols[c] += 2*int64(n) + 16
		}
	}
	rw.open(sizedOption(sizedBuffer(slices.Max(append(cols, 0)))))
}

// NewSortedRowWriter is NewRowWriter for producers that guarantee t.SortBy
// order (ingest writes merged sorted runs): the footer declares it, as the
// typed writers' footers do, so a file ingested from an export matches the
// synthesizer's.
func NewSortedRowWriter(w io.Writer, t *schema.Table) (*RowWriter, error) {
	return newRowWriter(w, t, true)
}

// WriteRows appends rows built by a RowBuilder of the same table.
func (rw *RowWriter) WriteRows(rows []parquet.Row) error {
	n, err := rw.open().WriteRows(rows)
	rw.rows += int64(n)
	return err
}

// WriteRowGroup appends a row group of a file with the same schema (an
// export concatenating a table's files); parquet-go copies its pages when
// it can.
func (rw *RowWriter) WriteRowGroup(rg parquet.RowGroup) (int64, error) {
	n, err := rw.open().WriteRowGroup(rg)
	rw.rows += n
	return n, err
}

// Rows counts rows written so far.
func (rw *RowWriter) Rows() int64 { return rw.rows }

// Close flushes and writes the footer.
func (rw *RowWriter) Close() error { return rw.open().Close() }

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
	fast fastWriter // the table's own page writer, if it has one (colwriter.go)
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
	fw, err := newFastWriter[T](w, t, s, extra)
	if err != nil {
		return nil, err
	}
	if fw != nil {
		return &TypedWriter[T]{fast: fw}, nil
	}
	return &TypedWriter[T]{w: parquet.NewGenericWriter[T](w, append(writerOptions(t, s, true), extra...)...)}, nil
}

// CheckRowType verifies that T's Parquet schema equals table t's. A match
// is remembered: jobs open a writer per day file.
func CheckRowType[T any](t *schema.Table) error {
	k := rowTypeKey{t, reflect.TypeFor[T]()}
	if _, ok := rowTypesChecked.Load(k); ok {
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
	rowTypesChecked.Store(k, true)
	return nil
}

// rowTypesChecked remembers the row types that matched their table: the
// check cost a fifth of opening a writer, once per day file.
var rowTypesChecked sync.Map // rowTypeKey -> true

type rowTypeKey struct {
	t   *schema.Table
	row reflect.Type
}

// Write appends rows.
func (tw *TypedWriter[T]) Write(rows []T) error {
	if tw.fast != nil {
		if err := tw.fast.write(rows); err != nil {
			return err
		}
		tw.rows += int64(len(rows))
		return nil
	}
	n, err := tw.w.Write(rows)
	tw.rows += int64(n)
	return err
}

// Rows counts rows written so far.
func (tw *TypedWriter[T]) Rows() int64 { return tw.rows }

// Close flushes and writes the footer.
func (tw *TypedWriter[T]) Close() error {
	if tw.fast != nil {
		return tw.fast.close()
	}
	return tw.w.Close()
}
