package parquetio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqfile "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// DefaultBatchRows is the rows per record a Reader returns by default.
const DefaultBatchRows = 64 << 10

// ErrSchemaMismatch classifies a file or record whose columns are not the
// registry's (another table, an older schema version); test with errors.Is.
var ErrSchemaMismatch = errors.New("schema does not match the registry")

// ReadOptions select what a Reader streams. The zero value reads every
// column and row.
type ReadOptions struct {
	// Columns projects the file to these registry columns, in this order;
	// empty means all, in registry order.
	Columns []string
	// From and To keep rows with From <= time < To (a zero bound is open).
	// Row groups whose statistics lie outside are never read; rows of the
	// kept row groups are filtered exactly.
	From, To time.Time
	// TimeColumn is the column From/To apply to; default: the table's
	// partition month column, else the first timestamp of its sort order.
	TimeColumn string
	// Entities keeps only rows whose entity column is one of these ids
	// (nil: all). Files are sorted by entity, so row-group min/max
	// statistics prune most of a file before any page is read.
	Entities []uuid.UUID
	// EntityColumn is the UUID column Entities apply to; default: the
	// table's bucket column, else the first UUID of its sort order.
	EntityColumn string
	// BatchRows bounds the rows per record; 0 means DefaultBatchRows.
	BatchRows int
	// Mem allocates the records; nil means memory.DefaultAllocator.
	Mem memory.Allocator
}

// Reader streams a Parquet file of a registry table as Arrow records with
// the registry's Arrow types (ArrowSchema). Memory is bounded by one row
// group's compressed column chunks of the read columns plus one record:
// arrow-go fetches each column chunk with one ReadAt, which suits ranged
// GETs on S3.
type Reader struct {
	t      *schema.Table
	pf     *file.Reader
	rr     pqarrow.RecordReader // nil when every row group was pruned
	schema *arrow.Schema        // output: the projected registry columns
	out    []int                // output column -> column of rr's records
	asText []bool               // output column read as binary (JSON), relabelled string

	filter             *rowFilter
	timeCol, entityCol int // column of rr's records, -1: no filter

	kept, total int
	mem         memory.Allocator
}

// NewReader opens a Parquet file of table t held in r (size bytes, e.g. an
// objstore.Object). The file's columns must carry the registry's types.
func NewReader(ctx context.Context, r io.ReaderAt, size int64, t *schema.Table, o ReadOptions) (*Reader, error) {
	mem := o.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	batch := o.BatchRows
	if batch <= 0 {
		batch = DefaultBatchRows
	}
	pf, err := file.NewParquetReader(io.NewSectionReader(r, 0, size), file.WithReadProps(pqfile.NewReaderProperties(mem)))
	if err != nil {
		return nil, fmt.Errorf("table %s: open parquet: %w", t.Name, err)
	}
	rd, err := newReader(ctx, pf, t, o, batch, mem)
	if err != nil {
		pf.Close()
		return nil, err
	}
	return rd, nil
}

func newReader(ctx context.Context, pf *file.Reader, t *schema.Table, o ReadOptions, batch int, mem memory.Allocator) (*Reader, error) {
	rd := &Reader{t: t, pf: pf, timeCol: -1, entityCol: -1, mem: mem, total: pf.NumRowGroups()}
	fsch := pf.MetaData().Schema
	// arrow-go's Parallel column decoding measured 2x slower on 2 cores
	// (BenchmarkReadArrowTelemetry); workers parallelise over files instead.
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batch)}, mem)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	fileArrow, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	reg := ArrowSchema(t)
	want := o.Columns
	if len(want) == 0 {
		want = make([]string, len(t.Columns))
		for i, c := range t.Columns {
			want[i] = c.Name
		}
	}
	// read lists file columns: the projection, then filter columns it
	// lacks; each must have the registry's Arrow type in the file (the
	// filters cast by type), checked before any row group is pruned.
	var read []int
	var text []bool // read column is JSON that arrow-go surfaces as binary
	readPos := func(name string) (int, error) {
		ci := t.ColumnIndex(name)
		if ci < 0 {
			return 0, fmt.Errorf("table %s: unknown column %s", t.Name, name)
		}
		fi := fsch.ColumnIndexByName(name)
		if fi < 0 {
			return 0, fmt.Errorf("table %s: file lacks column %s: %w", t.Name, name, ErrSchemaMismatch)
		}
		if p := slices.Index(read, fi); p >= 0 {
			return p, nil
		}
		w, g := reg.Field(ci), fileArrow.Field(fi)
		// Binary has string's layout; the bytes are the JSON text.
		asText := t.Columns[ci].Type.Kind == schema.KindJSON && arrow.TypeEqual(g.Type, arrow.BinaryTypes.Binary)
		if !asText && !arrow.TypeEqual(g.Type, w.Type) || g.Nullable != w.Nullable {
			return 0, fmt.Errorf("table %s column %s: file has %v (nullable %v), registry %v (nullable %v): %w",
				t.Name, name, g.Type, g.Nullable, w.Type, w.Nullable, ErrSchemaMismatch)
		}
		read, text = append(read, fi), append(text, asText)
		return len(read) - 1, nil
	}
	fields := make([]arrow.Field, len(want))
	for i, name := range want {
		p, err := readPos(name)
		if err != nil {
			return nil, err
		}
		rd.out = append(rd.out, p)
		fields[i] = reg.Field(t.ColumnIndex(name))
	}
	rd.schema = arrow.NewSchema(fields, nil)

	f, err := newRowFilter(t, o)
	if err != nil {
		return nil, err
	}
	rd.filter = f
	var keep []func(rg int) (bool, error)
	if f.timeCol != "" {
		if rd.timeCol, err = readPos(f.timeCol); err != nil {
			return nil, err
		}
		fi := read[rd.timeCol]
		keep = append(keep, func(rg int) (bool, error) {
			st, err := stats(pf, rg, fi)
			if s, ok := st.(*metadata.Int64Statistics); ok && err == nil {
				return f.overlapsTime(s.Min(), s.Max()), nil
			}
			return true, err // no usable statistics: read it
		})
	}
	if f.entityCol != "" {
		if rd.entityCol, err = readPos(f.entityCol); err != nil {
			return nil, err
		}
		fi := read[rd.entityCol]
		keep = append(keep, func(rg int) (bool, error) {
			st, err := stats(pf, rg, fi)
			if s, ok := st.(*metadata.FixedLenByteArrayStatistics); ok && err == nil {
				return f.overlapsEntities(s.Min(), s.Max()), nil
			}
			return true, err
		})
	}
	var groups []int
	for rg := range rd.total {
		ok := true
		for _, k := range keep {
			if ok, err = k(rg); err != nil {
				return nil, fmt.Errorf("table %s: row group %d statistics: %w", t.Name, rg, err)
			}
			if !ok {
				break
			}
		}
		if ok {
			groups = append(groups, rg)
		}
	}
	rd.kept = len(groups)
	if len(groups) == 0 {
		return rd, nil
	}
	rr, err := fr.GetRecordReader(ctx, read, groups)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	rd.asText = make([]bool, len(rd.out))
	for i, p := range rd.out {
		rd.asText[i] = text[p]
	}
	rd.rr = rr
	return rd, nil
}

func stats(pf *file.Reader, rg, col int) (metadata.TypedStatistics, error) {
	cc, err := pf.MetaData().RowGroup(rg).ColumnChunk(col)
	if err != nil {
		return nil, err
	}
	st, err := cc.Statistics()
	if err != nil || st == nil || !st.HasMinMax() {
		return nil, err
	}
	return st, nil
}

// Schema is the schema of every record: the projected registry columns.
func (r *Reader) Schema() *arrow.Schema { return r.schema }

// RowGroups reports how many row groups survive pruning, of how many.
func (r *Reader) RowGroups() (kept, total int) { return r.kept, r.total }

// Next returns the next non-empty record, which the caller must Release,
// or io.EOF after the last one.
func (r *Reader) Next() (arrow.RecordBatch, error) {
	if r.rr == nil {
		return nil, io.EOF
	}
	for {
		rec, err := r.rr.Read()
		if err != nil {
			if err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("table %s: read: %w", r.t.Name, err)
		}
		if rec == nil {
			return nil, io.EOF
		}
		out, err := r.shape(rec)
		if err != nil {
			return nil, err
		}
		if out.NumRows() > 0 {
			return out, nil
		}
		out.Release()
	}
}

// shape projects rec (owned by the record reader) to the output schema and
// applies the row filters; the result holds its own references.
func (r *Reader) shape(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, len(r.out))
	for i, p := range r.out {
		c := rec.Column(p)
		if r.asText[i] {
			d := array.NewData(arrow.BinaryTypes.String, c.Len(), c.Data().Buffers(), nil, c.NullN(), c.Data().Offset())
			c = array.MakeFromData(d)
			d.Release()
		} else {
			c.Retain()
		}
		cols[i] = c
	}
	whole := array.NewRecordBatch(r.schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	runs := r.selected(rec)
	if runs == nil {
		return whole, nil
	}
	defer whole.Release()
	return concatRuns(r.schema, whole, runs, r.mem)
}

// selected returns the kept row runs [start, end) of rec, or nil when every
// row is kept.
func (r *Reader) selected(rec arrow.RecordBatch) [][2]int {
	if r.timeCol < 0 && r.entityCol < 0 {
		return nil
	}
	var ts *array.Timestamp
	if r.timeCol >= 0 {
		ts = rec.Column(r.timeCol).(*array.Timestamp)
	}
	var ids *array.FixedSizeBinary
	if r.entityCol >= 0 {
		ids = rec.Column(r.entityCol).(array.ExtensionArray).Storage().(*array.FixedSizeBinary)
	}
	var prev []byte
	prevIn := false
	return keepRuns(int(rec.NumRows()), func(i int) bool {
		if ts != nil && (ts.IsNull(i) || !r.filter.keepTime(int64(ts.Value(i)))) {
			return false
		}
		if ids == nil {
			return true
		}
		if ids.IsNull(i) {
			return false
		}
		if id := ids.Value(i); !bytes.Equal(id, prev) { // sorted files repeat ids in runs
			prevIn, prev = r.filter.keepEntity(id), id
		}
		return prevIn
	})
}

// concatRuns copies the given row runs of rec into one record.
func concatRuns(sc *arrow.Schema, rec arrow.RecordBatch, runs [][2]int, mem memory.Allocator) (arrow.RecordBatch, error) {
	var rows int64
	for _, r := range runs {
		rows += int64(r[1] - r[0])
	}
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for j := range cols {
		if len(runs) == 0 {
			cols[j] = array.MakeArrayOfNull(mem, sc.Field(j).Type, 0)
			continue
		}
		parts := make([]arrow.Array, len(runs))
		for k, r := range runs {
			parts[k] = array.NewSlice(rec.Column(j), int64(r[0]), int64(r[1]))
		}
		c, err := array.Concatenate(parts, mem)
		for _, p := range parts {
			p.Release()
		}
		if err != nil {
			return nil, fmt.Errorf("filter rows of column %s: %w", sc.Field(j).Name, err)
		}
		cols[j] = c
	}
	return array.NewRecordBatch(sc, cols, rows), nil
}

// Close releases the reader; records already returned stay valid.
func (r *Reader) Close() error {
	if r.rr != nil {
		r.rr.Release()
		r.rr = nil
	}
	return r.pf.Close()
}
