package lake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"

	"github.com/battlake/battlake/pipeline/objstore"
)

// Lake is a lake rooted in an object store.
type Lake struct {
	Store objstore.Store
}

// New wraps a store.
func New(s objstore.Store) *Lake { return &Lake{Store: s} }

// Meta is what a task declares about the partition it writes.
type Meta struct {
	Job        string
	RootSeed   uint64
	Seed       uint64
	ConfigHash string
	Inputs     []string
}

// Fingerprint of segment s of p written with m (see Fingerprint).
func (m Meta) Fingerprint(p Partition, s Segment) string {
	in := append(append([]string{}, m.Inputs...), s.Inputs...)
	for _, l := range s.Lineage {
		in = append(in, "lineage="+l.String())
	}
	return Fingerprint(p.Table.Version(), m.Job, m.RootSeed, m.Seed, m.ConfigHash, in, s.From)
}

// ReadManifest loads p's manifest; a missing one wraps objstore.ErrNotFound.
func (l *Lake) ReadManifest(ctx context.Context, p Partition) (*Manifest, []byte, error) {
	b, err := objstore.ReadAll(ctx, l.Store, p.ManifestKey())
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest %s: %w", p, err)
	}
	m, err := DecodeManifest(b)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest %s: %w", p, err)
	}
	return m, b, nil
}

// Stale returns the segments of segs that p's committed manifest m (nil if
// none) does not already hold: a segment is fresh when the manifest records
// it with the same fingerprint, a span that covers the requested one (an
// as-of segment written to a later end stays), and its files present with
// the recorded sizes.
func (l *Lake) Stale(ctx context.Context, p Partition, meta Meta, m *Manifest, segs []Segment) ([]Segment, error) {
	if m == nil {
		return segs, nil
	}
	var out []Segment
	for _, s := range segs {
		fresh, err := l.segmentFresh(ctx, p, meta, m, s)
		if err != nil {
			return nil, err
		}
		if !fresh {
			out = append(out, s)
		}
	}
	return out, nil
}

func (l *Lake) segmentFresh(ctx context.Context, p Partition, meta Meta, m *Manifest, s Segment) (bool, error) {
	e, ok := m.Segment(s.Name)
	if ok && knowsMore(e, s) {
		return true, nil
	}
	if !ok || e.Fingerprint != meta.Fingerprint(p, s) || e.From.After(s.From) || e.To.Before(s.To) {
		return false, nil
	}
	for _, f := range m.Files {
		if f.Segment != s.Name {
			continue
		}
		info, err := l.Store.Stat(ctx, f.Key)
		if errors.Is(err, objstore.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if info.Size != f.Bytes {
			return false, nil
		}
	}
	return true, nil
}

// knowsMore reports whether the committed as-of segment e was written to a
// later end than s asks for. It is kept whatever its fingerprint, even
// under force: a run that ends earlier (a backfill, or the first run after
// a code change) cannot know what e knows, and replacing it would roll
// history back. A run ending at or after e's end refreshes it.
func knowsMore(e SegmentEntry, s Segment) bool {
	return s.Name == AsOfName && e.To.After(s.To)
}

// hashingWriter counts and hashes what passes through to an upload.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

func newHashingWriter(w io.Writer) *hashingWriter { return &hashingWriter{w: w, h: sha256.New()} }

func (hw *hashingWriter) sum() string { return hex.EncodeToString(hw.h.Sum(nil)) }

// Output is what a task writes one segment into: one data file and any
// number of blobs. Blobs are committed as they close (before the data file
// that references them), so a URL column never points at a missing object.
type Output struct {
	ctx   context.Context
	lake  *Lake
	part  Partition
	seg   Segment
	data  objstore.Upload
	dataW *hashingWriter
	rows  int64
	blobs []FileEntry
	state *FileEntry
}

// Data is the writer of the segment's data file.
func (o *Output) Data() io.Writer { return o.dataW }

// SetRows records how many rows the data file holds.
func (o *Output) SetRows(n int64) { o.rows = n }

// Partition being written.
func (o *Output) Partition() Partition { return o.part }

// Segment being written: its span bounds the rows the task must write.
func (o *Output) Segment() Segment { return o.seg }

// BlobKey is the key of a named blob of this partition (name without
// extension). URL columns hold this lake-relative key, not an absolute
// address: the bytes then do not depend on where the lake lives, and a lake
// copied from a folder to S3 keeps every reference valid.
func (o *Output) BlobKey(name string) string { return o.part.BlobPrefix() + "/" + name + ".parquet" }

// WriteBlob publishes one blob atomically; write receives the blob's writer
// and returns its row count.
func (o *Output) WriteBlob(key string, write func(w io.Writer) (int64, error)) error {
	u, err := o.lake.Store.Create(o.ctx, key)
	if err != nil {
		return fmt.Errorf("create blob %s: %w", key, err)
	}
	defer u.Abort(o.ctx)
	hw := newHashingWriter(u)
	rows, err := write(hw)
	if err != nil {
		return fmt.Errorf("write blob %s: %w", key, err)
	}
	if err := u.Commit(o.ctx); err != nil {
		return fmt.Errorf("commit blob %s: %w", key, err)
	}
	o.blobs = append(o.blobs, FileEntry{Key: key, Segment: o.seg.Name, Rows: rows, Bytes: hw.n, SHA256: hw.sum(), Role: "blob"})
	return nil
}

// KeepBlob lists in the new version a blob that the segment's committed
// version holds, without rewriting it: a load that replaces some objects
// of a segment keeps the others (the commit deletes only the old files the
// new manifest does not list).
func (o *Output) KeepBlob(f FileEntry) error {
	if f.Role != "blob" || !strings.HasPrefix(f.Key, o.part.BlobPrefix()+"/") {
		return fmt.Errorf("keep blob %s: not a blob of %s", f.Key, o.part)
	}
	f.Segment = o.seg.Name
	o.blobs = append(o.blobs, f)
	return nil
}

// WriteState publishes the segment's state file (Partition.StateKey)
// atomically, before the manifest that lists it in the segment's entry.
// write receives the file's writer. A segment has at most one.
func (o *Output) WriteState(write func(w io.Writer) error) error {
	key := o.part.StateKey(o.seg.Name)
	if o.state != nil {
		return fmt.Errorf("write state %s: written twice", key)
	}
	u, err := o.lake.Store.Create(o.ctx, key)
	if err != nil {
		return fmt.Errorf("create state %s: %w", key, err)
	}
	defer u.Abort(o.ctx)
	hw := newHashingWriter(u)
	if err := write(hw); err != nil {
		return fmt.Errorf("write state %s: %w", key, err)
	}
	if err := u.Commit(o.ctx); err != nil {
		return fmt.Errorf("commit state %s: %w", key, err)
	}
	o.state = &FileEntry{Key: key, Segment: o.seg.Name, Role: RoleState, Bytes: hw.n, SHA256: hw.sum()}
	return nil
}

// ErrNoState says a segment has no usable state file: the segment or its
// state is not committed, or the file is gone.
var ErrNoState = errors.New("no state file")

// ErrStateChanged says a state file's bytes are not the ones its manifest
// recorded.
var ErrStateChanged = errors.New("state file differs from its manifest entry")

// ReadState returns the state file of p's committed segment name, checked
// against the size and SHA-256 its manifest entry recorded, with the
// entry. What the state was computed from is the job's to check.
func (l *Lake) ReadState(ctx context.Context, p Partition, name string) ([]byte, SegmentEntry, error) {
	m, _, err := l.ReadManifest(ctx, p)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, SegmentEntry{}, fmt.Errorf("state %s %s: %w: %w", p, name, ErrNoState, err)
	}
	if err != nil {
		return nil, SegmentEntry{}, fmt.Errorf("state %s %s: %w", p, name, err)
	}
	e, ok := m.Segment(name)
	if !ok || e.State == nil {
		return nil, e, fmt.Errorf("state %s %s: %w: not in the manifest", p, name, ErrNoState)
	}
	b, err := objstore.ReadAll(ctx, l.Store, e.State.Key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, e, fmt.Errorf("state %s: %w: %w", e.State.Key, ErrNoState, err)
	}
	if err != nil {
		return nil, e, fmt.Errorf("state %s: %w", e.State.Key, err)
	}
	if sum := sha256.Sum256(b); int64(len(b)) != e.State.Bytes || hex.EncodeToString(sum[:]) != e.State.SHA256 {
		return nil, e, fmt.Errorf("state %s: %d bytes, sha256 %.12s; manifest: %d bytes, %.12s: %w",
			e.State.Key, len(b), hex.EncodeToString(sum[:]), e.State.Bytes, e.State.SHA256, ErrStateChanged)
	}
	return b, e, nil
}

// ErrInjected is returned by test hooks that simulate a crash.
var ErrInjected = errors.New("injected failure")

// Commit steps, in protocol order, passed to Hooks.Step.
const (
	StepWithdrawn   = "withdrawn"   // manifest rewritten without the segments about to be replaced
	StepBeforeData  = "before-data" // a segment's data file is complete but not yet published
	StepPublished   = "published"   // a segment's data file is published
	StepBeforeIndex = "before-manifest"
	StepCommitted   = "committed" // the new manifest is written
)

// Hooks let tests stop a commit at a chosen step (crash simulation) or
// look at the lake between steps.
type Hooks struct {
	// Step is called at every step of the protocol; an error aborts the
	// write there, as a crash would.
	Step func(p Partition, segment, step string) error
}

func (h *Hooks) step(p Partition, segment, step string) error {
	if h == nil || h.Step == nil {
		return nil
	}
	return h.Step(p, segment, step)
}

// WritePartition commits the segments segs of p whose manifest does not
// already hold them (all of them with force), writing each through write:
//  1. if any of them replaces a committed segment, the manifest is first
//     rewritten without those segments, so no manifest ever describes bytes
//     other than the ones published;
//  2. each segment's data file is written into an upload (invisible:
//     staging or an unfinished multipart upload), blobs and the segment's
//     state file (if any) are published as they close, and the data file
//     is published in one atomic step under its deterministic name,
//     replacing the old version in place: a glob reader sees the old rows
//     or the new, never both or neither;
//  3. the manifest is written last, merging the new segments with the
//     untouched ones; then files of replaced segments that the new version
//     no longer has (blobs of another version) are deleted.
//
// A crash anywhere leaves every row visible exactly once to glob readers,
// and a manifest that describes only published bytes; the next run
// rewrites what the manifest lacks. It returns the manifest (the old one
// when nothing was stale) and the entries of the segments it wrote.
func (l *Lake) WritePartition(ctx context.Context, p Partition, meta Meta, segs []Segment, force bool, hooks *Hooks, write func(ctx context.Context, o *Output) error) (*Manifest, []SegmentEntry, error) {
	if err := checkSegments(segs); err != nil {
		return nil, nil, fmt.Errorf("write partition %s: %w", p, err)
	}
	old, _, err := l.ReadManifest(ctx, p)
	if errors.Is(err, objstore.ErrNotFound) {
		old, err = nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("write partition %s: %w", p, err)
	}
	todo := segs
	if !force {
		if todo, err = l.Stale(ctx, p, meta, old, segs); err != nil {
			return nil, nil, fmt.Errorf("write partition %s: %w", p, err)
		}
	} else if old != nil {
		todo = slices.DeleteFunc(slices.Clone(segs), func(s Segment) bool {
			e, ok := old.Segment(s.Name)
			return ok && knowsMore(e, s)
		})
	}
	if len(todo) == 0 {
		return old, nil, nil
	}
	m := &Manifest{Format: ManifestFormat, Table: p.Table.Name, Partition: p.Keys(), SchemaVersion: p.Table.Version()}
	replaced := map[string]bool{}
	for _, s := range todo {
		replaced[s.Name] = true
	}
	var oldFiles []FileEntry // files of replaced segments, and those a crashed run left pending
	if old != nil {
		oldFiles = append(oldFiles, old.Pending...)
		for _, s := range old.Segments {
			if !replaced[s.Name] {
				m.Segments = append(m.Segments, s)
			} else if s.State != nil {
				oldFiles = append(oldFiles, *s.State)
			}
		}
		for _, f := range old.Files {
			if replaced[f.Segment] {
				oldFiles = append(oldFiles, f)
			} else {
				m.Files = append(m.Files, f)
			}
		}
		if len(m.Segments) != len(old.Segments) {
			// Step 1: withdraw the segments about to be replaced. Their
			// files stay listed as pending, so a crash before the new
			// manifest cannot orphan a blob the new version drops.
			m.Job, m.RootSeed, m.Seed, m.ConfigHash, m.Inputs = old.Job, old.RootSeed, old.Seed, old.ConfigHash, old.Inputs
			m.Pending = oldFiles
			if err := l.putManifest(ctx, p, m); err != nil {
				return nil, nil, err
			}
			m.Pending = nil
			if err := hooks.step(p, "", StepWithdrawn); err != nil {
				return nil, nil, fmt.Errorf("write partition %s: %w", p, err)
			}
		}
	}
	m.Job, m.RootSeed, m.Seed, m.ConfigHash, m.Inputs = meta.Job, meta.RootSeed, meta.Seed, meta.ConfigHash, append([]string{}, meta.Inputs...)
	var written []SegmentEntry
	for _, s := range todo {
		entry, files, err := l.writeSegment(ctx, p, meta, s, hooks, write)
		if err != nil {
			return nil, nil, fmt.Errorf("write partition %s segment %s: %w", p, s.Name, err)
		}
		written = append(written, entry)
		m.Segments = append(m.Segments, entry)
		m.Files = append(m.Files, files...)
	}
	if err := hooks.step(p, "", StepBeforeIndex); err != nil {
		return nil, nil, fmt.Errorf("write partition %s: %w", p, err)
	}
	if err := l.putManifest(ctx, p, m); err != nil {
		return nil, nil, err
	}
	if err := hooks.step(p, "", StepCommitted); err != nil {
		return nil, nil, fmt.Errorf("write partition %s: %w", p, err)
	}
	// Blobs of the replaced versions that this one no longer has (another
	// seed or code version) would otherwise linger; data files rewritten in
	// place are kept. A crash in this last step leaves orphans no manifest
	// lists (invisible to manifest readers, not to globs over _blobs/).
	keep := map[string]bool{}
	for _, f := range m.Files {
		keep[f.Key] = true
	}
	for _, s := range m.Segments {
		if s.State != nil {
			keep[s.State.Key] = true
		}
	}
	var errs []error
	for _, f := range oldFiles {
		if !keep[f.Key] {
			errs = append(errs, l.Store.Delete(ctx, f.Key))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return m, written, fmt.Errorf("write partition %s: drop stale files: %w", p, err)
	}
	return m, written, nil
}

// writeSegment writes and publishes one segment's data file and returns
// its manifest entries. An empty segment still publishes its (empty) file,
// so a table's schema is always readable by a glob.
func (l *Lake) writeSegment(ctx context.Context, p Partition, meta Meta, s Segment, hooks *Hooks, write func(ctx context.Context, o *Output) error) (SegmentEntry, []FileEntry, error) {
	key := p.SegmentKey(s.Name)
	u, err := l.Store.Create(ctx, key)
	if err != nil {
		return SegmentEntry{}, nil, err
	}
	defer u.Abort(ctx)
	o := &Output{ctx: ctx, lake: l, part: p, seg: s, data: u, dataW: newHashingWriter(u)}
	if err := write(ctx, o); err != nil {
		return SegmentEntry{}, nil, err
	}
	entry := SegmentEntry{Name: s.Name, From: s.From.UTC(), To: s.To.UTC(), Inputs: append([]string(nil), s.Inputs...),
		Lineage: append([]Input(nil), s.Lineage...), Fingerprint: meta.Fingerprint(p, s), Rows: o.rows}
	if err := hooks.step(p, s.Name, StepBeforeData); err != nil {
		return SegmentEntry{}, nil, err
	}
	if err := u.Commit(ctx); err != nil {
		return SegmentEntry{}, nil, fmt.Errorf("publish data: %w", err)
	}
	files := append([]FileEntry{{Key: key, Segment: s.Name, Role: "data", Rows: o.rows, Bytes: o.dataW.n, SHA256: o.dataW.sum()}}, o.blobs...)
	entry.State = o.state
	if err := hooks.step(p, s.Name, StepPublished); err != nil {
		return SegmentEntry{}, nil, err
	}
	for _, f := range files {
		entry.Bytes += f.Bytes
	}
	return entry, files, nil
}

func (l *Lake) putManifest(ctx context.Context, p Partition, m *Manifest) error {
	m.normalize()
	enc, err := m.Encode()
	if err != nil {
		return fmt.Errorf("write partition %s: %w", p, err)
	}
	if err := objstore.Put(ctx, l.Store, p.ManifestKey(), enc); err != nil {
		return fmt.Errorf("write partition %s: manifest: %w", p, err)
	}
	return nil
}

func checkSegments(segs []Segment) error {
	seen := map[string]bool{}
	for _, s := range segs {
		if s.Name == "" || seen[s.Name] {
			return fmt.Errorf("segment name %q empty or repeated", s.Name)
		}
		// An as-of segment may be known only up to before it starts
		// (planned work in a month after the end).
		if s.Name != AsOfName && !s.From.Before(s.To) {
			return fmt.Errorf("segment %s: empty span %s..%s", s.Name, s.From, s.To)
		}
		seen[s.Name] = true
	}
	return nil
}
