package validate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
)

// pkMode is how a table's primary key uniqueness is checked.
type pkMode int

const (
	pkNone   pkMode = iota // no primary key
	pkSorted               // adjacent rows: files sorted by the key, files split the key space
	pkHash                 // a hash set over the whole table
	pkBlob                 // adjacent rows in each blob, and the blob key unique across blobs
)

func (m pkMode) String() string {
	return [...]string{"none", "sorted", "hash", "blob"}[m]
}

// pkModeOf picks the cheapest sound uniqueness check for t. Sorted mode
// needs every file sorted by the key (the key is a prefix of SortBy, as a
// set) and files that cannot share a key: one partition, or partitions and
// day segments split by a time column and bucket column that are part of
// the key (rows outside them are reported as partition_key violations).
func pkModeOf(t *schema.Table) pkMode {
	pk := t.PrimaryKey()
	if len(pk) == 0 {
		return pkNone
	}
	sortedPrefix := len(t.SortBy) >= len(pk)
	if sortedPrefix {
		for _, c := range t.SortBy[:len(pk)] {
			if !contains(pk, c) {
				sortedPrefix = false
			}
		}
	}
	for _, c := range pk {
		if !sliceKind(t.Column(c).Type.Kind) {
			return pkNone
		}
	}
	switch {
	case !sortedPrefix:
		return pkHash
	case t.Blob() != nil:
		return pkBlob
	case t.Partition.MonthOf == "":
		return pkSorted
	case contains(pk, t.Partition.MonthOf) && (t.Partition.Buckets <= 1 || contains(pk, t.Partition.BucketOf)):
		return pkSorted
	}
	return pkHash
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// sliceKind reports whether parquetio's slice reader holds the kind.
func sliceKind(k schema.Kind) bool {
	switch k {
	case schema.KindUUID, schema.KindDecimal, schema.KindTimestamptz, schema.KindTimestamp, schema.KindDate,
		schema.KindInt, schema.KindBigInt, schema.KindDouble, schema.KindBoolean:
		return true
	}
	return false
}

// fileTask is one file to hash and scan.
type fileTask struct {
	t    *schema.Table // the table of the file's rows (the blob table for blobs)
	part lake.Partition
	seg  lake.SegmentEntry
	file lake.FileEntry
	plan *tablePlan
}

// fileResult is what scanning one file found; results are merged in task
// order so the report does not depend on the workers.
type fileResult struct {
	c          *collector
	rows       int64
	bytes      int64
	keys       []rowKey   // hash mode: every primary key of the file
	blobKeys   [][16]byte // blob mode: the distinct blob keys of the file
	blobKeyRow []int64
	uniques    []uniqueVal // values of UNIQUE string columns (small tables: master, incidents, work orders)
}

type uniqueVal struct {
	col, val string
	row      int64
}

type rowKey struct {
	key string
	row int64
}

// table checks t's files (and its blobs') and returns their statistics.
func (v *validator) table(ctx context.Context, t *schema.Table) ([]TableStats, error) {
	inv := v.inv[t.Name]
	bt := blobTable(t)
	st := TableStats{Table: t.Name, Partitions: len(inv.parts), PKMode: pkModeOf(t).String()}
	var bst TableStats
	if bt != nil {
		bst = TableStats{Table: bt.Name, PKMode: pkModeOf(bt).String()}
	}
	plan, err := v.plan(ctx, t)
	if err != nil {
		return nil, err
	}
	var bplan *tablePlan
	if bt != nil {
		if bplan, err = v.plan(ctx, bt); err != nil {
			return nil, err
		}
	}
	listed := map[string]objstore.ObjectInfo{}
	for _, objs := range inv.objects {
		for _, o := range objs {
			listed[o.Key] = o
		}
	}
	blobPrefix := lake.BlobArea + "/" + t.Name + "/"
	var blobs []objstore.ObjectInfo
	if err := v.lk.Store.List(ctx, blobPrefix, func(o objstore.ObjectInfo) error {
		listed[o.Key] = o
		blobs = append(blobs, o)
		return nil
	}); err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("validate: list %s: %w", blobPrefix, err)
	}

	known := map[string]bool{}
	var tasks []fileTask
	states, badStates := 0, []string(nil)
	for _, c := range inv.parts {
		for _, f := range c.m.Pending {
			known[f.Key] = true // reported by the manifest check
		}
		for _, f := range c.m.Files {
			known[f.Key] = true
		}
		for _, s := range c.m.Segments {
			if !v.inScope(s) {
				continue
			}
			if s.State != nil {
				// A job's resume point (lake.StateArea), not data: the
				// job checks it before use and rebuilds without it.
				known[s.State.Key] = true
				states++
				if err := v.checkState(ctx, *s.State); err != nil {
					badStates = append(badStates, err.Error())
				}
			}
			for _, f := range c.m.Files {
				if f.Segment != s.Name {
					continue
				}
				task := fileTask{t: t, part: c.p, seg: s, file: f, plan: plan}
				if f.Role == "blob" {
					if bt == nil && !strings.HasSuffix(f.Key, ".parquet") {
						// An opaque artifact (ml_model's model JSON): its
						// bytes are all there is to check.
						v.artifact(ctx, t, c.p, s.Name, f)
						continue
					}
					if bt == nil {
						v.out.add(Violation{Check: CheckManifest, Table: t.Name, Partition: c.p.HivePath(), Segment: s.Name, File: f.Key, Row: -1, Message: "blob file listed, but the table has no blob table"})
						continue
					}
					task.t, task.plan = bt, bplan
				}
				o, ok := listed[f.Key]
				if !ok {
					v.out.add(Violation{Check: CheckFile, Table: task.t.Name, Partition: c.p.HivePath(), Segment: s.Name, File: f.Key, Row: -1, Message: "file listed in the manifest is missing"})
					continue
				}
				if o.Size != f.Bytes {
					v.out.add(Violation{Check: CheckFile, Table: task.t.Name, Partition: c.p.HivePath(), Segment: s.Name, File: f.Key, Row: -1,
						Message: fmt.Sprintf("file holds %d bytes, manifest says %d", o.Size, f.Bytes)})
				}
				tasks = append(tasks, task)
			}
		}
	}
	if len(badStates) > 0 {
		v.note("%s: %d of %d state files missing or not as listed (a cache: the next run rebuilds what it needs), first: %s", t.Name, len(badStates), states, badStates[0])
	}
	for _, d := range inv.dirs {
		for _, o := range inv.objects[d] {
			if strings.HasSuffix(o.Key, ".parquet") && !known[o.Key] {
				part := strings.TrimPrefix(strings.TrimPrefix(d, t.Dir()), "/")
				msg := "data file no manifest lists: glob readers see its rows"
				if !v.hasManifest(inv, d) {
					msg = "data file in a partition without a manifest (uncommitted): glob readers see its rows"
				}
				v.out.add(Violation{Check: CheckFile, Table: t.Name, Partition: part, File: o.Key, Row: -1, Message: msg})
			}
		}
	}
	for _, o := range blobs {
		if !known[o.Key] && bt != nil {
			v.out.add(Violation{Check: CheckFile, Table: bt.Name, File: o.Key, Row: -1, Message: "blob no manifest lists (orphan): glob readers of " + path.Dir(blobPrefix) + " see its rows"})
		}
	}

	results := v.scanAll(ctx, tasks)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hashSeen := map[string]string{}
	uniqSeen := map[[2]string]string{}
	blobSeen := map[[16]byte]string{}
	for i, r := range results {
		task := tasks[i]
		v.out.merge(r.c)
		s := &st
		if task.t != t {
			s = &bst
		}
		s.Files++
		s.Rows += r.rows
		s.Bytes += r.bytes
		loc := func(row int64) string { return fmt.Sprintf("%s row %d", task.file.Key, row) }
		for _, k := range r.keys {
			if first, dup := hashSeen[k.key]; dup {
				v.out.add(Violation{Check: CheckPrimaryKey, Table: task.t.Name, Partition: task.part.HivePath(), Segment: task.seg.Name, File: task.file.Key, Row: k.row,
					Column: strings.Join(task.t.PrimaryKey(), ","), Value: task.plan.formatKey(k.key), Message: "duplicate primary key, first at " + first})
				continue
			}
			hashSeen[k.key] = loc(k.row)
		}
		for _, u := range r.uniques {
			k := [2]string{u.col, u.val}
			if first, dup := uniqSeen[k]; dup {
				v.out.add(Violation{Check: CheckUnique, Table: task.t.Name, Partition: task.part.HivePath(), Segment: task.seg.Name, File: task.file.Key, Row: u.row,
					Column: u.col, Value: quoteShort(u.val), Message: "UNIQUE value repeated, first at " + first})
				continue
			}
			uniqSeen[k] = loc(u.row)
		}
		for j, k := range r.blobKeys {
			if first, dup := blobSeen[k]; dup {
				v.out.add(Violation{Check: CheckPrimaryKey, Table: task.t.Name, File: task.file.Key, Row: r.blobKeyRow[j], Column: task.t.Blob().Key,
					Value: fmtUUID(k), Message: "blob key also in " + first + ": its rows may repeat keys across blobs"})
				continue
			}
			blobSeen[k] = task.file.Key
		}
	}
	out := []TableStats{st}
	if bt != nil {
		out = append(out, bst)
	}
	return out, nil
}

// artifact checks an opaque blob (not Parquet) against its manifest entry:
// present, same size and SHA-256.
func (v *validator) artifact(ctx context.Context, t *schema.Table, p lake.Partition, seg string, f lake.FileEntry) {
	bad := func(msg string) {
		v.out.add(Violation{Check: CheckFile, Table: t.Name, Partition: p.HivePath(), Segment: seg, File: f.Key, Row: -1, Message: msg})
	}
	n, sum, err := v.digest(ctx, f.Key)
	switch {
	case err != nil:
		bad(fmt.Sprintf("artifact listed in the manifest cannot be read: %v", err))
	case n != f.Bytes:
		bad(fmt.Sprintf("artifact holds %d bytes, manifest says %d", n, f.Bytes))
	case sum != f.SHA256:
		v.out.add(Violation{Check: CheckChecksum, Table: t.Name, Partition: p.HivePath(), Segment: seg, File: f.Key, Row: -1,
			Message: "artifact SHA-256 differs from the manifest's"})
	}
}

// digest reads an object whole: its size and SHA-256.
func (v *validator) digest(ctx context.Context, key string) (int64, string, error) {
	obj, err := v.lk.Store.Open(ctx, key)
	if err != nil {
		return 0, "", err
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		return n, "", fmt.Errorf("read %s: %w", key, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// checkState reads a state file listed in a manifest against its entry.
func (v *validator) checkState(ctx context.Context, f lake.FileEntry) error {
	n, sum, err := v.digest(ctx, f.Key)
	if err != nil {
		return err
	}
	if n != f.Bytes || sum != f.SHA256 {
		return fmt.Errorf("%s: %d bytes, sha256 %.12s; manifest: %d bytes, %.12s", f.Key, n, sum, f.Bytes, f.SHA256)
	}
	return nil
}

func (v *validator) hasManifest(inv *inventory, dir string) bool {
	for _, o := range inv.objects[dir] {
		if path.Base(o.Key) == lake.ManifestFile {
			return true
		}
	}
	return false
}

// scanAll scans tasks with the configured workers; results[i] belongs to
// tasks[i].
func (v *validator) scanAll(ctx context.Context, tasks []fileTask) []*fileResult {
	results := make([]*fileResult, len(tasks))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(v.o.Workers, max(len(tasks), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = v.scanFile(ctx, tasks[i])
			}
		}()
	}
	for i := range tasks {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for i := range results {
		if results[i] == nil {
			results[i] = &fileResult{c: newCollector(v.o.MaxExamples)}
		}
	}
	return results
}

// keySet is the set of one referenced column's keys.
type keySet struct {
	table, column string
	keys          map[[16]byte]struct{}
}

// refSet loads the keys of table.column once, from every committed
// segment of that table. It returns nil (with a note) when the table is
// absent or unreadable: its foreign keys are then not checked.
func (v *validator) refSet(ctx context.Context, ref schema.ForeignKey) (*keySet, error) {
	k := ref.Table + "." + ref.Column
	if s, ok := v.refs[k]; ok {
		return s, nil
	}
	t := schema.MustLookup(ref.Table)
	parts, err := v.lk.Partitions(ctx, t)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		v.note("foreign keys to %s not checked: %v", k, err)
		v.refs[k] = nil
		return nil, nil
	}
	if len(parts) == 0 {
		v.note("foreign keys to %s not checked: the lake has no %s", k, ref.Table)
		v.refs[k] = nil
		return nil, nil
	}
	set := &keySet{table: ref.Table, column: ref.Column, keys: map[[16]byte]struct{}{}}
	for _, c := range parts {
		for _, f := range c.Manifest.Files {
			if f.Role != "data" {
				continue
			}
			if err := v.loadKeys(ctx, t, f.Key, ref.Column, set); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				v.note("foreign keys to %s not checked: %v", k, err)
				v.refs[k] = nil
				return nil, nil
			}
		}
	}
	v.refs[k] = set
	return set, nil
}

func (v *validator) loadKeys(ctx context.Context, t *schema.Table, key, col string, set *keySet) error {
	obj, err := v.lk.Store.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("open %s: %w", key, err)
	}
	defer obj.Close()
	r, err := parquetio.NewSliceReader(obj, obj.Size(), t, parquetio.ReadOptions{Columns: []string{col}})
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	var b parquetio.SliceBatch
	for {
		err := r.Next(&b)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read %s: %w", key, err)
		}
		c := &b.Cols[0]
		for i := range b.Rows {
			if c.Valid == nil || c.Valid[i] {
				set.keys[c.UUID[i]] = struct{}{}
			}
		}
	}
}
