package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Decorators add cross-cutting behaviour to any Store. A typical stack is
// WithLogging(WithMetrics(WithLimit(WithRetry(s, 4, 100ms), 16), m), l):
// retry innermost so metrics and logs see the final outcome.

const maxRetryBackoff = 30 * time.Second

// WithRetry retries Get, Open, Object.ReadAt, Stat, List, Delete and
// Upload.Commit up to attempts times in total, with exponential backoff from base plus jitter. Missing
// objects, invalid keys, context errors and errors returned by a List
// callback are final. A retried List skips keys the callback has already
// seen, relying on the lexical order every Store guarantees.
func WithRetry(s Store, attempts int, base time.Duration) Store {
	now := uint64(time.Now().UnixNano())
	return &retryStore{
		Store:    s,
		attempts: max(attempts, 1),
		base:     base,
		sleep:    sleepCtx,
		// Jitter only spreads retries out; it never reaches data, so a
		// time-seeded source is fine.
		rnd: rand.New(rand.NewPCG(now, now>>1|1)),
	}
}

type retryStore struct {
	Store
	attempts int
	base     time.Duration
	sleep    func(context.Context, time.Duration) error // replaced in tests

	mu  sync.Mutex
	rnd *rand.Rand
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff returns the delay before retry i (0-based): half of base*2^i
// plus up to the other half at random.
func (r *retryStore) backoff(i int) time.Duration {
	d := r.base
	for range i {
		if d >= maxRetryBackoff/2 {
			d = maxRetryBackoff
			break
		}
		d *= 2
	}
	d = min(d, maxRetryBackoff)
	if d <= 1 {
		return d
	}
	r.mu.Lock()
	j := r.rnd.Int64N(int64(d/2) + 1)
	r.mu.Unlock()
	return d/2 + time.Duration(j)
}

// finalErr marks an error that must not be retried.
type finalErr struct{ err error }

func (e finalErr) Error() string { return e.err.Error() }

func retryable(err error) bool {
	return !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExists) && !errors.Is(err, ErrInvalidKey) &&
		!errors.Is(err, errUploadDone) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func (r *retryStore) do(ctx context.Context, op func() error) error {
	for i := 0; ; i++ {
		err := op()
		if err == nil {
			return nil
		}
		if f, ok := err.(finalErr); ok {
			return f.err
		}
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
		if i+1 >= r.attempts {
			if i > 0 {
				return fmt.Errorf("after %d attempts: %w", i+1, err)
			}
			return err
		}
		if serr := r.sleep(ctx, r.backoff(i)); serr != nil {
			return errors.Join(err, serr)
		}
	}
}

func (r *retryStore) Create(ctx context.Context, key string) (Upload, error) {
	u, err := r.Store.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &retryUpload{Upload: u, r: r}, nil
}

type retryUpload struct {
	Upload
	r *retryStore
}

// Commit is retryable because both stores keep the staged data until a
// Commit succeeds.
func (u *retryUpload) Commit(ctx context.Context) error {
	return u.r.do(ctx, func() error { return u.Upload.Commit(ctx) })
}

func (r *retryStore) Get(ctx context.Context, key string) (rc io.ReadCloser, err error) {
	err = r.do(ctx, func() error {
		rc, err = r.Store.Get(ctx, key)
		return err
	})
	return rc, err
}

// Open retries the open and returns an Object whose ReadAt retries too: a
// failed ranged GET is re-sent for the bytes still missing. io.EOF and
// ErrChanged are answers, not faults.
func (r *retryStore) Open(ctx context.Context, key string) (o Object, err error) {
	err = r.do(ctx, func() error {
		o, err = r.Store.Open(ctx, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &retryObject{Object: o, r: r, ctx: ctx}, nil
}

type retryObject struct {
	Object
	r   *retryStore
	ctx context.Context
}

func (o *retryObject) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	err := o.r.do(o.ctx, func() error {
		n, err := o.Object.ReadAt(p[done:], off+int64(done))
		done += n
		if err == io.EOF || errors.Is(err, ErrChanged) || errors.Is(err, os.ErrClosed) {
			return finalErr{err}
		}
		return err
	})
	return done, err
}

func (r *retryStore) Stat(ctx context.Context, key string) (info ObjectInfo, err error) {
	err = r.do(ctx, func() error {
		info, err = r.Store.Stat(ctx, key)
		return err
	})
	return info, err
}

func (r *retryStore) Delete(ctx context.Context, key string) error {
	return r.do(ctx, func() error { return r.Store.Delete(ctx, key) })
}

// PutIfAbsent retries transient failures; a create whose response was
// lost and whose retry finds the object is recognised by the store itself
// (equal bytes count as done).
func (r *retryStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return r.do(ctx, func() error { return r.Store.PutIfAbsent(ctx, key, data) })
}

func (r *retryStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	var (
		last  string
		seen  bool
		fnErr bool
	)
	resume := func(o ObjectInfo) error {
		if seen && o.Key <= last {
			return nil // delivered before the failure
		}
		if err := fn(o); err != nil {
			fnErr = true
			return err
		}
		last, seen = o.Key, true
		return nil
	}
	return r.do(ctx, func() error {
		err := r.Store.List(ctx, prefix, resume)
		if err != nil && fnErr {
			return finalErr{err}
		}
		return err
	})
}

// WithLimit allows at most n concurrent operations on s (n < 1: no limit).
// An open Upload holds a slot from Create until Commit succeeds or Abort,
// and a Get or Open until its reader or Object is closed, so n also bounds upload buffers and
// open connections. A List holds its slot only while the store works, not
// while fn runs, so fn may use the same store. A goroutine holding an open
// upload or reader must not wait on n further operations, or it deadlocks.
func WithLimit(s Store, n int) Store {
	if n < 1 {
		return s
	}
	return &limitStore{Store: s, sem: make(chan struct{}, n)}
}

type limitStore struct {
	Store
	sem chan struct{}
}

func (l *limitStore) acquire(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limitStore) release() { <-l.sem }

// releaseOnce frees a slot exactly once however often it is called.
func (l *limitStore) releaseOnce() func() {
	var once sync.Once
	return func() { once.Do(l.release) }
}

func (l *limitStore) Create(ctx context.Context, key string) (Upload, error) {
	if err := l.acquire(ctx); err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	u, err := l.Store.Create(ctx, key)
	if err != nil {
		l.release()
		return nil, err
	}
	return &limitUpload{Upload: u, release: l.releaseOnce()}, nil
}

type limitUpload struct {
	Upload
	release func()
}

func (u *limitUpload) Commit(ctx context.Context) error {
	err := u.Upload.Commit(ctx)
	if err == nil {
		u.release()
	}
	return err
}

func (u *limitUpload) Abort(ctx context.Context) error {
	defer u.release()
	return u.Upload.Abort(ctx)
}

func (l *limitStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := l.acquire(ctx); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	rc, err := l.Store.Get(ctx, key)
	if err != nil {
		l.release()
		return nil, err
	}
	return &closeHook{ReadCloser: rc, after: l.releaseOnce()}, nil
}

// Open holds a slot until the Object is closed, like Get: it bounds open
// files and the readers' in-flight requests.
func (l *limitStore) Open(ctx context.Context, key string) (Object, error) {
	if err := l.acquire(ctx); err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	o, err := l.Store.Open(ctx, key)
	if err != nil {
		l.release()
		return nil, err
	}
	return &objectHook{Object: o, after: l.releaseOnce()}, nil
}

// objectHook runs after once the object is closed.
type objectHook struct {
	Object
	after func()
}

func (o *objectHook) Close() error {
	defer o.after()
	return o.Object.Close()
}

// closeHook runs after once the reader is closed.
type closeHook struct {
	io.ReadCloser
	after func()
}

func (c *closeHook) Close() error {
	defer c.after()
	return c.ReadCloser.Close()
}

func (l *limitStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := l.acquire(ctx); err != nil {
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	defer l.release()
	return l.Store.PutIfAbsent(ctx, key, data)
}

func (l *limitStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := l.acquire(ctx); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	defer l.release()
	return l.Store.Stat(ctx, key)
}

func (l *limitStore) Delete(ctx context.Context, key string) error {
	if err := l.acquire(ctx); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	defer l.release()
	return l.Store.Delete(ctx, key)
}

func (l *limitStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := l.acquire(ctx); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	held := true
	defer func() {
		if held {
			l.release()
		}
	}()
	return l.Store.List(ctx, prefix, func(o ObjectInfo) error {
		l.release()
		held = false
		if err := fn(o); err != nil {
			return err
		}
		if err := l.acquire(ctx); err != nil {
			return err
		}
		held = true
		return nil
	})
}

func (l *limitStore) SweepStaging(ctx context.Context, olderThan time.Duration) (int, error) {
	if err := l.acquire(ctx); err != nil {
		return 0, fmt.Errorf("sweep staging: %w", err)
	}
	defer l.release()
	return l.Store.SweepStaging(ctx, olderThan)
}

// Metrics counts store operations; all fields are safe for concurrent use.
// Puts and BytesWritten count committed uploads only; Gets, Opens,
// RangeReads, Stats, Lists and Deletes count calls. Errors counts failed operations, except missing
// objects (an expected answer) and errors returned by a List callback.
type Metrics struct {
	Puts         atomic.Int64
	BytesWritten atomic.Int64
	Gets         atomic.Int64
	Opens        atomic.Int64 // Open calls
	RangeReads   atomic.Int64 // ReadAt calls on opened objects
	BytesRead    atomic.Int64 // by Get readers and ReadAt
	Stats        atomic.Int64
	Lists        atomic.Int64
	Deletes      atomic.Int64
	Errors       atomic.Int64
}

// MetricsSnapshot is a point-in-time copy of Metrics.
type MetricsSnapshot struct {
	Puts, BytesWritten, Gets, Opens, RangeReads, BytesRead, Stats, Lists, Deletes, Errors int64
}

// Snapshot copies the counters (each read atomically, not all together).
func (m *Metrics) Snapshot() MetricsSnapshot {
	return MetricsSnapshot{
		Puts:         m.Puts.Load(),
		BytesWritten: m.BytesWritten.Load(),
		Gets:         m.Gets.Load(),
		Opens:        m.Opens.Load(),
		RangeReads:   m.RangeReads.Load(),
		BytesRead:    m.BytesRead.Load(),
		Stats:        m.Stats.Load(),
		Lists:        m.Lists.Load(),
		Deletes:      m.Deletes.Load(),
		Errors:       m.Errors.Load(),
	}
}

// WithMetrics counts s's operations into m.
func WithMetrics(s Store, m *Metrics) Store {
	return &metricsStore{Store: s, m: m}
}

type metricsStore struct {
	Store
	m *Metrics
}

func (s *metricsStore) fail(err error) error {
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.m.Errors.Add(1)
	}
	return err
}

func (s *metricsStore) Create(ctx context.Context, key string) (Upload, error) {
	u, err := s.Store.Create(ctx, key)
	if err != nil {
		return nil, s.fail(err)
	}
	return &metricsUpload{Upload: u, s: s}, nil
}

type metricsUpload struct {
	Upload
	s *metricsStore
	n int64
}

func (u *metricsUpload) Write(p []byte) (int, error) {
	n, err := u.Upload.Write(p)
	u.n += int64(n)
	return n, u.s.fail(err)
}

func (u *metricsUpload) Commit(ctx context.Context) error {
	if err := u.Upload.Commit(ctx); err != nil {
		return u.s.fail(err)
	}
	u.s.m.Puts.Add(1)
	u.s.m.BytesWritten.Add(u.n)
	return nil
}

func (u *metricsUpload) Abort(ctx context.Context) error {
	return u.s.fail(u.Upload.Abort(ctx))
}

func (s *metricsStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	s.m.Gets.Add(1)
	rc, err := s.Store.Get(ctx, key)
	if err != nil {
		return nil, s.fail(err)
	}
	return &countingReader{ReadCloser: rc, n: &s.m.BytesRead}, nil
}

func (s *metricsStore) Open(ctx context.Context, key string) (Object, error) {
	s.m.Opens.Add(1)
	o, err := s.Store.Open(ctx, key)
	if err != nil {
		return nil, s.fail(err)
	}
	return &metricsObject{Object: o, s: s}, nil
}

type metricsObject struct {
	Object
	s *metricsStore
}

// ReadAt counts io.EOF (a read reaching the end) as an answer, not an error.
func (o *metricsObject) ReadAt(p []byte, off int64) (int, error) {
	o.s.m.RangeReads.Add(1)
	n, err := o.Object.ReadAt(p, off)
	o.s.m.BytesRead.Add(int64(n))
	if err != nil && err != io.EOF {
		o.s.fail(err)
	}
	return n, err
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (s *metricsStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	s.m.Stats.Add(1)
	info, err := s.Store.Stat(ctx, key)
	return info, s.fail(err)
}

func (s *metricsStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	s.m.Lists.Add(1)
	fnErr := false
	err := s.Store.List(ctx, prefix, func(o ObjectInfo) error {
		err := fn(o)
		fnErr = err != nil
		return err
	})
	if fnErr {
		return err
	}
	return s.fail(err)
}

func (s *metricsStore) Delete(ctx context.Context, key string) error {
	s.m.Deletes.Add(1)
	return s.fail(s.Store.Delete(ctx, key))
}

func (s *metricsStore) SweepStaging(ctx context.Context, olderThan time.Duration) (int, error) {
	n, err := s.Store.SweepStaging(ctx, olderThan)
	return n, s.fail(err)
}

// WithLogging writes one debug line per operation to l (slog.Default() if
// nil) with the key, bytes moved and duration. Reads are logged when the
// reader is closed and uploads at Commit or Abort, so the line carries the
// real byte count and the full duration.
func WithLogging(s Store, l *slog.Logger) Store {
	if l == nil {
		l = slog.Default()
	}
	return &logStore{Store: s, l: l}
}

type logStore struct {
	Store
	l *slog.Logger
}

func (s *logStore) log(ctx context.Context, op, key string, bytes int64, start time.Time, err error, extra ...slog.Attr) {
	if !s.l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := append([]slog.Attr{
		slog.String("op", op),
		slog.String("key", key),
		slog.Int64("bytes", bytes),
		slog.Duration("dur", time.Since(start)),
	}, extra...)
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	s.l.LogAttrs(ctx, slog.LevelDebug, "objstore "+op, attrs...)
}

func (s *logStore) Create(ctx context.Context, key string) (Upload, error) {
	start := time.Now()
	u, err := s.Store.Create(ctx, key)
	if err != nil {
		s.log(ctx, "create", key, 0, start, err)
		return nil, err
	}
	return &logUpload{Upload: u, s: s, key: key, start: start}, nil
}

type logUpload struct {
	Upload
	s     *logStore
	key   string
	start time.Time
	n     int64
	done  bool
}

func (u *logUpload) Write(p []byte) (int, error) {
	n, err := u.Upload.Write(p)
	u.n += int64(n)
	return n, err
}

func (u *logUpload) Commit(ctx context.Context) error {
	err := u.Upload.Commit(ctx)
	u.s.log(ctx, "put", u.key, u.n, u.start, err)
	u.done = err == nil
	return err
}

func (u *logUpload) Abort(ctx context.Context) error {
	err := u.Upload.Abort(ctx)
	if !u.done { // the deferred Abort after a Commit is not news
		u.done = true
		u.s.log(ctx, "abort", u.key, u.n, u.start, err)
	}
	return err
}

func (s *logStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := s.Store.Get(ctx, key)
	if err != nil {
		s.log(ctx, "get", key, 0, start, err)
		return nil, err
	}
	var n atomic.Int64
	cr := &countingReader{ReadCloser: rc, n: &n}
	var once sync.Once
	return &closeHook{ReadCloser: cr, after: func() {
		once.Do(func() { s.log(ctx, "get", key, n.Load(), start, nil) })
	}}, nil
}

// Open logs one line when the object is closed, with the bytes and the
// number of ranged reads it served; a failed ReadAt is logged as it happens.
func (s *logStore) Open(ctx context.Context, key string) (Object, error) {
	start := time.Now()
	o, err := s.Store.Open(ctx, key)
	if err != nil {
		s.log(ctx, "open", key, 0, start, err)
		return nil, err
	}
	lo := &logObject{Object: o, s: s, ctx: ctx, key: key, start: start}
	var once sync.Once
	return &objectHook{Object: lo, after: func() {
		once.Do(func() {
			s.log(ctx, "open", key, lo.n.Load(), start, nil, slog.Int64("reads", lo.reads.Load()))
		})
	}}, nil
}

type logObject struct {
	Object
	s        *logStore
	ctx      context.Context
	key      string
	start    time.Time
	n, reads atomic.Int64
}

func (o *logObject) ReadAt(p []byte, off int64) (int, error) {
	start := time.Now()
	n, err := o.Object.ReadAt(p, off)
	o.n.Add(int64(n))
	o.reads.Add(1)
	if err != nil && err != io.EOF {
		o.s.log(o.ctx, "read", o.key, int64(n), start, err, slog.Int64("off", off))
	}
	return n, err
}

func (s *logStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	start := time.Now()
	info, err := s.Store.Stat(ctx, key)
	s.log(ctx, "stat", key, info.Size, start, err)
	return info, err
}

func (s *logStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	start := time.Now()
	var objects, bytes int64
	err := s.Store.List(ctx, prefix, func(o ObjectInfo) error {
		objects++
		bytes += o.Size
		return fn(o)
	})
	s.log(ctx, "list", prefix, bytes, start, err, slog.Int64("objects", objects))
	return err
}

func (s *logStore) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.Store.Delete(ctx, key)
	s.log(ctx, "delete", key, 0, start, err)
	return err
}

func (s *logStore) SweepStaging(ctx context.Context, olderThan time.Duration) (int, error) {
	start := time.Now()
	n, err := s.Store.SweepStaging(ctx, olderThan)
	s.log(ctx, "sweep", "", 0, start, err, slog.Int("removed", n), slog.Duration("older_than", olderThan))
	return n, err
}
