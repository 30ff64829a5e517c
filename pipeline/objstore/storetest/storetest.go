// Package storetest is the conformance suite every objstore.Store must pass,
// so the filesystem lake and the S3 lake behave identically.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline/objstore"
)

// S3FromEnv returns the test S3 server from BATTLAKE_TEST_S3_* (see
// scripts/s3server.sh). Without it the test is skipped, except in CI, where
// a silently skipped S3 suite would hide a broken lake.
func S3FromEnv(t testing.TB) objstore.S3Config {
	t.Helper()
	cfg := objstore.S3Config{
		Endpoint:  os.Getenv("BATTLAKE_TEST_S3_ENDPOINT"),
		AccessKey: os.Getenv("BATTLAKE_TEST_S3_ACCESS"),
		SecretKey: os.Getenv("BATTLAKE_TEST_S3_SECRET"),
		Bucket:    os.Getenv("BATTLAKE_TEST_S3_BUCKET"),
	}
	if cfg.Endpoint == "" || cfg.AccessKey == "" || cfg.SecretKey == "" || cfg.Bucket == "" {
		const msg = "BATTLAKE_TEST_S3_{ENDPOINT,ACCESS,SECRET,BUCKET} not set; run `source scripts/s3server.sh` first"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI must not skip the S3 tests)")
		}
		t.Skip(msg)
	}
	return cfg
}

// LargeSize is written by the large round trip: with a 5 MiB part size it
// takes three parts, the last one short.
const LargeSize = 12<<20 + 12345

// PendingSize is written to uploads that are left open; it exceeds S3's
// 5 MiB minimum part so a store with that part size has actually started
// a multipart upload, the leftover SweepStaging must find.
const PendingSize = 6 << 20

// Run runs the suite. newStore must return an empty store of its own (a
// fresh directory or a unique prefix) on every call; the suite calls it
// once per subtest. To exercise multipart paths, S3 stores should use a
// part size of at most PendingSize.
func Run(t *testing.T, newStore func(t *testing.T) objstore.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, objstore.Store)
	}{
		{"RoundTripSmall", testRoundTripSmall},
		{"RoundTripEmpty", testRoundTripEmpty},
		{"RoundTripLarge", testRoundTripLarge},
		{"Overwrite", testOverwrite},
		{"Missing", testMissing},
		{"ListOrderAndPrefix", testListOrderAndPrefix},
		{"ListStopsOnCallbackError", testListStops},
		{"ListCancelled", testListCancelled},
		{"UncommittedInvisible", testUncommittedInvisible},
		{"AbortDiscards", testAbortDiscards},
		{"AbortAfterCommit", testAbortAfterCommit},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"ConcurrentUploads", testConcurrentUploads},
		{"SweepStaging", testSweepStaging},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"URL", testURL},
		{"OpenRanges", testOpenRanges},
		{"OpenLarge", testOpenLarge},
		{"OpenEmpty", testOpenEmpty},
		{"OpenMissing", testOpenMissing},
		{"OpenConcurrentReadAt", testOpenConcurrent},
		{"OpenKeepsVersion", testOpenKeepsVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// pattern returns n deterministic, non-repeating-looking bytes, so a
// misplaced or duplicated part cannot compare equal.
func pattern(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, s objstore.Store, key string, data []byte) {
	t.Helper()
	if err := objstore.Put(t.Context(), s, key, data); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// mustContent checks key's content byte for byte and its Stat size.
func mustContent(t *testing.T, s objstore.Store, key string, want []byte) {
	t.Helper()
	got, err := objstore.ReadAll(t.Context(), s, key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("read %s: %d bytes, want %d; first difference at offset %d", key, len(got), len(want), i)
	}
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("stat %s: %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(want)) {
		t.Fatalf("stat %s = {Key:%q Size:%d}, want {Key:%q Size:%d}", key, info.Key, info.Size, key, len(want))
	}
}

func mustMissing(t *testing.T, s objstore.Store, key string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("stat %s: err = %v, want ErrNotFound", key, err)
	}
	r, err := s.Get(t.Context(), key)
	if err == nil {
		r.Close()
	}
	if !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("get %s: err = %v, want ErrNotFound", key, err)
	}
	o, err := s.Open(t.Context(), key)
	if err == nil {
		o.Close()
	}
	if !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("open %s: err = %v, want ErrNotFound", key, err)
	}
}

func keys(t *testing.T, s objstore.Store, prefix string) []string {
	t.Helper()
	var out []string
	err := s.List(t.Context(), prefix, func(o objstore.ObjectInfo) error {
		out = append(out, o.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return out
}

func mustKeys(t *testing.T, s objstore.Store, prefix string, want ...string) {
	t.Helper()
	if got := keys(t, s, prefix); !slices.Equal(got, want) {
		t.Fatalf("list %q = %q, want %q", prefix, got, want)
	}
}

func testRoundTripSmall(t *testing.T, s objstore.Store) {
	data := pattern(1, 1000)
	before := time.Now().Add(-time.Hour) // generous: server clocks differ
	put(t, s, "a/b/small.bin", data)
	mustContent(t, s, "a/b/small.bin", data)
	info, err := s.Stat(t.Context(), "a/b/small.bin")
	if err != nil {
		t.Fatal(err)
	}
	if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Hour)) {
		t.Fatalf("mod time %v is not near now", info.ModTime)
	}
	mustKeys(t, s, "", "a/b/small.bin")
}

func testRoundTripEmpty(t *testing.T, s objstore.Store) {
	put(t, s, "empty", nil)
	mustContent(t, s, "empty", []byte{})
	mustKeys(t, s, "", "empty")
}

func testRoundTripLarge(t *testing.T, s objstore.Store) {
	data := pattern(2, LargeSize)
	u, err := s.Create(t.Context(), "big/object.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Abort(t.Context())
	// Odd-sized writes straddle part boundaries.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1<<20+7)
		if w, err := u.Write(rest[:n]); err != nil || w != n {
			t.Fatalf("write: %d, %v", w, err)
		}
		rest = rest[n:]
	}
	if err := u.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	mustContent(t, s, "big/object.bin", data)
}

func testOverwrite(t *testing.T, s objstore.Store) {
	put(t, s, "k", pattern(3, 5000))
	v2 := pattern(4, 300) // shorter: stale tail bytes would show
	put(t, s, "k", v2)
	mustContent(t, s, "k", v2)
	mustKeys(t, s, "", "k")
}

func testMissing(t *testing.T, s objstore.Store) {
	mustMissing(t, s, "nope")
	put(t, s, "dir/x", []byte("x"))
	// A key that is only a prefix of other keys is not an object.
	mustMissing(t, s, "dir")
	mustMissing(t, s, "dir/x/y")
}

func testListOrderAndPrefix(t *testing.T, s objstore.Store) {
	// "a-c" < "a/b" < "a0" in byte order, while a directory walk that
	// visits "a/" as "a" would put a/b first.
	all := []string{"a-c", "a/b", "a/c/d", "a/c/e", "a0", "ab/x", "b", "b.txt"}
	shuffled := slices.Clone(all)
	rand.New(rand.NewPCG(5, 6)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	for i, k := range shuffled {
		put(t, s, k, pattern(uint64(10+i), 10+i))
	}
	mustKeys(t, s, "", all...)
	mustKeys(t, s, "a", "a-c", "a/b", "a/c/d", "a/c/e", "a0", "ab/x")
	mustKeys(t, s, "a/", "a/b", "a/c/d", "a/c/e")
	mustKeys(t, s, "a/c", "a/c/d", "a/c/e")
	mustKeys(t, s, "a/c/e", "a/c/e")
	mustKeys(t, s, "b", "b", "b.txt")
	mustKeys(t, s, "zzz")
	sizes := map[string]int64{}
	if err := s.List(t.Context(), "", func(o objstore.ObjectInfo) error {
		sizes[o.Key] = o.Size
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, k := range shuffled {
		if sizes[k] != int64(10+i) {
			t.Fatalf("list size of %s = %d, want %d", k, sizes[k], 10+i)
		}
	}
}

func testListStops(t *testing.T, s objstore.Store) {
	for _, k := range []string{"x/1", "x/2", "x/3"} {
		put(t, s, k, []byte(k))
	}
	stop := errors.New("stop here")
	var seen []string
	err := s.List(t.Context(), "x/", func(o objstore.ObjectInfo) error {
		seen = append(seen, o.Key)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("list err = %v, want the callback's error", err)
	}
	if !slices.Equal(seen, []string{"x/1", "x/2"}) {
		t.Fatalf("callback saw %q, want [x/1 x/2]", seen)
	}
}

func testListCancelled(t *testing.T, s objstore.Store) {
	put(t, s, "c/1", []byte("1"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	err := s.List(ctx, "", func(objstore.ObjectInfo) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Fatalf("list with cancelled context: err = %v after %d callbacks, want context.Canceled and none", err, calls)
	}
}

func testUncommittedInvisible(t *testing.T, s objstore.Store) {
	for _, size := range []int{100, PendingSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			key := fmt.Sprintf("pending/%d", size)
			u, err := s.Create(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := u.Write(pattern(7, size)); err != nil {
				t.Fatal(err)
			}
			mustKeys(t, s, "")
			mustMissing(t, s, key)
			if err := u.Abort(t.Context()); err != nil {
				t.Fatalf("abort: %v", err)
			}
			mustKeys(t, s, "")
			mustMissing(t, s, key)
			// Abort cleans up after itself: nothing is left to sweep.
			if n, err := s.SweepStaging(t.Context(), 0); err != nil || n != 0 {
				t.Fatalf("sweep after abort = %d, %v; want 0, nil", n, err)
			}
			if _, err := u.Write([]byte("late")); err == nil {
				t.Fatal("write after abort succeeded")
			}
			if err := u.Commit(t.Context()); err == nil {
				t.Fatal("commit after abort succeeded")
			}
			mustMissing(t, s, key)
		})
	}
}

func testAbortDiscards(t *testing.T, s objstore.Store) {
	v1 := []byte("version one")
	put(t, s, "k", v1)
	for _, size := range []int{50, PendingSize} {
		u, err := s.Create(t.Context(), "k")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Write(pattern(8, size)); err != nil {
			t.Fatal(err)
		}
		if err := u.Abort(t.Context()); err != nil {
			t.Fatal(err)
		}
		mustContent(t, s, "k", v1)
	}
	mustKeys(t, s, "", "k")
}

func testAbortAfterCommit(t *testing.T, s objstore.Store) {
	data := []byte("committed")
	u, err := s.Create(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := u.Abort(t.Context()); err != nil {
		t.Fatalf("abort after commit: %v", err)
	}
	mustContent(t, s, "k", data)
	if err := u.Commit(t.Context()); err == nil {
		t.Fatal("second commit succeeded")
	}
}

func testDelete(t *testing.T, s objstore.Store) {
	put(t, s, "d/e/f", []byte("f"))
	put(t, s, "d/g", []byte("g"))
	for range 2 { // the second delete finds nothing and must not fail
		if err := s.Delete(t.Context(), "d/e/f"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		mustMissing(t, s, "d/e/f")
		mustKeys(t, s, "", "d/g")
	}
	if err := s.Delete(t.Context(), "never/was"); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}
	if err := s.Delete(t.Context(), "d"); err != nil {
		t.Fatalf("delete of a prefix that is no object: %v", err)
	}
	mustContent(t, s, "d/g", []byte("g"))
	put(t, s, "d/e/h", []byte("h")) // the emptied "folder" is usable again
	mustKeys(t, s, "d/", "d/e/h", "d/g")
}

func testInvalidKeys(t *testing.T, s objstore.Store) {
	bad := []string{"", "/abs", "a/../b", "..", "../up", "a/./b", `a\b`, "a//b", "a/", "_staging/x", "_staging"}
	ctx := t.Context()
	for _, k := range bad {
		if _, err := s.Create(ctx, k); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("create %q: err = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("get %q: err = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Open(ctx, k); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("open %q: err = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("stat %q: err = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("delete %q: err = %v, want ErrInvalidKey", k, err)
		}
	}
	mustKeys(t, s, "")
}

func testConcurrentUploads(t *testing.T, s objstore.Store) {
	const n = 16
	want := make([][]byte, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		want[i] = pattern(uint64(100+i), 64<<10+i)
		wg.Go(func() {
			if err := objstore.Put(t.Context(), s, fmt.Sprintf("conc/%02d", i), want[i]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var wantKeys []string
	for i := range n {
		k := fmt.Sprintf("conc/%02d", i)
		wantKeys = append(wantKeys, k)
		mustContent(t, s, k, want[i])
	}
	mustKeys(t, s, "", wantKeys...)
}

func testSweepStaging(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	// A writer that "crashed": neither Commit nor Abort.
	abandoned, err := s.Create(ctx, "abandoned/x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := abandoned.Write(pattern(9, PendingSize)); err != nil {
		t.Fatal(err)
	}
	n, err := s.SweepStaging(ctx, 0)
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if n < 1 {
		t.Fatalf("sweep removed %d leftovers, want at least 1", n)
	}
	mustKeys(t, s, "")
	mustMissing(t, s, "abandoned/x")
	if n, err := s.SweepStaging(ctx, 0); err != nil || n != 0 {
		t.Fatalf("second sweep = %d, %v; want 0, nil", n, err)
	}
	// The swept writer must not be able to publish afterwards.
	if err := abandoned.Commit(ctx); err == nil {
		t.Fatal("commit of a swept upload succeeded")
	}
	mustMissing(t, s, "abandoned/x")
	if err := abandoned.Abort(ctx); err != nil {
		t.Fatalf("abort of a swept upload: %v", err)
	}

	// A sweep for old leftovers leaves a live upload alone.
	live, err := s.Create(ctx, "live/y")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort(ctx)
	data := pattern(10, PendingSize+3)
	if _, err := live.Write(data); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepStaging(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("sweep of hour-old leftovers = %d, %v; want 0, nil", n, err)
	}
	if err := live.Commit(ctx); err != nil {
		t.Fatalf("commit after a sweep of old leftovers: %v", err)
	}
	mustContent(t, s, "live/y", data)
}

func testURL(t *testing.T, s objstore.Store) {
	u := s.URL("a/b.parquet")
	if !strings.Contains(u, "://") || !strings.HasSuffix(u, "/a/b.parquet") {
		t.Fatalf("url = %q, want scheme://.../a/b.parquet", u)
	}
	if s.URL("a/c.parquet") == u {
		t.Fatal("different keys share a URL")
	}
}

func open(t *testing.T, s objstore.Store, key string, size int64) objstore.Object {
	t.Helper()
	o, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	t.Cleanup(func() { o.Close() })
	if o.Size() != size {
		t.Fatalf("open %s: size %d, want %d", key, o.Size(), size)
	}
	return o
}

// readAt checks one ReadAt of n bytes at off against data, with
// io.ReaderAt's rules: a read that ends exactly at the end may return nil
// or io.EOF, a read past the end returns the rest and io.EOF.
func readAt(t *testing.T, o objstore.Object, data []byte, off int64, n int) {
	t.Helper()
	p := make([]byte, n)
	got, err := o.ReadAt(p, off)
	size := int64(len(data))
	want := 0
	if off < size {
		want = int(min(int64(n), size-off))
	}
	switch {
	case got != want:
		t.Fatalf("ReadAt(%d bytes, off %d) = %d bytes, %v; want %d", n, off, got, err, want)
	case n == 0 && err != nil:
		t.Fatalf("ReadAt(0 bytes, off %d): %v, want nil", off, err)
	case n > 0 && want < n && err != io.EOF:
		t.Fatalf("ReadAt(%d bytes, off %d) past the end: err = %v, want io.EOF", n, off, err)
	case want == n && err != nil && !(err == io.EOF && off+int64(n) == size):
		t.Fatalf("ReadAt(%d bytes, off %d): %v", n, off, err)
	}
	if want > 0 && !bytes.Equal(p[:got], data[off:off+int64(got)]) {
		t.Fatalf("ReadAt(%d bytes, off %d): wrong bytes", n, off)
	}
}

func testOpenRanges(t *testing.T, s objstore.Store) {
	data := pattern(20, 300<<10+17) // several read-ahead blocks
	put(t, s, "r/obj", data)
	o := open(t, s, "r/obj", int64(len(data)))
	size := int64(len(data))
	readAt(t, o, data, 0, len(data))      // full
	readAt(t, o, data, 0, 10)             // start
	readAt(t, o, data, 123457, 4096)      // middle
	readAt(t, o, data, 200<<10, 90<<10)   // middle, larger than a block
	readAt(t, o, data, size-8, 8)         // the end (a Parquet footer)
	readAt(t, o, data, size-1000, 992)    // just before it (served from read-ahead)
	readAt(t, o, data, 5, 3)              // back to the start
	readAt(t, o, data, size-4, 10)        // past the end: short, io.EOF
	readAt(t, o, data, size, 1)           // at the end
	readAt(t, o, data, size+100, 1)       // beyond it
	readAt(t, o, data, 0, 0)              // zero length
	readAt(t, o, data, size, 0)           // zero length at the end
	readAt(t, o, data, size, len(data)+1) // everything and more from the end
	readAt(t, o, data, 1, len(data))      // everything from 1: one short
	if n, err := o.ReadAt(make([]byte, 4), -1); err == nil || err == io.EOF {
		t.Fatalf("ReadAt at -1 = %d, %v; want an error other than io.EOF", n, err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := o.ReadAt(make([]byte, 4), 0); err == nil {
		t.Fatal("ReadAt after Close succeeded")
	}
}

// Ranges that straddle multipart part boundaries (5 MiB on the S3 test
// store) read as one.
func testOpenLarge(t *testing.T, s objstore.Store) {
	data := pattern(21, LargeSize)
	put(t, s, "big/r", data)
	o := open(t, s, "big/r", int64(len(data)))
	readAt(t, o, data, 5<<20-100, 200)
	readAt(t, o, data, 10<<20-3, 1<<20)
	readAt(t, o, data, int64(len(data))-70<<10, 70<<10)
}

func testOpenEmpty(t *testing.T, s objstore.Store) {
	put(t, s, "e", nil)
	o := open(t, s, "e", 0)
	readAt(t, o, nil, 0, 8)
	readAt(t, o, nil, 0, 0)
}

func testOpenMissing(t *testing.T, s objstore.Store) {
	mustMissing(t, s, "gone")
	put(t, s, "d/x", []byte("x"))
	mustMissing(t, s, "d")
	if err := s.Delete(t.Context(), "d/x"); err != nil {
		t.Fatal(err)
	}
	mustMissing(t, s, "d/x")
}

func testOpenConcurrent(t *testing.T, s objstore.Store) {
	data := pattern(22, 1<<20+333)
	put(t, s, "c/obj", data)
	o := open(t, s, "c/obj", int64(len(data)))
	const workers, reads = 8, 24
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range reads {
				off := r.Int64N(int64(len(data)))
				n := 1 + r.IntN(100<<10)
				p := make([]byte, n)
				got, err := o.ReadAt(p, off)
				want := int(min(int64(n), int64(len(data))-off))
				if got != want || (err != nil && err != io.EOF) || !bytes.Equal(p[:got], data[off:off+int64(got)]) {
					errs <- fmt.Errorf("worker %d: ReadAt(%d, %d) = %d, %v (want %d bytes)", w, n, off, got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// An opened object is one version: after an overwrite a reader either
// keeps reading the old bytes (filesystem) or fails with ErrChanged (S3),
// never mixes in the new ones.
func testOpenKeepsVersion(t *testing.T, s objstore.Store) {
	v1 := pattern(23, 200<<10)
	put(t, s, "v", v1)
	o := open(t, s, "v", int64(len(v1)))
	readAt(t, o, v1, 0, 100) // a read-ahead block of v1 is cached now
	put(t, s, "v", pattern(24, 200<<10))
	p := make([]byte, 4096)
	n, err := o.ReadAt(p, 150<<10)
	switch {
	case errors.Is(err, objstore.ErrChanged):
		t.Logf("reader of the replaced object: %v", err)
	case err != nil:
		t.Fatalf("ReadAt after overwrite: %v, want old bytes or ErrChanged", err)
	case n != len(p) || !bytes.Equal(p, v1[150<<10:150<<10+4096]):
		t.Fatal("ReadAt after overwrite returned bytes of the new version")
	}
}

func testPutIfAbsent(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	first, second := []byte("first writer"), []byte("second writer")
	if err := s.PutIfAbsent(ctx, "lease/a.json", first); err != nil {
		t.Fatalf("first PutIfAbsent: %v", err)
	}
	mustContent(t, s, "lease/a.json", first)
	err := s.PutIfAbsent(ctx, "lease/a.json", second)
	if !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("second PutIfAbsent: got %v, want ErrExists", err)
	}
	mustContent(t, s, "lease/a.json", first)
	// Creating the same bytes again is idempotent (a retried create whose
	// response was lost must not fail).
	if err := s.PutIfAbsent(ctx, "lease/a.json", first); err != nil {
		t.Fatalf("PutIfAbsent of identical bytes: %v", err)
	}
	// An ordinary overwrite is still possible, and a deleted key can be
	// created again.
	put(t, s, "lease/a.json", second)
	mustContent(t, s, "lease/a.json", second)
	if err := s.Delete(ctx, "lease/a.json"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, "lease/a.json", first); err != nil {
		t.Fatalf("PutIfAbsent after delete: %v", err)
	}
	mustContent(t, s, "lease/a.json", first)
	if err := s.PutIfAbsent(ctx, "../x", first); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Fatalf("invalid key: got %v, want ErrInvalidKey", err)
	}
	// Nothing but the object itself is visible: no staging leftovers.
	mustKeys(t, s, "", "lease/a.json")
}

// testPutIfAbsentRace: of many concurrent creators of one key exactly one
// wins, and the object holds the winner's bytes.
func testPutIfAbsentRace(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	const n = 8
	var (
		wg   sync.WaitGroup
		errs [n]error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.PutIfAbsent(ctx, "race/lease.json", []byte(fmt.Sprintf("writer %d", i)))
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both created the key", winner, i)
			}
			winner = i
		case !errors.Is(err, objstore.ErrExists):
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer created the key")
	}
	mustContent(t, s, "race/lease.json", []byte(fmt.Sprintf("writer %d", winner)))
}
