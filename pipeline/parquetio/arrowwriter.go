package parquetio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqfile "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go/format"
)

// ErrUnsorted classifies rows written out of the table's sort order, which
// the footer declares to readers; test with errors.Is.
var ErrUnsorted = errors.New("rows out of the table's sort order")

// ArrowWriterOptions tune an ArrowWriter; the zero value is the lake's
// defaults.
type ArrowWriterOptions struct {
	// RowGroupRows bounds a row group; 0 means RowGroupRows.
	RowGroupRows int64
	// Mem allocates the writer's buffers; nil means memory.DefaultAllocator.
	Mem memory.Allocator
}

// ArrowWriter writes Arrow records in a table's registry Arrow schema
// (ArrowSchema) as a Parquet file with the same physical and logical types,
// encodings, compression, row-group size and footer metadata as
// TypedWriter, so calculated and derived jobs that work in Arrow produce
// files indistinguishable in type from the raw ones. Rows must arrive in
// the table's sort order (checked: the footer declares it).
type ArrowWriter struct {
	t     *schema.Table
	reg   *arrow.Schema // what callers pass
	wsch  *arrow.Schema // what pqarrow writes: JSON columns as the JSON extension
	json  []bool
	jsonT arrow.ExtensionType
	fw    *pqarrow.FileWriter
	order *sortCheck
	rows  int64
}

// NewArrowWriter starts a Parquet file of table t on w.
func NewArrowWriter(w io.Writer, t *schema.Table, o ArrowWriterOptions) (*ArrowWriter, error) {
	mem := o.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	rgRows := o.RowGroupRows
	if rgRows <= 0 {
		rgRows = RowGroupRows
	}
	jsonT, err := extensions.NewJSONType(arrow.BinaryTypes.String)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	reg := ArrowSchema(t)
	fields := reg.Fields()
	aw := &ArrowWriter{t: t, reg: reg, json: make([]bool, len(fields)), jsonT: jsonT}
	props := []pqfile.WriterProperty{
		pqfile.WithAllocator(mem),
		pqfile.WithCompression(compress.Codecs.Zstd),
		pqfile.WithMaxRowGroupLength(rgRows),
		pqfile.WithDataPageSize(1 << 20),
		pqfile.WithCreatedBy(CreatedBy),
		pqfile.WithStats(true),
		pqfile.WithPageIndexEnabled(true),
		pqfile.WithStoreDecimalAsInteger(true), // INT32/INT64 decimals, as parquet-go writes them
		pqfile.WithDictionaryDefault(false),
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.Type.Kind == schema.KindJSON {
			aw.json[i] = true
			fields[i].Type = jsonT // carries the JSON logical type
		}
		// The same registry hints as the parquet-go schema (encodingOf);
		// arrow-go takes dictionary as a switch, not as an encoding.
		enc := encodingOf(c)
		if enc == nil {
			continue
		}
		switch enc.Encoding() {
		case format.RLEDictionary:
			props = append(props, pqfile.WithDictionaryFor(c.Name, true))
		case format.DeltaBinaryPacked:
			props = append(props, pqfile.WithEncodingFor(c.Name, pqfile.Encodings.DeltaBinaryPacked))
		case format.DeltaByteArray:
			props = append(props, pqfile.WithEncodingFor(c.Name, pqfile.Encodings.DeltaByteArray))
		case format.Plain:
			props = append(props, pqfile.WithEncodingFor(c.Name, pqfile.Encodings.Plain))
		default:
			return nil, fmt.Errorf("table %s column %s: no arrow-go equivalent of encoding %s", t.Name, c.Name, enc)
		}
	}
	if len(t.SortBy) > 0 {
		cols := make([]pqfile.SortingColumn, len(t.SortBy))
		for i, name := range t.SortBy {
			cols[i] = pqfile.SortingColumn{ColumnIdx: int32(t.ColumnIndex(name))}
		}
		props = append(props, pqfile.WithSortingColumns(cols))
		aw.order = newSortCheck(t)
	}
	meta := arrow.NewMetadata([]string{"battlake.table", "battlake.schema_version"}, []string{t.Name, t.Version()})
	aw.wsch = arrow.NewSchema(fields, &meta)
	fw, err := pqarrow.NewFileWriter(aw.wsch, w, pqfile.NewWriterProperties(props...),
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		return nil, fmt.Errorf("table %s: parquet writer: %w", t.Name, err)
	}
	aw.fw = fw
	return aw, nil
}

// Write appends a record in the registry's Arrow schema of the table.
func (w *ArrowWriter) Write(rec arrow.RecordBatch) error {
	if err := CheckArrowSchema(w.t, rec.Schema()); err != nil {
		return err
	}
	if w.order != nil {
		if err := w.order.check(rec); err != nil {
			return fmt.Errorf("table %s: row %d: %w", w.t.Name, w.rows+int64(w.order.bad), err)
		}
	}
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		c := rec.Column(i)
		if w.json[i] {
			cols[i] = array.NewExtensionArrayWithStorage(w.jsonT, c)
			defer cols[i].Release()
		} else {
			cols[i] = c
		}
	}
	out := array.NewRecordBatch(w.wsch, cols, rec.NumRows())
	defer out.Release()
	if err := w.fw.WriteBuffered(out); err != nil {
		return fmt.Errorf("table %s: write: %w", w.t.Name, err)
	}
	w.rows += rec.NumRows()
	return nil
}

// Rows counts rows written so far.
func (w *ArrowWriter) Rows() int64 { return w.rows }

// Close flushes the last row group and writes the footer.
func (w *ArrowWriter) Close() error {
	if err := w.fw.Close(); err != nil {
		return fmt.Errorf("table %s: close: %w", w.t.Name, err)
	}
	return nil
}

// CheckArrowSchema reports whether sc is table t's registry Arrow schema:
// same column names in the same order, types and nullability. The error
// names the table and the first column that differs.
func CheckArrowSchema(t *schema.Table, sc *arrow.Schema) error {
	reg := ArrowSchema(t)
	if sc.NumFields() != reg.NumFields() {
		return fmt.Errorf("table %s: record has %d columns, registry %d: %w", t.Name, sc.NumFields(), reg.NumFields(), ErrSchemaMismatch)
	}
	for i, w := range reg.Fields() {
		g := sc.Field(i)
		if g.Name != w.Name || !arrow.TypeEqual(g.Type, w.Type) || g.Nullable != w.Nullable {
			return fmt.Errorf("table %s column %s: record has %s %v (nullable %v), registry %v (nullable %v): %w",
				t.Name, w.Name, g.Name, g.Type, g.Nullable, w.Type, w.Nullable, ErrSchemaMismatch)
		}
	}
	return nil
}

// sortCheck verifies that rows arrive in the table's SortBy order
// (ascending, nulls last, as parquet.Ascending declares it), across
// records. Each row's key is encoded into bytes that compare like the row.
type sortCheck struct {
	cols      []int
	kinds     []schema.Kind
	prev, cur []byte
	has       bool
	bad       int // row of the last failure within its record
}

func newSortCheck(t *schema.Table) *sortCheck {
	s := &sortCheck{}
	for _, name := range t.SortBy {
		i := t.ColumnIndex(name)
		s.cols = append(s.cols, i)
		s.kinds = append(s.kinds, t.Columns[i].Type.Kind)
	}
	return s
}

func (s *sortCheck) check(rec arrow.RecordBatch) error {
	cols := make([]arrow.Array, len(s.cols))
	for i, c := range s.cols {
		cols[i] = rec.Column(c)
		if ext, ok := cols[i].(array.ExtensionArray); ok {
			cols[i] = ext.Storage()
		}
	}
	for r := range int(rec.NumRows()) {
		s.cur = s.cur[:0]
		for _, a := range cols {
			s.cur = appendKey(s.cur, a, r)
		}
		if s.has && bytes.Compare(s.prev, s.cur) > 0 {
			s.bad = r
			return ErrUnsorted
		}
		s.prev, s.cur = s.cur, s.prev
		s.has = true
	}
	return nil
}

// appendKey appends an order-preserving encoding of a[r]: a 0 byte then
// the value (big-endian, sign bit flipped) or a 1 byte for NULL.
func appendKey(b []byte, a arrow.Array, r int) []byte {
	if a.IsNull(r) {
		return append(b, 1)
	}
	b = append(b, 0)
	switch a := a.(type) {
	case *array.FixedSizeBinary:
		return append(b, a.Value(r)...)
	case *array.Timestamp:
		return binary.BigEndian.AppendUint64(b, uint64(a.Value(r))^1<<63)
	case *array.Int64:
		return binary.BigEndian.AppendUint64(b, uint64(a.Value(r))^1<<63)
	case *array.Int32:
		return binary.BigEndian.AppendUint32(b, uint32(a.Value(r))^1<<31)
	case *array.Date32:
		return binary.BigEndian.AppendUint32(b, uint32(a.Value(r))^1<<31)
	case *array.Decimal128:
		v := a.Value(r)
		b = binary.BigEndian.AppendUint64(b, uint64(v.HighBits())^1<<63)
		return binary.BigEndian.AppendUint64(b, v.LowBits())
	case *array.Float64:
		u := math.Float64bits(a.Value(r))
		if u>>63 == 1 {
			u = ^u
		} else {
			u |= 1 << 63
		}
		return binary.BigEndian.AppendUint64(b, u)
	case *array.String:
		// A 0 terminator keeps "a" < "ab"; registry strings hold no NUL.
		return append(append(b, a.Value(r)...), 0)
	case *array.Boolean:
		if a.Value(r) {
			return append(b, 1)
		}
		return append(b, 0)
	}
	return b // unknown kinds are not checked
}
