package parquetio

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/objstore/storetest"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Both readers work on ranged reads of a store object (filesystem and a
// real S3 server), and row groups pruned by statistics are never fetched.
func TestReadersOnStores(t *testing.T) {
	stores := map[string]func(t *testing.T) objstore.Store{
		"fs": func(t *testing.T) objstore.Store {
			s, err := objstore.NewFS(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"s3": func(t *testing.T) objstore.Store {
			cfg := storetest.S3FromEnv(t)
			cfg.Prefix = fmt.Sprintf("parquetio-test/%d", time.Now().UnixNano())
			s, err := objstore.NewS3(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	tb := schema.MustLookup("telemetry_jar_raw")
	const batteries, per = 16, 2500
	rows := sortedJarRows(batteries*per, batteries)
	data := writeTyped(t, rows, per) // one row group per battery
	pick := []uuid.UUID{uuid.UUID(rows[5*per].BatteryID)}
	var want []jarRow
	for _, r := range rows {
		if r.BatteryID == pick[0] {
			want = append(want, r)
		}
	}
	o := ReadOptions{Entities: pick, Columns: []string{"ts", "battery_id", "voltage_v"}}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			m := new(objstore.Metrics)
			s := objstore.WithMetrics(objstore.WithRetry(open(t), 3, time.Millisecond), m)
			const key = "telemetry_jar_raw/month=2026-01/bucket=00/part-00000.parquet"
			if err := objstore.Put(t.Context(), s, key, data); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Delete(context.Background(), key) })
			obj, err := s.Open(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()

			before := m.Snapshot()
			got, r := readFrom(t, tb, obj, obj.Size(), o)
			defer got.Release()
			if kept, total := r.RowGroups(); kept != 1 || total != batteries {
				t.Fatalf("row groups %d of %d, want 1 of %d", kept, total, batteries)
			}
			if int(got.NumRows()) != len(want) {
				t.Fatalf("%d rows, want %d", got.NumRows(), len(want))
			}
			read := m.Snapshot().BytesRead - before.BytesRead
			// One row group of three columns plus the footer: far less
			// than the file.
			if read <= 0 || read > obj.Size()/4 {
				t.Fatalf("arrow reader fetched %d of %d bytes for 1 of %d row groups", read, obj.Size(), batteries)
			}
			t.Logf("arrow reader: %d range reads, %d of %d bytes", m.Snapshot().RangeReads-before.RangeReads, read, obj.Size())

			before = m.Snapshot()
			checkSlices(t, tb, obj, obj.Size(), o, want, 1, batteries)
			read = m.Snapshot().BytesRead - before.BytesRead
			if read <= 0 || read > obj.Size()/2 {
				t.Fatalf("slice reader fetched %d of %d bytes for 1 of %d row groups", read, obj.Size(), batteries)
			}
			t.Logf("slice reader: %d range reads, %d of %d bytes", m.Snapshot().RangeReads-before.RangeReads, read, obj.Size())
		})
	}
}

// BenchmarkReadS3 streams the BenchmarkReadArrowTelemetry file from the
// S3 test server (ranged GETs through the standard decorators), projected
// to 3 columns, with both readers; it reports ReadAt calls per file.
func BenchmarkReadS3(b *testing.B) {
	cfg := storetest.S3FromEnv(b)
	cfg.Prefix = fmt.Sprintf("parquetio-bench/%d", time.Now().UnixNano())
	s3, err := objstore.NewS3(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	m := new(objstore.Metrics)
	s := objstore.WithMetrics(objstore.WithRetry(s3, 3, 100*time.Millisecond), m)
	data := benchFile()
	const key = "telemetry_jar_raw/month=2026-01/bucket=00/part-00000.parquet"
	if err := objstore.Put(b.Context(), s, key, data); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Delete(context.Background(), key) })
	tb := schema.MustLookup("telemetry_jar_raw")
	o := ReadOptions{Columns: []string{"ts", "battery_id", "voltage_v"}}
	for _, rd := range []struct {
		name string
		read func(obj objstore.Object) int64
	}{
		{"arrow", func(obj objstore.Object) int64 {
			r, err := NewReader(b.Context(), obj, obj.Size(), tb, o)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			var rows int64
			for rec, err := r.Next(); err == nil; rec, err = r.Next() {
				rows += rec.NumRows()
				rec.Release()
			}
			return rows
		}},
		{"slices", func(obj objstore.Object) int64 {
			r, err := NewSliceReader(obj, obj.Size(), tb, o)
			if err != nil {
				b.Fatal(err)
			}
			var rows int64
			eachSliceBatch(b, r, func(batch *SliceBatch) { rows += int64(batch.Rows) })
			return rows
		}},
	} {
		b.Run(rd.name, func(b *testing.B) {
			before := m.Snapshot()
			throughput(b, func() (int64, int64) {
				obj, err := s.Open(b.Context(), key)
				if err != nil {
					b.Fatal(err)
				}
				defer obj.Close()
				rows := rd.read(obj)
				if rows != benchBatteries*17280 {
					b.Fatalf("read %d rows", rows)
				}
				return rows, obj.Size()
			})
			after := m.Snapshot()
			b.ReportMetric(float64(after.RangeReads-before.RangeReads)/float64(b.N), "reads/file")
			b.ReportMetric(float64(after.BytesRead-before.BytesRead)/float64(b.N)/float64(len(data)), "fetched/size")
		})
	}
}
