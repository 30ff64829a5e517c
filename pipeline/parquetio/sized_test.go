package parquetio

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
)

// worstJarRows are n jar rows that fill column buffers as much as rows
// can: every battery id distinct (a full dictionary), random values.
func worstJarRows(n int, seed uint64) []JarRawRow {
	r := rand.New(rand.NewPCG(seed, 1))
	rows := make([]JarRawRow, n)
	for i := range rows {
		var id [16]byte
		binary.LittleEndian.PutUint64(id[:], r.Uint64())
		binary.LittleEndian.PutUint64(id[8:], r.Uint64())
		rows[i] = JarRawRow{TS: r.Int64(), BatteryID: id, VoltageV: 1 + r.Int32N(99_998), TemperatureC: 1 + r.Int32N(9_998),
			ResistanceMOhm: 1 + r.Int32N(1e8-2), ConductanceS: 1 + r.Int32N(1e8-2)}
		if i%13 == 0 {
			rows[i].VoltageV = 0 // NULL
		}
	}
	return rows
}

func pageBuffer(t *testing.T, opt parquet.WriterOption) int {
	t.Helper()
	c, err := parquet.NewWriterConfig(opt)
	if err != nil {
		t.Fatal(err)
	}
	return c.PageBufferSize
}

// A writer whose page buffer is sized to its file's row bound (SizedFor,
// and a RowSink that holds its whole file) must write the same bytes as
// one with the default buffer, at the worst case of its bound, and must
// actually be smaller for small files.
func TestSizedWriterWritesSameBytes(t *testing.T) {
	tb := schema.MustLookup("telemetry_jar_raw")
	for _, n := range []int{0, 1, 700, 5_000, 11_000, 40_000} {
		rows := worstJarRows(n, uint64(n))
		opt := SizedFor(tb, int64(n))
		if n <= 5_000 && pageBuffer(t, opt) >= pageBufferSize {
			t.Fatalf("%d rows: page buffer %d, want less than the default %d", n, pageBuffer(t, opt), pageBufferSize)
		}
		sized, plain := writeRows(t, tb, rows, opt), writeRows(t, tb, rows)
		if !bytes.Equal(sized, plain) {
			t.Fatalf("%d rows: sized writer wrote %d bytes, default %d, not the same", n, len(sized), len(plain))
		}
	}
	// A table with a JSON column has no schema bound: the default.
	te := schema.MustLookup("truth_event")
	if got := pageBuffer(t, SizedFor(te, 10)); got != pageBufferSize {
		t.Fatalf("truth_event: page buffer %d, want the default %d", got, pageBufferSize)
	}

	// Generic path: a RowSink holding its whole file sizes the buffer to
	// its rows, JSON included; a writer opened before the rows does not.
	for _, n := range []int{3, 2_000, rowBatch} {
		var sized, plain bytes.Buffer
		for k, buf := range []*bytes.Buffer{&sized, &plain} {
			rw, err := NewRowWriter(buf, te)
			if err != nil {
				t.Fatal(err)
			}
			if k == 1 {
				rw.open() // the default page buffer
			}
			sink := NewRowSink(rw, te)
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := 0; i < n; i++ {
				if err := sink.Add(func(b *RowBuilder) {
					b.Set("event_id", uuid.NewSHA1(uuid.Nil, binary.LittleEndian.AppendUint64(nil, uint64(i)))).
						Set("event_kind", []string{"discharge_test", "open_cell", "sensor_dropout"}[i%3]).
						Set("location_id", uuid.NewSHA1(uuid.Nil, []byte{byte(i)})).Set("start_ts", t0.Add(time.Duration(i)*time.Minute)).
						Set("details_json", map[string]any{"i": i, "note": strings.Repeat("x", i%300)})
					if i%4 == 0 {
						b.Set("end_ts", t0.Add(time.Duration(i+5)*time.Minute))
					}
				}); err != nil {
					t.Fatal(err)
				}
			}
			if k == 0 && n < rowBatch && rw.w != nil {
				t.Fatalf("%d rows: writer opened before Close", n)
			}
			if _, err := sink.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(sized.Bytes(), plain.Bytes()) {
			t.Fatalf("generic, %d rows: sized writer wrote %d bytes, default %d, not the same", n, sized.Len(), plain.Len())
		}
	}
}
