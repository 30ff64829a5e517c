package parquetio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// fixture builds n rows of table t in its registry Arrow schema: sort-key
// columns increase with the row (so rows are in the table's order), every
// other nullable column is NULL on every fifth row, values respect enum
// domains, VARCHAR lengths and DECIMAL precision.
func fixture(t *schema.Table, n int, mem memory.Allocator) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, ArrowSchema(t))
	defer b.Release()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for j, c := range t.Columns {
		sortKey := slices.Contains(t.SortBy, c.Name)
		for i := range n {
			if !c.NotNull && !sortKey && i%5 == 4 {
				b.Field(j).AppendNull()
				continue
			}
			// v grows with i for sort keys and varies for the rest.
			v := i
			if !sortKey {
				v = (i*7919 + j*31) % 1000
			}
			switch fb := b.Field(j).(type) {
			case *extensions.UUIDBuilder:
				var id uuid.UUID
				id[0], id[14], id[15] = byte(j), byte(v>>8), byte(v)
				if sortKey {
					id[0] = 0
				}
				fb.Append(id)
			case *array.Decimal128Builder:
				lim := int64(1)
				for range c.Type.Precision {
					lim *= 10
				}
				fb.Append(decimal128.FromI64((int64(v)*12345 - 3) % lim))
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(t0 + int64(v)*5_000_000))
			case *array.Date32Builder:
				fb.Append(arrow.Date32(20454 + v))
			case *array.StringBuilder:
				switch c.Type.Kind {
				case schema.KindEnum:
					fb.Append(c.Type.Values[v%len(c.Type.Values)])
				case schema.KindJSON:
					fb.Append(fmt.Sprintf(`{"i":%d,"s":"x"}`, v))
				default:
					s := fmt.Sprintf("%06d-%s", v, c.Name)
					if c.Type.Length > 0 && len(s) > c.Type.Length {
						s = s[:c.Type.Length]
					}
					fb.Append(s)
				}
			case *array.Int32Builder:
				fb.Append(int32(v))
			case *array.Int64Builder:
				fb.Append(int64(v) << 33)
			case *array.BooleanBuilder:
				fb.Append(v%3 == 0)
			case *array.Float64Builder:
				fb.Append(float64(v) / 7)
			default:
				panic(fmt.Sprintf("%s.%s: no fixture for %T", t.Name, c.Name, fb))
			}
		}
	}
	return b.NewRecordBatch()
}

func writeArrow(t testing.TB, tb *schema.Table, o ArrowWriterOptions, recs ...arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewArrowWriter(&buf, tb, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll streams data back and concatenates the records.
func readAll(t testing.TB, tb *schema.Table, data []byte, o ReadOptions) (arrow.RecordBatch, *Reader) {
	t.Helper()
	return readFrom(t, tb, bytes.NewReader(data), int64(len(data)), o)
}

func readFrom(t testing.TB, tb *schema.Table, src io.ReaderAt, size int64, o ReadOptions) (arrow.RecordBatch, *Reader) {
	t.Helper()
	r, err := NewReader(t.Context(), src, size, tb, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []arrow.RecordBatch
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Schema().Equal(r.Schema()) {
			t.Fatalf("record schema %v, reader says %v", rec.Schema(), r.Schema())
		}
		if o.BatchRows > 0 && rec.NumRows() > int64(o.BatchRows) {
			t.Fatalf("record of %d rows, batch is %d", rec.NumRows(), o.BatchRows)
		}
		recs = append(recs, rec)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if len(recs) == 0 {
		return array.NewRecordBatch(r.Schema(), emptyCols(r.Schema()), 0), r
	}
	tbl := array.NewTableFromRecords(r.Schema(), recs)
	defer tbl.Release()
	cols := make([]arrow.Array, tbl.NumCols())
	for i := range cols {
		c, err := array.Concatenate(tbl.Column(i).Data().Chunks(), memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		cols[i] = c
	}
	return array.NewRecordBatch(r.Schema(), cols, tbl.NumRows()), r
}

func emptyCols(sc *arrow.Schema) []arrow.Array {
	cols := make([]arrow.Array, sc.NumFields())
	for i, f := range sc.Fields() {
		cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, 0)
	}
	return cols
}

func sameRecords(t *testing.T, what string, got, want arrow.RecordBatch) {
	t.Helper()
	if got.NumRows() != want.NumRows() || got.NumCols() != want.NumCols() {
		t.Fatalf("%s: %d rows x %d columns, want %d x %d", what, got.NumRows(), got.NumCols(), want.NumRows(), want.NumCols())
	}
	for i := range int(want.NumCols()) {
		if !array.Equal(got.Column(i), want.Column(i)) {
			t.Fatalf("%s column %s differs:\ngot  %v\nwant %v", what, want.ColumnName(i), got.Column(i), want.Column(i))
		}
	}
}

// Every registry table round-trips through the Arrow writer and the
// streaming reader value for value, over several row groups and batches.
func TestArrowRoundTripEveryTable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	for _, tb := range schema.All() {
		t.Run(tb.Name, func(t *testing.T) {
			want := fixture(tb, 50, mem)
			defer want.Release()
			a, b := want.NewSlice(0, 20), want.NewSlice(20, 50)
			defer a.Release()
			defer b.Release()
			data := writeArrow(t, tb, ArrowWriterOptions{RowGroupRows: 16}, a, b)
			// The reader gets Go's allocator: arrow-go's DELTA decoder does
			// not return its 64-byte block buffers (garbage, not a leak, there).
			got, r := readAll(t, tb, data, ReadOptions{BatchRows: 7})
			defer got.Release()
			sameRecords(t, tb.Name, got, want)
			if kept, total := r.RowGroups(); kept != 4 || total != 4 {
				t.Fatalf("row groups %d of %d, want 4 of 4", kept, total)
			}
		})
	}
}

// The Arrow writer's files carry the typed writer's Parquet schema
// (physical and logical types, repetition, order), value encodings, sort
// order and footer metadata.
func TestArrowWriterMatchesTypedWriter(t *testing.T) {
	tb := schema.MustLookup("telemetry_jar_raw")
	typed := writeTyped(t, sortedJarRows(2000, 4), RowGroupRows)
	// The typed file read back is the record stream for the Arrow writer.
	rec, _ := readAll(t, tb, typed, ReadOptions{})
	defer rec.Release()
	data := writeArrow(t, tb, ArrowWriterOptions{}, rec)

	open := func(b []byte) *parquet.File {
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	tf, af := open(typed), open(data)
	if !parquet.EqualNodes(tf.Schema(), af.Schema()) {
		t.Fatalf("schemas differ:\ntyped: %v\narrow: %v", tf.Schema(), af.Schema())
	}
	if !parquet.EqualNodes(MustSchema(tb), af.Schema()) {
		t.Fatalf("arrow file schema is not the registry's:\n%v", af.Schema())
	}
	valueEncodings := func(f *parquet.File) []string {
		var out []string
		for _, c := range f.Metadata().RowGroups[0].Columns {
			var encs []string
			for _, e := range c.MetaData.Encoding {
				// Levels are RLE and a dictionary page is PLAIN in both.
				if e != format.RLE && e != format.Plain && e != format.BitPacked {
					encs = append(encs, e.String())
				}
			}
			slices.Sort(encs)
			out = append(out, strings.Join(encs, "+")+"/"+c.MetaData.Codec.String())
		}
		return out
	}
	if g, w := valueEncodings(af), valueEncodings(tf); !slices.Equal(g, w) {
		t.Fatalf("column encodings/codecs: arrow %v, typed %v", g, w)
	}
	tm, am := tf.Metadata(), af.Metadata()
	if am.CreatedBy != tm.CreatedBy || !strings.HasPrefix(am.CreatedBy, CreatedBy) {
		t.Fatalf("created_by %q, typed writer %q", am.CreatedBy, tm.CreatedBy)
	}
	if fmt.Sprint(am.RowGroups[0].SortingColumns) != fmt.Sprint(tm.RowGroups[0].SortingColumns) || len(am.RowGroups[0].SortingColumns) != 2 {
		t.Fatalf("sorting columns: arrow %v, typed %v", am.RowGroups[0].SortingColumns, tm.RowGroups[0].SortingColumns)
	}
	for _, k := range []string{"battlake.table", "battlake.schema_version"} {
		a, _ := af.Lookup(k)
		w, _ := tf.Lookup(k)
		if a != w || a == "" {
			t.Fatalf("metadata %s: arrow %q, typed %q", k, a, w)
		}
	}
	for i, c := range am.RowGroups[0].Columns {
		st := c.MetaData.Statistics
		if len(st.MinValue) == 0 || len(st.MaxValue) == 0 {
			t.Fatalf("column %s has no min/max statistics", tb.Columns[i].Name)
		}
	}
}

func TestArrowWriterRejectsForeignSchema(t *testing.T) {
	tb := schema.MustLookup("telemetry_jar_calc")
	w, err := NewArrowWriter(io.Discard, tb, ArrowWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := fixture(schema.MustLookup("telemetry_jar_raw"), 3, memory.DefaultAllocator)
	defer other.Release()
	err = w.Write(other)
	if !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), "table telemetry_jar_calc") {
		t.Fatalf("foreign record: %v", err)
	}
	// One column with a different decimal scale is named.
	sc := ArrowSchema(tb)
	fields := sc.Fields()
	fields[3].Type = &arrow.Decimal128Type{Precision: 5, Scale: 3}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer rb.Release()
	rec := rb.NewRecordBatch()
	defer rec.Release()
	err = w.Write(rec)
	if !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), "table telemetry_jar_calc column soh_pct") {
		t.Fatalf("wrong decimal: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestArrowWriterRejectsUnsortedRows(t *testing.T) {
	tb := schema.MustLookup("telemetry_jar_calc")
	rec := fixture(tb, 10, memory.DefaultAllocator)
	defer rec.Release()
	w, err := NewArrowWriter(io.Discard, tb, ArrowWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec.NewSlice(5, 10)); err != nil {
		t.Fatal(err)
	}
	// Sorted within itself, but before the previous record's rows.
	err = w.Write(rec.NewSlice(0, 5))
	if !errors.Is(err, ErrUnsorted) || !strings.Contains(err.Error(), "row 5") {
		t.Fatalf("unsorted record: %v", err)
	}

	// Rows 3 and 4 swapped inside one record.
	w, err = NewArrowWriter(io.Discard, tb, ArrowWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var parts []arrow.RecordBatch
	for _, r := range [][2]int64{{0, 3}, {4, 5}, {3, 4}, {5, 10}} {
		parts = append(parts, rec.NewSlice(r[0], r[1]))
	}
	tbl := array.NewTableFromRecords(rec.Schema(), parts)
	defer tbl.Release()
	cols := make([]arrow.Array, tbl.NumCols())
	for i := range cols {
		cols[i], err = array.Concatenate(tbl.Column(i).Data().Chunks(), memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
	}
	swapped := array.NewRecordBatch(rec.Schema(), cols, 10)
	defer swapped.Release()
	if err := w.Write(swapped); !errors.Is(err, ErrUnsorted) || !strings.Contains(err.Error(), "row 4") {
		t.Fatalf("swapped rows: %v", err)
	}
}

// sortedJarRows is telemetry in file order: battery id, then time.
func sortedJarRows(n, batteries int) []jarRow {
	rows := make([]jarRow, n)
	telemetryRows(rows, batteries, 9)
	slices.SortStableFunc(rows, func(a, b jarRow) int {
		if c := bytes.Compare(a.BatteryID[:], b.BatteryID[:]); c != 0 {
			return c
		}
		return int(a.TS - b.TS)
	})
	return rows
}

func writeTyped(t testing.TB, rows []jarRow, rowGroup int64) []byte {
	t.Helper()
	return writeRows(t, schema.MustLookup("telemetry_jar_raw"), rows, parquet.MaxRowsPerRowGroup(rowGroup))
}

// writeRows writes rows of tb in one file with a typed writer.
func writeRows[T any](t testing.TB, tb *schema.Table, rows []T, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewTypedWriter[T](&buf, tb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Projection, a time range and an entity list prune row groups by their
// statistics and filter the kept rows exactly.
func TestReaderProjectionAndPruning(t *testing.T) {
	tb := schema.MustLookup("telemetry_jar_raw")
	const batteries, per = 8, 500
	rows := sortedJarRows(batteries*per, batteries)
	data := writeTyped(t, rows, 250) // two row groups per battery
	t0 := time.UnixMicro(rows[0].TS).UTC()
	from, to := t0.Add(100*5*time.Second), t0.Add(200*5*time.Second)
	pick := []uuid.UUID{uuid.UUID(rows[3*per].BatteryID), uuid.UUID(rows[6*per].BatteryID)}

	cases := []struct {
		name string
		o    ReadOptions
		keep func(jarRow) bool
		kept int
	}{
		{"all", ReadOptions{}, func(jarRow) bool { return true }, 16},
		{"projected", ReadOptions{Columns: []string{"voltage_v", "ts", "battery_id"}}, func(jarRow) bool { return true }, 16},
		{"time", ReadOptions{From: from, To: to, Columns: []string{"voltage_v"}}, func(r jarRow) bool {
			return r.TS >= from.UnixMicro() && r.TS < to.UnixMicro()
		}, 8},
		{"entities", ReadOptions{Entities: pick, Columns: []string{"ts", "temperature_c"}}, func(r jarRow) bool {
			return slices.Contains(pick, uuid.UUID(r.BatteryID))
		}, 4},
		{"both", ReadOptions{Entities: pick, From: from, To: to, BatchRows: 33}, func(r jarRow) bool {
			return slices.Contains(pick, uuid.UUID(r.BatteryID)) && r.TS >= from.UnixMicro() && r.TS < to.UnixMicro()
		}, 2},
		{"empty range", ReadOptions{From: t0.Add(-time.Hour), To: t0}, func(jarRow) bool { return false }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []jarRow
			for _, r := range rows {
				if tc.keep(r) {
					want = append(want, r)
				}
			}
			got, r := readAll(t, tb, data, tc.o)
			defer got.Release()
			if kept, total := r.RowGroups(); kept != tc.kept || total != 16 {
				t.Fatalf("row groups %d of %d, want %d of 16", kept, total, tc.kept)
			}
			cols := tc.o.Columns
			if cols == nil {
				cols = []string{"ts", "battery_id", "voltage_v", "temperature_c", "resistance_mohm", "conductance_s"}
			}
			for i, name := range cols {
				if got.ColumnName(i) != name {
					t.Fatalf("column %d = %s, want %s", i, got.ColumnName(i), name)
				}
			}
			if int(got.NumRows()) != len(want) {
				t.Fatalf("%d rows, want %d", got.NumRows(), len(want))
			}
			checkSlices(t, tb, bytes.NewReader(data), int64(len(data)), tc.o, want, tc.kept, 16)
			for i, name := range cols {
				col := got.Column(i)
				for k, w := range want {
					var g, e any
					switch name {
					case "ts":
						g, e = int64(col.(*array.Timestamp).Value(k)), w.TS
					case "battery_id":
						g, e = col.(*extensions.UUIDArray).Value(k), uuid.UUID(w.BatteryID)
					case "voltage_v":
						g, e = col.(*array.Decimal128).Value(k).LowBits(), uint64(w.VoltageV)
					case "temperature_c":
						g, e = col.(*array.Decimal128).Value(k).LowBits(), uint64(w.TemperatureC)
					default:
						continue
					}
					if g != e {
						t.Fatalf("row %d %s = %v, want %v", k, name, g, e)
					}
				}
			}
		})
	}
}

func TestReaderRejects(t *testing.T) {
	raw := schema.MustLookup("telemetry_jar_raw")
	data := writeTyped(t, sortedJarRows(100, 2), 1000)
	open := func(tb *schema.Table, o ReadOptions) error {
		r, err := NewReader(t.Context(), bytes.NewReader(data), int64(len(data)), tb, o)
		if err == nil {
			r.Close()
		}
		return err
	}
	if err := open(schema.MustLookup("telemetry_jar_calc"), ReadOptions{}); !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), "soc_pct") {
		t.Errorf("calc table over a raw file: %v", err)
	}
	// Even when statistics would prune every row group.
	past := ReadOptions{Columns: []string{"ts", "soh_pct"}, To: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := open(schema.MustLookup("telemetry_jar_calc"), past); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("calc table over a raw file, all row groups pruned: %v", err)
	}
	if err := open(raw, ReadOptions{Columns: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "unknown column nope") {
		t.Errorf("unknown column: %v", err)
	}
	if err := open(raw, ReadOptions{From: time.Now(), TimeColumn: "voltage_v"}); err == nil || !strings.Contains(err.Error(), "no timestamp column") {
		t.Errorf("time range on a decimal: %v", err)
	}
	if err := open(raw, ReadOptions{Entities: []uuid.UUID{{}}, EntityColumn: "ts"}); err == nil || !strings.Contains(err.Error(), "no UUID column") {
		t.Errorf("entities on a timestamp: %v", err)
	}
	if _, err := NewReader(context.Background(), bytes.NewReader(data[:100]), 100, raw, ReadOptions{}); err == nil {
		t.Error("truncated file opened")
	}
}

// checkSlices reads data with the slice reader under the same options and
// compares with want (the rows Reader must return too).
func checkSlices(t *testing.T, tb *schema.Table, src io.ReaderAt, size int64, o ReadOptions, want []jarRow, kept, total int) {
	t.Helper()
	cols := o.Columns
	if cols == nil {
		for _, c := range tb.Columns {
			cols = append(cols, c.Name)
		}
	}
	r, err := NewSliceReader(src, size, tb, o)
	if err != nil {
		t.Fatal(err)
	}
	if k, n := r.RowGroups(); k != kept || n != total {
		t.Fatalf("slice reader: row groups %d of %d, want %d of %d", k, n, kept, total)
	}
	row := 0
	eachSliceBatch(t, r, func(b *SliceBatch) {
		if b.Rows == 0 || len(b.Cols) != len(cols) {
			t.Fatalf("slice batch of %d rows and %d columns, want rows and %d columns", b.Rows, len(b.Cols), len(cols))
		}
		for i := range b.Rows {
			if row+i >= len(want) {
				t.Fatalf("slice reader returns more than %d rows", len(want))
			}
			w := want[row+i]
			for j, name := range cols {
				c := &b.Cols[j]
				if c.Name != name || len(c.Valid) != 0 && len(c.Valid) != b.Rows {
					t.Fatalf("slice column %d = %s with %d valid flags, want %s", j, c.Name, len(c.Valid), name)
				}
				var g, e any
				switch name {
				case "ts":
					g, e = c.Int64[i], w.TS
				case "battery_id":
					g, e = c.UUID[i], w.BatteryID
				case "voltage_v":
					g, e = c.Int32[i], w.VoltageV
				case "temperature_c":
					g, e = c.Int32[i], w.TemperatureC
				default:
					continue
				}
				if g != e {
					t.Fatalf("slice reader row %d %s = %v, want %v", row+i, name, g, e)
				}
			}
		}
		row += b.Rows
	})
	if row != len(want) {
		t.Fatalf("slice reader: %d rows, want %d", row, len(want))
	}
}

// A DECIMAL beyond the column's precision is refused with its column,
// whether the column has NULLs (generic path) or not (tight loop).
func TestArrowWriterRejectsDecimalOverflow(t *testing.T) {
	tb := schema.MustLookup("telemetry_jar_calc")
	for _, withNull := range []bool{false, true} {
		b := array.NewRecordBuilder(memory.DefaultAllocator, ArrowSchema(tb))
		for i := range 3 {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(i))
			b.Field(1).(*extensions.UUIDBuilder).Append(uuid.UUID{15: 1})
			b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(9999))
		}
		b.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(-99999))
		if withNull {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(1))
		}
		b.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(100000)) // 1000.00 > DECIMAL(5,2)
		rec := b.NewRecordBatch()
		b.Release()
		w, err := NewArrowWriter(io.Discard, tb, ArrowWriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = w.Write(rec)
		rec.Release()
		if err == nil || !strings.Contains(err.Error(), "column soh_pct row 2: 1000.00 does not fit DECIMAL(5,2)") {
			t.Errorf("nulls %v: %v", withNull, err)
		}
	}
}
