package calc

import (
	"fmt"
	"slices"
)

// StringCurrents holds string currents (telemetry_string_raw.current_a) per
// string for the as-of lookups of the SOC kernel: 12 bytes a sample, so a
// day of the default fleet (81 strings at 5 s) is 17 MB. Feed it the string
// rows of the time range the jar rows cover (plus the sample just before),
// and TrimBefore what the jar rows have passed when feeding in time slices.
type StringCurrents struct {
	m map[UUID]*currentSeries
}

type currentSeries struct {
	ts []int64 // UTC microseconds, strictly ascending
	ma []int32 // mA: positive charging, negative discharging
}

// NewStringCurrents returns an empty store.
func NewStringCurrents() *StringCurrents { return &StringCurrents{m: make(map[UUID]*currentSeries)} }

// Add appends a batch of string rows (sorted by (string_id, ts); a string's
// rows must come in time order across calls). Rows with a NULL current are
// left out: the previous sample holds over them for at most
// JarParams.MaxHold.
func (s *StringCurrents) Add(b *StringBatch) error {
	var cur *currentSeries
	var curID UUID
	for i, ts := range b.TS {
		id := b.StringID[i]
		if cur == nil || id != curID {
			curID, cur = id, s.m[id]
			if cur == nil {
				cur = &currentSeries{}
				s.m[id] = cur
			}
			// Grow once by the string's run in this batch (rows are
			// sorted by string): per-row doubling was 5 s of a historian.
			j := i + 1
			for j < len(b.TS) && b.StringID[j] == id {
				j++
			}
			cur.ts, cur.ma = slices.Grow(cur.ts, j-i), slices.Grow(cur.ma, j-i)
		}
		a := b.CurrentMA[i]
		if a == Null32 {
			continue
		}
		if n := len(cur.ts); n > 0 && ts <= cur.ts[n-1] {
			return fmt.Errorf("string %s: ts %d not after %d: rows not sorted by (string_id, ts)", idString(id), ts, cur.ts[n-1])
		}
		cur.ts = append(cur.ts, ts)
		cur.ma = append(cur.ma, a)
	}
	return nil
}

// TrimBefore drops every sample older than the last one at or before ts
// (which still serves as-of lookups at ts), keeping the arrays' capacity.
func (s *StringCurrents) TrimBefore(ts int64) {
	for _, c := range s.m {
		k := searchAsOf(c.ts, ts)
		if k <= 0 {
			continue
		}
		c.ts = slices.Delete(c.ts, 0, k)
		c.ma = slices.Delete(c.ma, 0, k)
	}
}

// Samples is the number of samples held (for memory accounting).
func (s *StringCurrents) Samples() int {
	n := 0
	for _, c := range s.m {
		n += len(c.ts)
	}
	return n
}
