// Package lake owns the lake's layout and its commit protocol.
//
// Layout (Hive style, so `read_parquet('<lake>/<table>/**/*.parquet',
// hive_partitioning=true)` reads any table):
//
//	<table>/part-00000.parquet                                  unpartitioned (master data)
//	<table>/month=YYYY-MM/part-00000.parquet                    monthly (transactions, derived)
//	<table>/month=YYYY-MM/bucket=NN/part-00000.parquet          time series, hashed entity bucket
//	<partition dir>/_manifest.json                              written last; downstream trusts it
//	_truth/<table>/...                                          hidden truth (labels/evaluation only)
//	_blobs/<table>/month=YYYY-MM/<id>.parquet                   objects referenced by URL columns
//	_staging/                                                   work in progress (filesystem store)
//
// One partition is exactly one data file, so a globbing reader sees a
// partition either whole or not at all: the data file is published by one
// atomic step (rename, or a single PUT / CompleteMultipartUpload on S3).
package lake

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// DataFile is the deterministic name of a partition's data file.
const DataFile = "part-00000.parquet"

// ManifestFile is the partition manifest's name.
const ManifestFile = "_manifest.json"

// BlobArea is the prefix for objects referenced by URL columns.
const BlobArea = "_blobs"

// Partition identifies one output partition of a table.
type Partition struct {
	Table  *schema.Table
	Month  string // "2026-01", or "" for tables not split by month
	Bucket int    // -1 when the table is not bucketed
}

// NewPartition validates the keys against the table's partitioning.
func NewPartition(t *schema.Table, month string, bucket int) (Partition, error) {
	p := Partition{Table: t, Month: month, Bucket: bucket}
	if (t.Partition.MonthOf != "") != (month != "") {
		return p, fmt.Errorf("table %s: month key %q does not match its partitioning", t.Name, month)
	}
	if month != "" {
		if _, err := time.Parse("2006-01", month); err != nil {
			return p, fmt.Errorf("table %s: bad month %q: %w", t.Name, month, err)
		}
	}
	nb := t.Partition.Buckets
	if nb > 1 {
		if bucket < 0 || bucket >= nb {
			return p, fmt.Errorf("table %s: bucket %d out of range [0,%d)", t.Name, bucket, nb)
		}
	} else if bucket != -1 {
		return p, fmt.Errorf("table %s: not bucketed, got bucket %d", t.Name, bucket)
	}
	return p, nil
}

// Dir is the partition's directory key.
func (p Partition) Dir() string {
	d := p.Table.Dir()
	if p.Month != "" {
		d += "/month=" + p.Month
	}
	if p.Bucket >= 0 {
		d += fmt.Sprintf("/bucket=%02d", p.Bucket)
	}
	return d
}

// DataKey is the key of the partition's single data file.
func (p Partition) DataKey() string { return p.Dir() + "/" + DataFile }

// ManifestKey is the key of the partition's manifest.
func (p Partition) ManifestKey() string { return p.Dir() + "/" + ManifestFile }

// BlobPrefix is where objects referenced from this partition live.
func (p Partition) BlobPrefix() string {
	k := BlobArea + "/" + p.Table.Name
	if p.Month != "" {
		k += "/month=" + p.Month
	}
	return k
}

// Keys returns the partition's Hive keys for manifests and logs.
func (p Partition) Keys() map[string]string {
	m := map[string]string{}
	if p.Month != "" {
		m["month"] = p.Month
	}
	if p.Bucket >= 0 {
		m["bucket"] = fmt.Sprintf("%02d", p.Bucket)
	}
	return m
}

func (p Partition) String() string {
	s := p.Table.Name
	if p.Month != "" {
		s += " month=" + p.Month
	}
	if p.Bucket >= 0 {
		s += fmt.Sprintf(" bucket=%02d", p.Bucket)
	}
	return s
}

// Bucket maps an entity id to its bucket: FNV-1a over the 16 id bytes. The
// hash is part of the layout contract; changing it moves every row.
func Bucket(id uuid.UUID, buckets int) int {
	if buckets <= 1 {
		return -1
	}
	h := fnv.New32a()
	h.Write(id[:])
	return int(h.Sum32() % uint32(buckets))
}

// Month is the partition key of a time.
func Month(t time.Time) string { return t.UTC().Format("2006-01") }

// MonthSpan is one calendar month clipped to a window [From, To).
type MonthSpan struct {
	Month    string
	From, To time.Time
}

// Months splits [from, to) into calendar-month spans (UTC).
func Months(from, to time.Time) []MonthSpan {
	var out []MonthSpan
	from, to = from.UTC(), to.UTC()
	for cur := from; cur.Before(to); {
		next := time.Date(cur.Year(), cur.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		end := next
		if to.Before(end) {
			end = to
		}
		out = append(out, MonthSpan{Month: Month(cur), From: cur, To: end})
		cur = next
	}
	return out
}
