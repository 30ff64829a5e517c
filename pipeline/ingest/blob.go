package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Blob tables (event_window_sample, capacity_test_curve) are not
// partitions: each parent row (an event window, a capacity test) has one
// Parquet object under _blobs/, listed in the parent segment's manifest
// entry and named by the row's URL column. Ingesting one validates the
// samples like any table (the parent key is a foreign key to the lake's
// parent table), sorts and dedupes them into one staged stream, cuts it
// into one object per parent, and republishes each parent segment that
// gains or changes an object: the objects, the segment's other objects
// kept as they are, and the parent rows with their URL (and
// samples_count) set to what was written, in one commit of the segment.

// blobTarget is a blob table's link to its parent.
type blobTarget struct {
	table           string // the blob table
	parent          *schema.Table
	pc              *codec // parent rows
	keyCol, timeCol int    // blob columns: parent key, sample time (ts or elapsed_s)
	batCol          int    // blob battery_id, or -1
	pString         int    // parent string_id, or -1
	pKey, pURL      int    // parent columns
	pCount          int    // parent samples_count, or -1
	parents         map[[16]byte]parentRef
	jarString       map[[16]byte][16]byte // battery -> its string (when both sides name one)
	// span returns the allowed range of the sample time column for a
	// parent row.
	span func(vals []val) (lo, hi int64)
}

// parentRef locates a parent row and bounds its samples' time.
type parentRef struct {
	part      lake.Partition
	seg       string
	lo, hi    int64
	str       [16]byte // the parent's string
	hasString bool
}

// curveSlack widens a capacity test's reported duration for its curve's
// last sample: the logger's duration reading is rounded to 0.1 min and has
// a timing error (1.5 % in the synthesizer).
const curveSlack = 1.25

func newBlobTarget(t *schema.Table) *blobTarget {
	b := t.Blob()
	if b == nil {
		return nil
	}
	pt := schema.MustLookup(b.Parent)
	bt := &blobTarget{table: t.Name, parent: pt, pc: newCodec(pt, pt.PrimaryKey()), keyCol: t.ColumnIndex(b.Key), timeCol: -1,
		pKey: pt.ColumnIndex(b.Key), pURL: pt.ColumnIndex(b.URLColumn), pCount: pt.ColumnIndex("samples_count"),
		batCol: t.ColumnIndex("battery_id"), pString: pt.ColumnIndex("string_id")}
	switch {
	case t.Column("ts") != nil && pt.Column("start_ts") != nil && pt.Column("end_ts") != nil:
		// A window's samples lie in [start_ts, end_ts].
		bt.timeCol = t.ColumnIndex("ts")
		s, e := pt.ColumnIndex("start_ts"), pt.ColumnIndex("end_ts")
		bt.span = func(v []val) (int64, int64) { return v[s].i, v[e].i }
	case t.Column("elapsed_s") != nil && pt.Column("discharge_duration_min") != nil:
		// A curve starts at 0 s and ends near the test's duration.
		bt.timeCol = t.ColumnIndex("elapsed_s")
		d := pt.ColumnIndex("discharge_duration_min")
		scale := pow10[pt.Columns[d].Type.Scale]
		bt.span = func(v []val) (int64, int64) {
			if v[d].null {
				return 0, math.MaxInt32
			}
			sec := float64(v[d].i) / float64(scale) * 60
			return 0, int64(math.Ceil(sec*curveSlack)) + 60
		}
	}
	return bt
}

// blobParentOf returns the blob table whose parent is t, if any.
func blobParentOf(t *schema.Table) *blobTarget {
	for _, bt := range schema.All() {
		if b := bt.Blob(); b != nil && b.Parent == t.Name {
			return newBlobTarget(bt)
		}
	}
	return nil
}

// loadParents indexes the lake's parent rows: where each lives and the
// time span its samples must fall in.
func (e *engine) loadParents(ctx context.Context) error {
	bt := e.blob
	bt.parents = map[[16]byte]parentRef{}
	err := readTable(ctx, e.lk, bt.parent, func(p lake.Partition, seg string, vals []val) error {
		ref := parentRef{part: p, seg: seg, lo: math.MinInt64, hi: math.MaxInt64}
		if bt.span != nil {
			ref.lo, ref.hi = bt.span(vals)
		}
		if bt.pString >= 0 && !vals[bt.pString].null {
			ref.str, ref.hasString = vals[bt.pString].u, true
		}
		bt.parents[vals[bt.pKey].u] = ref
		return nil
	})
	if err != nil {
		return fmt.Errorf("ingest %s: load %s: %w", e.t.Name, bt.parent.Name, err)
	}
	if bt.batCol < 0 || bt.pString < 0 {
		return nil
	}
	// A capture or a test records the jars of its string only.
	bat := schema.MustLookup("battery")
	bi, si := bat.ColumnIndex("battery_id"), bat.ColumnIndex("string_id")
	bt.jarString = map[[16]byte][16]byte{}
	err = readTable(ctx, e.lk, bat, func(_ lake.Partition, _ string, vals []val) error {
		if !vals[si].null {
			bt.jarString[vals[bi].u] = vals[si].u
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ingest %s: load battery: %w", e.t.Name, err)
	}
	return nil
}

// checkBlob rejects a sample whose parent is not in the lake or whose time
// is outside its parent's span.
func (w *worker) checkBlob(line int64, raw []byte) (bool, error) {
	bt, t := w.e.blob, w.e.t
	id := w.vals[bt.keyCol].u
	ref, ok := bt.parents[id]
	if !ok {
		return true, w.reject(line, w.plan.source(bt.keyCol, &t.Columns[bt.keyCol]), ReasonReference,
			fmt.Sprintf("%s %s is not in the lake's %s", t.Columns[bt.keyCol].Name, uuid.UUID(id), bt.parent.Name), raw)
	}
	if bt.jarString != nil && ref.hasString {
		b := w.vals[bt.batCol].u
		if s, ok := bt.jarString[b]; ok && s != ref.str {
			return true, w.reject(line, w.plan.source(bt.batCol, &t.Columns[bt.batCol]), ReasonReference,
				fmt.Sprintf("battery_id %s is a jar of string %s, not of %s %s's string %s", uuid.UUID(b), uuid.UUID(s), bt.parent.Name, uuid.UUID(id), uuid.UUID(ref.str)), raw)
		}
	}
	if bt.timeCol < 0 {
		return false, nil
	}
	tc := &t.Columns[bt.timeCol]
	v := w.vals[bt.timeCol].i
	if v >= ref.lo && v <= ref.hi {
		return false, nil
	}
	var msg string
	if tc.Type.Kind == schema.KindTimestamptz {
		msg = fmt.Sprintf("%s %s is outside %s %s's span [%s, %s]", tc.Name, fmtMicros(v), bt.parent.Name, uuid.UUID(id), fmtMicros(ref.lo), fmtMicros(ref.hi))
	} else {
		msg = fmt.Sprintf("%s %d is outside %s %s's span [%d, %d]", tc.Name, v, bt.parent.Name, uuid.UUID(id), ref.lo, ref.hi)
	}
	return true, w.reject(line, w.plan.source(bt.timeCol, tc), ReasonWindow, msg, raw)
}

// blobKey is the key Output.BlobKey gives parent id's object in p.
func blobKey(p lake.Partition, id [16]byte) string {
	return p.BlobPrefix() + "/" + uuid.UUID(id).String() + ".parquet"
}

// stagedFile is one Parquet file staged locally: its path, rows and
// SHA-256.
type stagedFile struct {
	path string
	rows int64
	sha  string
}

// stager writes one staged Parquet file of a table with the writer ingest
// uses for it.
type stager struct {
	f    *os.File
	h    hash.Hash
	sk   sink
	rows int64
	vals []val
}

func (e *engine) newStager(t *schema.Table, c *codec, pattern string) (*stager, error) {
	f, err := os.CreateTemp(e.cfg.TempDir, pattern)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	sk, err := newSink(io.MultiWriter(f, h), t, c, false)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &stager{f: f, h: h, sk: sk, vals: make([]val, len(t.Columns))}, nil
}

// add writes one row. Byte values are copied: the row sink batches rows,
// and a reader's values point into buffers it reuses.
func (s *stager) add(vals []val) error {
	copy(s.vals, vals)
	for i := range s.vals {
		if s.vals[i].b != nil {
			s.vals[i].b = bytes.Clone(s.vals[i].b)
		}
	}
	s.rows++
	return s.sk.add(s.vals)
}

func (s *stager) close() (stagedFile, error) {
	err := s.sk.close()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return stagedFile{path: s.f.Name(), rows: s.rows, sha: hex.EncodeToString(s.h.Sum(nil))}, err
}

// stageRows writes the rows rows yields into a staged Parquet file of t.
func (e *engine) stageRows(t *schema.Table, c *codec, pattern string, rows func(add func(vals []val) error) error) (stagedFile, error) {
	s, err := e.newStager(t, c, pattern)
	if err != nil {
		return stagedFile{}, err
	}
	err = rows(s.add)
	sf, cerr := s.close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return stagedFile{}, fmt.Errorf("ingest %s: stage: %w", t.Name, err)
	}
	return sf, nil
}

// eachStagedRow streams the rows of a staged Parquet file of c's table.
func eachStagedRow(c *codec, path string, fn func(vals []val) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return readParquetRows(f, st.Size(), path, c, fn)
}

// splitBlobs cuts the merged, sorted samples of o into one staged object
// per parent (the parent key leads the sort order), streaming.
func (e *engine) splitBlobs(o *segOut, staged map[[16]byte]stagedFile) error {
	bt := e.blob
	var cur [16]byte
	var st *stager
	flush := func() error {
		if st == nil {
			return nil
		}
		sf, err := st.close()
		st = nil
		staged[cur] = sf
		return err
	}
	err := eachStagedRow(e.c, o.path, func(vals []val) error {
		if id := vals[bt.keyCol].u; st == nil || id != cur {
			if err := flush(); err != nil {
				return err
			}
			var err error
			if st, err = e.newStager(e.t, e.c, "ingest-blob-*.parquet"); err != nil {
				return err
			}
			cur = id
		}
		return st.add(vals)
	})
	if ferr := flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("ingest %s: stage objects: %w", e.t.Name, err)
	}
	return nil
}

// commitBlobs publishes the staged samples: per parent segment, the new
// objects, the segment's other objects kept, and the parent rows pointing
// at what was written. A segment whose objects and rows are unchanged is
// not rewritten.
func (e *engine) commitBlobs(ctx context.Context, outs []*segOut) ([]string, error) {
	bt := e.blob
	staged := map[[16]byte]stagedFile{}
	files := map[int]bool{}
	for _, o := range outs {
		if err := e.splitBlobs(o, staged); err != nil {
			return nil, err
		}
		for fi := range o.files {
			files[fi] = true
		}
	}
	// Parent segments touched, by partition.
	type segIDs map[string][][16]byte
	byPart := map[string]segIDs{}
	parts := map[string]lake.Partition{}
	for id := range staged {
		ref := bt.parents[id]
		d := ref.part.Dir()
		if byPart[d] == nil {
			byPart[d], parts[d] = segIDs{}, ref.part
		}
		byPart[d][ref.seg] = append(byPart[d][ref.seg], id)
	}
	dirs := make([]string, 0, len(byPart))
	for d := range byPart {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	var written []string
	for _, d := range dirs {
		p := parts[d]
		w, err := e.republish(ctx, p, byPart[d], staged, files)
		if err != nil {
			return written, err
		}
		written = append(written, w...)
	}
	return written, nil
}

// republish rewrites the segments of parent partition p that gain or
// change objects (ids by segment) in one WritePartition.
func (e *engine) republish(ctx context.Context, p lake.Partition, ids map[string][][16]byte, staged map[[16]byte]stagedFile, files map[int]bool) ([]string, error) {
	bt := e.blob
	old, _, err := e.lk.ReadManifest(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: parent %s: %w", e.t.Name, p, err)
	}
	type segPlan struct {
		seg   lake.Segment
		data  stagedFile
		ids   [][16]byte
		keep  []lake.FileEntry
		dirty bool
	}
	names := make([]string, 0, len(ids))
	for n := range ids {
		names = append(names, n)
	}
	slices.Sort(names)
	var plans []*segPlan
	for _, name := range names {
		se, ok := old.Segment(name)
		df, okd := dataFile(old, name)
		if !ok || !okd {
			return nil, fmt.Errorf("ingest %s: parent %s segment %s: not in the manifest (changed during the load)", e.t.Name, p, name)
		}
		sp := &segPlan{ids: ids[name]}
		slices.SortFunc(sp.ids, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
		covered := map[string]stagedFile{}
		for _, id := range sp.ids {
			covered[blobKey(p, id)] = staged[id]
		}
		oldBlobs := map[string]lake.FileEntry{}
		for _, f := range old.Files {
			if f.Segment == name && f.Role == "blob" {
				oldBlobs[f.Key] = f
				if _, ok := covered[f.Key]; !ok {
					sp.keep = append(sp.keep, f)
				}
			}
		}
		for k, sf := range covered {
			if f, ok := oldBlobs[k]; !ok || f.SHA256 != sf.sha || f.Rows != sf.rows {
				sp.dirty = true
			}
		}
		// The parent rows, re-encoded with their URL and count set to the
		// objects written.
		sp.data, err = e.stageRows(bt.parent, bt.pc, "ingest-parent-*.parquet", func(add func([]val) error) error {
			return readFileRows(ctx, e.lk, bt.pc, df.Key, func(vals []val) error {
				id := vals[bt.pKey].u
				if sf, ok := staged[id]; ok && bt.parents[id].seg == name {
					k := blobKey(p, id)
					vals[bt.pURL] = val{b: []byte(k)}
					if bt.pCount >= 0 {
						vals[bt.pCount] = val{i: sf.rows}
					}
				}
				return add(vals)
			})
		})
		if err != nil {
			return nil, err
		}
		if sp.data.sha != df.SHA256 || sp.data.rows != df.Rows {
			sp.dirty = true
		}
		if !sp.dirty {
			continue
		}
		sp.seg = lake.Segment{Name: se.Name, From: se.From, To: se.To, Lineage: unionInputs(se.Lineage, e.sourceInputs(files))}
		for _, in := range se.Inputs {
			if !strings.HasPrefix(in, "content=") {
				sp.seg.Inputs = append(sp.seg.Inputs, in)
			}
		}
		sp.seg.Inputs = append(sp.seg.Inputs, "content="+sp.data.sha[:32])
		plans = append(plans, sp)
	}
	if len(plans) == 0 {
		return nil, nil
	}
	segs := make([]lake.Segment, len(plans))
	byName := map[string]*segPlan{}
	for i, sp := range plans {
		segs[i] = sp.seg
		byName[sp.seg.Name] = sp
	}
	meta := lake.Meta{Job: "ingest", Inputs: []string{"ingest=" + Version}}
	_, _, err = e.lk.WritePartition(ctx, p, meta, segs, true, nil, func(ctx context.Context, out *lake.Output) error {
		sp := byName[out.Segment().Name]
		// Objects first: the rows that name them are published after.
		for _, id := range sp.ids {
			sf := staged[id]
			if err := out.WriteBlob(out.BlobKey(uuid.UUID(id).String()), func(w io.Writer) (int64, error) {
				return sf.rows, copyFile(w, sf.path)
			}); err != nil {
				return err
			}
		}
		for _, f := range sp.keep {
			if err := out.KeepBlob(f); err != nil {
				return err
			}
		}
		if err := copyFile(out.Data(), sp.data.path); err != nil {
			return err
		}
		out.SetRows(sp.data.rows)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ingest %s: commit %s: %w", e.t.Name, p, err)
	}
	var written []string
	for _, sp := range plans {
		written = append(written, p.SegmentKey(sp.seg.Name))
		for _, id := range sp.ids {
			written = append(written, blobKey(p, id))
		}
	}
	return written, nil
}

// copyFile copies local file path to w.
func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// keepParentBlobs prepares a load of a blob parent table (event windows,
// capacity tests): the URL column is the lake's own reference to an object
// of the row's segment. A row naming an object its segment holds keeps it
// (the commit lists it again, its samples_count set to the object's rows);
// any other URL (an export from another lake, a vendor's store) would
// dangle, so it is written as NULL with its count, until the samples are
// ingested into the blob table. It rewrites the staged segments.
func (e *engine) keepParentBlobs(outs []*segOut) error {
	bt := e.parentBlob
	nulled := 0
	defer func() {
		if nulled > 0 {
			e.warnings = append(e.warnings, fmt.Sprintf("%d rows name a %s the lake does not hold for their segment: written as NULL (and their count) until `ingest --table %s` loads their samples",
				nulled, bt.parent.Columns[bt.pURL].Name, bt.table))
		}
	}()
	for _, o := range outs {
		blobs := map[string]lake.FileEntry{}
		if o.old != nil {
			for _, f := range o.old.Files {
				if f.Segment == o.seg.Name && f.Role == "blob" {
					blobs[f.Key] = f
				}
			}
		}
		kept := map[string]bool{}
		sf, err := e.stageRows(e.t, e.c, "ingest-out-*.parquet", func(add func([]val) error) error {
			return eachStagedRow(e.c, o.path, func(vals []val) error {
				if u := &vals[bt.pURL]; !u.null {
					if f, ok := blobs[string(u.b)]; ok {
						if !kept[f.Key] {
							kept[f.Key] = true
							o.keep = append(o.keep, f)
						}
						if bt.pCount >= 0 {
							vals[bt.pCount] = val{i: f.Rows}
						}
					} else {
						nulled++
						*u = val{null: true}
						if bt.pCount >= 0 {
							vals[bt.pCount] = val{null: true}
						}
					}
				}
				return add(vals)
			})
		})
		if err != nil {
			return err
		}
		os.Remove(o.path)
		o.path, o.sha = sf.path, sf.sha
		for i, in := range o.seg.Inputs {
			if strings.HasPrefix(in, "content=") {
				o.seg.Inputs[i] = "content=" + sf.sha[:32]
			}
		}
	}
	return nil
}
