package parquetio

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"strings"

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
	if w.order != nil && w.order.last != nil {
		w.order.last.Release()
		w.order.last = nil
	}
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
// records: the previous record's last row is kept as a one-row slice.
type sortCheck struct {
	cols []int
	last arrow.RecordBatch
	bad  int // row of the last failure within its record
}

func newSortCheck(t *schema.Table) *sortCheck {
	s := &sortCheck{}
	for _, name := range t.SortBy {
		s.cols = append(s.cols, t.ColumnIndex(name))
	}
	return s
}

func (s *sortCheck) check(rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	if s.last != nil {
		for _, c := range s.cols {
			d := compareAt(s.last.Column(c), 0, rec.Column(c), 0)
			if d < 0 {
				break
			}
			if d > 0 {
				s.bad = 0
				return ErrUnsorted
			}
		}
	}
	// Column by column: rows still tied on the earlier keys are compared on
	// the next one. Sorted telemetry ties on the entity almost always, so
	// this is two tight loops rather than a per-row key.
	tied := make([]bool, n) // tied[i]: row i equals row i-1 on the keys so far
	for i := range tied {
		tied[i] = i > 0
	}
	for _, c := range s.cols {
		a := rec.Column(c)
		for i := 1; i < n; i++ {
			if !tied[i] {
				continue
			}
			switch d := compareAt(a, i-1, a, i); {
			case d > 0:
				s.bad = i
				return ErrUnsorted
			case d < 0:
				tied[i] = false
			}
		}
	}
	if s.last != nil {
		s.last.Release()
	}
	s.last = rec.NewSlice(int64(n-1), int64(n))
	return nil
}

// compareAt orders a[i] against b[j] (same type): ascending, NULL last.
// Kinds without an order here (none in the registry's sort keys) tie.
func compareAt(a arrow.Array, i int, b arrow.Array, j int) int {
	an, bn := a.IsNull(i), b.IsNull(j)
	switch {
	case an || bn:
		return cmp.Compare(boolInt(an), boolInt(bn))
	}
	if ea, ok := a.(array.ExtensionArray); ok {
		a, b = ea.Storage(), b.(array.ExtensionArray).Storage()
	}
	switch a := a.(type) {
	case *array.FixedSizeBinary:
		return bytes.Compare(a.Value(i), b.(*array.FixedSizeBinary).Value(j))
	case *array.Timestamp:
		return cmp.Compare(a.Value(i), b.(*array.Timestamp).Value(j))
	case *array.Int64:
		return cmp.Compare(a.Value(i), b.(*array.Int64).Value(j))
	case *array.Int32:
		return cmp.Compare(a.Value(i), b.(*array.Int32).Value(j))
	case *array.Date32:
		return cmp.Compare(a.Value(i), b.(*array.Date32).Value(j))
	case *array.Decimal128:
		return a.Value(i).Cmp(b.(*array.Decimal128).Value(j))
	case *array.Float64:
		return cmp.Compare(a.Value(i), b.(*array.Float64).Value(j))
	case *array.String:
		return strings.Compare(a.Value(i), b.(*array.String).Value(j))
	case *array.Boolean:
		return cmp.Compare(boolInt(a.Value(i)), boolInt(b.(*array.Boolean).Value(j)))
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
