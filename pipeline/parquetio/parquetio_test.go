package parquetio

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
)

func TestSchemaKeepsRegistryOrderAndTypes(t *testing.T) {
	for _, tb := range schema.All() {
		s, err := Schema(tb)
		if err != nil {
			t.Fatal(err)
		}
		fields := s.Fields()
		if len(fields) != len(tb.Columns) {
			t.Fatalf("%s: %d fields, %d columns", tb.Name, len(fields), len(tb.Columns))
		}
		for i, f := range fields {
			c := tb.Columns[i]
			if f.Name() != c.Name {
				t.Fatalf("%s field %d = %s, want %s", tb.Name, i, f.Name(), c.Name)
			}
			if f.Optional() == c.NotNull {
				t.Fatalf("%s.%s optional=%v but NotNull=%v", tb.Name, c.Name, f.Optional(), c.NotNull)
			}
			lt := ""
			if l := f.Type().LogicalType(); l != nil {
				lt = l.String()
			}
			want := map[schema.Kind]string{
				schema.KindUUID:        "UUID",
				schema.KindDecimal:     fmt.Sprintf("DECIMAL(%d,%d)", c.Type.Precision, c.Type.Scale),
				schema.KindTimestamptz: "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)",
				schema.KindTimestamp:   "TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)",
				schema.KindDate:        "DATE",
				schema.KindJSON:        "JSON",
				schema.KindVarchar:     "STRING",
				schema.KindEnum:        "STRING",
			}[c.Type.Kind]
			if want != "" && lt != want {
				t.Fatalf("%s.%s: logical type %q, want %q", tb.Name, c.Name, lt, want)
			}
			if c.Type.Kind == schema.KindDecimal {
				if k := f.Type().Kind(); c.Type.Precision <= 9 && k != parquet.Int32 || c.Type.Precision > 9 && k != parquet.Int64 {
					t.Fatalf("%s.%s: decimal(%d) stored as %v", tb.Name, c.Name, c.Type.Precision, k)
				}
			}
			if enc := f.Encoding(); enc != nil && strings.Contains(enc.String(), "BYTE_STREAM_SPLIT") {
				t.Fatalf("%s.%s uses BYTE_STREAM_SPLIT", tb.Name, c.Name)
			}
		}
	}
}

func TestRowBuilderValidates(t *testing.T) {
	tb := schema.MustLookup("location")
	b := NewRowBuilder(tb)
	id := uuid.New()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ok := func() *RowBuilder {
		return b.Reset().Set("location_id", id).Set("location_code", "DC-BKK-01").Set("location_name", "Bangrak").
			Set("region", "central").Set("city", "Bangkok").Set("timezone", "Asia/Bangkok").
			Set("created_at", now).Set("updated_at", now)
	}
	if _, err := ok().Row(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func() *RowBuilder{
		"not fit DECIMAL(10,7)": func() *RowBuilder { return ok().Set("latitude", 1234.5) },
		"region":                func() *RowBuilder { return ok().Set("region", "western") },
		"location_code":         func() *RowBuilder { return ok().Set("location_code", strings.Repeat("X", 21)) },
		"NOT NULL":              func() *RowBuilder { return ok().Set("location_name", nil) },
		"unknown column":        func() *RowBuilder { return ok().Set("nope", 1) },
		"cannot store":          func() *RowBuilder { return ok().Set("is_active", "yes") },
	}
	for want, build := range cases {
		_, err := build().Row()
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "location") {
			t.Errorf("case %q: err = %v", want, err)
		}
	}
}

type roundTrip struct {
	LocationID   [16]byte `parquet:"location_id"`
	Code         string   `parquet:"location_code"`
	Latitude     *int64   `parquet:"latitude"`
	Commission   *int32   `parquet:"commissioned_date"`
	IsActive     *bool    `parquet:"is_active"`
	CreatedAt    int64    `parquet:"created_at"`
	Unreferenced *string  `parquet:"city"`
}

func TestRowWriterRoundTrip(t *testing.T) {
	tb := schema.MustLookup("location")
	var buf bytes.Buffer
	w, err := NewRowWriter(&buf, tb)
	if err != nil {
		t.Fatal(err)
	}
	b := NewRowBuilder(tb)
	id := uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	created := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	row, err := b.Reset().Set("location_id", id).Set("location_code", "DC-CNX-01").Set("location_name", "Chiang Mai DC").
		Set("region", "northern").Set("city", "Chiang Mai").Set("latitude", 18.7883439).Set("timezone", "Asia/Bangkok").
		Set("commissioned_date", time.Date(2015, 3, 1, 0, 0, 0, 0, time.UTC)).Set("is_active", true).
		Set("created_at", created).Set("updated_at", created).Row()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRows([]parquet.Row{row}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := parquet.Read[roundTrip](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("rows = %d", len(got))
	}
	r := got[0]
	if uuid.UUID(r.LocationID) != id || r.Code != "DC-CNX-01" || r.Latitude == nil || *r.Latitude != 187883439 ||
		r.Commission == nil || *r.Commission != int32(time.Date(2015, 3, 1, 0, 0, 0, 0, time.UTC).Unix()/86400) ||
		r.IsActive == nil || !*r.IsActive || r.CreatedAt != created.UnixMicro() {
		t.Fatalf("round trip = %+v", r)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Lookup("battlake.schema_version"); v != tb.Version() {
		t.Fatalf("schema_version metadata = %q", v)
	}
}

type wrongRow struct {
	TS        int64    `parquet:"ts,timestamp(microsecond)"`
	BatteryID [16]byte `parquet:"battery_id,uuid"`
	VoltageV  float64  `parquet:"voltage_v,optional"`
}

func TestTypedWriterRejectsMismatchedRowType(t *testing.T) {
	_, err := NewTypedWriter[wrongRow](io.Discard, schema.MustLookup("telemetry_jar_raw"))
	if err == nil || !strings.Contains(err.Error(), "does not match the registry") {
		t.Fatalf("err = %v", err)
	}
}

// jarRow mirrors telemetry_jar_raw (the job's own row type lives in jobs/).
type jarRow struct {
	TS             int64    `parquet:"ts,timestamp(microsecond)"`
	BatteryID      [16]byte `parquet:"battery_id,uuid"`
	VoltageV       int32    `parquet:"voltage_v,decimal(3:5),optional"`
	TemperatureC   int32    `parquet:"temperature_c,decimal(1:4),optional"`
	ResistanceMOhm int32    `parquet:"resistance_mohm,decimal(3:8),optional"`
	ConductanceS   int32    `parquet:"conductance_s,decimal(5:8),optional"`
}

// telemetryRows fills rows with a telemetry-shaped series: batteries in
// id order, 5 s samples, float voltage with mV noise, slow temperature,
// ohmic readings with noise — what one bucket-day of jar telemetry holds.
func telemetryRows(rows []jarRow, batteries int, seed uint64) {
	n := len(rows) / batteries
	x := seed
	next := func() float64 { // xorshift, deterministic
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return float64(x>>11)/(1<<53) - 0.5
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for b := 0; b < batteries; b++ {
		id := uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(b), byte(b >> 8)})
		r0 := 3.0 + next()
		for i := 0; i < n; i++ {
			v := 13.62 + 0.01*next()
			temp := 26 + 2*math.Sin(float64(i)/float64(n)*2*math.Pi)
			r := r0 * (1 + 0.005*next())
			rows[b*n+i] = jarRow{TS: t0 + int64(i)*5e6, BatteryID: id, VoltageV: int32(math.Round(v * 1e3)),
				TemperatureC: int32(math.Round(temp * 10)), ResistanceMOhm: int32(math.Round(r * 1e3)),
				ConductanceS: int32(math.Round(1e3 / r * 1e5))}
		}
	}
}

// BenchmarkParquetWriteTelemetry measures the Parquet write path alone on
// telemetry-shaped rows (1 core): rows/s and bytes/row at the registry's
// encodings and zstd.
func BenchmarkParquetWriteTelemetry(b *testing.B) {
	const batteries, perBattery = 100, 17280 // 100 jars x 1 day at 5 s
	rows := make([]jarRow, batteries*perBattery)
	telemetryRows(rows, batteries, 42)
	tb := schema.MustLookup("telemetry_jar_raw")
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cw := &countWriter{}
		w, err := NewTypedWriter[jarRow](cw, tb)
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(rows); off += 16384 {
			if err := w.Write(rows[off:min(off+16384, len(rows))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(len(rows))/sec, "rows/s")
	b.ReportMetric(float64(size)/float64(len(rows)), "bytes/row")
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// A writer sized by SizedFor for the rows it writes gives the default
// writer's bytes with realistic rows, at every size up to the default page
// buffer (the last sizes fill several default pages); a buffer sized for
// fewer rows than written cuts pages early, which this test would see.
func TestSizedForRealisticRowsWritesTheDefaultBytes(t *testing.T) {
	jar := schema.MustLookup("telemetry_jar_raw")
	write := func(rows []JarRawRow, opts ...parquet.WriterOption) []byte {
		// parquet-go's writer (the jar writer sizes its own pages)
		return writeRows(t, schema.MustLookup("telemetry_jar_raw"), asPG(rows), opts...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 700, 5_000, 40_000, 200_000} {
		rows := make([]JarRawRow, n)
		for i := range rows {
			// Random ids: a dictionary as large as the column.
			var id [16]byte
			for k := range id {
				id[k] = byte(rng.Uint32())
			}
			rows[i] = JarRawRow{TS: int64(i) * 1e6, BatteryID: id, VoltageV: 13000 + int32(rng.IntN(900)), TemperatureC: 250, ResistanceMOhm: 3000 + int32(rng.IntN(500))}
		}
		want := write(rows)
		if got := write(rows, SizedFor(jar, int64(n))); !bytes.Equal(got, want) {
			t.Errorf("%d rows: SizedFor changed the bytes", n)
		}
		if n >= 40_000 && bytes.Equal(write(rows, SizedFor(jar, int64(n)/64)), want) {
			t.Errorf("%d rows: a writer sized for %d rows wrote the default bytes (the test cannot see a short buffer)", n, n/64)
		}
	}
}
