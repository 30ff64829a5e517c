package lake_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

func day(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }

// writeDays writes each segment's payload: "<segment name>:<version>", one
// row per byte, so a reader can tell which version of which day it sees.
func writeDays(version string) func(ctx context.Context, o *lake.Output) error {
	return func(ctx context.Context, o *lake.Output) error {
		payload := o.Segment().Name + ":" + version
		_, err := io.WriteString(o.Data(), payload)
		o.SetRows(int64(len(payload)))
		return err
	}
}

func days(ds ...int) []lake.Segment {
	var out []lake.Segment
	for _, d := range ds {
		out = append(out, lake.DaySegment(day(d), "rate=5s"))
	}
	return out
}

// globView is what a reader that only globs data files sees: every data
// file's content, by key.
func globView(t *testing.T, s objstore.Store, p lake.Partition) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range listKeys(t, s, p.Dir()) {
		if strings.HasSuffix(k, ".parquet") {
			b, err := objstore.ReadAll(context.Background(), s, k)
			if err != nil {
				t.Fatal(err)
			}
			out[k] = string(b)
		}
	}
	return out
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
	m, written, err := l.WritePartition(ctx, p, meta, days(1), false, nil, writeDays("v1"))
	if err != nil {
		t.Fatal(err)
	}
	got := listKeys(t, fs, p.Table.Dir())
	want := []string{"telemetry_env/month=2026-01/_manifest.json", "telemetry_env/month=2026-01/part-2026-01-01.parquet"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	// sha256("2026-01-01:v1")
	if len(written) != 1 || m.Rows != 13 || m.Files[0].Bytes != 13 || m.Files[0].SHA256 != sha("2026-01-01:v1") {
		t.Fatalf("manifest = %+v", m)
	}
	if stale, err := l.Stale(ctx, p, meta, m, days(1)); err != nil || len(stale) != 0 {
		t.Fatalf("stale = %v, %v; want none", stale, err)
	}
	other := meta
	other.Seed = 3
	if stale, _ := l.Stale(ctx, p, other, m, days(1)); len(stale) != 1 {
		t.Fatal("a different seed must be stale")
	}
	if stale, _ := l.Stale(ctx, p, meta, m, []lake.Segment{lake.DaySegment(day(1), "rate=1m")}); len(stale) != 1 {
		t.Fatal("a different segment input must be stale")
	}
	// A rerun with nothing stale writes nothing.
	if _, written, err := l.WritePartition(ctx, p, meta, days(1), false, nil, writeDays("v2")); err != nil || len(written) != 0 {
		t.Fatalf("rerun wrote %v, %v", written, err)
	}
	// Forced, it replaces the file under the same name: no duplicate rows.
	if _, _, err := l.WritePartition(ctx, p, meta, days(1), true, nil, writeDays("v2")); err != nil {
		t.Fatal(err)
	}
	if v := globView(t, fs, p); len(v) != 1 || v[p.SegmentKey("2026-01-01")] != "2026-01-01:v2" {
		t.Fatalf("after forced rerun: %v", v)
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// A partition grows a day at a time; days out of order or rewritten give
// the same content and manifest as one write of all of them.
func TestDaySegmentsAppendInAnyOrder(t *testing.T) {
	ctx := context.Background()
	meta := lake.Meta{Job: "j", Seed: 2}
	p := testPartition(t)
	build := func(batches ...[]lake.Segment) (map[string]string, []byte) {
		fs, _ := objstore.NewFS(t.TempDir())
		l := lake.New(fs)
		for _, b := range batches {
			if _, _, err := l.WritePartition(ctx, p, meta, b, false, nil, writeDays("v1")); err != nil {
				t.Fatal(err)
			}
		}
		_, raw, err := l.ReadManifest(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return globView(t, fs, p), raw
	}
	oneRun, oneManifest := build(days(1, 2, 3))
	for name, batches := range map[string][][]lake.Segment{
		"daily":        {days(1), days(2), days(3)},
		"out of order": {days(3), days(1), days(2)},
		"backfill":     {days(2), days(1, 2, 3)},
		"repeat":       {days(1, 2), days(2), days(2, 3), days(3)},
	} {
		view, manifest := build(batches...)
		if len(view) != 3 || fmt.Sprint(view) != fmt.Sprint(oneRun) {
			t.Errorf("%s: view %v, want %v", name, view, oneRun)
		}
		if string(manifest) != string(oneManifest) {
			t.Errorf("%s: manifest differs from one run's:\n%s\nwant\n%s", name, manifest, oneManifest)
		}
	}
	var m lake.Manifest
	if err := json.Unmarshal(oneManifest, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Coverage) != 1 || !m.Coverage[0].From.Equal(day(1)) || !m.Coverage[0].To.Equal(day(4)) || len(m.Segments) != 3 {
		t.Fatalf("coverage %+v segments %d, want one span 01..04 and 3 segments", m.Coverage, len(m.Segments))
	}
	// Holes stay holes: days 1 and 3 are two spans.
	fs, _ := objstore.NewFS(t.TempDir())
	gap, _, err := lake.New(fs).WritePartition(ctx, p, meta, days(1, 3), false, nil, writeDays("v1"))
	if err != nil || len(gap.Coverage) != 2 {
		t.Fatalf("coverage %+v, %v; want two spans", gap.Coverage, err)
	}
}

// An as-of segment written to a later end is fresh for a run ending
// earlier: a backfill never rolls history back.
func TestAsOfSegmentNeverRollsBack(t *testing.T) {
	ctx := context.Background()
	fs, _ := objstore.NewFS(t.TempDir())
	l := lake.New(fs)
	p := testPartition(t)
	meta := lake.Meta{Job: "j"}
	asOf := func(d int) []lake.Segment { return []lake.Segment{lake.AsOfSegment(day(1), day(d))} }
	if _, w, err := l.WritePartition(ctx, p, meta, asOf(10), false, nil, writeDays("to10")); err != nil || len(w) != 1 {
		t.Fatalf("%v %v", w, err)
	}
	if _, w, err := l.WritePartition(ctx, p, meta, asOf(5), false, nil, writeDays("to5")); err != nil || len(w) != 0 {
		t.Fatalf("an earlier end rewrote the history: %v %v", w, err)
	}
	m, w, err := l.WritePartition(ctx, p, meta, asOf(20), false, nil, writeDays("to20"))
	if err != nil || len(w) != 1 || !m.Segments[0].To.Equal(day(20)) {
		t.Fatalf("a later end must extend the history: %+v %v", m, err)
	}
	if v := globView(t, fs, p); v[p.SegmentKey(lake.AsOfName)] != lake.AsOfName+":to20" {
		t.Fatalf("view %v", v)
	}
}

// Crash at every step of an append over a partition that already holds
// days: at every moment a glob reader sees each day exactly once, the
// manifest describes only published bytes, and the rerun completes to the
// same lake as a clean run.
func TestAppendCrashAtEveryStep(t *testing.T) {
	ctx := context.Background()
	p := testPartition(t)
	meta := lake.Meta{Job: "j"}
	wantDays := map[string]bool{"2026-01-01": true, "2026-01-02": true, "2026-01-03": true}
	check := func(fs objstore.Store, l *lake.Lake, when string) {
		seen := map[string]int{}
		for _, content := range globView(t, fs, p) {
			seen[strings.SplitN(content, ":", 2)[0]]++
		}
		for d := range wantDays {
			if seen[d] != 1 {
				t.Fatalf("%s: day %s seen %d times (view %v)", when, d, seen[d], globView(t, fs, p))
			}
		}
		m, _, err := l.ReadManifest(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for _, f := range m.Files {
			b, err := objstore.ReadAll(ctx, fs, f.Key)
			if err != nil || sha(string(b)) != f.SHA256 {
				t.Fatalf("%s: manifest describes %s with other bytes (%v)", when, f.Key, err)
			}
		}
	}
	// Steps of a run that rewrites day 2 (new version) and adds day 4.
	var steps []string
	{
		fs, _ := objstore.NewFS(t.TempDir())
		l := lake.New(fs)
		if _, _, err := l.WritePartition(ctx, p, meta, days(1, 2, 3), false, nil, writeDays("v1")); err != nil {
			t.Fatal(err)
		}
		hooks := &lake.Hooks{Step: func(_ lake.Partition, seg, step string) error {
			steps = append(steps, seg+"/"+step)
			return nil
		}}
		if _, _, err := l.WritePartition(ctx, p, lake.Meta{Job: "j", Seed: 1}, days(2, 4), false, hooks, writeDays("v2")); err != nil {
			t.Fatal(err)
		}
	}
	if len(steps) < 6 {
		t.Fatalf("steps %v: want withdraw, 2x(before, published), before-manifest, committed", steps)
	}
	for k := range steps {
		fs, _ := objstore.NewFS(t.TempDir())
		l := lake.New(fs)
		if _, _, err := l.WritePartition(ctx, p, meta, days(1, 2, 3), false, nil, writeDays("v1")); err != nil {
			t.Fatal(err)
		}
		n := 0
		hooks := &lake.Hooks{Step: func(_ lake.Partition, seg, step string) error {
			check(fs, l, fmt.Sprintf("crash run %d at %s/%s", k, seg, step))
			if n == k {
				return lake.ErrInjected
			}
			n++
			return nil
		}}
		meta2 := lake.Meta{Job: "j", Seed: 1}
		_, _, err := l.WritePartition(ctx, p, meta2, days(2, 4), false, hooks, writeDays("v2"))
		if k < len(steps)-1 && !errors.Is(err, lake.ErrInjected) {
			t.Fatalf("crash %d (%s): err %v", k, steps[k], err)
		}
		check(fs, l, fmt.Sprintf("after crash at %s", steps[k]))
		if _, _, err := l.WritePartition(ctx, p, meta2, days(2, 4), false, nil, writeDays("v2")); err != nil {
			t.Fatal(err)
		}
		m, _, _ := l.ReadManifest(ctx, p)
		if v := globView(t, fs, p); len(v) != 4 || v[p.SegmentKey("2026-01-02")] != "2026-01-02:v2" || len(m.Segments) != 4 {
			t.Fatalf("after crash at %s and rerun: view %v, %d segments", steps[k], v, len(m.Segments))
		}
	}
}

func TestCrashBeforeDataCommitLeavesNothingVisible(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	fs, _ := objstore.NewFS(root)
	l := lake.New(fs)
	p := testPartition(t)
	hooks := &lake.Hooks{Step: func(_ lake.Partition, _, step string) error {
		if step == lake.StepBeforeData {
			return lake.ErrInjected
		}
		return nil
	}}
	_, _, err := l.WritePartition(ctx, p, lake.Meta{Job: "j"}, days(1), false, hooks, writeDays("partial"))
	if !errors.Is(err, lake.ErrInjected) {
		t.Fatalf("err = %v, want injected", err)
	}
	if got := listKeys(t, fs, ""); len(got) != 0 {
		t.Fatalf("visible after crash: %v", got)
	}
}

func TestOldManifestFormatIsRefused(t *testing.T) {
	ctx := context.Background()
	fs, _ := objstore.NewFS(t.TempDir())
	p := testPartition(t)
	if err := objstore.Put(ctx, fs, p.ManifestKey(), []byte(`{"format":1,"files":[{"key":"x/part-00000.parquet"}]}`)); err != nil {
		t.Fatal(err)
	}
	_, _, err := lake.New(fs).WritePartition(ctx, p, lake.Meta{Job: "j"}, days(1), false, nil, writeDays("v1"))
	if !errors.Is(err, lake.ErrOldFormat) || !strings.Contains(err.Error(), "telemetry_env month=2026-01") {
		t.Fatalf("err = %v, want ErrOldFormat naming the partition", err)
	}
}

func TestAbandonedStagingIsSweptNotListed(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	fs, _ := objstore.NewFS(root)
	// A writer that dies mid-file: its upload is never committed or aborted.
	u, err := fs.Create(ctx, testPartition(t).SegmentKey("2026-01-01"))
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
	if k := p.SegmentKey("2026-01-02"); k != "telemetry_jar_raw/month=2026-01/bucket=03/part-2026-01-02.parquet" {
		t.Fatalf("key %s", k)
	}
	ms := lake.Months(time.Date(2026, 1, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	if len(ms) != 3 || ms[0].Month != "2026-01" || !ms[2].To.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("months = %+v", ms)
	}
}

// An as-of segment known to a later end is kept even when the inputs
// changed (a code upgrade) or under force: rewriting it from a run that
// ends earlier would roll history back.
func TestAsOfSegmentKeptAcrossChangedInputsAndForce(t *testing.T) {
	ctx := context.Background()
	fs, _ := objstore.NewFS(t.TempDir())
	l := lake.New(fs)
	p := testPartition(t)
	to := func(d int) []lake.Segment { return []lake.Segment{lake.AsOfSegment(day(1), day(d))} }
	if _, _, err := l.WritePartition(ctx, p, lake.Meta{Job: "j", Inputs: []string{"generator=1"}}, to(20), false, nil, writeDays("v1-to20")); err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{false, true} {
		_, w, err := l.WritePartition(ctx, p, lake.Meta{Job: "j", Inputs: []string{"generator=2"}}, to(5), force, nil, writeDays("v2-to5"))
		if err != nil || len(w) != 0 {
			t.Fatalf("force=%v: an earlier end rewrote the history (%v, %v)", force, w, err)
		}
	}
	if v := globView(t, fs, p); v[p.SegmentKey(lake.AsOfName)] != lake.AsOfName+":v1-to20" {
		t.Fatalf("view %v", v)
	}
	// At the same end, new inputs do rewrite it.
	if _, w, err := l.WritePartition(ctx, p, lake.Meta{Job: "j", Inputs: []string{"generator=2"}}, to(20), false, nil, writeDays("v2-to20")); err != nil || len(w) != 1 {
		t.Fatalf("same end, new inputs: wrote %v, %v", w, err)
	}
}

// A blob the new version drops is deleted even when the run that replaced
// its segment crashed after withdrawing it: the withdrawn manifest keeps
// it pending for the next commit.
func TestBlobsOfWithdrawnSegmentsAreNotOrphaned(t *testing.T) {
	ctx := context.Background()
	fs, _ := objstore.NewFS(t.TempDir())
	l := lake.New(fs)
	p := testPartition(t)
	withBlob := func(name string) func(ctx context.Context, o *lake.Output) error {
		return func(ctx context.Context, o *lake.Output) error {
			if err := o.WriteBlob(o.BlobKey(name), func(w io.Writer) (int64, error) {
				_, err := io.WriteString(w, name)
				return 1, err
			}); err != nil {
				return err
			}
			return writeDays(name)(ctx, o)
		}
	}
	if _, _, err := l.WritePartition(ctx, p, lake.Meta{Job: "j", Seed: 1}, days(1), false, nil, withBlob("old")); err != nil {
		t.Fatal(err)
	}
	crash := &lake.Hooks{Step: func(_ lake.Partition, _, step string) error {
		if step == lake.StepBeforeIndex {
			return lake.ErrInjected
		}
		return nil
	}}
	if _, _, err := l.WritePartition(ctx, p, lake.Meta{Job: "j", Seed: 2}, days(1), false, crash, withBlob("new")); !errors.Is(err, lake.ErrInjected) {
		t.Fatalf("err %v", err)
	}
	m, _, err := l.ReadManifest(ctx, p)
	if err != nil || len(m.Pending) == 0 {
		t.Fatalf("withdrawn manifest %+v, %v: want the old files pending", m, err)
	}
	if _, _, err := l.WritePartition(ctx, p, lake.Meta{Job: "j", Seed: 2}, days(1), false, nil, withBlob("new")); err != nil {
		t.Fatal(err)
	}
	blobs := listKeys(t, fs, lake.BlobArea)
	if len(blobs) != 1 || !strings.HasSuffix(blobs[0], "/new.parquet") {
		t.Fatalf("blobs after the rerun: %v, want only the new one", blobs)
	}
	if m, _, _ := l.ReadManifest(ctx, p); len(m.Pending) != 0 {
		t.Fatalf("pending left after a clean commit: %v", m.Pending)
	}
}

// A rewrite of a segment that keeps one of its blobs (KeepBlob) and
// rewrites another lists both, leaves the kept object's bytes alone and
// deletes the blob it no longer has; KeepBlob refuses a file that is not a
// blob of the partition.
func TestKeepBlobAcrossARewrite(t *testing.T) {
	ctx := context.Background()
	fs, _ := objstore.NewFS(t.TempDir())
	l := lake.New(fs)
	p := testPartition(t)
	blob := func(o *lake.Output, name, body string) error {
		return o.WriteBlob(o.BlobKey(name), func(w io.Writer) (int64, error) {
			_, err := io.WriteString(w, body)
			return int64(len(body)), err
		})
	}
	m, _, err := l.WritePartition(ctx, p, lake.Meta{Job: "j"}, days(1), false, nil, func(ctx context.Context, o *lake.Output) error {
		for _, n := range []string{"a", "b", "c"} {
			if err := blob(o, n, n+"-v1"); err != nil {
				return err
			}
		}
		return writeDays("v1")(ctx, o)
	})
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]lake.FileEntry{}
	for _, f := range m.Files {
		old[filepath.Base(f.Key)] = f
	}
	m, _, err = l.WritePartition(ctx, p, lake.Meta{Job: "j"}, days(1), true, nil, func(ctx context.Context, o *lake.Output) error {
		if err := o.KeepBlob(old["a.parquet"]); err != nil {
			return err
		}
		if err := o.KeepBlob(old["part-2026-01-01.parquet"]); err == nil {
			return errors.New("KeepBlob took a data file")
		}
		if err := blob(o, "b", "b-v2"); err != nil {
			return err
		}
		return writeDays("v2")(ctx, o)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]lake.FileEntry{}
	for _, f := range m.Files {
		got[filepath.Base(f.Key)] = f
	}
	if got["a.parquet"] != old["a.parquet"] || got["b.parquet"].SHA256 != sha("b-v2") || len(got) != 3 {
		t.Errorf("files after the rewrite: %+v", got)
	}
	if b, err := objstore.ReadAll(ctx, fs, old["a.parquet"].Key); err != nil || string(b) != "a-v1" {
		t.Errorf("kept blob: %q, %v", b, err)
	}
	if keys := listKeys(t, fs, lake.BlobArea); len(keys) != 2 {
		t.Errorf("blobs on the store: %v, want a and b (c dropped)", keys)
	}
}

// A committed file that was truncated or deleted is stale.
func TestStaleCatchesDamagedFiles(t *testing.T) {
	ctx := context.Background()
	fs, _ := objstore.NewFS(t.TempDir())
	l := lake.New(fs)
	p := testPartition(t)
	meta := lake.Meta{Job: "j"}
	m, _, err := l.WritePartition(ctx, p, meta, days(1, 2), false, nil, writeDays("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := objstore.Put(ctx, fs, p.SegmentKey("2026-01-01"), []byte("short")); err != nil {
		t.Fatal(err)
	}
	if err := fs.Delete(ctx, p.SegmentKey("2026-01-02")); err != nil {
		t.Fatal(err)
	}
	stale, err := l.Stale(ctx, p, meta, m, days(1, 2))
	if err != nil || len(stale) != 2 {
		t.Fatalf("stale %v, %v: want both damaged days", stale, err)
	}
}

// A segment's state file is published with it, listed in its manifest
// entry with its SHA-256, outside the table's directory and its totals;
// ReadState returns it only while it is the recorded bytes, and a version
// of the segment without one drops it.
func TestStateFileCommittedWithItsSegment(t *testing.T) {
	ctx := context.Background()
	fs, _ := objstore.NewFS(t.TempDir())
	l := lake.New(fs)
	p := testPartition(t)
	withState := func(state string) func(ctx context.Context, o *lake.Output) error {
		return func(ctx context.Context, o *lake.Output) error {
			if err := o.WriteState(func(w io.Writer) error {
				_, err := io.WriteString(w, o.Segment().Name+state)
				return err
			}); err != nil {
				return err
			}
			return writeDays("v1")(ctx, o)
		}
	}
	meta := lake.Meta{Job: "j", Seed: 1}
	plain, _, err := l.WritePartition(ctx, p, meta, days(1, 2), false, nil, writeDays("v1"))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := l.WritePartition(ctx, p, meta, days(1, 2), true, nil, withState("/s1"))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := m.Segment("2026-01-02")
	key := "_state/telemetry_env/month=2026-01/2026-01-02.bin"
	if e.State == nil || e.State.Key != key || e.State.Role != lake.RoleState || e.State.SHA256 != sha("2026-01-02/s1") || e.State.Bytes != 13 {
		t.Fatalf("segment entry state = %+v, want %s", e.State, key)
	}
	// Not table content: the table's directory, totals and digest are the
	// same as without it.
	if m.Digest != plain.Digest || m.Rows != plain.Rows || m.Bytes != plain.Bytes || len(m.Files) != len(plain.Files) {
		t.Fatalf("with states: digest %s rows %d bytes %d files %d; without: %s %d %d %d", m.Digest, m.Rows, m.Bytes, len(m.Files), plain.Digest, plain.Rows, plain.Bytes, len(plain.Files))
	}
	for _, k := range listKeys(t, fs, p.Table.Dir()) {
		if strings.Contains(k, "_state") || strings.HasSuffix(k, ".bin") {
			t.Fatalf("state under the table's directory: %s", k)
		}
	}
	b, got, err := l.ReadState(ctx, p, "2026-01-02")
	if err != nil || string(b) != "2026-01-02/s1" || got.Name != "2026-01-02" {
		t.Fatalf("ReadState = %q, %s, %v", b, got.Name, err)
	}
	if _, _, err := l.ReadState(ctx, p, "2026-01-03"); !errors.Is(err, lake.ErrNoState) {
		t.Fatalf("state of an uncommitted segment: %v, want ErrNoState", err)
	}
	if err := objstore.Put(ctx, fs, key, []byte("2026-01-02/s2")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.ReadState(ctx, p, "2026-01-02"); !errors.Is(err, lake.ErrStateChanged) || !strings.Contains(err.Error(), key) {
		t.Fatalf("state of other bytes: %v, want ErrStateChanged naming %s", err, key)
	}
	if err := fs.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.ReadState(ctx, p, "2026-01-02"); !errors.Is(err, lake.ErrNoState) {
		t.Fatalf("deleted state: %v, want ErrNoState", err)
	}
	// Day 1 rewritten by a version that keeps no state: its file goes.
	if _, _, err := l.WritePartition(ctx, p, meta, days(1), true, nil, writeDays("v1")); err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, fs, lake.StateArea); len(keys) != 0 {
		t.Fatalf("state files left: %v", keys)
	}
	if _, _, err := l.ReadState(ctx, p, "2026-01-01"); !errors.Is(err, lake.ErrNoState) {
		t.Fatalf("state of a segment rewritten without one: %v, want ErrNoState", err)
	}
}
