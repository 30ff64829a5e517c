package lake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/schema"
)

// The read side's catalog: derived jobs find their inputs through
// manifests, never by globbing data files, so they see only committed
// segments and can record exactly what they read.

// Committed is a partition as its manifest describes it.
type Committed struct {
	Partition Partition
	Manifest  *Manifest
}

// Partitions lists t's committed partitions (those with a manifest) in key
// order. A partition without a manifest (a crashed first write) is not
// part of the lake for readers.
func (l *Lake) Partitions(ctx context.Context, t *schema.Table) ([]Committed, error) {
	var keys []string
	if err := l.Store.List(ctx, t.Dir()+"/", func(o objstore.ObjectInfo) error {
		if strings.HasSuffix(o.Key, "/"+ManifestFile) {
			keys = append(keys, o.Key)
		}
		return nil
	}); err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("list %s: %w", t.Name, err)
	}
	sort.Strings(keys)
	out := make([]Committed, 0, len(keys))
	for _, k := range keys {
		p, err := ParsePartition(t, strings.TrimSuffix(k, "/"+ManifestFile))
		if err != nil {
			return nil, err
		}
		m, _, err := l.ReadManifest(ctx, p)
		if errors.Is(err, objstore.ErrNotFound) {
			continue // deleted by hand between list and read
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Committed{Partition: p, Manifest: m})
	}
	return out, nil
}

// ParsePartition is the inverse of Partition.Dir.
func ParsePartition(t *schema.Table, dir string) (Partition, error) {
	rest, ok := strings.CutPrefix(dir, t.Dir())
	if !ok {
		return Partition{}, fmt.Errorf("partition %q is not under table %s", dir, t.Name)
	}
	month, bucket := "", -1
	for _, kv := range strings.Split(strings.Trim(rest, "/"), "/") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "month":
			month = v
		case "bucket":
			b, err := strconv.Atoi(v)
			if err != nil {
				return Partition{}, fmt.Errorf("partition %q: bad bucket: %w", dir, err)
			}
			bucket = b
		default:
			return Partition{}, fmt.Errorf("partition %q: unknown key %q", dir, k)
		}
	}
	return NewPartition(t, month, bucket)
}

// HivePath is the partition's path below its table (month=…/bucket=…), as
// lineage records it.
func (p Partition) HivePath() string {
	return strings.TrimPrefix(strings.TrimPrefix(p.Dir(), p.Table.Dir()), "/")
}

// SegmentFile is one committed segment with its data file: what a reader
// opens, and what a derived segment records as lineage.
type SegmentFile struct {
	Partition Partition
	Segment   SegmentEntry
	Data      FileEntry
}

// Input is the lineage record of reading sf.
func (sf SegmentFile) Input() Input {
	return Input{Table: sf.Partition.Table.Name, Partition: sf.Partition.HivePath(), Segment: sf.Segment.Name, SHA256: sf.Data.SHA256}
}

// SegmentsOverlapping lists the committed segments of c whose rows may
// fall in [from, to), with their data files, in segment order. An as-of
// segment's rows lie in its month (or anywhere, unpartitioned), whatever
// its knowledge end.
func (c Committed) SegmentsOverlapping(from, to time.Time) []SegmentFile {
	var out []SegmentFile
	for _, s := range c.Manifest.Segments {
		lo, hi := s.From, s.To
		if s.Name == AsOfName {
			hi = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
			if m, err := time.Parse("2006-01", c.Partition.Month); err == nil {
				hi = m.AddDate(0, 1, 0)
			}
		}
		if !lo.Before(to) || !hi.After(from) {
			continue
		}
		for _, f := range c.Manifest.Files {
			if f.Segment == s.Name && f.Role == "data" {
				out = append(out, SegmentFile{Partition: c.Partition, Segment: s, Data: f})
			}
		}
	}
	return out
}
