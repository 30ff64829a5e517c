// Package objstore is battlake's small object-store abstraction: a local
// filesystem implementation (the default lake) and an S3 implementation side
// by side, both passing one conformance suite (storetest). Retries, limits,
// metrics and logging are decorators (see decorators.go), never inside an
// implementation.
//
// Keys are slash-separated paths relative to the store root, never starting
// with a slash (e.g. "telemetry_jar_raw/month=2026-01/bucket=03/part-0.parquet").
package objstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound classifies a missing object; test with errors.Is.
var ErrNotFound = errors.New("object not found")

// ErrChanged classifies a ranged read of an object that was replaced or
// deleted after Open: the reader must not mix bytes of two versions (S3;
// a filesystem Object keeps reading the version it opened).
var ErrChanged = errors.New("object changed since open")

// ErrExists classifies a conditional create of a key that already exists
// (PutIfAbsent); test with errors.Is.
var ErrExists = errors.New("object already exists")

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Upload is an object being written. Nothing is visible to readers until
// Commit publishes the whole object in one atomic step (rename after fsync
// on a filesystem; one PutObject or CompleteMultipartUpload on S3). Abort
// discards the work; calling Abort after Commit is a no-op, so
// `defer u.Abort(ctx)` is the idiom.
type Upload interface {
	io.Writer
	Commit(ctx context.Context) error
	Abort(ctx context.Context) error
}

// Object is an object opened for ranged reads. ReadAt follows io.ReaderAt
// (a short read returns io.EOF at the end of the object) and is safe for
// concurrent use, which is how Parquet readers fetch footers and column
// chunks. Close releases it; ReadAt after Close fails.
type Object interface {
	io.ReaderAt
	io.Closer
	// Size is the object's length in bytes at Open.
	Size() int64
}

// Store is the object-store interface every lake operation goes through.
type Store interface {
	// Create starts an atomic write of key; an existing object is replaced
	// on Commit.
	Create(ctx context.Context, key string) (Upload, error)
	// Get opens key for reading; a missing key yields an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Open opens key for ranged reads; a missing key yields an error
	// wrapping ErrNotFound. The Object's reads run under ctx (S3 sends
	// one ranged GET per read), so ctx must outlive the Object.
	Open(ctx context.Context, key string) (Object, error)
	// Stat returns the object's info or an error wrapping ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List calls fn for every object whose key starts with prefix, in
	// lexical key order. Returning an error from fn stops the walk.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// URL is the absolute address of key (file:///... or
	// s3://bucket/prefix/key), for messages and users; URL columns hold
	// lake-relative keys instead, so a copied lake keeps its references.
	URL(key string) string
	// PutIfAbsent publishes data under key only if no object exists there,
	// atomically with respect to every other writer of the store (O_EXCL
	// hard link on a filesystem; PutObject with If-None-Match: * on S3). A
	// present key yields an error wrapping ErrExists, unless it holds
	// exactly data: a create is idempotent, because a retry (the SDK's or
	// a decorator's) of a create whose response was lost finds its own
	// object. It is the primitive of partition leases, whose records carry
	// a unique owner, so concurrent runs never both publish a partition.
	PutIfAbsent(ctx context.Context, key string, data []byte) error
	// SweepStaging removes work-in-progress left by crashed writers that is
	// older than olderThan (0 removes all of it). It returns how many
	// leftovers were removed.
	SweepStaging(ctx context.Context, olderThan time.Duration) (int, error)
	// Close releases resources.
	Close() error
}

// Put writes data to key atomically.
func Put(ctx context.Context, s Store, key string, data []byte) error {
	u, err := s.Create(ctx, key)
	if err != nil {
		return err
	}
	defer u.Abort(ctx)
	if _, err := u.Write(data); err != nil {
		return err
	}
	return u.Commit(ctx)
}

// ReadAll reads the whole object.
func ReadAll(ctx context.Context, s Store, key string) ([]byte, error) {
	r, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// sameContent reports whether key holds exactly data (PutIfAbsent's
// idempotence check after ErrExists).
func sameContent(ctx context.Context, s interface {
	Get(context.Context, string) (io.ReadCloser, error)
}, key string, data []byte) bool {
	r, err := s.Get(ctx, key)
	if err != nil {
		return false
	}
	defer r.Close()
	have, err := io.ReadAll(io.LimitReader(r, int64(len(data))+1))
	return err == nil && bytes.Equal(have, data)
}
