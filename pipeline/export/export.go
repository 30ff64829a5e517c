// Package export writes a lake table back out as CSV, for round trips
// through `battlake ingest` and for users of other tools, or as one
// Parquet file with the registry's schema (Parquet, ParquetFile).
//
// It reads the table's committed files through their manifests (never a
// glob, so a run in progress or a crashed writer's leftovers are not
// exported), checks each file against its manifest entry (size and rows),
// and streams row groups: memory is bounded by a few row groups, whatever
// the table's size.
//
// CSV contract (what `battlake ingest` reads):
//
//   - a header of the registry's column names, in registry order;
//   - one line per row, LF-terminated, fields quoted per RFC 4180 with
//     encoding/csv's rules (a field with a comma, quote, CR or LF, or a
//     leading space is quoted, quotes doubled);
//   - NULL is an empty unquoted field; an empty string is "" (quoted);
//   - TIMESTAMPTZ as RFC 3339 in UTC (2026-10-25T00:00:05Z), sub-second
//     digits only when non-zero (trailing zeros trimmed); TIMESTAMP (wall
//     clock, master data's created_at/updated_at) the same without an
//     offset (2016-04-17T09:01:48): it is a reading, not an instant;
//     DATE as YYYY-MM-DD;
//   - DECIMAL(p,s) as plain decimal text with exactly s fractional digits
//     (13.620, -0.005); INT and BIGINT as integers; DOUBLE in Go's shortest
//     round-trip form (strconv 'g', -1);
//   - BOOLEAN as true/false; UUID in canonical lowercase 8-4-4-4-12 form;
//   - ENUM, VARCHAR, TEXT and JSON as their text.
//
// Rows come out in partition key order (month, then bucket), segment order
// (day) and, inside a file, the table's sort order.
//
// A blob table (event_window_sample, capacity_test_curve: one object per
// parent row) is read through its parent's manifests: the objects each
// parent segment lists, checked against their entries like data files, in
// the parent's partition and segment order, then by object key (the parent
// key), each in the table's sort order. Month filters the parent's month.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
)

// ErrNotExportable classifies a table export cannot write: a month filter
// on a table without month partitions.
var ErrNotExportable = errors.New("not exportable")

// ErrFileChanged classifies a data file that no longer matches its
// manifest entry (size or rows): the lake changed under the export, or was
// edited by hand.
var ErrFileChanged = errors.New("data file does not match its manifest")

// Options select what CSV exports. The zero value exports the whole table
// with one worker per CPU.
type Options struct {
	// Month (YYYY-MM) keeps only that month's partitions; "" keeps all.
	Month string
	// Workers is how many files are read and formatted in parallel (their
	// output is still written in order); 0 means GOMAXPROCS.
	Workers int
}

// Validate checks o against table t.
func (o Options) Validate(t *schema.Table) error {
	var errs []error
	monthly := t.Partition.MonthOf != ""
	if b := t.Blob(); b != nil {
		monthly = schema.MustLookup(b.Parent).Partition.MonthOf != ""
	}
	if o.Month != "" {
		if _, err := time.Parse("2006-01", o.Month); err != nil {
			errs = append(errs, fmt.Errorf("month %q: want YYYY-MM", o.Month))
		} else if !monthly {
			errs = append(errs, fmt.Errorf("month %s: table %s has no month partitions: %w", o.Month, t.Name, ErrNotExportable))
		}
	}
	if o.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d: want 0 (one per CPU) or more", o.Workers))
	}
	return errors.Join(errs...)
}

// Stats describe one export.
type Stats struct {
	Table string
	Files int
	Rows  int64
	Bytes int64 // CSV bytes written, header included
}

// Files lists the committed data files of t (in export order), restricted
// to month when it is not "". For a blob table they are the objects its
// parent's segments list, each as a SegmentFile of the blob table in the
// parent's month.
func Files(ctx context.Context, lk *lake.Lake, t *schema.Table, month string) ([]lake.SegmentFile, error) {
	src := t
	if b := t.Blob(); b != nil {
		src = schema.MustLookup(b.Parent)
	}
	parts, err := lk.Partitions(ctx, src)
	if err != nil {
		return nil, err
	}
	var out []lake.SegmentFile
	for _, c := range parts {
		if month != "" && c.Partition.Month != month {
			continue
		}
		if src == t {
			out = append(out, c.SegmentsOverlapping(time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))...)
			continue
		}
		p := lake.Partition{Table: t, Month: c.Partition.Month, Bucket: -1}
		for _, s := range c.Manifest.Segments {
			for _, f := range c.Manifest.Files { // by segment, then key
				if f.Segment == s.Name && f.Role == "blob" {
					out = append(out, lake.SegmentFile{Partition: p, Segment: s, Data: f})
				}
			}
		}
	}
	return out, nil
}

// start validates o and lists the files an export of t reads.
func start(ctx context.Context, lk *lake.Lake, t *schema.Table, o Options) (Stats, []lake.SegmentFile, error) {
	st := Stats{Table: t.Name}
	if err := o.Validate(t); err != nil {
		return st, nil, err
	}
	files, err := Files(ctx, lk, t, o.Month)
	if err != nil {
		return st, nil, fmt.Errorf("export %s: %w", t.Name, err)
	}
	st.Files = len(files)
	return st, files, nil
}

// chunkBytes is the size at which a worker hands formatted rows to the
// writer: large enough to amortise the channel, small enough that a few
// per worker stay cheap. A variable for tests.
var chunkBytes = 1 << 20

// queued is how many chunks a worker may format ahead of the writer.
const queued = 4

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkBytes+64<<10); return &b }}

// CSV writes table t of lake lk to w per the package's contract and
// returns what it wrote. Files are formatted by o.Workers goroutines and
// written in order; memory is bounded by Workers x (one row group + queued
// chunks).
func CSV(ctx context.Context, lk *lake.Lake, t *schema.Table, w io.Writer, o Options) (Stats, error) {
	st, files, err := start(ctx, lk, t, o)
	if err != nil {
		return st, err
	}
	hdr := make([]byte, 0, 256)
	for i, c := range t.Columns {
		if i > 0 {
			hdr = append(hdr, ',')
		}
		hdr = appendText(hdr, []byte(c.Name))
	}
	hdr = append(hdr, '\n')
	n, err := w.Write(hdr)
	st.Bytes += int64(n)
	if err != nil {
		return st, fmt.Errorf("export %s: write: %w", t.Name, err)
	}

	workers := o.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	out := make([]chan *[]byte, len(files))
	for i := range out {
		out[i] = make(chan *[]byte, queued)
	}
	errs := make([]error, len(files))
	rows := make([]int64, len(files))
	var wg sync.WaitGroup
	defer func() {
		cancel() // on an early return, workers blocked on their queue give up
		wg.Wait()
	}()
	sem := make(chan struct{}, workers)
	wg.Go(func() {
		for i, f := range files {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				// The writer may still be waiting on these files.
				for k := i; k < len(files); k++ {
					errs[k] = ctx.Err()
					close(out[k])
				}
				return
			}
			wg.Go(func() {
				rows[i], errs[i] = exportFile(ctx, lk, f, func(b *[]byte) error {
					select {
					case out[i] <- b:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})
				close(out[i])
				<-sem
			})
		}
	})
	for i, f := range files {
		for b := range out[i] {
			n, err := w.Write(*b)
			st.Bytes += int64(n)
			*b = (*b)[:0]
			bufPool.Put(b)
			if err != nil {
				return st, fmt.Errorf("export %s: write: %w", t.Name, err)
			}
		}
		if errs[i] != nil {
			return st, fmt.Errorf("export %s: %s: %w", t.Name, f.Data.Key, errs[i])
		}
		st.Rows += rows[i]
	}
	return st, nil
}

// exportFile formats one data file and hands its chunks to emit.
func exportFile(ctx context.Context, lk *lake.Lake, f lake.SegmentFile, emit func(*[]byte) error) (int64, error) {
	obj, err := openChecked(ctx, lk, f)
	if err != nil {
		return 0, err
	}
	defer obj.Close()
	t := f.Partition.Table
	e := &encoder{emit: emit, buf: bufPool.Get().(*[]byte)}
	defer func() {
		if e.buf != nil {
			*e.buf = (*e.buf)[:0]
			bufPool.Put(e.buf)
		}
	}()
	if sliceable(t) {
		err = e.slices(obj, t)
	} else {
		err = e.arrow(ctx, obj, t)
	}
	if err != nil {
		return e.rows, err
	}
	if e.rows != f.Data.Rows {
		return e.rows, fmt.Errorf("%d rows, the manifest says %d: %w", e.rows, f.Data.Rows, ErrFileChanged)
	}
	if len(*e.buf) > 0 {
		b := e.buf
		e.buf = nil
		return e.rows, emit(b)
	}
	return e.rows, nil
}

// openChecked opens a data file whose size is its manifest entry's.
func openChecked(ctx context.Context, lk *lake.Lake, f lake.SegmentFile) (objstore.Object, error) {
	obj, err := lk.Store.Open(ctx, f.Data.Key)
	if err != nil {
		return nil, err
	}
	if obj.Size() != f.Data.Bytes {
		obj.Close()
		return nil, fmt.Errorf("%d bytes, the manifest says %d: %w", obj.Size(), f.Data.Bytes, ErrFileChanged)
	}
	return obj, nil
}

// sliceable reports whether every column of t is one the slice reader
// holds (numbers, ids, times): telemetry, the bulk of the lake, then skips
// Arrow's Decimal128 widening and builders.
func sliceable(t *schema.Table) bool {
	for _, c := range t.Columns {
		switch c.Type.Kind {
		case schema.KindVarchar, schema.KindText, schema.KindEnum, schema.KindJSON:
			return false
		}
	}
	return true
}

// encoder formats rows into pooled chunks.
type encoder struct {
	emit func(*[]byte) error
	buf  *[]byte
	rows int64
}

// colFmt appends row i of one column (nothing when NULL).
type colFmt func(dst []byte, i int) []byte

func (e *encoder) write(n int, cols []colFmt) error {
	b := *e.buf
	for i := range n {
		for j, f := range cols {
			if j > 0 {
				b = append(b, ',')
			}
			b = f(b, i)
		}
		b = append(b, '\n')
		if len(b) >= chunkBytes {
			*e.buf = b
			if err := e.emit(e.buf); err != nil {
				e.buf = nil
				return err
			}
			e.buf = bufPool.Get().(*[]byte)
			b = *e.buf
		}
	}
	*e.buf = b
	e.rows += int64(n)
	return nil
}

func (e *encoder) slices(obj objstore.Object, t *schema.Table) error {
	r, err := parquetio.NewSliceReader(obj, obj.Size(), t, parquetio.ReadOptions{})
	if err != nil {
		return err
	}
	var b parquetio.SliceBatch
	cols := make([]colFmt, len(t.Columns))
	for {
		err := r.Next(&b)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for j := range cols {
			cols[j] = sliceFmt(&t.Columns[j], &b.Cols[j])
		}
		if err := e.write(b.Rows, cols); err != nil {
			return err
		}
	}
}

func sliceFmt(c *schema.Column, s *parquetio.ColumnSlice) colFmt {
	var f colFmt
	switch c.Type.Kind {
	case schema.KindUUID:
		f = func(dst []byte, i int) []byte { return appendUUID(dst, s.UUID[i][:]) }
	case schema.KindDecimal:
		scale := c.Type.Scale
		if s.Int32 != nil {
			f = func(dst []byte, i int) []byte { return appendDecimal(dst, int64(s.Int32[i]), scale) }
		} else {
			f = func(dst []byte, i int) []byte { return appendDecimal(dst, s.Int64[i], scale) }
		}
	case schema.KindTimestamptz:
		f = func(dst []byte, i int) []byte { return appendTimestamp(dst, s.Int64[i]) }
	case schema.KindTimestamp:
		f = func(dst []byte, i int) []byte { return appendWallClock(dst, s.Int64[i]) }
	case schema.KindDate:
		f = func(dst []byte, i int) []byte { return appendDate(dst, int64(s.Int32[i])) }
	case schema.KindInt:
		f = func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(s.Int32[i]), 10) }
	case schema.KindBigInt:
		f = func(dst []byte, i int) []byte { return strconv.AppendInt(dst, s.Int64[i], 10) }
	case schema.KindDouble:
		f = func(dst []byte, i int) []byte { return strconv.AppendFloat(dst, s.Float64[i], 'g', -1, 64) }
	case schema.KindBoolean:
		f = func(dst []byte, i int) []byte { return strconv.AppendBool(dst, s.Bool[i]) }
	default:
		panic("export: slice column of kind " + c.Type.Kind.String()) // sliceable rules it out
	}
	if s.Valid == nil {
		return f
	}
	return func(dst []byte, i int) []byte {
		if !s.Valid[i] {
			return dst
		}
		return f(dst, i)
	}
}

func (e *encoder) arrow(ctx context.Context, obj objstore.Object, t *schema.Table) error {
	r, err := parquetio.NewReader(ctx, obj, obj.Size(), t, parquetio.ReadOptions{})
	if err != nil {
		return err
	}
	defer r.Close()
	cols := make([]colFmt, len(t.Columns))
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for j := range cols {
			if cols[j], err = arrowFmt(&t.Columns[j], rec.Column(j)); err != nil {
				rec.Release()
				return err
			}
		}
		err = e.write(int(rec.NumRows()), cols)
		rec.Release()
		if err != nil {
			return err
		}
	}
}

func arrowFmt(c *schema.Column, a arrow.Array) (colFmt, error) {
	var f colFmt
	switch x := a.(type) {
	case array.ExtensionArray: // UUID
		fsb, ok := x.Storage().(*array.FixedSizeBinary)
		if !ok || c.Type.Kind != schema.KindUUID {
			return nil, fmt.Errorf("column %s: unexpected Arrow type %v", c.Name, a.DataType())
		}
		f = func(dst []byte, i int) []byte { return appendUUID(dst, fsb.Value(i)) }
	case *array.String:
		off, data := x.ValueOffsets(), x.ValueBytes()
		f = func(dst []byte, i int) []byte { return appendText(dst, data[off[i]:off[i+1]]) }
	case *array.Decimal128:
		scale := c.Type.Scale
		f = func(dst []byte, i int) []byte {
			v := x.Value(i)
			lo, hi := v.LowBits(), v.HighBits()
			if (hi == 0 && lo>>63 == 0) || (hi == -1 && lo>>63 == 1) {
				return appendDecimal(dst, int64(lo), scale)
			}
			return append(dst, v.ToString(int32(scale))...) // beyond int64: never at the registry's precisions
		}
	case *array.Timestamp:
		f = func(dst []byte, i int) []byte { return appendTimestamp(dst, int64(x.Value(i))) }
		if c.Type.Kind == schema.KindTimestamp {
			f = func(dst []byte, i int) []byte { return appendWallClock(dst, int64(x.Value(i))) }
		}
	case *array.Date32:
		f = func(dst []byte, i int) []byte { return appendDate(dst, int64(x.Value(i))) }
	case *array.Int32:
		f = func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(x.Value(i)), 10) }
	case *array.Int64:
		f = func(dst []byte, i int) []byte { return strconv.AppendInt(dst, x.Value(i), 10) }
	case *array.Float64:
		f = func(dst []byte, i int) []byte { return strconv.AppendFloat(dst, x.Value(i), 'g', -1, 64) }
	case *array.Boolean:
		f = func(dst []byte, i int) []byte { return strconv.AppendBool(dst, x.Value(i)) }
	default:
		return nil, fmt.Errorf("column %s: unexpected Arrow type %v", c.Name, a.DataType())
	}
	if a.NullN() == 0 {
		return f, nil
	}
	return func(dst []byte, i int) []byte {
		if a.IsNull(i) {
			return dst
		}
		return f(dst, i)
	}, nil
}

// CSVFile writes table t to the local file path through a temporary file
// renamed on success, so a failed or interrupted export never leaves a
// truncated CSV under the final name.
func CSVFile(ctx context.Context, lk *lake.Lake, t *schema.Table, path string, o Options) (Stats, error) {
	return toFile(t, path, func(w io.Writer) (Stats, error) { return CSV(ctx, lk, t, w, o) })
}
