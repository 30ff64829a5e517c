// Package validate checks a lake against the registry and its own
// manifests, reading only what any reader can: manifests (pipeline/lake)
// and Parquet files (pipeline/parquetio). It links no SQL engine, so the
// CLI can run it anywhere the lake is reachable.
//
// Checks (see Check): manifests readable and consistent; every listed file
// present with its size and SHA-256, no unlisted data file visible to glob
// readers; every file with the registry's columns and types (NOT NULL
// included); primary keys and UNIQUE (string) columns unique; rows in
// SortBy order (where a file declares it) and inside their partition's
// month, bucket and day segment; foreign keys resolved; enum
// domains, DECIMAL(p,s) ranges, VARCHAR lengths and JSON; the master
// snapshot and every day segment of every bucket and month of the window
// present; and no derived segment computed from an input that has changed
// since (lineage).
//
// Memory is bounded by one data file per worker plus the key sets below,
// never by the date range:
//   - primary keys of tables whose files are sorted by their key and whose
//     partitions and day segments split the key space (every time series,
//     the master snapshots, calc tables; see pkMode) are checked by
//     comparing each row with the previous one: O(1) per file, because a
//     row outside its partition's month or bucket or its segment's day is
//     itself reported (partition_key), and two files then cannot share a
//     key. A file that does not declare its sort order in its footer gets
//     a key set of its own, bounded by the file;
//   - the other tables (event-driven history: maintenance, tests, audit,
//     predictions, alerts) keep a hash set of their keys, 16 bytes per
//     UUID key column per row plus map overhead (~60 B a row): these
//     tables hold thousands to a few million rows, not telemetry volumes;
//     UNIQUE string columns (master codes, incident and work-order
//     references) likewise;
//   - foreign keys load the referenced key sets once (master tables, test
//     and window ids; 16 B a key plus map overhead), and check the FK
//     columns of big tables streaming, with the last id cached (files are
//     sorted by entity, so runs of one id cost one lookup).
package validate

import (
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/schema"
)

// DefaultMaxExamples is the examples kept per finding.
const DefaultMaxExamples = 10

// ErrUnknownTable is returned for a table name the registry lacks.
var ErrUnknownTable = errors.New("unknown table")

// Options select what Validate checks.
type Options struct {
	// Tables to check (registry names); empty means every table the lake
	// holds, plus the master tables, whose snapshot must be present.
	// Naming a blob table (event_window_sample, capacity_test_curve)
	// selects its parent, whose manifests list the blobs.
	Tables []string
	// From and To bound the completeness window [From, To) (UTC days):
	// every day segment of every month and bucket of each time-series
	// table must be there, and only day segments overlapping the window
	// are read (as-of segments always are). Zero values take the span the
	// lake's time-series tables cover.
	From, To time.Time
	// MaxExamples caps the examples per finding (counts stay exact);
	// 0 means DefaultMaxExamples.
	MaxExamples int
	// Workers read files in parallel; 0 means GOMAXPROCS. The report does
	// not depend on it.
	Workers int
}

// Validate checks the lake and returns its report. The error is for
// failures to validate (context cancelled, store unreachable, bad
// options), not for what is wrong in the lake: that is the report.
func Validate(ctx context.Context, lk *lake.Lake, name string, o Options) (*Report, error) {
	if o.MaxExamples <= 0 {
		o.MaxExamples = DefaultMaxExamples
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if !o.From.IsZero() && !o.To.IsZero() && !o.From.Before(o.To) {
		return nil, fmt.Errorf("validate: window %s..%s is empty", o.From.Format(time.DateOnly), o.To.Format(time.DateOnly))
	}
	v := &validator{lk: lk, o: o, out: newCollector(o.MaxExamples), inv: map[string]*inventory{},
		refs: map[string]*keySet{}, manifests: map[string]*lake.Manifest{}}
	tables, explicit, err := v.selectTables(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if _, err := v.inventory(ctx, t); err != nil {
			return nil, err
		}
	}
	v.window(tables)
	rep := &Report{Lake: name}
	if !v.from.IsZero() {
		rep.From, rep.To = v.from.Format(time.DateOnly), v.to.Format(time.DateOnly)
	}
	for _, t := range tables {
		st, err := v.table(ctx, t)
		if err != nil {
			return nil, err
		}
		rep.Tables = append(rep.Tables, st...)
	}
	v.completeness(tables, explicit)
	if err := v.lineage(ctx, tables); err != nil {
		return nil, err
	}
	for _, st := range rep.Tables {
		rep.Rows += st.Rows
		rep.Bytes += st.Bytes
	}
	rep.Findings = v.out.sorted()
	rep.Violations = v.out.total
	rep.Notes = v.notes
	return rep, nil
}

type validator struct {
	lk        *lake.Lake
	o         Options
	out       *collector
	notes     []string
	inv       map[string]*inventory     // table name -> what the store holds
	refs      map[string]*keySet        // "table.column" -> referenced keys
	manifests map[string]*lake.Manifest // "table/hive path" -> committed manifest (lineage)
	from, to  time.Time                 // completeness window, zero: none
}

// note records what could not be checked (called from the sequential
// parts only: file scans report through their own results).
func (v *validator) note(format string, args ...any) {
	v.notes = append(v.notes, fmt.Sprintf(format, args...))
}

// selectTables resolves Options.Tables, or lists the tables the lake
// holds (plus the master tables). Blob tables are checked with their
// parent.
func (v *validator) selectTables(ctx context.Context) (tables []*schema.Table, explicit bool, err error) {
	want := map[string]bool{}
	if len(v.o.Tables) > 0 {
		for _, n := range v.o.Tables {
			t, ok := schema.Lookup(n)
			if !ok {
				return nil, false, fmt.Errorf("validate: table %q: %w", n, ErrUnknownTable)
			}
			if b := t.Blob(); b != nil {
				n = b.Parent
			}
			want[n] = true
		}
	}
	for _, t := range schema.All() {
		if t.Blob() != nil {
			continue
		}
		if len(want) > 0 {
			if want[t.Name] {
				tables = append(tables, t)
			}
			continue
		}
		if t.Class == schema.ClassMaster {
			tables = append(tables, t)
			continue
		}
		present := false
		err := v.lk.Store.List(ctx, t.Dir()+"/", func(objstore.ObjectInfo) error {
			present = true
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) && !errors.Is(err, objstore.ErrNotFound) {
			return nil, false, fmt.Errorf("validate: list %s: %w", t.Name, err)
		}
		if present {
			tables = append(tables, t)
		}
	}
	return tables, len(want) > 0, nil
}

var errStop = errors.New("stop listing")

// inventory is what the store holds of one table: its committed
// partitions and every object under its directory.
type inventory struct {
	t     *schema.Table
	parts []committed
	// objects by partition directory (every key under the table's dir)
	objects map[string][]objstore.ObjectInfo
	dirs    []string // keys of objects, sorted
	daily   bool     // some partition holds day segments
}

type committed struct {
	p lake.Partition
	m *lake.Manifest
}

// inventory lists t's objects once and decodes its manifests, reporting
// unreadable or inconsistent ones.
func (v *validator) inventory(ctx context.Context, t *schema.Table) (*inventory, error) {
	if inv := v.inv[t.Name]; inv != nil {
		return inv, nil
	}
	inv := &inventory{t: t, objects: map[string][]objstore.ObjectInfo{}}
	err := v.lk.Store.List(ctx, t.Dir()+"/", func(o objstore.ObjectInfo) error {
		d := path.Dir(o.Key)
		if _, ok := inv.objects[d]; !ok {
			inv.dirs = append(inv.dirs, d)
		}
		inv.objects[d] = append(inv.objects[d], o)
		return nil
	})
	if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("validate: list %s: %w", t.Name, err)
	}
	sort.Strings(inv.dirs)
	for _, d := range inv.dirs {
		p, perr := lake.ParsePartition(t, d)
		hasManifest := slices.ContainsFunc(inv.objects[d], func(o objstore.ObjectInfo) bool { return path.Base(o.Key) == lake.ManifestFile })
		if perr != nil {
			for _, o := range inv.objects[d] {
				v.out.add(Violation{Check: CheckFile, Table: t.Name, File: o.Key, Row: -1, Message: "object outside any partition of the table: " + perr.Error()})
			}
			continue
		}
		if !hasManifest {
			continue // its data files are reported as unlisted
		}
		m, _, err := v.lk.ReadManifest(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			v.out.add(Violation{Check: CheckManifest, Table: t.Name, Partition: p.HivePath(), File: p.ManifestKey(), Row: -1, Message: err.Error()})
			continue
		}
		v.checkManifest(p, m)
		inv.parts = append(inv.parts, committed{p, m})
		v.manifests[t.Name+"/"+p.HivePath()] = m
		for _, s := range m.Segments {
			if s.Name != lake.AsOfName {
				inv.daily = true
			}
		}
	}
	v.inv[t.Name] = inv
	return inv, nil
}

// checkManifest checks what a manifest says about itself.
func (v *validator) checkManifest(p lake.Partition, m *lake.Manifest) {
	bad := func(seg, msg string) {
		v.out.add(Violation{Check: CheckManifest, Table: p.Table.Name, Partition: p.HivePath(), Segment: seg, File: p.ManifestKey(), Row: -1, Message: msg})
	}
	if m.Table != p.Table.Name {
		bad("", fmt.Sprintf("manifest names table %q", m.Table))
	}
	keys := p.Keys()
	if len(keys) != len(m.Partition) {
		bad("", fmt.Sprintf("manifest partition keys %v, directory says %v", m.Partition, keys))
	} else {
		for k, x := range keys {
			if m.Partition[k] != x {
				bad("", fmt.Sprintf("manifest partition keys %v, directory says %v", m.Partition, keys))
				break
			}
		}
	}
	if m.SchemaVersion != p.Table.Version() {
		bad("", fmt.Sprintf("schema version %s, registry is at %s: rebuild the partition", m.SchemaVersion, p.Table.Version()))
	}
	if len(m.Pending) > 0 {
		bad("", fmt.Sprintf("%d files pending from an unfinished commit: rerun the job that writes this partition", len(m.Pending)))
	}
	for _, s := range m.Segments {
		data := 0
		var rows int64
		for _, f := range m.Files {
			if f.Segment == s.Name && f.Role == "data" {
				data++
				rows += f.Rows
				if f.Key != p.SegmentKey(s.Name) {
					bad(s.Name, fmt.Sprintf("data file %s, layout says %s", f.Key, p.SegmentKey(s.Name)))
				}
			}
		}
		if data != 1 {
			bad(s.Name, fmt.Sprintf("segment has %d data files, want 1", data))
		} else if rows != s.Rows {
			bad(s.Name, fmt.Sprintf("segment records %d rows, its data file %d", s.Rows, rows))
		}
	}
	for _, f := range m.Files {
		if _, ok := m.Segment(f.Segment); !ok {
			bad(f.Segment, fmt.Sprintf("file %s belongs to no segment", f.Key))
		}
	}
}

// window sets the completeness window: the options', else the span of the
// day segments of the selected tables.
func (v *validator) window(tables []*schema.Table) {
	v.from, v.to = v.o.From.UTC(), v.o.To.UTC()
	if !v.from.IsZero() && !v.to.IsZero() {
		return
	}
	var lo, hi time.Time
	for _, t := range tables {
		if t.Sparse {
			continue
		}
		for _, c := range v.inv[t.Name].parts {
			for _, s := range c.m.Segments {
				if s.Name == lake.AsOfName {
					continue
				}
				if lo.IsZero() || s.From.Before(lo) {
					lo = s.From
				}
				if s.To.After(hi) {
					hi = s.To
				}
			}
		}
	}
	if v.from.IsZero() {
		v.from = lo.UTC()
	}
	if v.to.IsZero() {
		v.to = hi.UTC()
	}
	if v.from.IsZero() || v.to.IsZero() || !v.from.Before(v.to) {
		v.from, v.to = time.Time{}, time.Time{}
	}
}

// inScope reports whether segment s is read: as-of segments always, day
// segments when they overlap the window.
func (v *validator) inScope(s lake.SegmentEntry) bool {
	if s.Name == lake.AsOfName || v.from.IsZero() {
		return true
	}
	return s.From.Before(v.to) && s.To.After(v.from)
}

// completeness reports missing master snapshots, tables, partitions and
// day segments of the window.
func (v *validator) completeness(tables []*schema.Table, explicit bool) {
	miss := func(t *schema.Table, part, seg, msg string) {
		v.out.add(Violation{Check: CheckCompleteness, Table: t.Name, Partition: part, Segment: seg, Row: -1, Message: msg})
	}
	for _, t := range tables {
		inv := v.inv[t.Name]
		if t.Optional || t.Sparse {
			continue
		}
		if t.Class == schema.ClassMaster {
			ok := false
			for _, c := range inv.parts {
				if _, has := c.m.Segment(lake.AsOfName); has {
					ok = true
				}
			}
			if !ok {
				miss(t, "", lake.AsOfName, "master snapshot missing: run the master stage")
			}
			continue
		}
		if len(inv.parts) == 0 && explicit {
			miss(t, "", "", "table has no committed partition")
			continue
		}
		if !inv.daily || v.from.IsZero() {
			continue
		}
		have := map[string]*lake.Manifest{}
		for _, c := range inv.parts {
			have[c.p.HivePath()] = c.m
		}
		buckets := []int{-1}
		if n := t.Partition.Buckets; n > 1 {
			buckets = buckets[:0]
			for b := range n {
				buckets = append(buckets, b)
			}
		}
		for _, ms := range lake.Months(v.from, v.to) {
			for _, b := range buckets {
				p := lake.MustPartition(t, ms.Month, b)
				m := have[p.HivePath()]
				if m == nil {
					miss(t, p.HivePath(), "", fmt.Sprintf("partition missing for %s..%s", ms.From.Format(time.DateOnly), ms.To.Format(time.DateOnly)))
					continue
				}
				for d := ms.From; d.Before(ms.To); d = d.AddDate(0, 0, 1) {
					name := d.Format(time.DateOnly)
					if _, ok := m.Segment(name); !ok {
						miss(t, p.HivePath(), name, "day segment missing")
					}
				}
			}
		}
	}
}

// lineage reports derived segments whose recorded inputs are no longer
// the inputs' committed content: the input segment was rewritten (another
// SHA-256) or withdrawn after the derived segment was computed.
func (v *validator) lineage(ctx context.Context, tables []*schema.Table) error {
	unverifiable := map[string]int{}
	for _, t := range tables {
		for _, c := range v.inv[t.Name].parts {
			for _, s := range c.m.Segments {
				if !v.inScope(s) {
					continue
				}
				for _, in := range s.Lineage {
					if in.Partition == lake.AllPartitions {
						// A digest over a whole table's files (the alerts
						// stage's lineage): only that job can recompute it.
						unverifiable[in.Table+" (all partitions)"]++
						continue
					}
					it, ok := schema.Lookup(in.Table)
					if !ok {
						// Digests the derived jobs compute over master rows
						// and known tests: only those jobs can recompute them.
						unverifiable[in.Table]++
						continue
					}
					m, err := v.inputManifest(ctx, it, in.Partition)
					if err != nil {
						return err
					}
					bad := func(msg string) {
						v.out.add(Violation{Check: CheckLineage, Table: t.Name, Partition: c.p.HivePath(), Segment: s.Name, File: c.p.SegmentKey(s.Name), Row: -1,
							Value: in.String(), Message: msg})
					}
					if m == nil {
						bad(fmt.Sprintf("input partition %s %s is gone", in.Table, in.Partition))
						continue
					}
					if _, ok := m.Segment(in.Segment); !ok {
						bad(fmt.Sprintf("input %s %s segment %s is gone", in.Table, in.Partition, in.Segment))
						continue
					}
					cur := ""
					for _, f := range m.Files {
						if f.Segment == in.Segment && f.Role == "data" {
							cur = f.SHA256
						}
					}
					if cur != in.SHA256 {
						bad(fmt.Sprintf("input %s %s segment %s changed since this segment was derived (sha256 %.12s, now %.12s): rerun the derived stage", in.Table, in.Partition, in.Segment, in.SHA256, cur))
					}
				}
			}
		}
	}
	names := make([]string, 0, len(unverifiable))
	for n := range unverifiable {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v.note("lineage: %d inputs %q are digests only the derived jobs can recompute; not verified", unverifiable[n], n)
	}
	return nil
}

// inputManifest returns the committed manifest of a lineage input, nil if
// there is none (reported by the caller).
func (v *validator) inputManifest(ctx context.Context, t *schema.Table, hive string) (*lake.Manifest, error) {
	k := t.Name + "/" + hive
	if m, ok := v.manifests[k]; ok {
		return m, nil
	}
	dir := t.Dir()
	if hive != "" {
		dir += "/" + hive
	}
	p, err := lake.ParsePartition(t, dir)
	if err != nil {
		v.manifests[k] = nil
		return nil, nil
	}
	m, _, err := v.lk.ReadManifest(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m = nil // missing or unreadable: the input is gone for this segment
	}
	v.manifests[k] = m
	return m, nil
}

// blobTable returns the table stored as blobs of parent, if any.
func blobTable(parent *schema.Table) *schema.Table {
	for _, t := range schema.All() {
		if b := t.Blob(); b != nil && b.Parent == parent.Name {
			return t
		}
	}
	return nil
}
