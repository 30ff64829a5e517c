package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// FS is a Store on a local directory: the default lake. Objects are plain
// files under root, so the lake can be read directly by DuckDB or Spark.
// Uploads are written to root/_staging and renamed into place on Commit;
// staging shares the filesystem with the objects, so the rename is atomic.
type FS struct {
	root    string // absolute
	staging string // root/_staging
}

var _ Store = (*FS)(nil)

// NewFS opens (creating if needed) a lake rooted at the directory root.
func NewFS(root string) (*FS, error) {
	if root == "" {
		return nil, errors.New("fs lake root is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("fs lake root %s: %w", root, err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("fs lake root %s exists and is not a directory", abs)
	}
	staging := filepath.Join(abs, stagingDir)
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, fmt.Errorf("create fs lake root %s: %w", abs, err)
	}
	return &FS{root: abs, staging: staging}, nil
}

func (s *FS) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

// Create implements Store.
func (s *FS) Create(ctx context.Context, key string) (Upload, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	// The pid in the name tells an operator whose leftover a temp file is;
	// CreateTemp adds the random part and opens with O_EXCL.
	pattern := fmt.Sprintf("upload-%d-*.tmp", os.Getpid())
	f, err := os.CreateTemp(s.staging, pattern)
	if errors.Is(err, fs.ErrNotExist) {
		// Someone removed the staging directory; recreate it once.
		if err = os.MkdirAll(s.staging, 0o755); err == nil {
			f, err = os.CreateTemp(s.staging, pattern)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	return &fsUpload{s: s, key: key, f: f}, nil
}

type uploadState int

const (
	uploadOpen uploadState = iota
	uploadCommitted
	uploadAborted
)

// errUploadDone is returned when an upload is used after Commit or Abort.
var errUploadDone = errors.New("upload already committed or aborted")

type fsUpload struct {
	s      *FS
	key    string
	f      *os.File
	closed bool // f synced and closed; Commit may be retried after this
	state  uploadState
}

func (u *fsUpload) Write(p []byte) (int, error) {
	if u.state != uploadOpen || u.closed {
		return 0, fmt.Errorf("write %s: %w", u.key, errUploadDone)
	}
	n, err := u.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", u.key, err)
	}
	return n, nil
}

func (u *fsUpload) Commit(ctx context.Context) error {
	if u.state != uploadOpen {
		return fmt.Errorf("commit %s: %w", u.key, errUploadDone)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit %s: %w", u.key, err)
	}
	if !u.closed {
		// Data must be durable before the rename makes it visible, or a
		// crash could publish a truncated file.
		if err := u.f.Sync(); err != nil {
			return fmt.Errorf("commit %s: sync: %w", u.key, err)
		}
		// CreateTemp makes 0600 files; objects are ordinary readable files.
		if err := u.f.Chmod(0o644); err != nil {
			return fmt.Errorf("commit %s: chmod: %w", u.key, err)
		}
		if err := u.f.Close(); err != nil {
			return fmt.Errorf("commit %s: close: %w", u.key, err)
		}
		u.closed = true
	}
	target := u.s.path(u.key)
	dir := filepath.Dir(target)
	var err error
	// A concurrent Delete may prune the (empty) parent between MkdirAll and
	// Rename; a few rounds settle that race.
	for range 5 {
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("commit %s: %w", u.key, err)
		}
		err = os.Rename(u.f.Name(), target)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		if _, serr := os.Stat(u.f.Name()); errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("commit %s: staged file is gone (swept as abandoned?): %w", u.key, err)
		}
	}
	if err != nil {
		return fmt.Errorf("commit %s: %w", u.key, err)
	}
	u.state = uploadCommitted
	// The rename itself is durable only once the directory is synced.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("commit %s: sync dir: %w", u.key, err)
	}
	return nil
}

func (u *fsUpload) Abort(context.Context) error {
	if u.state != uploadOpen {
		return nil
	}
	u.state = uploadAborted
	if !u.closed {
		u.f.Close()
		u.closed = true
	}
	if err := os.Remove(u.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort %s: %w", u.key, err)
	}
	return nil
}

// PutIfAbsent implements Store: the data is staged and fsynced, then
// hard-linked to its key; link(2) fails with EEXIST when the key exists,
// which makes the create exclusive like O_EXCL, and readers never see a
// partial object.
func (s *FS) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	u, err := s.Create(ctx, key)
	if err != nil {
		return err
	}
	fu := u.(*fsUpload)
	defer fu.Abort(ctx)
	if _, err := fu.Write(data); err != nil {
		return err
	}
	if err := fu.f.Sync(); err != nil {
		return fmt.Errorf("put-if-absent %s: sync: %w", key, err)
	}
	if err := fu.f.Chmod(0o644); err != nil {
		return fmt.Errorf("put-if-absent %s: chmod: %w", key, err)
	}
	target := s.path(key)
	dir := filepath.Dir(target)
	for range 5 { // a concurrent Delete may prune the parent, as in Commit
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("put-if-absent %s: %w", key, err)
		}
		err = os.Link(fu.f.Name(), target)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		if sameContent(ctx, s, key, data) {
			return nil // idempotent, like S3's
		}
		return fmt.Errorf("put-if-absent %s: %w", key, ErrExists)
	case err != nil:
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put-if-absent %s: sync dir: %w", key, err)
	}
	return nil // the deferred Abort removes the staged name; the link stays
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// notExist also covers ENOTDIR: "a/b/c" when "a/b" is a file is simply missing.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Get implements Store.
func (s *FS) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	f, _, err := s.openFile(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Open implements Store. The open file keeps the version it opened even if
// a Commit renames a new one over it.
func (s *FS) Open(ctx context.Context, key string) (Object, error) {
	f, size, err := s.openFile(ctx, "open", key)
	if err != nil {
		return nil, err
	}
	return &fsObject{f: f, size: size}, nil
}

func (s *FS) openFile(ctx context.Context, op, key string) (*os.File, int64, error) {
	if err := ValidateKey(key); err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", op, key, err)
	}
	f, err := os.Open(s.path(key))
	if notExist(err) {
		return nil, 0, fmt.Errorf("%s %s: %w", op, key, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", op, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s %s: %w", op, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s %s: %w", op, key, ErrNotFound)
	}
	return f, fi.Size(), nil
}

// fsObject hides *os.File's other methods: an Object is read-only.
type fsObject struct {
	f    *os.File
	size int64
}

func (o *fsObject) ReadAt(p []byte, off int64) (int, error) { return o.f.ReadAt(p, off) }
func (o *fsObject) Size() int64                             { return o.size }
func (o *fsObject) Close() error                            { return o.f.Close() }

// Stat implements Store.
func (s *FS) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	fi, err := os.Stat(s.path(key))
	if notExist(err) || (err == nil && !fi.Mode().IsRegular()) {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List implements Store. Directory entries are visited sorted as "name/"
// for directories, which yields exact lexical order of the full keys
// ("a-c" < "a/b"), and only directories that can hold the prefix are read.
func (s *FS) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := s.walk(ctx, s.root, "", prefix, fn); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

func (s *FS) walk(ctx context.Context, dir, dirKey, prefix string, fn func(ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if notExist(err) {
		return nil // removed concurrently: nothing to list
	}
	if err != nil {
		return err
	}
	type item struct {
		sortKey string
		e       fs.DirEntry
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		if dirKey == "" && e.Name() == stagingDir {
			continue // staging is never listed
		}
		k := e.Name()
		if e.IsDir() {
			k += "/"
		}
		items = append(items, item{k, e})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].sortKey < items[j].sortKey })
	for _, it := range items {
		key := dirKey + it.sortKey
		if !strings.HasPrefix(key, prefix) && !strings.HasPrefix(prefix, key) {
			continue
		}
		if it.e.IsDir() {
			if err := s.walk(ctx, filepath.Join(dir, it.e.Name()), key, prefix, fn); err != nil {
				return err
			}
			continue
		}
		if !it.e.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := it.e.Info()
		if notExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements Store. Empty parent directories are removed up to the
// root so deleted partitions do not linger as empty folders.
func (s *FS) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	p := s.path(key)
	fi, err := os.Lstat(p)
	if notExist(err) || (err == nil && fi.IsDir()) {
		return nil // a directory is not an object, so key is missing
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := os.Remove(p); err != nil && !notExist(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	for dir := filepath.Dir(p); dir != s.root && strings.HasPrefix(dir, s.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty (or gone): stop pruning
		}
	}
	return nil
}

// URL implements Store.
func (s *FS) URL(key string) string {
	p := filepath.ToSlash(s.path(key))
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows drive paths: file:///C:/...
	}
	return "file://" + p
}

// SweepStaging implements Store. A temp file's mtime advances with every
// write, so age is measured from a writer's last activity.
func (s *FS) SweepStaging(ctx context.Context, olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(s.staging)
	if notExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sweep staging: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	n := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("sweep staging: %w", err)
		}
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed concurrently
		}
		if olderThan > 0 && !fi.ModTime().Before(cutoff) {
			continue
		}
		err = os.Remove(filepath.Join(s.staging, e.Name()))
		switch {
		case err == nil:
			n++
		case !notExist(err):
			return n, fmt.Errorf("sweep staging: %w", err)
		}
	}
	return n, nil
}

// Close implements Store; FS holds no resources.
func (s *FS) Close() error { return nil }
