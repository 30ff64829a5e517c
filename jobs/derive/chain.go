package derive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/battlake/battlake/pipeline/lake"
)

// DayChain digests "the rows known by the end of day d" for every d of a
// run in one pass. Rows are ordered by the time they become known (then
// by key) and chained, h_k = SHA-256(h_{k-1} || key_k), so the digest of a
// day is the chain value at its last known row: the same set of rows gives
// the same digest, and any added, removed or changed row changes it. A
// year of daily segments used to re-hash every row for every day and
// bucket (fmt-formatting ~10^8 values to plan one default run).
type DayChain struct {
	table string
	at    []int64 // known-at (µs), ascending
	h     [][sha256.Size]byte
}

// ChainRow is one row of a DayChain: when it becomes known (µs; math.MinInt64
// for "always") and the parts that identify its content.
type ChainRow struct {
	At  int64
	Key string
}

// RowKey formats parts as a chain key (the Digest encoding).
func RowKey(parts ...any) string {
	var b []byte
	for _, p := range parts {
		b = fmt.Appendf(b, "%v\x00", p)
	}
	return string(b)
}

// NewDayChain chains rows (reordered in place) for lineage of table.
func NewDayChain(table string, rows []ChainRow) *DayChain {
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].At != rows[j].At {
			return rows[i].At < rows[j].At
		}
		return rows[i].Key < rows[j].Key
	})
	c := &DayChain{table: table, at: make([]int64, len(rows)), h: make([][sha256.Size]byte, len(rows))}
	var prev [sha256.Size]byte
	for i, r := range rows {
		h := sha256.New()
		h.Write(prev[:])
		h.Write([]byte(r.Key))
		h.Sum(c.h[i][:0])
		prev, c.at[i] = c.h[i], r.At
	}
	return c
}

// Input is the lineage of the rows known before end, named by day.
func (c *DayChain) Input(day, end time.Time) lake.Input {
	k := sort.Search(len(c.at), func(i int) bool { return c.at[i] >= end.UnixMicro() })
	var sum [sha256.Size]byte
	if k > 0 {
		sum = c.h[k-1]
	}
	return lake.Input{Table: c.table, Segment: day.Format(time.DateOnly), SHA256: hex.EncodeToString(sum[:])}
}
