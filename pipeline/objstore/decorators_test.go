package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errTransient = errors.New("transient: connection reset")

// faultStore wraps a real store; before runs ahead of every operation and
// may fail it. listFailAfter makes List fail after delivering that many
// objects (while it is positive).
type faultStore struct {
	Store
	mu            sync.Mutex
	calls         map[string]int
	before        func(op string) error
	listFailAfter int
}

func newFaultStore(t *testing.T, before func(op string) error) *faultStore {
	t.Helper()
	fs, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &faultStore{Store: fs, calls: map[string]int{}, before: before}
}

func (f *faultStore) hook(op string) error {
	f.mu.Lock()
	f.calls[op]++
	f.mu.Unlock()
	if f.before != nil {
		return f.before(op)
	}
	return nil
}

func (f *faultStore) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *faultStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := f.hook("get"); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, key)
}

func (f *faultStore) Open(ctx context.Context, key string) (Object, error) {
	if err := f.hook("open"); err != nil {
		return nil, err
	}
	o, err := f.Store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return &faultObject{Object: o, f: f}, nil
}

// faultObject fails a ReadAt after delivering half of it when the hook says
// so, like a ranged GET whose connection drops mid-body.
type faultObject struct {
	Object
	f *faultStore
}

func (o *faultObject) ReadAt(p []byte, off int64) (int, error) {
	if err := o.f.hook("readat"); err != nil {
		n, _ := o.Object.ReadAt(p[:len(p)/2], off)
		return n, err
	}
	return o.Object.ReadAt(p, off)
}

func (f *faultStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := f.hook("stat"); err != nil {
		return ObjectInfo{}, err
	}
	return f.Store.Stat(ctx, key)
}

func (f *faultStore) Delete(ctx context.Context, key string) error {
	if err := f.hook("delete"); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}

func (f *faultStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := f.hook("list"); err != nil {
		return err
	}
	delivered := 0
	return f.Store.List(ctx, prefix, func(o ObjectInfo) error {
		if f.listFailAfter > 0 && delivered == f.listFailAfter {
			f.listFailAfter = 0
			return errTransient
		}
		delivered++
		return fn(o)
	})
}

func (f *faultStore) Create(ctx context.Context, key string) (Upload, error) {
	u, err := f.Store.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &faultUpload{Upload: u, f: f}, nil
}

type faultUpload struct {
	Upload
	f *faultStore
}

func (u *faultUpload) Commit(ctx context.Context) error {
	if err := u.f.hook("commit"); err != nil {
		return err
	}
	return u.Upload.Commit(ctx)
}

// failFirst fails the first n calls of op with errTransient.
func failFirst(op string, n int) func(string) error {
	var left atomic.Int64
	left.Store(int64(n))
	return func(o string) error {
		if o == op && left.Add(-1) >= 0 {
			return errTransient
		}
		return nil
	}
}

// recordSleeps swaps the retry sleep for one that records the delays.
func recordSleeps(s Store) *[]time.Duration {
	var d []time.Duration
	s.(*retryStore).sleep = func(_ context.Context, x time.Duration) error {
		d = append(d, x)
		return nil
	}
	return &d
}

func TestRetryRetriesTransientErrors(t *testing.T) {
	ctx := t.Context()
	f := newFaultStore(t, failFirst("get", 2))
	if err := Put(ctx, f, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	const base = 100 * time.Millisecond
	s := WithRetry(f, 3, base)
	sleeps := recordSleeps(s)
	got, err := ReadAll(ctx, s, "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("get = %q, %v; want v, nil", got, err)
	}
	if f.count("get") != 3 {
		t.Fatalf("get called %d times, want 3", f.count("get"))
	}
	if len(*sleeps) != 2 {
		t.Fatalf("slept %d times, want 2", len(*sleeps))
	}
	for i, d := range *sleeps {
		lo, hi := base<<i/2, base<<i
		if d < lo || d > hi {
			t.Fatalf("backoff %d = %v, want within [%v, %v]", i, d, lo, hi)
		}
	}
}

func TestRetryGivesUp(t *testing.T) {
	f := newFaultStore(t, failFirst("stat", 100))
	s := WithRetry(f, 4, time.Millisecond)
	sleeps := recordSleeps(s)
	_, err := s.Stat(t.Context(), "k")
	if !errors.Is(err, errTransient) || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Fatalf("err = %v, want errTransient after 4 attempts", err)
	}
	if f.count("stat") != 4 || len(*sleeps) != 3 {
		t.Fatalf("%d calls, %d sleeps; want 4, 3", f.count("stat"), len(*sleeps))
	}
}

func TestRetryFinalErrors(t *testing.T) {
	f := newFaultStore(t, nil)
	s := WithRetry(f, 5, time.Millisecond)
	sleeps := recordSleeps(s)
	ctx := t.Context()
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get: %v", err)
	}
	if _, err := s.Stat(ctx, "a/../b"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("stat: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	f.before = func(string) error { return fmt.Errorf("wrapped: %w", context.Canceled) }
	if err := s.Delete(cancelled, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("delete: %v", err)
	}
	if got := f.count("get") + f.count("stat") + f.count("delete"); got != 3 {
		t.Fatalf("%d calls, want 3 (no retries)", got)
	}
	if len(*sleeps) != 0 {
		t.Fatalf("slept %d times, want 0", len(*sleeps))
	}
}

func TestRetryCommit(t *testing.T) {
	ctx := t.Context()
	f := newFaultStore(t, failFirst("commit", 1))
	s := WithRetry(f, 2, time.Millisecond)
	recordSleeps(s)
	if err := Put(ctx, s, "k", []byte("payload")); err != nil {
		t.Fatalf("put: %v", err)
	}
	if f.count("commit") != 2 {
		t.Fatalf("commit called %d times, want 2", f.count("commit"))
	}
	got, err := ReadAll(ctx, f, "k")
	if err != nil || string(got) != "payload" {
		t.Fatalf("read = %q, %v", got, err)
	}
}

// A List that fails half way is retried without handing the callback any
// key twice; an error from the callback itself is not retried.
func TestRetryListResumes(t *testing.T) {
	ctx := t.Context()
	f := newFaultStore(t, nil)
	want := []string{"a", "b", "c", "d"}
	for _, k := range want {
		if err := Put(ctx, f, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	f.listFailAfter = 2
	s := WithRetry(f, 3, time.Millisecond)
	recordSleeps(s)
	var got []string
	if err := s.List(ctx, "", func(o ObjectInfo) error { got = append(got, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || f.count("list") != 2 {
		t.Fatalf("saw %q in %d list calls, want %q in 2", got, f.count("list"), want)
	}

	stop := errors.New("stop")
	err := s.List(ctx, "", func(ObjectInfo) error { return stop })
	if !errors.Is(err, stop) || f.count("list") != 3 {
		t.Fatalf("err = %v after %d list calls, want stop after 3", err, f.count("list"))
	}
}

func TestRetrySleepInterrupted(t *testing.T) {
	f := newFaultStore(t, failFirst("stat", 100))
	s := WithRetry(f, 5, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	s.(*retryStore).sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return sleepCtx(ctx, d)
	}
	_, err := s.Stat(ctx, "k")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) || f.count("stat") != 1 {
		t.Fatalf("err = %v after %d calls, want cancel after 1", err, f.count("stat"))
	}
}

// gateStore blocks every Stat until gate is closed and records how many
// Stats run at once.
type gateStore struct {
	Store
	gate     chan struct{}
	entered  chan struct{}
	inFlight atomic.Int64
	maxSeen  atomic.Int64
}

func (g *gateStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	n := g.inFlight.Add(1)
	for {
		m := g.maxSeen.Load()
		if n <= m || g.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	g.entered <- struct{}{}
	<-g.gate
	g.inFlight.Add(-1)
	return ObjectInfo{Key: key}, nil
}

func TestLimitCapsConcurrency(t *testing.T) {
	const limit, workers = 3, 12
	g := &gateStore{Store: newFaultStore(t, nil), gate: make(chan struct{}), entered: make(chan struct{}, workers)}
	s := WithLimit(g, limit)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			if _, err := s.Stat(t.Context(), fmt.Sprint(i)); err != nil {
				t.Error(err)
			}
		})
	}
	for range limit { // the limit is reached ...
		<-g.entered
	}
	close(g.gate) // ... and everybody else gets through afterwards
	wg.Wait()
	if got := g.maxSeen.Load(); got != limit {
		t.Fatalf("max in flight = %d, want %d", got, limit)
	}
	if got := len(g.entered); got != workers-limit {
		t.Fatalf("%d more stats entered, want %d", got, workers-limit)
	}
}

// An open upload and an unclosed reader each hold a slot; List lets its
// callback use the store.
func TestLimitHoldsSlots(t *testing.T) {
	ctx := t.Context()
	f := newFaultStore(t, nil)
	s := WithLimit(f, 1)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	// blocked reports whether a Stat would have to wait for a slot: with a
	// cancelled context it then never reaches the inner store.
	blocked := func() bool {
		before := f.count("stat")
		s.Stat(cancelled, "k")
		return f.count("stat") == before
	}
	if blocked() {
		t.Fatal("idle store is blocked")
	}

	u, err := s.Create(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !blocked() {
		t.Fatal("open upload does not hold its slot")
	}
	if _, err := u.Write([]byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if blocked() {
		t.Fatal("committed upload still holds its slot")
	}
	if err := u.Abort(ctx); err != nil { // must not release a second time
		t.Fatal(err)
	}

	r, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !blocked() {
		t.Fatal("open reader does not hold its slot")
	}
	r.Close()
	r.Close()
	if blocked() {
		t.Fatal("closed reader still holds its slot")
	}

	var inner []string
	err = s.List(ctx, "", func(o ObjectInfo) error {
		// The timeout turns a deadlock into a failure instead of a hang.
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		info, err := s.Stat(sctx, o.Key)
		inner = append(inner, info.Key)
		return err
	})
	if err != nil || !slices.Equal(inner, []string{"k"}) {
		t.Fatalf("list with nested stat: %q, %v", inner, err)
	}

	// Exactly one slot exists and is free: one holder fits, then no more.
	u2, err := s.Create(ctx, "k2")
	if err != nil {
		t.Fatal(err)
	}
	if !blocked() {
		t.Fatal("slot accounting off: a second operation got through")
	}
	u2.Abort(ctx)
	if blocked() {
		t.Fatal("aborted upload still holds its slot")
	}
}

func TestMetricsCount(t *testing.T) {
	ctx := t.Context()
	f := newFaultStore(t, nil)
	m := new(Metrics)
	s := WithMetrics(f, m)
	if err := Put(ctx, s, "a", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := Put(ctx, s, "b", []byte("defgh")); err != nil {
		t.Fatal(err)
	}
	u, err := s.Create(ctx, "aborted")
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("ignored"))
	u.Abort(ctx)
	if _, err := ReadAll(ctx, s, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.List(ctx, "", func(ObjectInfo) error { return nil }); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	s.List(ctx, "", func(ObjectInfo) error { return stop }) // caller's error: not counted
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	f.before = func(op string) error { return errTransient }
	if err := s.Delete(ctx, "b"); err == nil {
		t.Fatal("delete with injected fault succeeded")
	}
	want := MetricsSnapshot{Puts: 2, BytesWritten: 8, Gets: 2, BytesRead: 5, Stats: 1, Lists: 2, Deletes: 2, Errors: 1}
	if got := m.Snapshot(); got != want {
		t.Fatalf("metrics = %+v\nwant      %+v", got, want)
	}
}

func TestLoggingLines(t *testing.T) {
	ctx := t.Context()
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := WithLogging(newFaultStore(t, nil), l)
	if err := Put(ctx, s, "dir/k", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAll(ctx, s, "dir/k"); err != nil {
		t.Fatal(err)
	}
	s.Stat(ctx, "nope")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"level=DEBUG msg=\"objstore put\" op=put key=dir/k bytes=5 dur=",
		"level=DEBUG msg=\"objstore get\" op=get key=dir/k bytes=5 dur=",
		"level=DEBUG msg=\"objstore stat\" op=stat key=nope bytes=0 dur=",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if _, after, ok := strings.Cut(lines[i], " "); !ok || !strings.HasPrefix(after, w) {
			t.Errorf("line %d = %s\nwant prefix (after time) %s", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[2], "err=") || !strings.Contains(lines[2], "object not found") {
		t.Errorf("stat line lacks the error: %s", lines[2])
	}
	// Nothing is formatted when debug is off.
	buf.Reset()
	quiet := WithLogging(newFaultStore(t, nil), slog.New(slog.NewTextHandler(&buf, nil)))
	Put(ctx, quiet, "k", []byte("x"))
	if buf.Len() != 0 {
		t.Fatalf("info-level logger got: %s", buf.String())
	}
}

// A ranged read that fails half way is resumed for the missing bytes; an
// end-of-object answer is not retried.
func TestRetryRangedRead(t *testing.T) {
	ctx := t.Context()
	f := newFaultStore(t, nil)
	data := []byte("0123456789abcdefghij")
	if err := Put(ctx, f, "k", data); err != nil {
		t.Fatal(err)
	}
	f.before = failFirst("open", 1)
	s := WithRetry(f, 3, time.Millisecond)
	sleeps := recordSleeps(s)
	o, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer o.Close()
	f.before = failFirst("readat", 2)
	p := make([]byte, 12)
	n, err := o.ReadAt(p, 4)
	if n != 12 || err != nil || string(p) != string(data[4:16]) {
		t.Fatalf("ReadAt = %d, %v, %q; want 12, nil, %q", n, err, p, data[4:16])
	}
	if f.count("open") != 2 || f.count("readat") != 3 || len(*sleeps) != 3 {
		t.Fatalf("%d opens, %d reads, %d sleeps; want 2, 3, 3", f.count("open"), f.count("readat"), len(*sleeps))
	}
	n, err = o.ReadAt(p, 15)
	if n != 5 || err != io.EOF || f.count("readat") != 4 {
		t.Fatalf("ReadAt past the end = %d, %v after %d reads; want 5, io.EOF after 4", n, err, f.count("readat"))
	}
	f.before = failFirst("readat", 100)
	if _, err := o.ReadAt(p, 0); !errors.Is(err, errTransient) || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("ReadAt that keeps failing: %v", err)
	}
	f.before = nil
	if _, err := s.Open(ctx, "missing"); !errors.Is(err, ErrNotFound) || f.count("open") != 3 {
		t.Fatalf("open missing: %v after %d opens; want ErrNotFound after 3", err, f.count("open"))
	}
}

func TestLimitHoldsSlotWhileOpen(t *testing.T) {
	ctx := t.Context()
	f := newFaultStore(t, nil)
	if err := Put(ctx, f, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	s := WithLimit(f, 1)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	o, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(cancelled, "k"); !errors.Is(err, context.Canceled) || f.count("stat") != 0 {
		t.Fatalf("stat while an object is open: %v, %d stats; want it blocked", err, f.count("stat"))
	}
	o.Close()
	o.Close() // must not release twice
	s.Stat(cancelled, "k")
	if f.count("stat") != 1 {
		t.Fatal("closed object still holds its slot")
	}
	o2, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	if _, err := s.Open(cancelled, "k"); !errors.Is(err, context.Canceled) || f.count("open") != 2 {
		t.Fatalf("second open with one slot: %v after %d opens; want blocked", err, f.count("open"))
	}
}

func TestMetricsCountRangedReads(t *testing.T) {
	ctx := t.Context()
	f := newFaultStore(t, nil)
	if err := Put(ctx, f, "k", []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	m := new(Metrics)
	s := WithMetrics(f, m)
	o, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4)
	o.ReadAt(p, 0)
	o.ReadAt(p, 8) // 2 bytes and io.EOF: not an error
	f.before = failFirst("readat", 1)
	if _, err := o.ReadAt(p, 0); err == nil {
		t.Fatal("injected fault not returned")
	}
	o.Close()
	if _, err := s.Open(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	want := MetricsSnapshot{Opens: 2, RangeReads: 3, BytesRead: 4 + 2 + 2, Errors: 1}
	if got := m.Snapshot(); got != want {
		t.Fatalf("metrics = %+v\nwant      %+v", got, want)
	}
}

func TestLoggingOpen(t *testing.T) {
	ctx := t.Context()
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFaultStore(t, nil)
	if err := Put(ctx, f, "dir/k", []byte("hello world")); err != nil {
		t.Fatal(err)
	}
	s := WithLogging(f, l)
	o, err := s.Open(ctx, "dir/k")
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 5)
	o.ReadAt(p, 0)
	o.ReadAt(p, 6)
	f.before = failFirst("readat", 1)
	o.ReadAt(p, 0) // 2 bytes, then the fault
	o.Close()
	o.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"level=DEBUG msg=\"objstore read\" op=read key=dir/k bytes=2 dur=",
		"level=DEBUG msg=\"objstore open\" op=open key=dir/k bytes=12 dur=",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if _, after, ok := strings.Cut(lines[i], " "); !ok || !strings.HasPrefix(after, w) {
			t.Errorf("line %d = %s\nwant prefix (after time) %s", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[0], "off=0") || !strings.Contains(lines[0], "connection reset") || !strings.Contains(lines[1], "reads=3") {
		t.Errorf("lines lack offset, error or read count:\n%s", buf.String())
	}
}
