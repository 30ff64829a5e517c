package parquetio

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// pgJarRow is JarRawRow under another name: NewTypedWriter routes it to
// parquet-go's writer, the reference the jar writer is held to.
type pgJarRow JarRawRow

// jarRows are n rows of a few batteries in (battery, ts) runs, with NULLs
// (zeros) in every optional column, a NULL-only stretch of resistance, and
// ids out of order so the dictionary's order differs from the bounds'.
func jarRows(n int, seed uint64) []JarRawRow {
	rng := rand.New(rand.NewPCG(seed, 7))
	ids := make([][16]byte, 7)
	for i := range ids {
		for k := range ids[i] {
			ids[i][k] = byte(rng.Uint32())
		}
	}
	rows := make([]JarRawRow, n)
	run := max(n/9, 1)
	for i := range rows {
		r := JarRawRow{TS: 1_767_225_600_000_000 + int64(i%run)*5_000_000, BatteryID: ids[(i/run)%len(ids)],
			VoltageV: 13_000 + int32(rng.IntN(900)), TemperatureC: 250 + int32(rng.IntN(40)),
			ResistanceMOhm: 3_000 + int32(rng.IntN(500)) - 1_000, ConductanceS: 300_000 + int32(rng.IntN(9_000))}
		if rng.IntN(50) == 0 {
			r.VoltageV = 0
		}
		if rng.IntN(30) == 0 {
			r.TemperatureC = 0
		}
		if i > n/3 && i < n/3+run {
			r.ResistanceMOhm = 0
		}
		if rng.IntN(4) == 0 {
			r.ConductanceS = 0
		}
		rows[i] = r
	}
	return rows
}

// The jar writer's files hold the same rows as parquet-go's, with the same
// schema, footer metadata, encodings, codec, sort order and chunk
// statistics; their page indexes describe their pages; DuckDB reads them.
func TestJarWriterMatchesParquetGo(t *testing.T) {
	tb := schema.MustLookup("telemetry_jar_raw")
	for _, c := range []struct{ rows, rowGroup int }{{0, RowGroupRows}, {1, RowGroupRows}, {5_000, RowGroupRows}, {150_000, 70_000}, {200_000, RowGroupRows}} {
		t.Run(fmt.Sprintf("%d rows by %d", c.rows, c.rowGroup), func(t *testing.T) {
			rows := jarRows(c.rows, uint64(c.rows))
			ours := writeRows(t, tb, rows, parquet.MaxRowsPerRowGroup(int64(c.rowGroup)))
			ref := writeRows(t, tb, asPG(rows), parquet.MaxRowsPerRowGroup(int64(c.rowGroup)))
			if same := bytes.Equal(ours, ref); same != (c.rows == 0) {
				t.Fatalf("%d rows: the files are byte-equal: %v (only an empty file should be)", c.rows, same)
			}
			got, want := readJar(t, ours), readJar(t, ref)
			if !slices.Equal(got, want) || len(got) != len(rows) {
				t.Fatalf("rows differ: %d read back, parquet-go's file has %d, %d written", len(got), len(want), len(rows))
			}
			sameMeta(t, ours, ref)
			checkPageIndex(t, ours, func(r, c int) parquet.Value { return jarValue(rows[r], c) })
			checkDuckDB(t, ours, rows)
		})
	}
}

// sameMeta checks two files of a table for the same footer (schema,
// metadata, creator, column orders), row groups (rows, sort order) and
// column chunks (type, encodings, codec, values, statistics, level
// histograms).
func sameMeta(t *testing.T, ours, ref []byte) {
	t.Helper()
	om, rm := openMeta(t, ours), openMeta(t, ref)
	if om.NumRows != rm.NumRows || om.CreatedBy != rm.CreatedBy || om.Version != rm.Version ||
		!reflect.DeepEqual(om.Schema, rm.Schema) || !reflect.DeepEqual(om.KeyValueMetadata, rm.KeyValueMetadata) ||
		!reflect.DeepEqual(om.ColumnOrders, rm.ColumnOrders) || len(om.RowGroups) != len(rm.RowGroups) {
		t.Fatalf("footers differ:\nours %+v\nref  %+v", om, rm)
	}
	for i := range om.RowGroups {
		og, rg := &om.RowGroups[i], &rm.RowGroups[i]
		if og.NumRows != rg.NumRows || !reflect.DeepEqual(og.SortingColumns, rg.SortingColumns) || og.Ordinal != rg.Ordinal {
			t.Errorf("row group %d: %d rows sorted by %v, parquet-go %d by %v", i, og.NumRows, og.SortingColumns, rg.NumRows, rg.SortingColumns)
		}
		for j := range og.Columns {
			o, r := &og.Columns[j].MetaData, &rg.Columns[j].MetaData
			if o.Type != r.Type || !reflect.DeepEqual(o.Encoding, r.Encoding) || o.Codec != r.Codec || o.NumValues != r.NumValues ||
				!reflect.DeepEqual(o.PathInSchema, r.PathInSchema) || !reflect.DeepEqual(o.Statistics, r.Statistics) ||
				!reflect.DeepEqual(o.SizeStatistics.DefinitionLevelHistogram, r.SizeStatistics.DefinitionLevelHistogram) {
				t.Errorf("row group %d column %v:\nours %+v\nref  %+v", i, o.PathInSchema, o, r)
			}
		}
	}
}

// asPG copies rows as pgJarRow, for parquet-go's writer.
func asPG(rows []JarRawRow) []pgJarRow {
	p := make([]pgJarRow, len(rows))
	for i, r := range rows {
		p[i] = pgJarRow(r)
	}
	return p
}

func readJar(t *testing.T, data []byte) []JarRawRow {
	t.Helper()
	rows, err := parquet.Read[JarRawRow](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func openMeta(t *testing.T, data []byte) *format.FileMetaData {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return f.Metadata()
}

// checkPageIndex walks every column's pages through the offset index and
// checks each page's column-index bounds and null count against the rows.
func checkPageIndex(t *testing.T, data []byte, value func(row, col int) parquet.Value) {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	base := 0
	for i, rg := range f.RowGroups() {
		for j, cc := range rg.ColumnChunks() {
			oi, err := cc.OffsetIndex()
			if err != nil {
				t.Fatal(err)
			}
			ci, err := cc.ColumnIndex()
			if err != nil {
				t.Fatal(err)
			}
			if oi.NumPages() != ci.NumPages() || oi.NumPages() == 0 {
				t.Fatalf("row group %d column %d: %d pages in the offset index, %d in the column index", i, j, oi.NumPages(), ci.NumPages())
			}
			for p := 0; p < oi.NumPages(); p++ {
				lo, hi := oi.FirstRowIndex(p), rg.NumRows()
				if p+1 < oi.NumPages() {
					hi = oi.FirstRowIndex(p + 1)
				}
				var nulls int64
				for r := base + int(lo); r < base+int(hi); r++ {
					v := value(r, j)
					if v.IsNull() {
						nulls++
						continue
					}
					if typ := cc.Type(); typ.Compare(v, ci.MinValue(p)) < 0 || typ.Compare(v, ci.MaxValue(p)) > 0 {
						t.Fatalf("row group %d column %d page %d: %v outside [%v, %v]", i, j, p, v, ci.MinValue(p), ci.MaxValue(p))
					}
				}
				if ci.NullCount(p) != nulls || ci.NullPage(p) != (nulls == hi-lo) {
					t.Fatalf("row group %d column %d page %d: %d nulls (null page %v), counted %d", i, j, p, ci.NullCount(p), ci.NullPage(p), nulls)
				}
			}
		}
		base += int(rg.NumRows())
	}
}

func jarValue(r JarRawRow, col int) parquet.Value {
	switch col {
	case 0:
		return parquet.Int64Value(r.TS)
	case 1:
		return parquet.FixedLenByteArrayValue(r.BatteryID[:])
	}
	v := [...]int32{r.VoltageV, r.TemperatureC, r.ResistanceMOhm, r.ConductanceS}[col-2]
	if v == 0 {
		return parquet.NullValue()
	}
	return parquet.Int32Value(v)
}

// checkDuckDB reads the file with DuckDB: row count, non-NULL counts and
// sums per column, and the distinct batteries.
func checkDuckDB(t *testing.T, data []byte, rows []JarRawRow) {
	t.Helper()
	db, err := lakecheck.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	path := filepath.Join(t.TempDir(), "jar.parquet")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var n, nv, nt, nr, ng, ids int64
	var sts, sv, sr float64
	q := fmt.Sprintf(`SELECT count(*), count(voltage_v), count(temperature_c), count(resistance_mohm), count(conductance_s),
		count(DISTINCT battery_id), coalesce(sum(epoch_us(ts))::DOUBLE, 0), coalesce(sum(voltage_v)::DOUBLE, 0), coalesce(sum(resistance_mohm)::DOUBLE, 0)
		FROM read_parquet('%s')`, path)
	if err := db.QueryRow(q).Scan(&n, &nv, &nt, &nr, &ng, &ids, &sts, &sv, &sr); err != nil {
		t.Fatal(err)
	}
	var wv, wt, wr, wg int64
	var wts, wsv, wsr float64
	seen := map[[16]byte]bool{}
	for _, r := range rows {
		seen[r.BatteryID] = true
		wts += float64(r.TS)
		if r.VoltageV != 0 {
			wv++
			wsv += float64(r.VoltageV) / 1e3
		}
		if r.TemperatureC != 0 {
			wt++
		}
		if r.ResistanceMOhm != 0 {
			wr++
			wsr += float64(r.ResistanceMOhm) / 1e3
		}
		if r.ConductanceS != 0 {
			wg++
		}
	}
	if n != int64(len(rows)) || nv != wv || nt != wt || nr != wr || ng != wg || ids != int64(len(seen)) {
		t.Fatalf("duckdb counts rows %d, non-NULL %d %d %d %d, batteries %d; want %d, %d %d %d %d, %d", n, nv, nt, nr, ng, ids, len(rows), wv, wt, wr, wg, len(seen))
	}
	if !near(sts, wts) || !near(sv, wsv) || !near(sr, wsr) {
		t.Fatalf("duckdb sums ts %g voltage %g resistance %g; want %g %g %g", sts, sv, sr, wts, wsv, wsr)
	}
}

func near(a, b float64) bool {
	return a == b || (a-b)/max(abs(a), abs(b)) < 1e-9 && (b-a)/max(abs(a), abs(b)) < 1e-9
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// BenchmarkJarWriter writes a million jar rows with the jar writer and
// with parquet-go's typed writer: rows/s and bytes/row of each.
func BenchmarkJarWriter(b *testing.B) {
	tb := schema.MustLookup("telemetry_jar_raw")
	rows := telemetryLikeRows(1 << 20)
	pg := asPG(rows)
	for _, w := range []struct {
		name  string
		write func(cw *countWriter) error
	}{
		{"jar", func(cw *countWriter) error { return writeInto(cw, tb, rows) }},
		{"parquet-go", func(cw *countWriter) error { return writeInto(cw, tb, pg) }},
	} {
		b.Run(w.name, func(b *testing.B) {
			var size int64
			for i := 0; i < b.N; i++ {
				cw := &countWriter{}
				if err := w.write(cw); err != nil {
					b.Fatal(err)
				}
				size = cw.n
			}
			b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(size)/float64(len(rows)), "bytes/row")
		})
	}
}

func writeInto[T any](w *countWriter, tb *schema.Table, rows []T) error {
	tw, err := NewTypedWriter[T](w, tb)
	if err != nil {
		return err
	}
	for len(rows) > 0 {
		n := min(len(rows), 4096)
		if err := tw.Write(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return tw.Close()
}

// telemetryLikeRows look like a 5 s day of jar telemetry: 60 batteries'
// runs, a noisy float voltage, a slow temperature, ohmic readings held
// for an hour, and no NULLs (a dropout leaves no row).
func telemetryLikeRows(n int) []JarRawRow {
	rng := rand.New(rand.NewPCG(3, 4))
	rows := make([]JarRawRow, n)
	run := n / 60
	var id [16]byte
	var r, g int32
	for i := range rows {
		if i%run == 0 {
			for k := range id {
				id[k] = byte(rng.Uint32())
			}
		}
		if i%720 == 0 {
			r = 3_000 + int32(rng.IntN(500))
			g = int32(1e8 / float64(r))
		}
		rows[i] = JarRawRow{TS: 1_767_225_600_000_000 + int64(i%run)*5_000_000, BatteryID: id,
			VoltageV: 13_620 + int32(rng.NormFloat64()*5), TemperatureC: 250 + int32(i%run/2000), ResistanceMOhm: r, ConductanceS: g}
	}
	return rows
}

// pgNullableRow is JarRawNullableRow for parquet-go's writer.
type pgNullableRow JarRawNullableRow

// The nullable row type writes JarRawRow's bytes for the same values, and
// keeps a real zero a zero (parquet-go's file of the same rows agrees).
func TestJarWriterNullableRows(t *testing.T) {
	tb := schema.MustLookup("telemetry_jar_raw")
	rows := jarRows(150_000, 9)
	ptr := func(v int32) *int32 {
		if v == 0 {
			return nil
		}
		return &v
	}
	nullable := make([]JarRawNullableRow, len(rows))
	for i, r := range rows {
		nullable[i] = JarRawNullableRow{TS: r.TS, BatteryID: r.BatteryID, VoltageV: ptr(r.VoltageV), TemperatureC: ptr(r.TemperatureC),
			ResistanceMOhm: ptr(r.ResistanceMOhm), ConductanceS: ptr(r.ConductanceS)}
	}
	opt := parquet.MaxRowsPerRowGroup(70_000)
	if !bytes.Equal(writeRows(t, tb, rows, opt), writeRows(t, tb, nullable, opt)) {
		t.Fatal("the nullable rows wrote other bytes than the same values as JarRawRow")
	}
	// real zeros: every 7th voltage and the whole first page's temperature
	zero := int32(0)
	for i := range nullable {
		if i%7 == 0 {
			nullable[i].VoltageV = &zero
		}
		if i < pageRows {
			nullable[i].TemperatureC = &zero
		}
	}
	pg := make([]pgNullableRow, len(nullable))
	for i, r := range nullable {
		pg[i] = pgNullableRow(r)
	}
	ours, ref := writeRows(t, tb, nullable, opt), writeRows(t, tb, pg, opt)
	got, err := parquet.Read[JarRawNullableRow](bytes.NewReader(ours), int64(len(ours)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := parquet.Read[JarRawNullableRow](bytes.NewReader(ref), int64(len(ref)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(nullable) || len(want) != len(nullable) {
		t.Fatalf("read %d and %d rows, wrote %d", len(got), len(want), len(nullable))
	}
	str := func(p *int32) string {
		if p == nil {
			return "NULL"
		}
		return fmt.Sprint(*p)
	}
	for i := range got {
		for k, pair := range [][2]*int32{{got[i].VoltageV, want[i].VoltageV}, {got[i].TemperatureC, want[i].TemperatureC},
			{got[i].ResistanceMOhm, want[i].ResistanceMOhm}, {got[i].ConductanceS, want[i].ConductanceS}} {
			if str(pair[0]) != str(pair[1]) {
				t.Fatalf("row %d column %d: %s, parquet-go's file has %s", i, k+2, str(pair[0]), str(pair[1]))
			}
		}
		if (i%7 == 0) != (got[i].VoltageV != nil && *got[i].VoltageV == 0) {
			t.Fatalf("row %d: voltage %s, want a real zero exactly on every 7th row", i, str(got[i].VoltageV))
		}
	}
	om, rm := openMeta(t, ours), openMeta(t, ref)
	for i := range om.RowGroups {
		for j := range om.RowGroups[i].Columns {
			if o, r := om.RowGroups[i].Columns[j].MetaData.Statistics, rm.RowGroups[i].Columns[j].MetaData.Statistics; !reflect.DeepEqual(o, r) {
				t.Errorf("row group %d column %d: statistics %+v, parquet-go %+v", i, j, o, r)
			}
		}
	}
}

// pgStringRow is StringRawRow for parquet-go's writer.
type pgStringRow StringRawRow

// stringRows are n rows of a few strings with NULLs in every optional
// column, real zeros, a NULL-only stretch of current, and every mode.
func stringRows(n int, seed uint64) []StringRawRow {
	rng := rand.New(rand.NewPCG(seed, 11))
	ids := make([][16]byte, 3)
	for i := range ids {
		for k := range ids[i] {
			ids[i][k] = byte(rng.Uint32())
		}
	}
	modes := []string{"float", "discharge", "equalize", "boost", ""}
	i32 := func(v int32, nullEvery int) *int32 {
		if rng.IntN(nullEvery) == 0 {
			return nil
		}
		return &v
	}
	b := func(nullEvery int) *bool {
		if rng.IntN(nullEvery) == 0 {
			return nil
		}
		v := rng.IntN(3) == 0
		return &v
	}
	rows := make([]StringRawRow, n)
	run := max(n/5, 1)
	for i := range rows {
		rows[i] = StringRawRow{TS: 1_767_225_600_000_000 + int64(i%run)*5_000_000, StringID: ids[(i/run)%len(ids)],
			VoltageV: i32(32_700+int32(rng.IntN(200)), 40), CurrentA: i32(int32(rng.IntN(3))*int32(rng.IntN(90_000)-45_000), 20),
			Mode: modes[rng.IntN(len(modes))], RippleVoltageRMSV: i32(int32(rng.IntN(500)), 30), RippleCurrentRMSA: i32(int32(rng.IntN(900)), 30),
			EqualizeFlag: b(10), GeneratorTestFlag: b(50), TransferEventFlag: b(5)}
		if i > n/2 && i < n/2+run {
			rows[i].CurrentA = nil
		}
	}
	return rows
}

// The string writer's files hold parquet-go's rows, footer and chunk
// metadata, their page indexes describe their pages, DuckDB reads them.
func TestStringWriterMatchesParquetGo(t *testing.T) {
	tb := schema.MustLookup("telemetry_string_raw")
	for _, c := range []struct{ rows, rowGroup int }{{0, RowGroupRows}, {1, RowGroupRows}, {3_000, RowGroupRows}, {150_000, 70_000}} {
		t.Run(fmt.Sprintf("%d rows by %d", c.rows, c.rowGroup), func(t *testing.T) {
			rows := stringRows(c.rows, uint64(c.rows))
			pg := make([]pgStringRow, len(rows))
			for i, r := range rows {
				pg[i] = pgStringRow(r)
			}
			ours := writeRows(t, tb, rows, parquet.MaxRowsPerRowGroup(int64(c.rowGroup)))
			ref := writeRows(t, tb, pg, parquet.MaxRowsPerRowGroup(int64(c.rowGroup)))
			if same := bytes.Equal(ours, ref); same != (c.rows == 0) {
				t.Fatalf("%d rows: the files are byte-equal: %v (only an empty file should be)", c.rows, same)
			}
			got, err := parquet.Read[StringRawRow](bytes.NewReader(ours), int64(len(ours)))
			if err != nil {
				t.Fatal(err)
			}
			want, err := parquet.Read[StringRawRow](bytes.NewReader(ref), int64(len(ref)))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(rows) || len(want) != len(rows) {
				t.Fatalf("read %d and %d rows, wrote %d", len(got), len(want), len(rows))
			}
			for i := range got {
				if a, b := fmt.Sprint(stringRowText(got[i])), fmt.Sprint(stringRowText(want[i])); a != b || a != fmt.Sprint(stringRowText(rows[i])) {
					t.Fatalf("row %d: %s, parquet-go's file has %s, written %s", i, a, b, fmt.Sprint(stringRowText(rows[i])))
				}
			}
			sameMeta(t, ours, ref)
			if c.rows > 0 {
				checkPageIndex(t, ours, func(r, c int) parquet.Value { return stringValue(rows[r], c) })
			}
			checkStringsInDuckDB(t, ours, rows)
		})
	}
}

func stringRowText(r StringRawRow) []string {
	p := func(v *int32) string {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprint(*v)
	}
	q := func(v *bool) string {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprint(*v)
	}
	return []string{fmt.Sprint(r.TS), fmt.Sprint(r.StringID), p(r.VoltageV), p(r.CurrentA), r.Mode, p(r.RippleVoltageRMSV),
		p(r.RippleCurrentRMSA), q(r.EqualizeFlag), q(r.GeneratorTestFlag), q(r.TransferEventFlag)}
}

func stringValue(r StringRawRow, col int) parquet.Value {
	i32 := func(p *int32) parquet.Value {
		if p == nil {
			return parquet.NullValue()
		}
		return parquet.Int32Value(*p)
	}
	b := func(p *bool) parquet.Value {
		if p == nil {
			return parquet.NullValue()
		}
		return parquet.BooleanValue(*p)
	}
	switch col {
	case 0:
		return parquet.Int64Value(r.TS)
	case 1:
		return parquet.FixedLenByteArrayValue(r.StringID[:])
	case 2:
		return i32(r.VoltageV)
	case 3:
		return i32(r.CurrentA)
	case 4:
		if r.Mode == "" {
			return parquet.NullValue()
		}
		return parquet.ByteArrayValue([]byte(r.Mode))
	case 5:
		return i32(r.RippleVoltageRMSV)
	case 6:
		return i32(r.RippleCurrentRMSA)
	case 7:
		return b(r.EqualizeFlag)
	case 8:
		return b(r.GeneratorTestFlag)
	}
	return b(r.TransferEventFlag)
}

// checkStringsInDuckDB compares DuckDB's non-NULL counts and sums of every
// column with the rows'.
func checkStringsInDuckDB(t *testing.T, data []byte, rows []StringRawRow) {
	t.Helper()
	db, err := lakecheck.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	path := filepath.Join(t.TempDir(), "string.parquet")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var got [10]float64
	q := fmt.Sprintf(`SELECT count(*), count(voltage_v), coalesce(sum(current_a), 0)::DOUBLE, count(current_a), count(mode),
		count(*) FILTER (WHERE mode = 'float'), count(ripple_current_rms_a), count(*) FILTER (WHERE equalize_flag),
		count(generator_test_flag), count(*) FILTER (WHERE NOT transfer_event_flag) FROM read_parquet('%s')`, path)
	ptrs := make([]any, len(got))
	for i := range got {
		ptrs[i] = &got[i]
	}
	if err := db.QueryRow(q).Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	var want [10]float64
	for _, r := range rows {
		want[0]++
		if r.VoltageV != nil {
			want[1]++
		}
		if r.CurrentA != nil {
			want[2] += float64(*r.CurrentA) / 1e3
			want[3]++
		}
		if r.Mode != "" {
			want[4]++
		}
		if r.Mode == "float" {
			want[5]++
		}
		if r.RippleCurrentRMSA != nil {
			want[6]++
		}
		if r.EqualizeFlag != nil && *r.EqualizeFlag {
			want[7]++
		}
		if r.GeneratorTestFlag != nil {
			want[8]++
		}
		if r.TransferEventFlag != nil && !*r.TransferEventFlag {
			want[9]++
		}
	}
	for i := range got {
		if !near(got[i], want[i]) {
			t.Fatalf("duckdb aggregate %d: %g, want %g", i, got[i], want[i])
		}
	}
}

// pgTruthRow is TruthDailyRow for parquet-go's writer.
type pgTruthRow TruthDailyRow

// The truth writer's files (required columns only) hold parquet-go's rows,
// footer and chunk metadata, and their page indexes describe their pages.
func TestTruthWriterMatchesParquetGo(t *testing.T) {
	tb := schema.MustLookup("truth_battery_daily")
	for _, c := range []struct{ rows, rowGroup int }{{0, RowGroupRows}, {31, RowGroupRows}, {150_000, 70_000}} {
		t.Run(fmt.Sprintf("%d rows by %d", c.rows, c.rowGroup), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(c.rows), 5))
			rows := make([]TruthDailyRow, c.rows)
			pg := make([]pgTruthRow, c.rows)
			var id [16]byte
			for i := range rows {
				if i%31 == 0 {
					for k := range id {
						id[k] = byte(rng.Uint32())
					}
				}
				rows[i] = TruthDailyRow{Day: 20_454 + int32(i%31), BatteryID: id, SOHPct: 9_000 + int32(rng.IntN(1_500)),
					CapacityAh: 9_000 + int32(rng.IntN(1_000)), ResistanceMOhm: int32(rng.IntN(9_000)), RULDays: int32(rng.IntN(60_000)) - 1_000}
				pg[i] = pgTruthRow(rows[i])
			}
			ours := sameAsParquetGo(t, tb, rows, pg, c.rowGroup)
			if c.rows > 0 {
				checkPageIndex(t, ours, func(r, c int) parquet.Value {
					x := rows[r]
					if c == 1 {
						return parquet.FixedLenByteArrayValue(x.BatteryID[:])
					}
					return parquet.Int32Value([...]int32{x.Day, 0, x.SOHPct, x.CapacityAh, x.ResistanceMOhm, x.RULDays}[c])
				})
			}
		})
	}
}

// pgCalcRow is JarCalcRow for parquet-go's writer.
type pgCalcRow JarCalcRow

// The jar calc writer's files hold parquet-go's rows, footer and chunk
// metadata, and their page indexes describe their pages.
func TestJarCalcWriterMatchesParquetGo(t *testing.T) {
	tb := schema.MustLookup("telemetry_jar_calc")
	for _, c := range []struct{ rows, rowGroup int }{{0, RowGroupRows}, {700, RowGroupRows}, {150_000, 70_000}} {
		t.Run(fmt.Sprintf("%d rows by %d", c.rows, c.rowGroup), func(t *testing.T) {
			raw := jarRows(c.rows, uint64(c.rows)+3)
			rows := make([]JarCalcRow, c.rows)
			pg := make([]pgCalcRow, c.rows)
			for i, r := range raw {
				rows[i] = JarCalcRow{TS: r.TS, BatteryID: r.BatteryID, SOCPct: r.TemperatureC, SOHPct: r.ResistanceMOhm} // NULLs of both kinds
				pg[i] = pgCalcRow(rows[i])
			}
			ours := sameAsParquetGo(t, tb, rows, pg, c.rowGroup)
			if c.rows > 0 {
				checkPageIndex(t, ours, func(r, c int) parquet.Value {
					x := rows[r]
					switch c {
					case 0:
						return parquet.Int64Value(x.TS)
					case 1:
						return parquet.FixedLenByteArrayValue(x.BatteryID[:])
					}
					if v := [...]int32{x.SOCPct, x.SOHPct}[c-2]; v != 0 {
						return parquet.Int32Value(v)
					}
					return parquet.NullValue()
				})
			}
		})
	}
}

// sameAsParquetGo writes rows with the column writer and their copies pg
// with parquet-go, in row groups of rowGroup, and checks that the files
// differ (unless empty), read back the rows and share footer and chunk
// metadata; it returns the column writer's file.
func sameAsParquetGo[R comparable, P any](t *testing.T, tb *schema.Table, rows []R, pg []P, rowGroup int) []byte {
	t.Helper()
	opt := parquet.MaxRowsPerRowGroup(int64(rowGroup))
	ours, ref := writeRows(t, tb, rows, opt), writeRows(t, tb, pg, opt)
	if same := bytes.Equal(ours, ref); same != (len(rows) == 0) {
		t.Fatalf("%d rows: the files are byte-equal: %v (only an empty file should be)", len(rows), same)
	}
	got, err := parquet.Read[R](bytes.NewReader(ours), int64(len(ours)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, rows) {
		t.Fatalf("read back %d rows, not the %d written", len(got), len(rows))
	}
	sameMeta(t, ours, ref)
	return ours
}
