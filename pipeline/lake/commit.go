package lake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

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

// Fingerprint of p written with m.
func (m Meta) Fingerprint(p Partition) string {
	return Fingerprint(p.Table.Version(), m.Job, m.RootSeed, m.Seed, m.ConfigHash, m.Inputs)
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

// Fresh reports whether p is already committed with the fingerprint fp and
// its data file is present with the recorded size, so a rerun can skip it.
func (l *Lake) Fresh(ctx context.Context, p Partition, fp string) (bool, *Manifest, error) {
	m, _, err := l.ReadManifest(ctx, p)
	if errors.Is(err, objstore.ErrNotFound) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	if m.Fingerprint != fp {
		return false, m, nil
	}
	for _, f := range m.Files {
		info, err := l.Store.Stat(ctx, f.Key)
		if errors.Is(err, objstore.ErrNotFound) {
			return false, m, nil
		}
		if err != nil {
			return false, m, err
		}
		if info.Size != f.Bytes {
			return false, m, nil
		}
	}
	return true, m, nil
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

// Output is what a task writes into: one data file and any number of blobs.
// Blobs are committed as they close (before the data file that references
// them), so a URL column never points at a missing object.
type Output struct {
	ctx   context.Context
	lake  *Lake
	part  Partition
	data  objstore.Upload
	dataW *hashingWriter
	rows  int64
	blobs []FileEntry
}

// Data is the writer of the partition's single data file.
func (o *Output) Data() io.Writer { return o.dataW }

// SetRows records how many rows the data file holds.
func (o *Output) SetRows(n int64) { o.rows = n }

// Partition being written.
func (o *Output) Partition() Partition { return o.part }

// BlobKey is the key of a named blob of this partition (name without
// extension). URL columns hold this lake-relative key, not an absolute
// address: the bytes then do not depend on where the lake lives, and a lake
// copied from a folder to S3 keeps every reference valid. Store.URL
// resolves it against the lake root.
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
	o.blobs = append(o.blobs, FileEntry{Key: key, Rows: rows, Bytes: hw.n, SHA256: hw.sum(), Role: "blob"})
	return nil
}

// ErrInjected is returned by test hooks that simulate a crash.
var ErrInjected = errors.New("injected failure")

// Hooks let tests stop a commit at a chosen step (crash simulation).
type Hooks struct {
	BeforeDataCommit func(Partition) error
	BeforeManifest   func(Partition) error
}

// WritePartition runs write into a fresh Output and commits the partition:
//  1. any old manifest is deleted, so no manifest ever describes bytes
//     other than the ones published;
//  2. the data file is written into an upload (invisible: staging or an
//     unfinished multipart upload), blobs are published as they close;
//  3. the data file is published in one atomic step under its
//     deterministic name (a rerun replaces, never duplicates);
//  4. the manifest is written last, then blobs the old manifest listed and
//     the new one does not are deleted.
//
// A crash before 3 leaves nothing new visible (staging is swept on the next
// start; a previous version's data file, if any, stays whole but loses its
// manifest); a crash between 3 and 4 leaves a complete data file without a
// manifest. Downstream jobs ignore partitions without a manifest, and the
// next run rewrites them.
func (l *Lake) WritePartition(ctx context.Context, p Partition, meta Meta, hooks *Hooks, write func(ctx context.Context, o *Output) error) (*Manifest, error) {
	// The old manifest goes first: blobs are published while the task
	// runs, and no manifest may describe bytes that have been replaced.
	old, _, err := l.ReadManifest(ctx, p)
	if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("write partition %s: %w", p, err)
	}
	if err := l.Store.Delete(ctx, p.ManifestKey()); err != nil {
		return nil, fmt.Errorf("write partition %s: drop old manifest: %w", p, err)
	}
	u, err := l.Store.Create(ctx, p.DataKey())
	if err != nil {
		return nil, fmt.Errorf("write partition %s: %w", p, err)
	}
	defer u.Abort(ctx)
	o := &Output{ctx: ctx, lake: l, part: p, data: u, dataW: newHashingWriter(u)}
	if err := write(ctx, o); err != nil {
		return nil, fmt.Errorf("write partition %s: %w", p, err)
	}
	if hooks != nil && hooks.BeforeDataCommit != nil {
		if err := hooks.BeforeDataCommit(p); err != nil {
			return nil, fmt.Errorf("write partition %s: %w", p, err)
		}
	}
	if err := u.Commit(ctx); err != nil {
		return nil, fmt.Errorf("write partition %s: publish data: %w", p, err)
	}
	m := &Manifest{
		Format:        ManifestFormat,
		Table:         p.Table.Name,
		Partition:     p.Keys(),
		SchemaVersion: p.Table.Version(),
		Job:           meta.Job,
		RootSeed:      meta.RootSeed,
		Seed:          meta.Seed,
		ConfigHash:    meta.ConfigHash,
		Inputs:        append([]string{}, meta.Inputs...),
		Fingerprint:   meta.Fingerprint(p),
		Rows:          o.rows,
		Bytes:         o.dataW.n,
	}
	m.Files = append(m.Files, FileEntry{Key: p.DataKey(), Rows: o.rows, Bytes: o.dataW.n, SHA256: o.dataW.sum(), Role: "data"})
	m.Files = append(m.Files, o.blobs...)
	for _, b := range o.blobs {
		m.Bytes += b.Bytes
	}
	if hooks != nil && hooks.BeforeManifest != nil {
		if err := hooks.BeforeManifest(p); err != nil {
			return nil, fmt.Errorf("write partition %s: %w", p, err)
		}
	}
	enc, err := m.Encode()
	if err != nil {
		return nil, fmt.Errorf("write partition %s: %w", p, err)
	}
	if err := objstore.Put(ctx, l.Store, p.ManifestKey(), enc); err != nil {
		return nil, fmt.Errorf("write partition %s: manifest: %w", p, err)
	}
	// Blobs of the previous version that this one no longer references
	// (another seed, another window) would otherwise linger under _blobs/.
	if old != nil {
		keep := map[string]bool{}
		for _, f := range m.Files {
			keep[f.Key] = true
		}
		var errs []error
		for _, f := range old.Files {
			if !keep[f.Key] {
				errs = append(errs, l.Store.Delete(ctx, f.Key))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return m, fmt.Errorf("write partition %s: drop stale blobs: %w", p, err)
		}
	}
	return m, nil
}
