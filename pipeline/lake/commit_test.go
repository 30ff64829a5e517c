package lake_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/schema"
)

func listKeys(t *testing.T, s objstore.Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.List(context.Background(), prefix, func(o objstore.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func testPartition(t *testing.T) lake.Partition {
	p, err := lake.NewPartition(schema.MustLookup("telemetry_env"), "2026-01", -1)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func writePayload(payload string) func(ctx context.Context, o *lake.Output) error {
	return func(ctx context.Context, o *lake.Output) error {
		_, err := io.WriteString(o.Data(), payload)
		o.SetRows(int64(len(payload)))
		return err
	}
}

func TestWritePartitionCommitsDataThenManifest(t *testing.T) {
	ctx := context.Background()
	fs, err := objstore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := lake.New(fs)
	p := testPartition(t)
	meta := lake.Meta{Job: "j", RootSeed: 1, Seed: 2, ConfigHash: "c", Inputs: []string{"a"}}
	m, err := l.WritePartition(ctx, p, meta, nil, writePayload("hello"))
	if err != nil {
		t.Fatal(err)
	}
	got := listKeys(t, fs, p.Table.Dir())
	want := []string{"telemetry_env/month=2026-01/_manifest.json", "telemetry_env/month=2026-01/part-00000.parquet"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	if m.Rows != 5 || m.Files[0].Bytes != 5 || m.Files[0].SHA256 != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
		t.Fatalf("manifest = %+v", m)
	}
	fresh, _, err := l.Fresh(ctx, p, meta.Fingerprint(p))
	if err != nil || !fresh {
		t.Fatalf("fresh = %v, %v; want true", fresh, err)
	}
	other := meta
	other.Seed = 3
	if fresh, _, _ := l.Fresh(ctx, p, other.Fingerprint(p)); fresh {
		t.Fatal("a different seed must not be fresh")
	}
	// A rerun replaces the file under the same name: no duplicate rows.
	if _, err := l.WritePartition(ctx, p, meta, nil, writePayload("HELLO!")); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, fs, p.Table.Dir()); len(got) != 2 {
		t.Fatalf("rerun left %v", got)
	}
	b, _ := objstore.ReadAll(ctx, fs, p.DataKey())
	if string(b) != "HELLO!" {
		t.Fatalf("data = %q", b)
	}
}

func TestCrashBeforeDataCommitLeavesNothingVisible(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	fs, _ := objstore.NewFS(root)
	l := lake.New(fs)
	p := testPartition(t)
	hooks := &lake.Hooks{BeforeDataCommit: func(lake.Partition) error { return lake.ErrInjected }}
	_, err := l.WritePartition(ctx, p, lake.Meta{Job: "j"}, hooks, writePayload("partial"))
	if !errors.Is(err, lake.ErrInjected) {
		t.Fatalf("err = %v, want injected", err)
	}
	if got := listKeys(t, fs, ""); len(got) != 0 {
		t.Fatalf("visible after crash: %v", got)
	}
}

func TestCrashBetweenDataAndManifest(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	fs, _ := objstore.NewFS(root)
	l := lake.New(fs)
	p := testPartition(t)
	meta := lake.Meta{Job: "j", Seed: 9}
	// A first good commit, then a rerun that dies after publishing data.
	if _, err := l.WritePartition(ctx, p, meta, nil, writePayload("v1")); err != nil {
		t.Fatal(err)
	}
	hooks := &lake.Hooks{BeforeManifest: func(lake.Partition) error { return lake.ErrInjected }}
	meta2 := meta
	meta2.Seed = 10
	if _, err := l.WritePartition(ctx, p, meta2, hooks, writePayload("v2-complete")); !errors.Is(err, lake.ErrInjected) {
		t.Fatalf("err = %v", err)
	}
	// Readers see the one complete data file, and no manifest describes
	// bytes other than those published: the old manifest was dropped.
	got := listKeys(t, fs, p.Table.Dir())
	if len(got) != 1 || got[0] != p.DataKey() {
		t.Fatalf("visible = %v, want only the data file", got)
	}
	if b, _ := objstore.ReadAll(ctx, fs, p.DataKey()); string(b) != "v2-complete" {
		t.Fatalf("data = %q", b)
	}
	if fresh, _, _ := l.Fresh(ctx, p, meta2.Fingerprint(p)); fresh {
		t.Fatal("a partition without manifest must not be fresh")
	}
	// The next run rewrites it and writes the manifest.
	if _, err := l.WritePartition(ctx, p, meta2, nil, writePayload("v2-complete")); err != nil {
		t.Fatal(err)
	}
	if fresh, _, _ := l.Fresh(ctx, p, meta2.Fingerprint(p)); !fresh {
		t.Fatal("partition should be fresh after the rerun")
	}
}

func TestAbandonedStagingIsSweptNotListed(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	fs, _ := objstore.NewFS(root)
	// A writer that dies mid-file: its upload is never committed or aborted.
	u, err := fs.Create(ctx, testPartition(t).DataKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write([]byte("half a parquet file")); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, fs, ""); len(got) != 0 {
		t.Fatalf("staging visible: %v", got)
	}
	// Age the leftover past the TTL, as after a crash an hour ago.
	old := time.Now().Add(-2 * time.Hour)
	filepath.WalkDir(filepath.Join(root, "_staging"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Chtimes(path, old, old)
		}
		return nil
	})
	n, err := fs.SweepStaging(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want 1", n, err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "_staging"))
	if len(entries) != 0 {
		t.Fatalf("staging not empty: %v", entries)
	}
}

func TestPartitionKeysAndBuckets(t *testing.T) {
	jar := schema.MustLookup("telemetry_jar_raw")
	if _, err := lake.NewPartition(jar, "2026-01", 8); err == nil {
		t.Fatal("bucket 8 of 8 must be rejected")
	}
	if _, err := lake.NewPartition(jar, "", 0); err == nil {
		t.Fatal("missing month must be rejected")
	}
	p, err := lake.NewPartition(jar, "2026-01", 3)
	if err != nil {
		t.Fatal(err)
	}
	if p.DataKey() != "telemetry_jar_raw/month=2026-01/bucket=03/part-00000.parquet" {
		t.Fatalf("key %s", p.DataKey())
	}
	ms := lake.Months(time.Date(2026, 1, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	if len(ms) != 3 || ms[0].Month != "2026-01" || !ms[2].To.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("months = %+v", ms)
	}
}
