package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/schema"
)

// Version enters the fingerprint of every segment ingest writes.
const Version = "ingest-2026.11.29-1"

// Merge modes: how rows sharing a key are found.
const (
	// modeAdjacent: the sort key is the primary key, so rows sharing a key
	// are adjacent in the merge (telemetry, master data).
	modeAdjacent = iota
	// modeMap: the primary key is not the sort key (transactional tables):
	// keys are held in maps, which these small tables afford.
	modeMap
	// modeRejects: rejects already recorded (same file, line, column and
	// reason) are kept, not duplicated.
	modeRejects
)

type engine struct {
	cfg     Config
	lk      *lake.Lake
	t       *schema.Table
	c       *codec
	mode    int
	mapping *Mapping
	now     int64 // rejected_at, micros

	decRange []unscaledRange // per column

	monthCol, bucketCol, buckets int
	daySeg                       bool
	lo, hi                       int64 // partition time bounds, micros

	fkSets map[int]map[[16]byte]struct{} // by target column
	codes  map[string]codeRef            // by code column name
	lakePK map[string]skey               // modeMap: keys already in the lake

	pkMu sync.Mutex
	inPK map[string]int64 // modeMap: key -> first position (file<<40 | line)

	// blob is set when t is a blob table (its samples become objects of
	// the parent's segments); parentBlob when t is a blob's parent.
	blob, parentBlob *blobTarget

	out, rej *runs
	fast     *fastPath // nil: every row is spilled and merged
	rc       *codec
	files    []srcFile
	hashes   []string

	rows, rejected atomic.Int64
	reasonMu       sync.Mutex
	byReason       map[string]int64
	firstErrs      []string
	warnings       []string
}

// codeRef resolves a referenced table's code (battery_code) to its id.
type codeRef struct {
	target int // FK column it fills
	ids    map[string][16]byte
	table  string
}

const posFileShift = 40

func pos(file int, line int64) int64      { return int64(file)<<posFileShift | line }
func splitPos(p int64) (int, int64)       { return int(p >> posFileShift), p & (1<<posFileShift - 1) }
func (e *engine) fileName(p int64) string { f, _ := splitPos(p); return e.files[f].name }

// daySegmented says whether a month-partitioned table is written a file a
// day (time series, as the telemetry jobs do) or as one as-of history per
// month (transactions).
func daySegmented(t *schema.Table) bool {
	return t.Partition.BucketOf != "" || strings.HasPrefix(t.Name, "telemetry_") || t.Name == "ripple_capture" || t.Name == "rejects"
}

// dedupeKey is the key rows replace each other by.
func dedupeKey(t *schema.Table) []string {
	if t.Name == "rejects" {
		return []string{"source_file", "source_row", "source_column", "target_table", "reason"}
	}
	return t.PrimaryKey()
}

func mergeMode(t *schema.Table) int {
	if t.Name == "rejects" {
		return modeRejects
	}
	pk := t.PrimaryKey()
	if len(pk) == len(t.SortBy) {
		same := true
		for _, c := range pk {
			if !slices.Contains(t.SortBy, c) {
				same = false
			}
		}
		if same {
			return modeAdjacent
		}
	}
	return modeMap
}

func run(ctx context.Context, cfg Config) (sum Summary, err error) {
	t, _ := Target(cfg.Table)
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.MemoryRows == 0 {
		cfg.MemoryRows = DefaultMemoryRows
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	tmp, err := os.MkdirTemp(cfg.TempDir, "battlake-ingest-")
	if err != nil {
		return sum, fmt.Errorf("ingest: %w", err)
	}
	defer os.RemoveAll(tmp)
	cfg.TempDir = tmp

	e := newEngine(cfg, t)
	if cfg.Mapping != "" {
		if e.mapping, err = LoadMapping(cfg.Mapping, t); err != nil {
			return sum, err
		}
	}
	defer e.out.cleanup()
	defer e.rej.cleanup()

	lk, err := pipeline.OpenLake(ctx, cfg.Lake, cfg.LakeOptions)
	if err != nil {
		return sum, err
	}
	defer lk.Store.Close()
	e.lk = lk
	files, done, err := listSources(ctx, cfg)
	if err != nil {
		return sum, err
	}
	defer done()
	e.files = files
	e.hashes = make([]string, len(files))
	if err := e.loadReferences(ctx); err != nil {
		return sum, err
	}
	if err := e.addSelfKeys(ctx); err != nil {
		return sum, err
	}
	for i := range files {
		if err := e.readFile(ctx, i); err != nil {
			return e.summary(), err
		}
	}
	return e.finish(ctx)
}

// newEngine sets up an ingest of cfg (defaults applied) into t.
func newEngine(cfg Config, t *schema.Table) *engine {
	tmp := cfg.TempDir
	e := &engine{cfg: cfg, t: t, c: newCodec(t, dedupeKey(t)), mode: mergeMode(t), now: cfg.Now.UTC().Truncate(time.Microsecond).UnixMicro(),
		out: newRuns(tmp), rej: newRuns(tmp), byReason: map[string]int64{}, inPK: map[string]int64{}, mapping: &Mapping{}}
	rt := schema.MustLookup("rejects")
	e.rc = newCodec(rt, dedupeKey(rt))
	e.monthCol, e.bucketCol, e.buckets = -1, -1, 0
	if t.Partition.MonthOf != "" {
		e.monthCol = t.ColumnIndex(t.Partition.MonthOf)
		e.daySeg = daySegmented(t)
	}
	if t.Partition.BucketOf != "" && t.Partition.Buckets > 1 {
		e.bucketCol, e.buckets = t.ColumnIndex(t.Partition.BucketOf), t.Partition.Buckets
	}
	if e.mode == modeAdjacent {
		e.fast = newFastPath(e)
	}
	e.blob, e.parentBlob = newBlobTarget(t), blobParentOf(t)
	e.decRange = make([]unscaledRange, len(t.Columns))
	for i := range t.Columns {
		e.decRange[i] = newUnscaledRange(&t.Columns[i])
	}
	e.lo = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	e.hi = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	if !cfg.From.IsZero() {
		e.lo = max(e.lo, cfg.From.UnixMicro())
	}
	if !cfg.To.IsZero() {
		e.hi = min(e.hi, cfg.To.UnixMicro())
	}
	return e
}

func (e *engine) summary() Summary {
	s := Summary{Table: e.t.Name, Files: len(e.files), Rows: e.rows.Load(), Rejected: e.rejected.Load(), ByReason: map[string]int64{}, Warnings: e.warnings}
	e.reasonMu.Lock()
	for k, v := range e.byReason {
		s.ByReason[k] = v
	}
	e.reasonMu.Unlock()
	return s
}

// --- references -------------------------------------------------------------

// loadReferences loads the foreign-key sets and code maps the table's
// columns need from the lake's committed data, and the lake's keys of a
// map-mode table.
func (e *engine) loadReferences(ctx context.Context) error {
	e.fkSets = map[int]map[[16]byte]struct{}{}
	e.codes = map[string]codeRef{}
	byTable := map[string]map[[16]byte]struct{}{}
	for i := range e.t.Columns {
		col := &e.t.Columns[i]
		if col.FK == nil {
			continue
		}
		rt, ok := schema.Lookup(col.FK.Table)
		if !ok || rt.Column(col.FK.Column) == nil || rt.Column(col.FK.Column).Type.Kind != schema.KindUUID {
			continue
		}
		set, ok := byTable[rt.Name]
		if !ok {
			set = map[[16]byte]struct{}{}
			codeCol := codeColumn(rt)
			ids := map[string][16]byte{}
			ki, ci := rt.ColumnIndex(col.FK.Column), -1
			if codeCol != "" {
				ci = rt.ColumnIndex(codeCol)
			}
			err := readTable(ctx, e.lk, rt, func(_ lake.Partition, _ string, vals []val) error {
				if v := vals[ki]; !v.null {
					set[v.u] = struct{}{}
					if ci >= 0 && !vals[ci].null {
						ids[string(vals[ci].b)] = v.u
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("ingest %s: load %s for foreign key %s: %w", e.t.Name, rt.Name, col.Name, err)
			}
			byTable[rt.Name] = set
			if codeCol != "" {
				if _, dup := e.codes[codeCol]; !dup {
					e.codes[codeCol] = codeRef{target: i, ids: ids, table: rt.Name}
				}
			}
		}
		e.fkSets[i] = set
	}
	if e.blob != nil {
		if err := e.loadParents(ctx); err != nil {
			return err
		}
	}
	if e.mode == modeMap {
		e.lakePK = map[string]skey{}
		var key []byte
		err := readTable(ctx, e.lk, e.t, func(p lake.Partition, seg string, vals []val) error {
			key = e.c.appendKey(key[:0], vals, e.c.pkIdx)
			e.lakePK[string(key)] = e.segOfPartition(p, seg)
			return nil
		})
		if err != nil {
			return fmt.Errorf("ingest %s: load keys: %w", e.t.Name, err)
		}
	}
	return nil
}

// codeColumn is the unique code a table's rows are known by to people
// (battery_code, string_code, location_code, ...): its first UNIQUE
// VARCHAR column.
func codeColumn(t *schema.Table) string {
	for _, c := range t.Columns {
		if c.Unique && c.Type.Kind == schema.KindVarchar {
			return c.Name
		}
	}
	return ""
}

func (e *engine) segOfPartition(p lake.Partition, seg string) skey {
	k := skey{day: noDay, bucket: int16(p.Bucket)}
	if seg != lake.AsOfName {
		if d, err := time.Parse(time.DateOnly, seg); err == nil {
			k.day = int32(d.Unix() / 86400)
		}
	} else if p.Month != "" {
		if m, err := time.Parse("2006-01", p.Month); err == nil {
			k.day = int32(m.Unix() / 86400)
		}
	}
	return k
}

// partition and segment of k.
func (e *engine) partOf(t *schema.Table, k skey, daySeg bool) (lake.Partition, string, time.Time, time.Time, error) {
	month := ""
	var from, to time.Time
	if k.day != noDay {
		d := time.Unix(int64(k.day)*86400, 0).UTC()
		month = lake.Month(d)
		if daySeg {
			from, to = d, d.AddDate(0, 0, 1)
		} else {
			from = time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
			to = from.AddDate(0, 1, 0)
		}
	}
	p, err := lake.NewPartition(t, month, int(k.bucket))
	if err != nil {
		return p, "", from, to, err
	}
	seg := lake.AsOfName
	if daySeg && k.day != noDay {
		seg = from.Format(time.DateOnly)
	}
	return p, seg, from, to, nil
}

// --- reading input ------------------------------------------------------------

func (e *engine) readFile(ctx context.Context, fi int) error {
	f := e.files[fi]
	if f.format == "parquet" {
		return e.readParquet(ctx, fi)
	}
	rc, err := f.open(ctx)
	if err != nil {
		return fmt.Errorf("ingest: open %s: %w", f.name, err)
	}
	defer rc.Close()
	h := sha256.New()
	sp := newSplitter(rc, 1, h)
	first, err := sp.next()
	if errors.Is(err, io.EOF) {
		e.hashes[fi] = hex.EncodeToString(h.Sum(nil))
		e.warnings = append(e.warnings, fmt.Sprintf("file %s: empty (no header)", f.name))
		return nil
	}
	if err != nil {
		return fmt.Errorf("ingest: read %s: %w", f.name, err)
	}
	data := first.data
	data = trimBOM(data)
	n, _ := recordEnd(data)
	hdrRec := trimEOL(data[:n])
	hdrFields, _, herr := splitFields(hdrRec, nil, nil)
	if herr != nil {
		return fmt.Errorf("ingest: file %s line 1: %w: %w", f.name, ErrHeader, herr)
	}
	header := make([]string, len(hdrFields))
	for i, h := range hdrFields {
		header[i] = strings.TrimSpace(string(h))
	}
	plan, err := e.plan(fi, header)
	if err != nil {
		return err
	}
	first.data = data[n:]
	first.line++
	if first.last && n == len(data) {
		first.data = nil
	}
	return e.parseCSV(ctx, fi, plan, func(_ context.Context, yield func(chunk) error) error {
		if len(first.data) > 0 {
			if err := yield(first); err != nil {
				return err
			}
		}
		for {
			c, err := sp.next()
			if errors.Is(err, io.EOF) {
				e.hashes[fi] = hex.EncodeToString(h.Sum(nil))
				return nil
			}
			if err != nil {
				return fmt.Errorf("ingest: read %s: %w", f.name, err)
			}
			if err := yield(c); err != nil {
				return err
			}
		}
	})
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// parallel runs e.cfg.Workers workers over the items produce yields, each
// handled by consume with the worker's own state; the first error cancels.
func parallel[T any](ctx context.Context, e *engine, fi int, plan *filePlan, produce func(ctx context.Context, yield func(T) error) error, consume func(wk *worker, item T) error) error {
	ch := make(chan T, e.cfg.Workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, e.cfg.Workers)
	for w := 0; w < e.cfg.Workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			wk := e.newWorker(fi, plan)
			for it := range ch {
				if errs[w] != nil {
					continue
				}
				if err := consume(wk, it); err != nil {
					errs[w] = err
					cancel()
				}
			}
			if errs[w] == nil {
				errs[w] = wk.finish()
			}
		}(w)
	}
	perr := produce(ctx, func(it T) error {
		select {
		case ch <- it:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(ch)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return perr
}

// filePlan maps one file's header onto the table.
type filePlan struct {
	fi      int
	nfields int
	header  []string
	src     []int // per target column: source field, or -1
	code    []int // per target column: source field of a code resolving it, or -1
	codeRef []*codeRef
	conv    []conv
	hasConv []bool
	// missing names a required column the file lacks: every row is
	// rejected (accepted + rejected = input rows still holds).
	missing string
}

func (e *engine) plan(fi int, header []string) (*filePlan, error) {
	f := e.files[fi]
	t := e.t
	p := &filePlan{fi: fi, nfields: len(header), header: header, src: make([]int, len(t.Columns)), code: make([]int, len(t.Columns)),
		codeRef: make([]*codeRef, len(t.Columns)), conv: make([]conv, len(t.Columns)), hasConv: make([]bool, len(t.Columns))}
	for i := range p.src {
		p.src[i], p.code[i] = -1, -1
	}
	ignore := map[string]bool{}
	for _, n := range e.mapping.Ignore {
		ignore[n] = true
	}
	seen := map[string]int{}
	for j, h := range header {
		name := h
		if m, ok := e.mapping.Columns[h]; ok {
			name = m
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("ingest: file %s: %w: columns %d and %d both map to %s", f.name, ErrHeader, prev+1, j+1, name)
		}
		seen[name] = j
		if i := t.ColumnIndex(name); i >= 0 {
			p.src[i] = j
			continue
		}
		if cr, ok := e.codes[name]; ok {
			p.code[cr.target] = j
			ref := cr
			p.codeRef[cr.target] = &ref
			continue
		}
		if !ignore[h] {
			e.warnings = append(e.warnings, fmt.Sprintf("file %s: column %q is not in table %s: ignored", f.name, h, t.Name))
		}
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		if p.src[i] >= 0 && p.code[i] >= 0 {
			return nil, fmt.Errorf("ingest: file %s: %w: column %s is given both as an id (%s) and as a code (%s)", f.name, ErrHeader, c.Name, header[p.src[i]], header[p.code[i]])
		}
		if u, ok := e.mapping.Units[c.Name]; ok {
			cv, err := unitConversion(c, u)
			if err != nil {
				return nil, err
			}
			p.conv[i], p.hasConv[i] = cv, !cv.identity()
		}
		if p.src[i] < 0 && p.code[i] < 0 {
			if c.NotNull {
				if p.missing == "" {
					p.missing = c.Name
				}
				continue
			}
			e.warnings = append(e.warnings, fmt.Sprintf("file %s: no column %s: written as NULL", f.name, c.Name))
		}
	}
	if p.missing != "" {
		e.warnings = append(e.warnings, fmt.Sprintf("file %s: required column %s (NOT NULL) is missing from the header: every row is rejected (%s)", f.name, p.missing, ReasonMissingColumn))
	}
	return p, nil
}

// --- finishing -----------------------------------------------------------------

// segOut is one merged output segment staged in a local file.
type segOut struct {
	k        skey
	part     lake.Partition
	seg      lake.Segment
	path     string
	rows     int64
	sha      string
	accepted int64
	files    map[int]bool // input files that fed it
	old      *lake.Manifest
	keep     []lake.FileEntry // committed blobs of the segment its rows still name
}

func (e *engine) finish(ctx context.Context) (Summary, error) {
	// Under --strict the merge still runs (into local files only) so the
	// summary counts the duplicates it finds too.
	var fastOuts []*segOut
	if e.fast != nil {
		var err error
		if fastOuts, err = e.fast.finish(); err != nil {
			return e.summary(), err
		}
		for _, o := range fastOuts {
			e.finalizeSeg(o)
		}
	}
	outs, err := e.mergeAll(ctx, e.t, e.c, e.out, e.mode, e.daySeg)
	if err != nil {
		return e.summary(), err
	}
	outs = append(outs, fastOuts...)
	slices.SortFunc(outs, func(a, b *segOut) int { return compareSkey(a.k, b.k) })
	if e.cfg.Strict && e.rejected.Load() > 0 {
		return e.summary(), e.strictError()
	}
	var accepted int64
	for _, o := range outs {
		accepted += o.accepted
	}
	rt := schema.MustLookup("rejects")
	routs, err := e.mergeAll(ctx, rt, e.rc, e.rej, modeRejects, true)
	if err != nil {
		return e.summary(), err
	}
	var written []string
	switch {
	case e.blob != nil:
		written, err = e.commitBlobs(ctx, outs)
	case e.parentBlob != nil:
		if err = e.keepParentBlobs(outs); err == nil {
			written, err = e.commit(ctx, outs)
		}
	default:
		written, err = e.commit(ctx, outs)
	}
	if err != nil {
		return e.summary(), err
	}
	rw, err := e.commit(ctx, routs)
	if err != nil {
		return e.summary(), err
	}
	s := e.summary()
	s.Accepted = accepted
	s.Partitions = append(written, rw...)
	s.Unchanged = len(s.Partitions) == 0
	if e.fast != nil {
		s.Presorted, s.FellBack = e.fast.presorted, e.fast.fellBack
	}
	return s, nil
}

func (e *engine) strictError() error {
	e.reasonMu.Lock()
	defer e.reasonMu.Unlock()
	msg := strings.Join(e.firstErrs, "; ")
	return fmt.Errorf("ingest %s: strict: %d rows rejected, nothing written (first: %s): %w", e.t.Name, e.rejected.Load(), msg, ErrRejected)
}

// commit publishes every staged segment whose bytes differ from the
// lake's, partition by partition, through the lake's commit protocol.
func (e *engine) commit(ctx context.Context, outs []*segOut) ([]string, error) {
	byPart := map[string][]*segOut{}
	var order []string
	for _, o := range outs {
		if o.old != nil {
			if f, ok := dataFile(o.old, o.seg.Name); ok && f.SHA256 == o.sha && f.Rows == o.rows {
				continue // the lake already holds exactly these bytes
			}
		}
		d := o.part.Dir()
		if _, ok := byPart[d]; !ok {
			order = append(order, d)
		}
		byPart[d] = append(byPart[d], o)
	}
	var written []string
	for _, d := range order {
		group := byPart[d]
		p := group[0].part
		meta := lake.Meta{Job: "ingest", Inputs: []string{"ingest=" + Version}}
		segs := make([]lake.Segment, len(group))
		byName := map[string]*segOut{}
		for i, o := range group {
			segs[i] = o.seg
			byName[o.seg.Name] = o
		}
		_, _, err := e.lk.WritePartition(ctx, p, meta, segs, true, nil, func(ctx context.Context, out *lake.Output) error {
			o := byName[out.Segment().Name]
			f, err := os.Open(o.path)
			if err != nil {
				return err
			}
			defer f.Close()
			for _, b := range o.keep {
				if err := out.KeepBlob(b); err != nil {
					return err
				}
			}
			if _, err := io.Copy(out.Data(), f); err != nil {
				return err
			}
			out.SetRows(o.rows)
			return nil
		})
		if err != nil {
			return written, fmt.Errorf("ingest %s: commit: %w", e.t.Name, err)
		}
		for _, o := range group {
			written = append(written, p.SegmentKey(o.seg.Name))
		}
	}
	return written, nil
}

func dataFile(m *lake.Manifest, seg string) (lake.FileEntry, bool) {
	for _, f := range m.Files {
		if f.Segment == seg && f.Role == "data" {
			return f, true
		}
	}
	return lake.FileEntry{}, false
}

// sourceInputs are the lineage entries of the input files that fed a
// segment: the source's name and SHA-256.
func (e *engine) sourceInputs(files map[int]bool) []lake.Input {
	var out []lake.Input
	for fi := range files {
		out = append(out, lake.Input{Table: "source", Partition: e.files[fi].name, Segment: e.files[fi].format, SHA256: e.hashes[fi]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func unionInputs(a, b []lake.Input) []lake.Input {
	seen := map[string]bool{}
	var out []lake.Input
	for _, x := range append(append([]lake.Input{}, a...), b...) {
		if !seen[x.String()] {
			seen[x.String()] = true
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
