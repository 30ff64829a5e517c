package parquetio

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/battlake/battlake/schema"
)

// rowFilter is the time range and entity list of ReadOptions resolved
// against a table; both readers prune row groups and filter rows with it.
type rowFilter struct {
	timeCol, entityCol string   // "" when that filter is off
	from, to           int64    // µs, [from, to)
	entities           [][]byte // sorted
}

func newRowFilter(t *schema.Table, o ReadOptions) (*rowFilter, error) {
	f := &rowFilter{from: -1 << 63, to: 1<<63 - 1}
	if !o.From.IsZero() || !o.To.IsZero() {
		name, err := timeColumn(t, o.TimeColumn)
		if err != nil {
			return nil, err
		}
		f.timeCol = name
		if !o.From.IsZero() {
			f.from = o.From.UnixMicro()
		}
		if !o.To.IsZero() {
			f.to = o.To.UnixMicro()
		}
	}
	if o.Entities != nil {
		name, err := entityColumn(t, o.EntityColumn)
		if err != nil {
			return nil, err
		}
		f.entityCol = name
		f.entities = make([][]byte, len(o.Entities))
		for i := range o.Entities {
			f.entities[i] = o.Entities[i][:]
		}
		slices.SortFunc(f.entities, bytes.Compare)
	}
	return f, nil
}

// overlapsTime reports whether a row group with time statistics [lo, hi]
// may hold rows of the range.
func (f *rowFilter) overlapsTime(lo, hi int64) bool { return hi >= f.from && lo < f.to }

// overlapsEntities reports whether a row group with entity statistics
// [lo, hi] may hold one of the ids: the first id >= lo decides.
func (f *rowFilter) overlapsEntities(lo, hi []byte) bool {
	i, _ := slices.BinarySearchFunc(f.entities, lo, bytes.Compare)
	return i < len(f.entities) && bytes.Compare(f.entities[i], hi) <= 0
}

func (f *rowFilter) keepTime(ts int64) bool { return ts >= f.from && ts < f.to }

func (f *rowFilter) keepEntity(id []byte) bool {
	_, ok := slices.BinarySearchFunc(f.entities, id, bytes.Compare)
	return ok
}

// keepRuns returns the kept row runs [start, end) of n rows given a
// per-row predicate, or nil when every row is kept.
func keepRuns(n int, keep func(int) bool) [][2]int {
	runs := [][2]int{}
	start := -1
	for i := range n {
		k := keep(i)
		switch {
		case k && start < 0:
			start = i
		case !k && start >= 0:
			runs = append(runs, [2]int{start, i})
			start = -1
		}
	}
	if start >= 0 {
		runs = append(runs, [2]int{start, n})
	}
	if len(runs) == 1 && runs[0] == [2]int{0, n} {
		return nil
	}
	return runs
}

// timeColumn resolves the column a time range applies to.
func timeColumn(t *schema.Table, name string) (string, error) {
	if name == "" {
		name = t.Partition.MonthOf
	}
	for _, s := range t.SortBy {
		if c := t.Column(s); name == "" && c != nil && (c.Type.Kind == schema.KindTimestamptz || c.Type.Kind == schema.KindTimestamp) {
			name = s
		}
	}
	c := t.Column(name)
	if c == nil || (c.Type.Kind != schema.KindTimestamptz && c.Type.Kind != schema.KindTimestamp) {
		return "", fmt.Errorf("table %s: no timestamp column %q for a time range", t.Name, name)
	}
	return name, nil
}

// entityColumn resolves the column an entity filter applies to.
func entityColumn(t *schema.Table, name string) (string, error) {
	if name == "" {
		name = t.Partition.BucketOf
	}
	for _, s := range t.SortBy {
		if c := t.Column(s); name == "" && c != nil && c.Type.Kind == schema.KindUUID {
			name = s
		}
	}
	c := t.Column(name)
	if c == nil || c.Type.Kind != schema.KindUUID {
		return "", fmt.Errorf("table %s: no UUID column %q for an entity filter", t.Name, name)
	}
	return name, nil
}
