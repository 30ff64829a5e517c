package parquetio

import (
	"bytes"
	"io"
	"math"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// benchBatteries x 17,280 samples (one day at 5 s) = 3.46 M rows: a
// telemetry_jar_raw bucket file of a few million rows.
const benchBatteries = 200

var benchFile = sync.OnceValue(func() []byte {
	rows := sortedJarRows(benchBatteries*17280, benchBatteries)
	var buf bytes.Buffer
	w, err := NewTypedWriter[jarRow](&buf, schema.MustLookup("telemetry_jar_raw"))
	if err != nil {
		panic(err)
	}
	for off := 0; off < len(rows); off += 16384 {
		if err := w.Write(rows[off:min(off+16384, len(rows))]); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

// reportRead reports rows/s, file bytes/row and heap bytes allocated per row.
func reportRead(b *testing.B, rows int64, size int, alloc uint64) {
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(rows)/sec, "rows/s")
	b.ReportMetric(float64(size)/float64(rows), "bytes/row")
	b.ReportMetric(float64(alloc)/float64(b.N)/float64(rows), "alloc-B/row")
}

// cpuSeconds is the process's user+system CPU time: on a shared machine
// rows per CPU-second compares implementations better than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// throughput measures fn over b.N iterations and reports rows/s (wall),
// rows/cpu-s, bytes/row and heap bytes allocated per row; fn returns the
// rows and bytes of one iteration.
func throughput(b *testing.B, fn func() (rows, size int64)) {
	var rows, size int64
	alloc, cpu := totalAlloc(), cpuSeconds()
	b.ResetTimer()
	for range b.N {
		rows, size = fn()
	}
	b.StopTimer()
	cpu = cpuSeconds() - cpu
	n := float64(b.N) * float64(rows)
	b.ReportMetric(n/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(n/cpu, "rows/cpu-s")
	b.ReportMetric(float64(size)/float64(rows), "bytes/row")
	b.ReportMetric(float64(totalAlloc()-alloc)/n, "alloc-B/row")
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// BenchmarkReadArrowTelemetry streams a 3.46 M-row telemetry_jar_raw file
// back as Arrow records (64 Ki rows each), all columns and projected to 3.
func BenchmarkReadArrowTelemetry(b *testing.B) {
	data := benchFile()
	tb := schema.MustLookup("telemetry_jar_raw")
	for _, bc := range []struct {
		name string
		o    ReadOptions
	}{
		{"full", ReadOptions{}},
		{"projected3", ReadOptions{Columns: []string{"ts", "battery_id", "voltage_v"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			throughput(b, func() (int64, int64) {
				r, err := NewReader(b.Context(), bytes.NewReader(data), int64(len(data)), tb, bc.o)
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				var rows int64
				for {
					rec, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					rows += rec.NumRows()
					rec.Release()
				}
				if rows != benchBatteries*17280 {
					b.Fatalf("read %d rows", rows)
				}
				return rows, int64(len(data))
			})
		})
	}
}

// calcRecords builds telemetry_jar_calc records in file order (battery,
// then time) of at most batch rows: SoC wandering around float charge, SoH
// fading slowly, both DECIMAL(5,2).
func calcRecords(batteries, perBattery, batch int) []arrow.RecordBatch {
	sc := ArrowSchema(schema.MustLookup("telemetry_jar_calc"))
	ids := make([]uuid.UUID, batteries)
	for i := range ids {
		ids[i] = uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i), byte(i >> 8)})
	}
	sortUUIDs(ids)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	var out []arrow.RecordBatch
	n := 0
	for bi, id := range ids {
		soh := 100 - float64(bi%40)
		for i := range perBattery {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(t0 + int64(i)*5e6))
			b.Field(1).(*extensions.UUIDBuilder).Append(id)
			soc := 98 + 1.5*math.Sin(float64(i)/500) + 0.2*math.Sin(float64(i*bi))
			b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(math.Round(soc * 100))))
			b.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(math.Round((soh - float64(i)/1e5) * 100))))
			if n++; n == batch {
				out = append(out, b.NewRecordBatch())
				n = 0
			}
		}
	}
	if n > 0 {
		out = append(out, b.NewRecordBatch())
	}
	return out
}

func sortUUIDs(ids []uuid.UUID) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && bytes.Compare(ids[j-1][:], ids[j][:]) > 0; j-- {
			ids[j-1], ids[j] = ids[j], ids[j-1]
		}
	}
}

// BenchmarkArrowWriteCalc writes a 3.46 M-row telemetry_jar_calc stream
// (64 Ki-row records) with the Arrow writer.
func BenchmarkArrowWriteCalc(b *testing.B) {
	recs := calcRecords(benchBatteries, 17280, 64<<10)
	tb := schema.MustLookup("telemetry_jar_calc")
	throughput(b, func() (int64, int64) {
		cw := &countWriter{}
		w, err := NewArrowWriter(cw, tb, ArrowWriterOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		return w.Rows(), cw.n
	})
}

// BenchmarkReadSlicesTelemetry reads the same file as
// BenchmarkReadArrowTelemetry with parquet-go into plain Go slices, one
// row group per batch.
func BenchmarkReadSlicesTelemetry(b *testing.B) {
	data := benchFile()
	tb := schema.MustLookup("telemetry_jar_raw")
	for _, bc := range []struct {
		name string
		cols []string
	}{
		{"full", nil},
		{"projected3", []string{"ts", "battery_id", "voltage_v"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			throughput(b, func() (int64, int64) {
				r, err := NewSliceReader(bytes.NewReader(data), int64(len(data)), tb, ReadOptions{Columns: bc.cols})
				if err != nil {
					b.Fatal(err)
				}
				var rows int64
				eachSliceBatch(b, r, func(batch *SliceBatch) { rows += int64(batch.Rows) })
				if rows != benchBatteries*17280 {
					b.Fatalf("read %d rows", rows)
				}
				return rows, int64(len(data))
			})
		})
	}
}
