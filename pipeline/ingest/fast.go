package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
)

// The fast path: an export writes each segment's rows in the table's sort
// order (and a BMS historian often does), so sorting them into runs,
// spilling and merging them again is wasted work. The CSV workers hand
// their parsed records, chunk by chunk, to one sequencer that sees them in
// file order and streams each segment's rows straight into its staged
// Parquet file while they keep ascending. The first row of a segment that
// is out of order (or that reopens a segment already closed) switches the
// segment to the spill path: the rows written so far are read back with
// their input positions into sorted runs, and the rest of the segment's
// rows go to the runs too, so the merge sees every row exactly once.
// Segments the lake already holds rows of are merged as before.

// maxOpenFast bounds the presorted segments written at once (each holds up
// to a row group of encoded pages): opening one more closes the least
// recently used; a row for a closed segment falls back.
const maxOpenFast = 4

type fastPath struct {
	e *engine

	mu    sync.RWMutex
	spill map[skey]bool // segments on the spill path (workers spill their rows)

	// Owned by the sequencer.
	segs      map[skey]*fastSeg
	last      *fastSeg // the segment of the previous row (rows come in runs)
	open      int
	tick      int64
	vals      []val    // the row being streamed
	mw        *worker  // rejects of duplicates found while streaming
	sp        *spiller // rows of segments that fell back
	presorted int
	fellBack  int
}

// fastSeg is one segment streamed in sort order.
type fastSeg struct {
	k    skey
	sw   *segWriter // nil once closed
	o    *segOut
	pos  []byte // uvarint deltas of the input positions of the rows written
	last int64  // position of the last row written
	used int64
}

func newFastPath(e *engine) *fastPath {
	return &fastPath{e: e, spill: map[skey]bool{}, segs: map[skey]*fastSeg{}, mw: e.newWorker(0, nil), vals: make([]val, len(e.t.Columns)),
		sp: newSpiller(e.out, max(1024, e.cfg.MemoryRows/e.cfg.Workers))}
}

func (fp *fastPath) isSpill(k skey) bool {
	fp.mu.RLock()
	defer fp.mu.RUnlock()
	return fp.spill[k]
}

func (fp *fastPath) setSpill(k skey) {
	fp.mu.Lock()
	fp.spill[k] = true
	fp.mu.Unlock()
}

// parsed is one chunk's accepted rows, in file order, for the sequencer:
// each row's sort key, values, input position and segment. Values travel
// in a fixed-width form (no varints to decode, a sixth of the []val
// size, so less to move between cores); their bytes are copied into
// arena, as the chunk's buffer is recycled.
type parsed struct {
	seq   int64
	keyb  []byte // sort keys, back to back
	kends []int  // end of each row's sort key in keyb
	rows  []byte // fixed-width rows (codec.fixedSize bytes each)
	pos   []int64
	keys  []skey
	arena []byte
}

// add appends one accepted row of segment k at input position ps.
func (p *parsed) add(c *codec, k skey, vals []val, ps int64) {
	p.keyb = c.appendKey(p.keyb, vals, c.sortIdx)
	p.kends = append(p.kends, len(p.keyb))
	p.rows, p.arena = c.appendFixed(p.rows, p.arena, vals)
	p.pos = append(p.pos, ps)
	p.keys = append(p.keys, k)
}

// reset empties p for the next chunk. The arena is reused only when the
// sink copies every value (jar telemetry): the row sink's batch keeps
// byte values that alias it until the batch is written.
func (p *parsed) reset(reuse bool) {
	if reuse {
		p.arena = p.arena[:0]
	} else {
		p.arena = make([]byte, 0, cap(p.arena))
	}
	p.keyb, p.kends, p.rows, p.pos, p.keys = p.keyb[:0], p.kends[:0], p.rows[:0], p.pos[:0], p.keys[:0]
}

// take streams one chunk's rows.
func (fp *fastPath) take(ctx context.Context, p *parsed) error {
	c := fp.e.c
	start, size := 0, c.fixedSize
	for i, end := range p.kends {
		c.decodeFixed(p.rows[i*size:(i+1)*size], p.arena, fp.vals)
		if err := fp.add(ctx, p.keys[i], p.keyb[start:end], fp.vals, p.pos[i]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// add takes the next accepted input row of segment k, in file order: its
// sort key, values and input position.
func (fp *fastPath) add(ctx context.Context, k skey, sk []byte, vals []val, ps int64) error {
	e := fp.e
	s := fp.last
	if s == nil || s.k != k {
		s = fp.segs[k]
	}
	if s == nil {
		if fp.isSpill(k) {
			return fp.spillRow(k, vals, ps)
		}
		o, df, err := e.segHeader(ctx, e.t, k, e.daySeg)
		if err != nil {
			return err
		}
		if df != nil {
			// The lake holds rows of the segment: merge with them.
			fp.setSpill(k)
			return fp.spillRow(k, vals, ps)
		}
		if err := fp.makeRoom(); err != nil {
			return err
		}
		sw, err := e.newSegWriter(e.t, e.c, modeAdjacent, fp.mw, o, nil, true)
		if err != nil {
			return err
		}
		s = &fastSeg{k: k, sw: sw, o: o}
		fp.segs[k] = s
		fp.open++
	}
	if s.sw == nil || (s.sw.havePrev && bytes.Compare(sk, s.sw.prevKey) < 0) {
		if err := fp.fallback(s); err != nil {
			return err
		}
		return fp.spillRow(k, vals, ps)
	}
	fp.tick++
	s.used, fp.last = fp.tick, s
	n := s.o.rows
	if err := s.sw.addVals(sk, originInput, ps, vals); errors.Is(err, errRealZero) {
		// Rare: the merge's sink writes real zeros.
		if err := fp.fallback(s); err != nil {
			return err
		}
		return fp.spillRow(k, vals, ps)
	} else if err != nil {
		return err
	}
	if s.o.rows > n {
		s.pos = binary.AppendUvarint(s.pos, uint64(ps-s.last))
		s.last = ps
	}
	return nil
}

func (fp *fastPath) spillRow(k skey, vals []val, ps int64) error {
	return fp.sp.add(fp.sp.buf(k), func(dst []byte) []byte { return fp.e.c.appendRecord(dst, vals, originInput, ps) })
}

// makeRoom closes the least recently used open segment when maxOpenFast
// are open.
func (fp *fastPath) makeRoom() error {
	if fp.open < maxOpenFast {
		return nil
	}
	var lru *fastSeg
	for _, s := range fp.segs {
		if s.sw != nil && (lru == nil || s.used < lru.used) {
			lru = s
		}
	}
	return fp.closeSeg(lru)
}

func (fp *fastPath) closeSeg(s *fastSeg) error {
	if s.sw == nil {
		return nil
	}
	err := s.sw.close()
	s.sw = nil
	fp.open--
	return err
}

// fallback moves segment s to the spill path: the rows written so far go
// back into sorted runs with their input positions.
func (fp *fastPath) fallback(s *fastSeg) error {
	e := fp.e
	if err := fp.closeSeg(s); err != nil {
		return err
	}
	f, err := os.Open(s.o.path)
	if err != nil {
		return fmt.Errorf("ingest %s: fall back from presorted segment: %w", e.t.Name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	pos, p, n := s.pos, int64(0), int64(0)
	b := fp.sp.buf(s.k)
	err = readParquetRows(f, st.Size(), s.o.path, e.c, func(vals []val) error {
		d, w := binary.Uvarint(pos)
		if w <= 0 {
			return errors.New("more rows than positions")
		}
		pos, p, n = pos[w:], p+int64(d), n+1
		err := fp.sp.add(b, func(dst []byte) []byte { return e.c.appendRecord(dst, vals, originInput, p) })
		b = fp.sp.buf(s.k)
		return err
	})
	f.Close()
	os.Remove(s.o.path)
	if err == nil && (len(pos) > 0 || n != s.o.rows) {
		err = fmt.Errorf("read back %d of %d rows", n, s.o.rows)
	}
	if err != nil {
		return fmt.Errorf("ingest %s: fall back from presorted segment %s %s: %w", e.t.Name, s.o.part, s.o.seg.Name, err)
	}
	delete(fp.segs, s.k)
	if fp.last == s {
		fp.last = nil
	}
	fp.setSpill(s.k)
	fp.fellBack++
	return nil
}

// finish closes the presorted segments and returns their outputs. A
// segment that also has sorted runs (a Parquet file of the same load
// spilled rows of it) falls back first, so the merge sees all its rows.
func (fp *fastPath) finish() ([]*segOut, error) {
	fp.sp.finish()
	for _, k := range fp.e.out.keys() {
		if s, ok := fp.segs[k]; ok {
			if err := fp.fallback(s); err != nil {
				return nil, err
			}
		}
	}
	fp.sp.finish()
	var outs []*segOut
	var errs []error
	for _, s := range fp.segs {
		errs = append(errs, fp.closeSeg(s))
		outs = append(outs, s.o)
	}
	fp.presorted = len(outs)
	errs = append(errs, fp.mw.finish())
	return outs, errors.Join(errs...)
}

// parseCSV parses the chunks produce yields with e.cfg.Workers workers;
// with the fast path on, a sequencer takes their records in file order.
func (e *engine) parseCSV(ctx context.Context, fi int, plan *filePlan, produce func(ctx context.Context, yield func(chunk) error) error) error {
	if e.fast == nil {
		return parallel(ctx, e, fi, plan, produce, func(wk *worker, c chunk) error {
			err := wk.chunk(c)
			recycle(c)
			return err
		})
	}
	type item struct {
		c chunk
		p *parsed
	}
	nw := e.cfg.Workers
	in := make(chan item, nw)
	out := make(chan *parsed, nw)
	// Tokens bound the chunks in flight (parsed, or waiting for the
	// sequencer to reach them): memory stays a few chunks (~5 MB each for
	// jar telemetry), enough slack that a stage descheduled on a busy
	// machine does not stall the others at once.
	free := make(chan *parsed, 4*nw+4)
	reuse := e.t.Name == "telemetry_jar_raw"
	for range cap(free) {
		free <- &parsed{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	errs := make([]error, nw)
	for w := range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := e.newWorker(fi, plan)
			for it := range in {
				if errs[w] != nil || ctx.Err() != nil {
					continue
				}
				wk.batch, wk.cacheOK = it.p, false
				err := wk.chunk(it.c)
				recycle(it.c)
				if err != nil {
					errs[w] = err
					cancel()
					continue
				}
				wk.batch = nil
				select {
				case out <- it.p:
				case <-ctx.Done():
				}
			}
			if errs[w] == nil {
				errs[w] = wk.finish()
			}
		}()
	}
	seqErr := make(chan error, 1)
	go func() {
		pending := map[int64]*parsed{}
		var next int64
		var err error
		for p := range out {
			pending[p.seq] = p
			for q := pending[next]; q != nil; q = pending[next] {
				delete(pending, next)
				next++
				if err == nil {
					if err = e.fast.take(ctx, q); err != nil {
						cancel()
					}
				}
				q.reset(reuse)
				free <- q
			}
		}
		seqErr <- err
	}()
	var seq int64
	perr := produce(ctx, func(c chunk) error {
		var p *parsed
		select {
		case p = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.seq = seq
		seq++
		select {
		case in <- item{c, p}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(in)
	wg.Wait()
	close(out)
	if err := errors.Join(append(errs, <-seqErr)...); err != nil {
		return err
	}
	return perr
}
