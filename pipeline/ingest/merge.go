package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"time"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// intervalInput names the rate input a time-series table's day segments
// record, as the telemetry jobs do (derived stages read sample_interval
// back: derive.Index.Interval).
var intervalInput = map[string]string{
	"telemetry_jar_raw":    "sample_interval",
	"telemetry_string_raw": "sample_interval",
	"telemetry_env":        "env_interval",
}

// typedWriter lists the tables the synthesizer writes with its typed
// writers, whose footers declare the sort order; the others are written
// by the row writer, which does not. Ingest writes the same footers so an
// ingested export is byte for byte the synthesizer's file.
var typedWriter = map[string]bool{"telemetry_jar_raw": true, "telemetry_string_raw": true, "ripple_capture": true, "event_window_sample": true}

// mergeAll merges every segment of rs with the lake's current rows of that
// segment into staged Parquet files.
func (e *engine) mergeAll(ctx context.Context, t *schema.Table, c *codec, rs *runs, mode int, daySeg bool) ([]*segOut, error) {
	keys := rs.keys()
	outs := make([]*segOut, len(keys))
	errs := make([]error, len(keys))
	// Segments merge in parallel: each is independent, and one fleet-day
	// of jar telemetry is 8 bucket files.
	sem := make(chan struct{}, e.cfg.Workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var mws []*worker
	for i, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			mw := e.newWorker(0, nil)
			outs[i], errs[i] = e.mergeSegment(ctx, t, c, rs, k, mode, daySeg, mw)
			mu.Lock()
			mws = append(mws, mw)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, mw := range mws {
		errs = append(errs, mw.finish())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return outs, nil
}

func (e *engine) mergeSegment(ctx context.Context, t *schema.Table, c *codec, rs *runs, k skey, mode int, daySeg bool, mw *worker) (*segOut, error) {
	o, df, err := e.segHeader(ctx, t, k, daySeg)
	if err != nil {
		return nil, err
	}
	var lakeKeys map[string]bool
	if df != nil {
		sp := newSpiller(rs, max(1024, e.cfg.MemoryRows/e.cfg.Workers)) // merges run Workers at a time
		var key []byte
		if mode == modeRejects {
			lakeKeys = map[string]bool{}
		}
		b := sp.buf(k)
		err := readFileRows(ctx, e.lk, c, df.Key, func(vals []val) error {
			if lakeKeys != nil {
				key = c.appendKey(key[:0], vals, c.pkIdx)
				lakeKeys[string(key)] = true
			}
			err := sp.add(b, func(dst []byte) []byte { return c.appendRecord(dst, vals, originLake, 0) })
			b = sp.buf(k)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("ingest %s: read the lake's %s segment %s: %w", e.t.Name, o.part, o.seg.Name, err)
		}
		sp.finish()
	}
	sw, err := e.newSegWriter(t, c, mode, mw, o, lakeKeys, false)
	if err != nil {
		return nil, err
	}
	m, err := rs.openMerge(k)
	if err != nil {
		sw.abort()
		return nil, err
	}
	defer m.close()
	for {
		r, err := m.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			err = sw.add(r)
		}
		if err != nil {
			sw.abort()
			return nil, err
		}
	}
	if err := sw.close(); err != nil {
		return nil, err
	}
	e.finalizeSeg(o)
	return o, nil
}

// segHeader prepares segment k's output: its partition, the lake's
// manifest of it and the segment's span and lineage so far; df is the
// lake's data file of the segment, if any.
func (e *engine) segHeader(ctx context.Context, t *schema.Table, k skey, daySeg bool) (*segOut, *lake.FileEntry, error) {
	p, segName, from, to, err := e.partOf(t, k, daySeg)
	if err != nil {
		return nil, nil, err
	}
	o := &segOut{k: k, part: p, files: map[int]bool{}}
	old, _, err := e.lk.ReadManifest(ctx, p)
	if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return nil, nil, err
	}
	seg := lake.Segment{Name: segName, From: from, To: to}
	if k.day == noDay {
		// Master data: an as-of snapshot known up to now.
		seg.From = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
		seg.To = time.UnixMicro(e.now).UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	}
	var df *lake.FileEntry
	if err == nil {
		o.old = old
		if se, ok := old.Segment(segName); ok {
			// Keep the committed span (an as-of segment is never rolled
			// back) and its lineage.
			if se.From.Before(seg.From) {
				seg.From = se.From
			}
			if se.To.After(seg.To) {
				seg.To = se.To
			}
			seg.Lineage = se.Lineage
		}
		if f, ok := dataFile(old, segName); ok {
			df = &f
		}
	}
	o.seg = seg
	return o, df, nil
}

// finalizeSeg adds the lineage of the input files that fed o (their
// hashes are known once every file is read).
func (e *engine) finalizeSeg(o *segOut) {
	o.seg.Lineage = unionInputs(o.seg.Lineage, e.sourceInputs(o.files))
}

// segWriter writes one segment's rows, arriving in merge order (sort key,
// then input rows in file order, then the lake's row), into a staged
// Parquet file: it drops the rows replaced by a key's first input row,
// rejects the input's later duplicates, and finds the sample interval.
// The merge of sorted runs and the fast path of presorted input both
// write through it, so both give the same bytes.
type segWriter struct {
	e        *engine
	t        *schema.Table
	c        *codec
	mode     int
	mw       *worker
	o        *segOut
	lakeKeys map[string]bool

	f    *os.File
	h    hash.Hash
	sink sink

	vals, scratch []val
	prevKey, key  []byte
	havePrev      bool
	prevPos       int64
	lastFile      int // the input file last added to o.files

	// Interval detection: the most common positive gap between samples of
	// one entity.
	ivName        string
	entCol, tsCol int
	gaps          map[int64]int64
	runGap, runN  int64
	lastEnt       [16]byte
	lastTS        int64
	haveLast      bool
}

func (e *engine) newSegWriter(t *schema.Table, c *codec, mode int, mw *worker, o *segOut, lakeKeys map[string]bool, zeroNull bool) (*segWriter, error) {
	f, err := os.CreateTemp(e.cfg.TempDir, "ingest-out-*.parquet")
	if err != nil {
		return nil, err
	}
	o.path = f.Name()
	h := sha256.New()
	sk, err := newSink(io.MultiWriter(f, h), t, c, zeroNull)
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &segWriter{e: e, t: t, c: c, mode: mode, mw: mw, o: o, lakeKeys: lakeKeys, f: f, h: h, sink: sk,
		vals: make([]val, len(t.Columns)), scratch: make([]val, len(t.Columns)),
		ivName: intervalInput[t.Name], entCol: -1, tsCol: -1, gaps: map[int64]int64{}, lastFile: -1}
	if w.ivName != "" && len(t.SortBy) >= 2 && t.Partition.MonthOf != "" {
		w.entCol, w.tsCol = t.ColumnIndex(t.SortBy[0]), t.ColumnIndex(t.SortBy[1])
	}
	return w, nil
}

// add handles the next record in merge order.
func (w *segWriter) add(r rec) error {
	t, c := w.t, w.c
	origin := r.origin()
	switch w.mode {
	case modeAdjacent:
		c.decode(r, w.vals)
		return w.addVals(r.sortKey(), origin, r.line(), w.vals)
	case modeMap:
		c.decode(r, w.scratch)
		w.key = c.appendKey(w.key[:0], w.scratch, c.pkIdx)
		first, inInput := w.e.inPK[string(w.key)]
		if origin == originLake && inInput {
			return nil // replaced by the input's row
		}
		if origin == originInput && r.line() != first {
			fi, line := splitPos(r.line())
			_, fline := splitPos(first)
			w.mw.fi = fi
			return w.mw.rejectCounted(line, t.PrimaryKey()[0], ReasonDuplicate,
				fmt.Sprintf("duplicate key %s (first at %s line %d)", keyString(t, c, w.scratch), w.e.fileName(first), fline), []byte(formatRecord(t, w.scratch)))
		}
	case modeRejects:
		if origin == originInput && w.lakeKeys != nil {
			c.decode(r, w.scratch)
			w.key = c.appendKey(w.key[:0], w.scratch, c.pkIdx)
			if w.lakeKeys[string(w.key)] {
				return nil // already recorded
			}
		}
	}
	c.decode(r, w.vals)
	return w.write(origin, r.line(), w.vals)
}

// addVals is add for a table whose sort key is its primary key (rows of
// one key are adjacent), given the row's sort key, origin, input position
// and values: the merge decodes them from a record, the fast path hands
// over the parsed values.
func (w *segWriter) addVals(sk []byte, origin byte, pos int64, vals []val) error {
	if w.havePrev && string(sk) == string(w.prevKey) {
		if origin == originInput {
			fi, line := splitPos(pos)
			_, fline := splitPos(w.prevPos)
			w.mw.fi = fi
			return w.mw.rejectCounted(line, w.t.PrimaryKey()[0], ReasonDuplicate,
				fmt.Sprintf("duplicate key %s (first at line %d)", keyString(w.t, w.c, vals), fline), []byte(formatRecord(w.t, vals)))
		}
		return nil // a duplicate, or the lake's row replaced by the input's
	}
	w.prevKey = append(w.prevKey[:0], sk...)
	w.havePrev = true
	w.prevPos = pos
	return w.write(origin, pos, vals)
}

// write writes one row that stays.
func (w *segWriter) write(origin byte, pos int64, vals []val) error {
	o := w.o
	if origin == originInput {
		o.accepted++
		if fi, _ := splitPos(pos); fi != w.lastFile {
			o.files[fi] = true
			w.lastFile = fi
		}
	}
	if w.entCol >= 0 {
		ent, ts := vals[w.entCol].u, vals[w.tsCol].i
		if w.haveLast && ent == w.lastEnt && ts > w.lastTS {
			// Runs of one gap are the rule: count them before the map.
			if g := ts - w.lastTS; g == w.runGap {
				w.runN++
			} else {
				w.gaps[w.runGap] += w.runN
				w.runGap, w.runN = g, 1
			}
		}
		w.lastEnt, w.lastTS, w.haveLast = ent, ts, true
	}
	if err := w.sink.add(vals); err != nil {
		return err
	}
	o.rows++
	return nil
}

// abort drops the staged file.
func (w *segWriter) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// close finishes the staged file and the segment's inputs (sample
// interval, content digest); the lineage is added by finalizeSeg.
func (w *segWriter) close() error {
	o := w.o
	if err := w.sink.close(); err != nil {
		w.f.Close()
		return fmt.Errorf("ingest %s: write %s segment %s: %w", w.e.t.Name, o.part, o.seg.Name, err)
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	o.sha = hex.EncodeToString(w.h.Sum(nil))
	if w.ivName != "" {
		w.gaps[w.runGap] += w.runN
		delete(w.gaps, 0)
		var best, bestN int64
		for g, n := range w.gaps {
			if n > bestN || (n == bestN && g < best) {
				best, bestN = g, n
			}
		}
		if best > 0 {
			o.seg.Inputs = append(o.seg.Inputs, w.ivName+"="+(time.Duration(best)*time.Microsecond).String())
		}
	}
	o.seg.Inputs = append(o.seg.Inputs, "content="+o.sha[:32])
	return nil
}

func keyString(t *schema.Table, c *codec, vals []val) string {
	s := ""
	for n, i := range c.pkIdx {
		if n > 0 {
			s += ","
		}
		s += t.Columns[i].Name + "=" + string(formatVal(nil, &t.Columns[i], &vals[i]))
	}
	return s
}

// sink writes merged rows into a segment's Parquet file.
type sink interface {
	add(vals []val) error
	close() error
}

// newSink returns the writer the synthesizer uses for t: the typed writer
// (sort order declared in the footer) for jar telemetry, the hot path of
// every fleet-day, and the registry row writer for the other tables.
//
// zeroNull asks for jar telemetry's faster sink that takes zero for NULL
// and refuses real zeros (errRealZero).
func newSink(w io.Writer, t *schema.Table, c *codec, zeroNull bool) (sink, error) {
	if t.Name == "telemetry_jar_raw" && zeroNull {
		tw, err := parquetio.NewTypedWriter[parquetio.JarRawRow](w, t)
		if err != nil {
			return nil, err
		}
		return &typedSink[parquetio.JarRawRow]{w: tw, batch: make([]parquetio.JarRawRow, 0, sinkBatch), conv: jarZeroRowOf}, nil
	}
	if t.Name == "telemetry_jar_raw" {
		tw, err := parquetio.NewTypedWriter[jarRow](w, t)
		if err != nil {
			return nil, err
		}
		return newJarSink(tw), nil
	}
	if t.Name == "telemetry_string_raw" {
		tw, err := parquetio.NewTypedWriter[parquetio.StringRawRow](w, t)
		if err != nil {
			return nil, err
		}
		return newStringSink(tw), nil
	}
	newWriter := parquetio.NewRowWriter
	if typedWriter[t.Name] {
		newWriter = parquetio.NewSortedRowWriter
	}
	pw, err := newWriter(w, t)
	if err != nil {
		return nil, err
	}
	s := &rowSink{w: pw, c: c, vals: make([][]val, sinkBatch), bufs: make([]parquet.Row, sinkBatch), batch: make([]parquet.Row, 0, sinkBatch)}
	return s, nil
}

const sinkBatch = 1024

type rowSink struct {
	w     *parquetio.RowWriter
	c     *codec
	vals  [][]val
	bufs  []parquet.Row
	batch []parquet.Row
}

func (s *rowSink) add(vals []val) error {
	n := len(s.batch)
	// Parquet values point into their val (UUID bytes): each row of the
	// batch keeps its own copy until the batch is written.
	if s.vals[n] == nil {
		s.vals[n] = make([]val, len(vals))
	}
	copy(s.vals[n], vals)
	s.bufs[n] = s.c.toParquet(s.vals[n], s.bufs[n])
	s.batch = append(s.batch, s.bufs[n])
	if len(s.batch) == sinkBatch {
		return s.flush()
	}
	return nil
}

func (s *rowSink) flush() error {
	if len(s.batch) == 0 {
		return nil
	}
	err := s.w.WriteRows(s.batch)
	s.batch = s.batch[:0]
	return err
}

func (s *rowSink) close() error { return errors.Join(s.flush(), s.w.Close()) }

// jarRow is telemetry_jar_raw's Parquet row with pointers for its optional
// decimals: unlike the synthesizer, an export may hold a real zero.
type jarRow = parquetio.JarRawNullableRow

// typedSink batches rows for a typed writer; conv builds one row.
type typedSink[T any] struct {
	w     *parquetio.TypedWriter[T]
	batch []T
	conv  func(v []val) (T, error)
	after func() // after each batch is written (nil: nothing)
}

func (s *typedSink[T]) add(v []val) error {
	r, err := s.conv(v)
	if err != nil {
		return err
	}
	s.batch = append(s.batch, r)
	if len(s.batch) == sinkBatch {
		return s.flush()
	}
	return nil
}

func (s *typedSink[T]) flush() error {
	if len(s.batch) == 0 {
		return nil
	}
	err := s.w.Write(s.batch)
	s.batch = s.batch[:0]
	if s.after != nil {
		s.after()
	}
	return err
}

func (s *typedSink[T]) close() error { return errors.Join(s.flush(), s.w.Close()) }

// optArena holds one batch's optional int32 values for the typed rows'
// pointers (Write copies them); sized for four a row, it never grows.
type optArena []int32

func newOptArena() *optArena {
	a := make(optArena, 0, 4*sinkBatch)
	return &a
}

func (a *optArena) ptr(v *val) *int32 {
	if v.null {
		return nil
	}
	*a = append(*a, int32(v.i))
	return &(*a)[len(*a)-1]
}

func (a *optArena) reset() { *a = (*a)[:0] }

// newJarSink writes jarRow: the optional fields point into opt.
func newJarSink(tw *parquetio.TypedWriter[jarRow]) *typedSink[jarRow] {
	opt := newOptArena()
	ptr := opt.ptr
	return &typedSink[jarRow]{w: tw, batch: make([]jarRow, 0, sinkBatch), after: opt.reset,
		conv: func(v []val) (jarRow, error) {
			return jarRow{TS: v[0].i, BatteryID: v[1].u, VoltageV: ptr(&v[2]), TemperatureC: ptr(&v[3]), ResistanceMOhm: ptr(&v[4]), ConductanceS: ptr(&v[5])}, nil
		}}
}

// newStringSink writes telemetry_string_raw through the synthesizer's row
// type and writer: the optional numbers point into opt (one batch), the
// flags at two static booleans, and a mode is one of the enum's strings.
func newStringSink(tw *parquetio.TypedWriter[parquetio.StringRawRow]) *typedSink[parquetio.StringRawRow] {
	opt := newOptArena()
	ptr := opt.ptr
	yes, no := true, false
	flag := func(v *val) *bool {
		switch {
		case v.null:
			return nil
		case v.i != 0:
			return &yes
		}
		return &no
	}
	modes := map[string]string{}
	for _, m := range schema.MustLookup("telemetry_string_raw").Column("mode").Type.Values {
		modes[m] = m
	}
	mode := func(v *val) string {
		if v.null {
			return ""
		}
		if m, ok := modes[string(v.b)]; ok {
			return m
		}
		return string(v.b) // the domain check refused it before; kept as read
	}
	return &typedSink[parquetio.StringRawRow]{w: tw, batch: make([]parquetio.StringRawRow, 0, sinkBatch), after: opt.reset,
		conv: func(v []val) (parquetio.StringRawRow, error) {
			return parquetio.StringRawRow{TS: v[0].i, StringID: v[1].u, VoltageV: ptr(&v[2]), CurrentA: ptr(&v[3]), Mode: mode(&v[4]),
				RippleVoltageRMSV: ptr(&v[5]), RippleCurrentRMSA: ptr(&v[6]), EqualizeFlag: flag(&v[7]), GeneratorTestFlag: flag(&v[8]),
				TransferEventFlag: flag(&v[9])}, nil
		}}
}

// errRealZero is a real zero offered to a sink that takes zero for NULL.
var errRealZero = errors.New("a real zero in an optional column")

// jarZeroRowOf builds the synthesizer's jar row, whose zero is NULL (the
// fast path's sink; its bytes equal jarRow's for the same values). It
// refuses a real zero in an optional column (errRealZero): the caller
// writes that segment through jarRow.
func jarZeroRowOf(v []val) (parquetio.JarRawRow, error) {
	_ = v[5]
	// A NULL's i is 0 (vals are cleared before parsing or decoding), which
	// the row takes for NULL.
	if (v[2].i == 0 && !v[2].null) || (v[3].i == 0 && !v[3].null) || (v[4].i == 0 && !v[4].null) || (v[5].i == 0 && !v[5].null) {
		return parquetio.JarRawRow{}, errRealZero
	}
	return parquetio.JarRawRow{TS: v[0].i, BatteryID: v[1].u, VoltageV: int32(v[2].i), TemperatureC: int32(v[3].i),
		ResistanceMOhm: int32(v[4].i), ConductanceS: int32(v[5].i)}, nil
}
