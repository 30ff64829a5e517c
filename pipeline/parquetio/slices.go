package parquetio

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// ColumnSlice is one column of a SliceBatch in the lake's physical form:
// exactly one of the value slices is set, NULL rows hold a zero value.
type ColumnSlice struct {
	Name string
	// Valid is nil when the column is NOT NULL, else false at NULL rows.
	Valid []bool
	// Int32 holds INT, DATE (days since 1970-01-01) and DECIMAL(p<=9)
	// (unscaled: voltage 13.621 V at scale 3 is 13621).
	Int32 []int32
	// Int64 holds TIMESTAMP(TZ) (µs since the epoch), BIGINT and
	// DECIMAL(p>9) (unscaled).
	Int64 []int64
	// UUID holds UUID columns.
	UUID [][16]byte
	// Float64 holds DOUBLE columns.
	Float64 []float64
	// Bool holds BOOLEAN columns.
	Bool []bool
}

// SliceBatch is one row group as plain Go slices. It is the fast read path
// for numeric jobs (calculated telemetry, features): no Decimal128
// widening, no Arrow builders; derived jobs that need Arrow use Reader.
type SliceBatch struct {
	Rows int
	Cols []ColumnSlice
}

// ErrUnsupportedColumn classifies a column the slice reader cannot hold
// (strings, JSON, enums: read those with Reader).
var ErrUnsupportedColumn = errors.New("column kind not supported by the slice reader")

// SliceReader reads row groups of a registry table's Parquet file into
// SliceBatches with parquet-go. Memory is one row group of the read
// columns.
type SliceReader struct {
	t      *schema.Table
	f      *parquet.File
	filter *rowFilter
	cols   []int // table column of each read column: projection, then filter columns
	kinds  []schema.Kind
	proj   int           // the first proj read columns are the projection
	hidden []ColumnSlice // filter columns outside the projection
	ts, id int           // read column of the time / entity filter, -1: none
	groups []int         // row groups that survive pruning
	next   int
	idx    []int // scratch: rows of a page's non-NULL values
}

// NewSliceReader opens r (size bytes) as a file of table t. It honours
// o.Columns, o.From/To and o.Entities like Reader (row groups pruned by
// statistics, rows filtered exactly); the projected columns must be
// numeric, UUID, date, timestamp or boolean.
func NewSliceReader(r io.ReaderAt, size int64, t *schema.Table, o ReadOptions) (*SliceReader, error) {
	// A large read buffer turns every column chunk into a few ReadAt calls,
	// which matters on S3 objects.
	f, err := parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true), parquet.ReadBufferSize(readBufferSize(size)))
	if err != nil {
		return nil, fmt.Errorf("table %s: open parquet: %w", t.Name, err)
	}
	if !parquet.EqualNodes(f.Schema(), MustSchema(t)) {
		return nil, fmt.Errorf("table %s: file schema %v: %w", t.Name, f.Schema(), ErrSchemaMismatch)
	}
	filter, err := newRowFilter(t, o)
	if err != nil {
		return nil, err
	}
	columns := o.Columns
	if len(columns) == 0 {
		for _, c := range t.Columns {
			columns = append(columns, c.Name)
		}
	}
	sr := &SliceReader{t: t, f: f, filter: filter, proj: len(columns), ts: -1, id: -1}
	add := func(name string) (int, error) {
		i := t.ColumnIndex(name)
		if i < 0 {
			return 0, fmt.Errorf("table %s: unknown column %s", t.Name, name)
		}
		if p := slices.Index(sr.cols, i); p >= 0 {
			return p, nil
		}
		switch k := t.Columns[i].Type.Kind; k {
		case schema.KindUUID, schema.KindDecimal, schema.KindTimestamptz, schema.KindTimestamp, schema.KindDate,
			schema.KindInt, schema.KindBigInt, schema.KindDouble, schema.KindBoolean:
			sr.cols, sr.kinds = append(sr.cols, i), append(sr.kinds, k)
			return len(sr.cols) - 1, nil
		default:
			return 0, fmt.Errorf("table %s column %s (%s): %w", t.Name, name, k, ErrUnsupportedColumn)
		}
	}
	for _, name := range columns {
		if _, err := add(name); err != nil {
			return nil, err
		}
	}
	if filter.timeCol != "" {
		if sr.ts, err = add(filter.timeCol); err != nil {
			return nil, err
		}
	}
	if filter.entityCol != "" {
		if sr.id, err = add(filter.entityCol); err != nil {
			return nil, err
		}
	}
	sr.hidden = make([]ColumnSlice, len(sr.cols)-sr.proj)
	for g, rg := range f.RowGroups() {
		chunks := rg.ColumnChunks()
		if sr.ts >= 0 {
			lo, hi, ok := chunks[sr.cols[sr.ts]].(*parquet.FileColumnChunk).Bounds()
			if ok && !filter.overlapsTime(lo.Int64(), hi.Int64()) {
				continue
			}
		}
		if sr.id >= 0 {
			lo, hi, ok := chunks[sr.cols[sr.id]].(*parquet.FileColumnChunk).Bounds()
			if ok && !filter.overlapsEntities(lo.ByteArray(), hi.ByteArray()) {
				continue
			}
		}
		sr.groups = append(sr.groups, g)
	}
	return sr, nil
}

// readBufferSize is 4 MiB, or the file's size rounded up to a power of two
// from 64 KiB if smaller: a history day's file is tens of KB, and a 4 MiB
// buffer per column chunk cost more than reading it. Powers of two keep
// parquet-go's per-size buffer pools few.
func readBufferSize(size int64) int {
	n := 64 << 10
	for n < 4<<20 && int64(n) < size {
		n <<= 1
	}
	return n
}

// RowGroups reports how many row groups survive pruning, of how many.
func (r *SliceReader) RowGroups() (kept, total int) { return len(r.groups), len(r.f.RowGroups()) }

// Next fills b with the kept rows of the next row group that has any,
// reusing b's slices, or returns io.EOF after the last one.
func (r *SliceReader) Next(b *SliceBatch) error {
	for r.next < len(r.groups) {
		g := r.groups[r.next]
		r.next++
		rg := r.f.RowGroups()[g]
		n := int(rg.NumRows())
		if len(b.Cols) != r.proj {
			b.Cols = make([]ColumnSlice, r.proj)
		}
		chunks := rg.ColumnChunks()
		for j, ci := range r.cols {
			c := r.col(b, j)
			c.Name = r.t.Columns[ci].Name
			if err := r.readColumn(chunks[ci], j, c, n); err != nil {
				return fmt.Errorf("table %s column %s row group %d: %w", r.t.Name, c.Name, g, err)
			}
		}
		b.Rows = r.apply(b, n)
		if b.Rows > 0 {
			return nil
		}
	}
	return io.EOF
}

// col is read column j: projected columns live in b, filter-only ones in r.
func (r *SliceReader) col(b *SliceBatch, j int) *ColumnSlice {
	if j < r.proj {
		return &b.Cols[j]
	}
	return &r.hidden[j-r.proj]
}

// apply filters b's n rows in place and returns how many are kept.
func (r *SliceReader) apply(b *SliceBatch, n int) int {
	if r.ts < 0 && r.id < 0 {
		return n
	}
	var ts, id *ColumnSlice
	if r.ts >= 0 {
		ts = r.col(b, r.ts)
	}
	if r.id >= 0 {
		id = r.col(b, r.id)
	}
	runs := keepRuns(n, func(i int) bool {
		if ts != nil && ((ts.Valid != nil && !ts.Valid[i]) || !r.filter.keepTime(ts.Int64[i])) {
			return false
		}
		return id == nil || ((id.Valid == nil || id.Valid[i]) && r.filter.keepEntity(id.UUID[i][:]))
	})
	if runs == nil {
		return n
	}
	kept := 0
	for j := range b.Cols {
		c := &b.Cols[j]
		kept = compact(c.Valid, runs)
		compact(c.Int32, runs)
		compact(c.Int64, runs)
		compact(c.UUID, runs)
		compact(c.Float64, runs)
		compact(c.Bool, runs)
		c.Valid, c.Int32, c.Int64 = trim(c.Valid, kept), trim(c.Int32, kept), trim(c.Int64, kept)
		c.UUID, c.Float64, c.Bool = trim(c.UUID, kept), trim(c.Float64, kept), trim(c.Bool, kept)
	}
	if len(b.Cols) == 0 {
		for _, r := range runs {
			kept += r[1] - r[0]
		}
	}
	return kept
}

// compact moves the runs of s to its front and returns their total length.
func compact[T any](s []T, runs [][2]int) int {
	w := 0
	for _, r := range runs {
		if s != nil {
			copy(s[w:], s[r[0]:r[1]])
		}
		w += r[1] - r[0]
	}
	return w
}

func trim[T any](s []T, n int) []T {
	if s == nil {
		return nil
	}
	return s[:n]
}

func (r *SliceReader) readColumn(chunk parquet.ColumnChunk, j int, c *ColumnSlice, n int) error {
	optional := !r.t.Columns[r.cols[j]].NotNull
	if optional {
		c.Valid = resize(c.Valid, n) // a column keeps its optionality: reuse
	} else {
		c.Valid = nil
	}
	kind, phys := r.kinds[j], chunk.Type().Kind()
	switch {
	case kind == schema.KindUUID:
		c.UUID = resize(c.UUID, n)
	case kind == schema.KindBoolean:
		c.Bool = resize(c.Bool, n)
	case phys == parquet.Int32:
		c.Int32 = resize(c.Int32, n)
	case phys == parquet.Int64:
		c.Int64 = resize(c.Int64, n)
	case phys == parquet.Double:
		c.Float64 = resize(c.Float64, n)
	default:
		return fmt.Errorf("physical type %v: %w", phys, ErrUnsupportedColumn)
	}
	pages := chunk.Pages()
	defer pages.Close()
	row := 0
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		r.idx, err = fillPage(c, p, row, kind, phys, r.idx)
		row += int(p.NumRows())
		parquet.Release(p)
		if err != nil {
			return err
		}
	}
	if row != n {
		return fmt.Errorf("pages hold %d rows, row group %d", row, n)
	}
	return nil
}

// fillPage scatters a page's non-NULL values to rows [row, row+NumRows).
func fillPage(c *ColumnSlice, p parquet.Page, row int, kind schema.Kind, phys parquet.Kind, idx []int) ([]int, error) {
	rows := int(p.NumRows())
	def := p.DefinitionLevels()
	// at maps the k-th stored value to its row; identity without NULLs.
	at := func(k int) int { return row + k }
	if def != nil {
		if cap(idx) < len(def) {
			idx = make([]int, 0, len(def)) // once, not by doubling per reader
		}
		idx = idx[:0]
		for i, d := range def {
			c.Valid[row+i] = d > 0
			if d > 0 {
				idx = append(idx, row+i)
			}
		}
		at = func(k int) int { return idx[k] }
		if len(idx) < rows {
			// Zero the NULL slots: the batch's slices are reused.
			for i, d := range def {
				if d == 0 {
					zeroRow(c, row+i)
				}
			}
		}
	} else if c.Valid != nil {
		for i := range rows {
			c.Valid[row+i] = true
		}
	}
	data := p.Data()
	if dict := p.Dictionary(); dict != nil {
		ix := data.Int32()
		dv := dict.Page().Data()
		switch {
		case kind == schema.KindUUID:
			d, size := dv.FixedLenByteArray()
			if size != 16 {
				return idx, fmt.Errorf("uuid of %d bytes", size)
			}
			for k, x := range ix {
				c.UUID[at(k)] = [16]byte(d[int(x)*16:])
			}
		case phys == parquet.Int32:
			d := dv.Int32()
			for k, x := range ix {
				c.Int32[at(k)] = d[x]
			}
		case phys == parquet.Int64:
			d := dv.Int64()
			for k, x := range ix {
				c.Int64[at(k)] = d[x]
			}
		default:
			return idx, fmt.Errorf("dictionary of %v: %w", phys, ErrUnsupportedColumn)
		}
		return idx, nil
	}
	switch {
	case kind == schema.KindUUID:
		d, _ := data.FixedLenByteArray()
		for k := range len(d) / 16 {
			c.UUID[at(k)] = [16]byte(d[k*16:])
		}
	case kind == schema.KindBoolean:
		// parquet-go keeps booleans bit-packed, least significant bit first.
		d := data.Boolean()
		for k := range int(p.NumValues() - p.NumNulls()) {
			c.Bool[at(k)] = d[k/8]>>(k%8)&1 == 1
		}
	case phys == parquet.Int32:
		scatter(c.Int32, data.Int32(), row, def, at)
	case phys == parquet.Int64:
		scatter(c.Int64, data.Int64(), row, def, at)
	case phys == parquet.Double:
		scatter(c.Float64, data.Double(), row, def, at)
	}
	return idx, nil
}

// scatter copies values to their rows; without NULLs it is one copy.
func scatter[T any](dst, vals []T, row int, def []byte, at func(int) int) {
	if def == nil || len(vals) == len(def) {
		copy(dst[row:], vals)
		return
	}
	for k, v := range vals {
		dst[at(k)] = v
	}
}

func zeroRow(c *ColumnSlice, i int) {
	switch {
	case c.Int32 != nil:
		c.Int32[i] = 0
	case c.Int64 != nil:
		c.Int64[i] = 0
	case c.UUID != nil:
		c.UUID[i] = [16]byte{}
	case c.Float64 != nil:
		c.Float64[i] = 0
	case c.Bool != nil:
		c.Bool[i] = false
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
