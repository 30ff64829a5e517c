package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// The CSV reader is split in two so parsing runs in parallel: one
// goroutine cuts the stream into chunks at record boundaries (a newline
// outside quotes: RFC 4180 quotes only toggle, so the parity of quotes seen
// so far says whether a newline ends a record), and workers parse chunks.
// Only TEXT, VARCHAR and JSON fields can hold quoted newlines; the parity
// rule finds record ends whatever the columns.

// chunk is a run of whole records.
type chunk struct {
	data []byte
	line int64 // physical line number of data's first byte, from 1
	// last is set on the final chunk when the input does not end with a
	// newline outside quotes: its last record may be cut short.
	last, unterminated bool
	buf                []byte // the whole buffer data lies in, for recycle
}

const chunkSize = 1 << 20

// chunkCap is the capacity of a splitter buffer; buffers of exactly this
// capacity are recycled once their chunk is parsed, so a large input does
// not allocate (and clear) a new buffer per chunk.
const chunkCap = chunkSize + chunkSize/4

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkCap); return &b }}

// recycle returns c's buffer to the pool: nothing may refer to c.data
// after (parsed records and rejects hold copies).
func recycle(c chunk) {
	if cap(c.buf) == chunkCap {
		b := c.buf[:0]
		chunkPool.Put(&b)
	}
}

// splitter cuts r into chunks.
type splitter struct {
	r       io.Reader
	buf     []byte // carried bytes of an incomplete record
	line    int64
	inQuote bool
	eof     bool
	scanned int // bytes of buf already scanned for quotes
	lastNL  int // end (exclusive) of the last complete record in buf, or -1
	hashW   io.Writer
}

func newSplitter(r io.Reader, firstLine int64, h io.Writer) *splitter {
	return &splitter{r: r, line: firstLine, lastNL: -1, hashW: h}
}

// next returns the next chunk, or io.EOF.
func (s *splitter) next() (chunk, error) {
	for {
		if s.lastNL >= 0 && (len(s.buf) >= chunkSize || s.eof) {
			return s.cut(s.lastNL, false, false), nil
		}
		if s.eof {
			if len(s.buf) == 0 {
				return chunk{}, io.EOF
			}
			return s.cut(len(s.buf), true, s.inQuote), nil
		}
		if err := s.fill(); err != nil {
			return chunk{}, err
		}
	}
}

func (s *splitter) cut(n int, last, unterminated bool) chunk {
	c := chunk{data: s.buf[:n:n], line: s.line, last: last, unterminated: unterminated, buf: s.buf}
	s.line += int64(bytes.Count(c.data, nl))
	rest := s.buf[n:]
	if 2*len(rest) <= chunkCap {
		s.buf = (*chunkPool.Get().(*[]byte))[:len(rest)]
	} else {
		s.buf = make([]byte, len(rest), 2*len(rest))
	}
	copy(s.buf, rest)
	s.scanned -= n
	// The carried bytes hold no record end (n was the last one, or all).
	s.lastNL = -1
	return c
}

var nl = []byte{'\n'}

// fill reads more input and scans it for record ends.
func (s *splitter) fill() error {
	if s.buf == nil {
		s.buf = *chunkPool.Get().(*[]byte)
	}
	if cap(s.buf)-len(s.buf) < 64<<10 {
		nb := make([]byte, len(s.buf), 2*cap(s.buf)+chunkSize)
		copy(nb, s.buf)
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	if n > 0 && s.hashW != nil {
		s.hashW.Write(s.buf[len(s.buf) : len(s.buf)+n])
	}
	s.buf = s.buf[:len(s.buf)+n]
	if errors.Is(err, io.EOF) {
		s.eof = true
	} else if err != nil {
		return err
	}
	b := s.buf
	i := s.scanned
	for i < len(b) {
		if s.inQuote {
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				i = len(b)
				break
			}
			i += j + 1
			s.inQuote = false
			continue
		}
		// Outside quotes: the last newline before the next quote is the
		// latest record end (two memchr scans beat a per-byte set test).
		q := bytes.IndexByte(b[i:], '"')
		end := len(b)
		if q >= 0 {
			end = i + q
		}
		if k := bytes.LastIndexByte(b[i:end], '\n'); k >= 0 {
			s.lastNL = i + k + 1
		}
		if q < 0 {
			i = len(b)
			break
		}
		s.inQuote = true
		i = end + 1
	}
	s.scanned = len(b)
	return nil
}

// recordEnd returns the length of the record at the start of b, including
// its newline (len(b) when none), and whether its quotes are balanced.
func recordEnd(b []byte) (int, bool) {
	// Fast path: no quote before the first newline.
	if j := bytes.IndexByte(b, '\n'); j >= 0 && bytes.IndexByte(b[:j], '"') < 0 {
		return j + 1, true
	}
	q := false
	i := 0
	for i < len(b) {
		if q {
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return len(b), false
			}
			i += j + 1
			q = false
			continue
		}
		j := bytes.IndexAny(b[i:], "\"\n")
		if j < 0 {
			return len(b), true
		}
		i += j
		if b[i] == '\n' {
			return i + 1, true
		}
		q = true
		i++
	}
	return len(b), !q
}

// errMalformed is a record whose quoting is not RFC 4180.
var errMalformed = errors.New("malformed quoting")

// splitFields splits one record (without its line end) into fields,
// appended to fs. Quoted fields are unescaped into scratch; the fields of
// an unquoted record alias rec.
func splitFields(rec []byte, fs [][]byte, scratch []byte) ([][]byte, []byte, error) {
	if bytes.IndexByte(rec, '"') < 0 {
		return splitPlain(rec, fs), scratch, nil
	}
	// Slow path: remember field bounds in scratch, slice at the end (scratch
	// may grow).
	type span struct{ a, b int }
	var spans [64]span
	sp := spans[:0]
	scratch = scratch[:0]
	i := 0
	for {
		a := len(scratch)
		if i < len(rec) && rec[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(rec[i:], '"')
				if j < 0 {
					return fs, scratch, errMalformed
				}
				scratch = append(scratch, rec[i:i+j]...)
				i += j + 1
				if i < len(rec) && rec[i] == '"' {
					scratch = append(scratch, '"')
					i++
					continue
				}
				break
			}
			sp = append(sp, span{a, len(scratch)})
			if i == len(rec) {
				break
			}
			if rec[i] != ',' {
				return fs, scratch, errMalformed
			}
			i++
			continue
		}
		j := bytes.IndexByte(rec[i:], ',')
		end := len(rec)
		if j >= 0 {
			end = i + j
		}
		if bytes.IndexByte(rec[i:end], '"') >= 0 {
			return fs, scratch, errMalformed
		}
		scratch = append(scratch, rec[i:end]...)
		sp = append(sp, span{a, len(scratch)})
		if j < 0 {
			break
		}
		i = end + 1
	}
	for _, s := range sp {
		fs = append(fs, scratch[s.a:s.b:s.b])
	}
	return fs, scratch, nil
}

// splitPlain splits a record without quotes at its commas; the fields
// alias rec.
func splitPlain(rec []byte, fs [][]byte) [][]byte {
	for {
		j := bytes.IndexByte(rec, ',')
		if j < 0 {
			return append(fs, rec)
		}
		fs = append(fs, rec[:j:j])
		rec = rec[j+1:]
	}
}

// scanColumn calls fn with every value of the source column that maps to
// target column name (CSV sources; other formats are skipped).
func scanColumn(ctx context.Context, f srcFile, m *Mapping, name string, fn func([]byte)) error {
	if f.format != "csv" {
		return nil
	}
	rc, err := f.open(ctx)
	if err != nil {
		return fmt.Errorf("ingest: open %s: %w", f.name, err)
	}
	defer rc.Close()
	sp := newSplitter(rc, 1, nil)
	col := -1
	var fields [][]byte
	var scratch []byte
	for {
		c, err := sp.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ingest: read %s: %w", f.name, err)
		}
		data := c.data
		if c.line == 1 {
			data = trimBOM(data)
		}
		for len(data) > 0 {
			n, _ := recordEnd(data)
			body := trimEOL(data[:n])
			data = data[n:]
			fields, scratch, err = splitFields(body, fields[:0], scratch)
			if err != nil {
				continue
			}
			if col < 0 {
				for j, h := range fields {
					hn := strings.TrimSpace(string(h))
					if mapped, ok := m.Columns[hn]; ok {
						hn = mapped
					}
					if hn == name {
						col = j
					}
				}
				if col < 0 {
					return nil
				}
				continue
			}
			if col < len(fields) {
				fn(fields[col])
			}
		}
	}
}
