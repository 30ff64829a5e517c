package ingest

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
)

// skey identifies one output segment: the UTC day (day segments) or the
// month's first day (monthly as-of segments), or noDay for unpartitioned
// tables, and the bucket (-1 when not bucketed).
type skey struct {
	day    int32
	bucket int16
}

const noDay = -1 << 31

// runs holds every sorted run of every segment: spilled files and, at the
// end, the buffers still in memory. Memory is bounded by the spill
// threshold times the number of buffers, independent of the input size.
type runs struct {
	dir string
	mu  sync.Mutex
	mem map[skey][][]rec
	fs  map[skey][]string
	n   int
}

func newRuns(dir string) *runs {
	return &runs{dir: dir, mem: map[skey][][]rec{}, fs: map[skey][]string{}}
}

func (r *runs) keys() []skey {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[skey]bool{}
	for k := range r.mem {
		seen[k] = true
	}
	for k := range r.fs {
		seen[k] = true
	}
	out := make([]skey, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.SortFunc(out, compareSkey)
	return out
}

func compareSkey(a, b skey) int {
	if a.day != b.day {
		return int(int64(a.day) - int64(b.day))
	}
	return int(a.bucket) - int(b.bucket)
}

// cleanup removes the spilled files.
func (r *runs) cleanup() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, fs := range r.fs {
		for _, f := range fs {
			os.Remove(f)
		}
	}
	r.fs = map[skey][]string{}
	r.mem = map[skey][][]rec{}
}

// spiller buffers records per segment and spills sorted runs when its
// buffers hold more than limit records. One per goroutine.
type spiller struct {
	r     *runs
	limit int
	bufs  map[skey]*segBuf
	rows  int
}

type segBuf struct {
	arena []byte
	recs  []rec
}

func newSpiller(r *runs, limit int) *spiller {
	return &spiller{r: r, limit: limit, bufs: map[skey]*segBuf{}}
}

// buf returns the buffer of k; callers append a record with add.
func (s *spiller) buf(k skey) *segBuf {
	b := s.bufs[k]
	if b == nil {
		b = &segBuf{arena: make([]byte, 0, 64<<10)}
		s.bufs[k] = b
	}
	return b
}

// add appends one encoded record (built by enc into the arena).
func (s *spiller) add(b *segBuf, enc func(dst []byte) []byte) error {
	start := len(b.arena)
	if cap(b.arena)-start < 4<<10 {
		// A new arena chunk; records already taken keep the old one.
		// Fixed-size chunks: doubling would leave up to half of the
		// buffered bytes as slack.
		b.arena = make([]byte, 0, 1<<20)
		start = 0
	}
	b.arena = enc(b.arena)
	b.recs = append(b.recs, rec(b.arena[start:len(b.arena):len(b.arena)]))
	s.rows++
	if s.rows >= s.limit {
		return s.spill()
	}
	return nil
}

// spill writes every buffer as a sorted run file.
func (s *spiller) spill() error {
	for k, b := range s.bufs {
		if len(b.recs) == 0 {
			continue
		}
		slices.SortFunc(b.recs, compareRec)
		f, err := os.CreateTemp(s.r.dir, "ingest-run-*")
		if err != nil {
			return fmt.Errorf("spill sorted run: %w", err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for _, r := range b.recs {
			w.Write(r)
		}
		err = errors.Join(w.Flush(), f.Close())
		s.r.mu.Lock()
		s.r.fs[k] = append(s.r.fs[k], f.Name())
		s.r.mu.Unlock()
		if err != nil {
			return fmt.Errorf("spill sorted run: %w", err)
		}
		delete(s.bufs, k)
	}
	s.rows = 0
	return nil
}

// finish hands the buffers still in memory over as sorted runs.
func (s *spiller) finish() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	for k, b := range s.bufs {
		if len(b.recs) == 0 {
			continue
		}
		slices.SortFunc(b.recs, compareRec)
		s.r.mem[k] = append(s.r.mem[k], b.recs)
	}
	s.bufs = map[skey]*segBuf{}
	s.rows = 0
}

// source is one sorted run being merged.
type source interface {
	next() (rec, error) // io.EOF at the end
	close()
}

type memSource struct{ recs []rec }

func (m *memSource) next() (rec, error) {
	if len(m.recs) == 0 {
		return nil, io.EOF
	}
	r := m.recs[0]
	m.recs = m.recs[1:]
	return r, nil
}
func (m *memSource) close() {}

type fileSource struct {
	f   *os.File
	r   *bufio.Reader
	buf []byte
}

func openFileSource(name string) (*fileSource, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read sorted run: %w", err)
	}
	return &fileSource{f: f, r: bufio.NewReaderSize(f, 64<<10)}, nil
}

func (s *fileSource) next() (rec, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read sorted run: %w", err)
	}
	n := int(binary.LittleEndian.Uint32(hdr[:]))
	if n < 4 {
		return nil, fmt.Errorf("read sorted run %s: corrupt record", s.f.Name())
	}
	// Records are carved from slabs that are never reused: a record handed
	// out may still be referenced (the merge's previous top, a batch of
	// rows not yet written), and the GC frees a slab with its last one.
	if cap(s.buf)-len(s.buf) < n {
		s.buf = make([]byte, 0, max(64<<10, n))
	}
	start := len(s.buf)
	s.buf = append(s.buf, hdr[:]...)
	s.buf = s.buf[:start+n]
	r := s.buf[start : start+n : start+n]
	if _, err := io.ReadFull(s.r, r[4:]); err != nil {
		return nil, fmt.Errorf("read sorted run: %w", err)
	}
	return rec(r), nil
}
func (s *fileSource) close() { s.f.Close() }

// merger is a k-way merge of sorted sources.
type merger struct {
	h mergeHeap
}

type mergeItem struct {
	r   rec
	src source
}

type mergeHeap []mergeItem

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return compareRec(h[i].r, h[j].r) < 0 }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// openMerge merges the runs of k.
func (r *runs) openMerge(k skey) (*merger, error) {
	r.mu.Lock()
	mem := r.mem[k]
	files := r.fs[k]
	r.mu.Unlock()
	m := &merger{}
	var srcs []source
	for _, recs := range mem {
		srcs = append(srcs, &memSource{recs: recs})
	}
	for _, f := range files {
		s, err := openFileSource(f)
		if err != nil {
			m.close()
			return nil, err
		}
		srcs = append(srcs, s)
	}
	for _, s := range srcs {
		x, err := s.next()
		if errors.Is(err, io.EOF) {
			s.close()
			continue
		}
		if err != nil {
			m.close()
			return nil, err
		}
		m.h = append(m.h, mergeItem{x, s})
	}
	heap.Init(&m.h)
	return m, nil
}

// next returns the smallest record, valid until the call after next.
func (m *merger) next() (rec, error) {
	if len(m.h) == 0 {
		return nil, io.EOF
	}
	top := m.h[0]
	x, err := top.src.next()
	switch {
	case errors.Is(err, io.EOF):
		top.src.close()
		heap.Pop(&m.h)
	case err != nil:
		return nil, err
	default:
		m.h[0].r = x
		heap.Fix(&m.h, 0)
	}
	return top.r, nil
}

func (m *merger) close() {
	for _, it := range m.h {
		it.src.close()
	}
	m.h = nil
}
