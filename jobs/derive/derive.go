// Package derive is the read side shared by the derived stages (calc,
// features, and later twin, rul, alerts): it finds inputs through the
// lake's manifests, streams them with projection and pruning, loads the
// master data they need, and names what was read as structured lineage.
//
// Derived jobs see only what the lake holds: this package and its users
// import neither physics/ nor jobs/fleet, and never read _truth/ (a test
// runs the derived stages over a store that fails on any _truth/ key).
package derive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// CodeVersion enters every derived segment's fingerprint: bump it when a
// derived job's output changes for the same inputs.
const CodeVersion = "derive-2026.11.30-6"

// ErrInputChanged says an input file is not the one its manifest listed
// when the derived job planned: rerun to derive from the new version.
var ErrInputChanged = errors.New("input changed since the plan")

// Index is a table's committed segments, by partition.
type Index struct {
	Table *schema.Table
	Parts []lake.Committed

	byDayOnce sync.Once
	byDay     map[int64][]lake.SegmentFile // dayFiles' index, built on first use

	intervalOnce sync.Once
	intervals    map[int64]time.Duration // Interval's index by day (Unix s)
}

// Load lists t's committed partitions through their manifests.
func Load(ctx context.Context, l *lake.Lake, t *schema.Table) (*Index, error) {
	parts, err := l.Partitions(ctx, t)
	if err != nil {
		return nil, err
	}
	return &Index{Table: t, Parts: parts}, nil
}

// Overlapping lists every committed segment whose rows may fall in
// [from, to), across partitions, in partition then segment order.
func (ix *Index) Overlapping(from, to time.Time) []lake.SegmentFile {
	var out []lake.SegmentFile
	for _, c := range ix.Parts {
		out = append(out, c.SegmentsOverlapping(from, to)...)
	}
	return out
}

// All lists every committed segment.
func (ix *Index) All() []lake.SegmentFile {
	return ix.Overlapping(time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
}

// Days lists the UTC days for which the table holds a day segment.
func (ix *Index) Days() []time.Time {
	seen := map[time.Time]bool{}
	for _, c := range ix.Parts {
		for _, s := range c.Manifest.Segments {
			if s.Name != lake.AsOfName {
				seen[s.From] = true
			}
		}
	}
	out := make([]time.Time, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// Interval is the sample interval the writer recorded for day d of the
// table (its day segments' "sample_interval=" input; the largest if
// buckets disagree), or 0 when no segment of d records one. Raw telemetry
// is downsampled on history days (a BMS historian), so derived jobs read
// each day's rate rather than assume one.
func (ix *Index) Interval(d time.Time) time.Duration {
	// Indexed by day on first use: every jar calc day asked twice, and
	// each answer scanned every segment of the table.
	ix.intervalOnce.Do(func() {
		ix.intervals = map[int64]time.Duration{}
		for _, c := range ix.Parts {
			for _, s := range c.Manifest.Segments {
				if s.Name == lake.AsOfName {
					continue
				}
				k := s.From.Unix()
				for _, in := range s.Inputs {
					if v, ok := strings.CutPrefix(in, "sample_interval="); ok {
						if x, err := time.ParseDuration(v); err == nil {
							ix.intervals[k] = max(ix.intervals[k], x)
						}
					}
				}
			}
		}
	})
	return ix.intervals[d.Unix()]
}

// Inputs is the lineage of reading files.
func Inputs(files []lake.SegmentFile) []lake.Input {
	out := make([]lake.Input, len(files))
	for i, f := range files {
		out[i] = f.Input()
	}
	return out
}

// EachSlice streams f's row groups as typed slices (the fast path for
// numeric columns) with o's projection and pruning.
func EachSlice(ctx context.Context, l *lake.Lake, f lake.SegmentFile, o parquetio.ReadOptions, fn func(b *parquetio.SliceBatch) error) error {
	obj, err := open(ctx, l, f)
	if err != nil {
		return err
	}
	defer obj.Close()
	r, err := parquetio.NewSliceReader(obj, obj.Size(), f.Partition.Table, o)
	if err != nil {
		return fmt.Errorf("read %s: %w", f.Data.Key, err)
	}
	// A batch's slices are reused from row group to row group (fn must not
	// keep them), so they can also serve the next file of the same table
	// and projection: a fresh batch per day file allocated and cleared
	// row-group-sized slices for every one of a history's ~14 K files.
	pool := slicePool(f.Partition.Table.Name, o.Columns)
	b, _ := pool.Get().(*parquetio.SliceBatch)
	if b == nil {
		b = &parquetio.SliceBatch{}
	}
	large := false
	defer func() {
		if !large { // a detail day's 1 M-row group pays for its own slices
			pool.Put(b)
		}
	}()
	for {
		err := r.Next(b)
		large = large || batchCap(b) > pooledBatchRows
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Data.Key, err)
		}
		if err := fn(b); err != nil {
			return fmt.Errorf("read %s: %w", f.Data.Key, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// pooledBatchRows bounds the batches kept for reuse, so the pools hold
// small files' batches and never a detail day's row groups.
const pooledBatchRows = 1 << 16

// batchCap is the most rows b's slices hold (a filter keeps fewer).
func batchCap(b *parquetio.SliceBatch) int {
	n := b.Rows
	for i := range b.Cols {
		c := &b.Cols[i]
		n = max(n, cap(c.Valid), cap(c.Int32), cap(c.Int64), cap(c.UUID), cap(c.Float64), cap(c.Bool))
	}
	return n
}

// slicePools holds EachSlice's batches by table and projection, so a
// reused batch's columns have the same kinds and optionality.
var slicePools sync.Map // string -> *sync.Pool

func slicePool(table string, cols []string) *sync.Pool {
	k := table + "\x00" + strings.Join(cols, ",")
	if p, ok := slicePools.Load(k); ok {
		return p.(*sync.Pool)
	}
	p, _ := slicePools.LoadOrStore(k, &sync.Pool{})
	return p.(*sync.Pool)
}

// EachRecord streams f through the Arrow reader (string, enum and JSON
// columns).
func EachRecord(ctx context.Context, l *lake.Lake, f lake.SegmentFile, cols []string, fn func(rec arrow.RecordBatch) error) error {
	obj, err := open(ctx, l, f)
	if err != nil {
		return err
	}
	defer obj.Close()
	r, err := parquetio.NewReader(ctx, obj, obj.Size(), f.Partition.Table, parquetio.ReadOptions{Columns: cols})
	if err != nil {
		return fmt.Errorf("read %s: %w", f.Data.Key, err)
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Data.Key, err)
		}
		err = fn(rec)
		rec.Release()
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Data.Key, err)
		}
	}
}

// open opens f's data file for ranged reads. The lineage records the
// manifest's digest: bytes replaced since the plan (another writer) must
// not be derived under it.
func open(ctx context.Context, l *lake.Lake, f lake.SegmentFile) (objstore.Object, error) {
	obj, err := l.Store.Open(ctx, f.Data.Key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Data.Key, err)
	}
	if obj.Size() != f.Data.Bytes {
		obj.Close()
		return nil, fmt.Errorf("read %s: %d bytes, the manifest says %d: %w", f.Data.Key, obj.Size(), f.Data.Bytes, ErrInputChanged)
	}
	return obj, nil
}

// Col returns the named column of b, or an error naming it.
func Col(b *parquetio.SliceBatch, name string) (*parquetio.ColumnSlice, error) {
	for i := range b.Cols {
		if b.Cols[i].Name == name {
			return &b.Cols[i], nil
		}
	}
	return nil, fmt.Errorf("column %s not read", name)
}

// Meta is the partition metadata of a derived job: no seed (derived
// content is a function of its inputs), the code version as input.
func Meta(job string) lake.Meta {
	return lake.Meta{Job: job, Inputs: []string{"code=" + CodeVersion}}
}

// Digest hashes parts into a lineage digest (for inputs that are a
// projection of a table, such as master rows relevant to one day).
func Digest(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DaySegmentsByMonth groups a day segment per day (ascending), with its
// lineage, by month partition: the plan of a derived table whose days
// follow its inputs' days.
func DaySegmentsByMonth(days []time.Time, lineage func(time.Time) []lake.Input) (months []string, byMonth map[string][]lake.Segment) {
	byMonth = map[string][]lake.Segment{}
	for _, d := range days {
		m := lake.Month(d)
		if _, ok := byMonth[m]; !ok {
			months = append(months, m)
		}
		s := lake.DaySegment(d)
		s.Lineage = lineage(d)
		byMonth[m] = append(byMonth[m], s)
	}
	return months, byMonth
}

// BucketOf is the bucket of id in t's partitioning.
func BucketOf(t *schema.Table, id uuid.UUID) int { return lake.Bucket(id, t.Partition.Buckets) }
