package objstore_test

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/objstore/storetest"
)

func newFS(t *testing.T) *objstore.FS {
	t.Helper()
	s, err := objstore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFSConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) objstore.Store { return newFS(t) })
}

// The decorators must not change a store's behaviour.
func TestDecoratedFSConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) objstore.Store { return decorate(newFS(t)) })
}

// decorate wraps s in the standard stack, logging at debug level so every
// logging path runs.
func decorate(s objstore.Store) objstore.Store {
	l := slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s = objstore.WithRetry(s, 3, time.Millisecond)
	s = objstore.WithLimit(s, 4)
	s = objstore.WithMetrics(s, new(objstore.Metrics))
	return objstore.WithLogging(s, l)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestNewFSRootIsFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := objstore.NewFS(f)
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("NewFS(file) err = %v, want a not-a-directory error", err)
	}
	// Below a file the root cannot be created either.
	if _, err := objstore.NewFS(filepath.Join(f, "sub")); err == nil {
		t.Fatal("NewFS below a file succeeded")
	}
	if _, err := objstore.NewFS(""); err == nil {
		t.Fatal("NewFS(\"\") succeeded")
	}
}

func TestFSLayout(t *testing.T) {
	root := t.TempDir()
	s, err := objstore.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := objstore.Put(ctx, s, "a/b/c.parquet", []byte("data")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "a", "b", "c.parquet")
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "data" {
		t.Fatalf("object file: %q, %v", got, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Fatalf("object mode = %v, want 0644", fi.Mode().Perm())
	}
	if want := "file://" + filepath.ToSlash(p); s.URL("a/b/c.parquet") != want {
		t.Fatalf("url = %q, want %q", s.URL("a/b/c.parquet"), want)
	}
	// Nothing is left in staging after a commit.
	if ents, _ := os.ReadDir(filepath.Join(root, "_staging")); len(ents) != 0 {
		t.Fatalf("staging holds %d entries after commit", len(ents))
	}
	if err := s.Delete(ctx, "a/b/c.parquet"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty parent directories left behind: %v", err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("root removed: %v", err)
	}
}

// A crashed writer leaves a temp file in _staging: it must never be listed,
// and SweepStaging removes it once it is old enough.
func TestFSCrashLeftovers(t *testing.T) {
	root := t.TempDir()
	s, err := objstore.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	staging := filepath.Join(root, "_staging")
	old := filepath.Join(staging, "upload-4242-123.tmp")
	fresh := filepath.Join(staging, "upload-4243-456.tmp")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("half a parquet file"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	twoHours := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, twoHours, twoHours); err != nil {
		t.Fatal(err)
	}
	if err := objstore.Put(ctx, s, "real", []byte("r")); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"", "_", "_staging/"} {
		var listed []string
		if err := s.List(ctx, prefix, func(o objstore.ObjectInfo) error {
			listed = append(listed, o.Key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"": "real"}[prefix]
		if strings.Join(listed, ",") != want {
			t.Fatalf("list %q = %q, want %q", prefix, listed, want)
		}
	}
	n, err := s.SweepStaging(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("sweep(1h) = %d, %v; want 1, nil", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old leftover survived: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("fresh leftover removed by sweep(1h): %v", err)
	}
	n, err = s.SweepStaging(ctx, 0)
	if err != nil || n != 1 {
		t.Fatalf("sweep(0) = %d, %v; want 1, nil", n, err)
	}
	if ents, _ := os.ReadDir(staging); len(ents) != 0 {
		t.Fatalf("staging holds %d entries after sweep(0)", len(ents))
	}
}

// Files placed by hand (or by another tool) in the lake folder are objects.
func TestFSForeignFiles(t *testing.T) {
	root := t.TempDir()
	s, err := objstore.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "t", "empty-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "t", "x.parquet"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var listed []string
	if err := s.List(t.Context(), "t/", func(o objstore.ObjectInfo) error {
		listed = append(listed, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(listed, ",") != "t/x.parquet" {
		t.Fatalf("list = %q, want [t/x.parquet]", listed)
	}
	if _, err := s.Stat(t.Context(), "t/empty-dir"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("stat of a directory: %v, want ErrNotFound", err)
	}
}
