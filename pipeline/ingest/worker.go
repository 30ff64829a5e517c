package ingest

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// worker parses and validates records of one file; each worker owns its
// buffers and spills, so the hot path takes no lock (except the key map
// of map-mode tables, which are small).
type worker struct {
	e      *engine
	plan   *filePlan
	fi     int
	out    *spiller
	rej    *spiller
	fields [][]byte
	scr    []byte
	vals   []val
	rvals  []val
	key    []byte
	conv   []byte

	// caches of the last entity seen: exports are sorted by entity
	lastID     [16]byte
	lastBucket int
	fk         []map[[16]byte]struct{} // per column: e.fkSets without a map lookup per value
	lastOK     [][16]byte              // per column: the last foreign key found
	haveOK     []bool
	lastText   [][]byte // per column: the last UUID text parsed
	lastUUID   [][16]byte

	// batch, when set, collects the accepted records of the chunk being
	// parsed for the fast path's sequencer (rows of segments already on
	// the spill path go to out); cacheK caches the spill flag of the
	// last segment, valid for one chunk.
	batch      *parsed
	cacheK     skey
	cacheSpill bool
	cacheOK    bool

	rows    int64
	nrej    int64
	reasons map[string]int64
	errs    []string
}

func (e *engine) newWorker(fi int, plan *filePlan) *worker {
	limit := max(1024, e.cfg.MemoryRows/e.cfg.Workers)
	fk := make([]map[[16]byte]struct{}, len(e.t.Columns))
	for i, set := range e.fkSets {
		fk[i] = set
	}
	return &worker{fk: fk, vals: make([]val, len(e.t.Columns)), e: e, plan: plan, fi: fi, out: newSpiller(e.out, limit), rej: newSpiller(e.rej, limit),
		rvals: make([]val, len(e.rc.t.Columns)), lastBucket: -2,
		lastOK: make([][16]byte, len(e.t.Columns)), haveOK: make([]bool, len(e.t.Columns)), reasons: map[string]int64{},
		lastText: make([][]byte, len(e.t.Columns)), lastUUID: make([][16]byte, len(e.t.Columns))}
}

// chunk parses every record of c.
func (w *worker) chunk(c chunk) error {
	data := c.data
	line := c.line
	for len(data) > 0 {
		// The common record: no quote before its newline. One scan finds
		// its end, and its fields are the text between commas.
		if j := bytes.IndexByte(data, '\n'); j >= 0 && bytes.IndexByte(data[:j], '"') < 0 {
			body := trimEOL(data[:j+1])
			data = data[j+1:]
			if len(body) > 0 && !(len(body) == 1 && body[0] == '\r') { // else a blank line: not a record
				w.fields = splitPlain(body, w.fields[:0])
				if err := w.fieldsOf(body, line, false); err != nil {
					return err
				}
			}
			line++
			continue
		}
		n, balanced := recordEnd(data)
		recb := data[:n]
		data = data[n:]
		last := len(data) == 0 && c.last
		nls := int64(bytes.Count(recb, nl))
		body := trimEOL(recb)
		if len(body) == 0 || (len(body) == 1 && body[0] == '\r') {
			line += nls
			continue // blank line: not a record
		}
		var err error
		switch {
		case !balanced:
			// Only the last record of the input can be unbalanced.
			err = w.reject(line, "", ReasonTruncated, "record ends inside a quoted field (unterminated quote at end of input)", body)
		default:
			err = w.record(body, line, last && recb[len(recb)-1] != '\n')
		}
		if err != nil {
			return err
		}
		line += nls
	}
	return nil
}

func (w *worker) finish() error {
	w.out.finish()
	w.rej.finish()
	e := w.e
	e.rows.Add(w.rows)
	e.rejected.Add(w.nrej)
	e.reasonMu.Lock()
	for k, v := range w.reasons {
		e.byReason[k] += v
	}
	for _, m := range w.errs {
		if len(e.firstErrs) < 5 {
			e.firstErrs = append(e.firstErrs, m)
		}
	}
	e.reasonMu.Unlock()
	return nil
}

// record validates one CSV record (without its line end) at line.
func (w *worker) record(body []byte, line int64, noNewline bool) error {
	var err error
	w.fields, w.scr, err = splitFields(body, w.fields[:0], w.scr)
	if err != nil {
		if noNewline {
			return w.reject(line, "", ReasonTruncated, "last record is cut short: "+err.Error(), body)
		}
		return w.reject(line, "", ReasonMalformed, err.Error()+" (RFC 4180: a quoted field must end at a comma or the line end, and quotes inside it are doubled)", body)
	}
	return w.fieldsOf(body, line, noNewline)
}

// fieldsOf validates the record split into w.fields.
func (w *worker) fieldsOf(body []byte, line int64, noNewline bool) error {
	if len(w.fields) != w.plan.nfields {
		if noNewline && len(w.fields) < w.plan.nfields {
			return w.reject(line, "", ReasonTruncated, fmt.Sprintf("last record is cut short: %d of %d fields and no final newline", len(w.fields), w.plan.nfields), body)
		}
		col := ""
		if len(w.fields) < w.plan.nfields {
			col = w.plan.header[len(w.fields)]
		}
		return w.reject(line, col, ReasonFieldCount, fmt.Sprintf("record has %d fields, the header has %d", len(w.fields), w.plan.nfields), body)
	}
	return w.row(w.fields, line, body)
}

// row validates one record's fields (CSV or Parquet rendered as text).
func (w *worker) row(fields [][]byte, line int64, raw []byte) error {
	e, p, t := w.e, w.plan, w.e.t
	if p.missing != "" {
		return w.reject(line, p.missing, ReasonMissingColumn, fmt.Sprintf("required column %s is not in the file's header", p.missing), raw)
	}

	for i := range t.Columns {
		c := &t.Columns[i]
		v := &w.vals[i]
		*v = val{}
		j := p.src[i]
		uuidHit := false
		if j < 0 && p.code[i] >= 0 {
			b := fields[p.code[i]]
			if len(b) == 0 {
				v.null = true
			} else if id, ok := p.codeRef[i].ids[string(b)]; ok {
				v.u = id
			} else {
				return w.reject(line, p.header[p.code[i]], ReasonReference, fmt.Sprintf("code %s is not in the lake's %s (column %s)", quote(b), p.codeRef[i].table, c.Name), raw)
			}
		} else if j < 0 || len(fields[j]) == 0 {
			v.null = true
		} else if p.hasConv[i] {
			if fe := w.converted(c, fields[j], p.conv[i], v); fe != nil {
				return w.reject(line, p.header[j], fe.reason, fe.msg, raw)
			}
		} else if c.Type.Kind == schema.KindUUID && bytes.Equal(fields[j], w.lastText[i]) {
			// Exports repeat an entity's id row after row: skip the hex.
			v.u, uuidHit = w.lastUUID[i], true
		} else if fe := parseValue(c, fields[j], e.mapping.loc, v); fe != nil {
			if fe.reason == ReasonDecimal && c.Range != nil {
				// A 12 V jar read at 250 V does not fit DECIMAL(5,3) either,
				// but the reason that helps is the physical one.
				if x, err := strconv.ParseFloat(string(fields[j]), 64); err == nil && !c.Range.Contains(x) {
					return w.reject(line, p.header[j], ReasonRange, fmt.Sprintf("value %s is outside the physical range %s of %s (and does not fit %s)", fmtNum(x), c.Range, c.Name, c.Type.SQL()), raw)
				}
			}
			return w.reject(line, p.header[j], fe.reason, fe.msg, raw)
		}
		if c.Type.Kind == schema.KindUUID && j >= 0 && !v.null && !uuidHit {
			w.lastText[i] = append(w.lastText[i][:0], fields[j]...)
			w.lastUUID[i] = v.u
		}
		if v.null {
			if c.NotNull {
				return w.reject(line, p.source(i, c), ReasonNotNull, fmt.Sprintf("empty value in NOT NULL column %s", c.Name), raw)
			}
			continue
		}
		if b := &e.decRange[i]; b.ok {
			if v.i < b.lo || v.i > b.hi {
				x := decimalFloat(v.i, c.Type.Scale)
				return w.reject(line, p.source(i, c), ReasonRange, fmt.Sprintf("value %s is outside the physical range %s of %s", fmtNum(x), c.Range, c.Name), raw)
			}
		} else if r := c.Range; r != nil {
			x := v.f
			if c.Type.Kind == schema.KindDecimal {
				x = decimalFloat(v.i, c.Type.Scale)
			}
			if !r.Contains(x) {
				return w.reject(line, p.source(i, c), ReasonRange, fmt.Sprintf("value %s is outside the physical range %s of %s", fmtNum(x), r, c.Name), raw)
			}
		}
		if set := w.fk[i]; set != nil {
			if !w.haveOK[i] || w.lastOK[i] != v.u {
				if _, ok := set[v.u]; !ok {
					return w.reject(line, p.source(i, c), ReasonReference, fmt.Sprintf("%s %s is not in the lake's %s", c.Name, uuid.UUID(v.u), c.FK.Table), raw)
				}
				w.lastOK[i], w.haveOK[i] = v.u, true
			}
		}
	}
	if e.blob != nil {
		if rejected, err := w.checkBlob(line, raw); rejected || err != nil {
			return err
		}
	}
	k := skey{day: noDay, bucket: -1}
	if e.monthCol >= 0 {
		v := &w.vals[e.monthCol]
		col := t.Columns[e.monthCol].Name
		if v.null {
			return w.reject(line, col, ReasonNotNull, fmt.Sprintf("empty %s: the table is partitioned by it", col), raw)
		}
		if v.i < e.lo || v.i >= e.hi {
			return w.reject(line, col, ReasonWindow, fmt.Sprintf("%s %s is outside the load's window %s", col, fmtMicros(v.i), e.window()), raw)
		}
		day := floorDiv(v.i, 86400e6)
		if !e.daySeg {
			day = monthStart(day)
		}
		k.day = int32(day)
	}
	if e.bucketCol >= 0 {
		id := w.vals[e.bucketCol].u
		if w.lastBucket < 0 || id != w.lastID {
			w.lastID, w.lastBucket = id, lake.Bucket(id, e.buckets)
		}
		k.bucket = int16(w.lastBucket)
	}
	ps := pos(w.fi, line)
	if e.mode == modeMap {
		w.key = e.c.appendKey(w.key[:0], w.vals, e.c.pkIdx)
		if lk, ok := e.lakePK[string(w.key)]; ok && lk != k {
			pt, seg, _, _, _ := e.partOf(t, lk, e.daySeg)
			return w.reject(line, t.PrimaryKey()[0], ReasonDuplicate, fmt.Sprintf("key %s is already in the lake in %s segment %s (a row cannot move between partitions)", w.keyText(), pt, seg), raw)
		}
		e.pkMu.Lock()
		if first, ok := e.inPK[string(w.key)]; !ok || ps < first {
			e.inPK[string(w.key)] = ps
		}
		e.pkMu.Unlock()
	}
	w.rows++
	if w.batch != nil {
		if !w.cacheOK || k != w.cacheK {
			w.cacheK, w.cacheSpill, w.cacheOK = k, e.fast.isSpill(k), true
		}
		if !w.cacheSpill {
			w.batch.add(e.c, k, w.vals, ps)
			return nil
		}
	}
	return w.out.add(w.out.buf(k), func(dst []byte) []byte { return e.c.appendRecord(dst, w.vals, originInput, ps) })
}

// source names the file's column that fills target column i (c), for a
// reject: looked up only then, not per value.
func (p *filePlan) source(i int, c *schema.Column) string {
	if j := p.src[i]; j >= 0 {
		return p.header[j]
	}
	if j := p.code[i]; j >= 0 {
		return p.header[j]
	}
	return c.Name
}

func (w *worker) keyText() string {
	var parts []string
	for _, i := range w.e.c.pkIdx {
		parts = append(parts, w.e.t.Columns[i].Name+"="+string(formatVal(nil, &w.e.t.Columns[i], &w.vals[i])))
	}
	return strings.Join(parts, ",")
}

// converted parses a measurement in another unit and converts it; the
// conversion rounds to the column's scale (it cannot be exact), but
// overflow and NaN are still rejects.
func (w *worker) converted(c *schema.Column, b []byte, cv conv, v *val) *fieldError {
	w.conv = append(w.conv[:0], b...)
	var f float64
	var tmp val
	// Parse as a double, whatever the target kind.
	if fe := parseValue(&schema.Column{Name: c.Name, Type: schema.Double()}, w.conv, nil, &tmp); fe != nil {
		return fe
	}
	f = tmp.f*cv.scale + cv.offset
	if c.Type.Kind == schema.KindDouble {
		v.f = f
		return nil
	}
	x := math.Round(f * float64(pow10[c.Type.Scale]))
	if math.Abs(x) >= float64(pow10[c.Type.Precision]) {
		return ferr(ReasonDecimal, "value %s (%s after conversion) does not fit %s", quote(b), fmtNum(f), c.Type.SQL())
	}
	v.i = int64(x)
	return nil
}

// reject records one rejected input row.
func (w *worker) reject(line int64, col, reason, msg string, raw []byte) error {
	w.rows++
	return w.rejectCounted(line, col, reason, msg, raw)
}

// rejectCounted rejects a row already counted as input (a duplicate found
// by the merge).
func (w *worker) rejectCounted(line int64, col, reason, msg string, raw []byte) error {
	e := w.e
	w.nrej++
	w.reasons[reason]++
	file := e.files[w.fi].name
	full := fmt.Sprintf("file %s line %d", file, line)
	if col != "" {
		full += " column " + col
	}
	full += ": " + msg
	if len(w.errs) < 5 {
		w.errs = append(w.errs, reason+": "+full)
	}
	return w.addReject(line, col, reason, full, raw)
}

const maxRawRecord = 4 << 10

func (w *worker) addReject(line int64, col, reason, msg string, raw []byte) error {
	e := w.e
	r := w.rvals
	for i := range r {
		r[i] = val{}
	}
	if len(raw) > maxRawRecord {
		raw = raw[:maxRawRecord]
	}
	rawS := string(raw)
	if !utf8.ValidString(rawS) {
		rawS = strings.ToValidUTF8(rawS, "\uFFFD")
	}
	file := e.files[w.fi].name
	if utf8.RuneCountInString(file) > 500 {
		file = string([]rune(file)[:500])
	}
	if utf8.RuneCountInString(col) > 100 {
		col = string([]rune(col)[:100])
	}
	r[0].i = e.now
	r[1].b = []byte(file)
	r[2].i = line
	if col == "" {
		r[3].null = true
	} else {
		r[3].b = []byte(strings.ToValidUTF8(col, "\uFFFD"))
	}
	r[4].b = []byte(e.t.Name)
	r[5].b = []byte(strings.ToValidUTF8(reason+": "+msg, "\uFFFD"))
	r[6].b = []byte(rawS)
	k := skey{day: int32(floorDiv(e.now, 86400e6)), bucket: -1}
	return w.rej.add(w.rej.buf(k), func(dst []byte) []byte { return e.rc.appendRecord(dst, r, originInput, pos(w.fi, line)) })
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// monthStart maps a day number to the day number of its month's first day.
func monthStart(day int64) int64 {
	y, m, _ := civilFromDays(day)
	return daysFromCivil(y, m, 1)
}

func civilFromDays(z int64) (int, int, int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}
