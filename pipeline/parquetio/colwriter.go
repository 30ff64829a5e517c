package parquetio

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// colWriter writes the raw telemetry tables (telemetry_jar_raw: a 5 s
// fleet-day is 33.6 M rows; telemetry_string_raw) straight from their row
// types into Parquet pages. parquet-go's generic row machinery (per-value
// dictionary probes, definition-level buffers and histograms, page bounds
// over boxed values) was two thirds of the jar table's write time. Each
// column is a typed buffer (see the column types below) with a fixed
// encoding:
//
//	timestamps, decimals   INT64 / INT32   DELTA_BINARY_PACKED
//	uuids (entity ids)     FIXED[16]       RLE_DICTIONARY, a dictionary per row group
//	enums                  BYTE_ARRAY      RLE_DICTIONARY, a dictionary per row group
//	booleans               BOOLEAN         PLAIN
//
// Optional columns carry RLE definition levels. The file is what
// parquet-go writes for the same schema and options in every respect a
// reader looks at: the footer's schema, key-value metadata and column
// orders are taken from a parquet-go file of the table (so they cannot
// drift from the registry), row groups of RowGroupRows, data pages v1 with
// statistics, chunk statistics and level histograms, per-column codecs,
// the column and offset indexes, and the declared sort order. Pages hold
// pageRows rows of every column. TypedWriter routes the row types here, so
// the synthesizer and ingest still write the same bytes.
type colWriter struct {
	out    *CountingWriter
	tmpl   *fileTemplate
	rgRows int
	cols   []column // schema order
	codecs []compress.Codec
	chunks []chunkBuilder

	n       int // rows in the current page
	rgCount int // rows in the current row group (flushed pages included)
	total   int64

	rowGroups []format.RowGroup
	indexes   [][]pageIndex

	// scratch
	enc    []byte
	lvlEnc []byte
	page   []byte
	comp   []byte
	hdr    bytes.Buffer
}

// pageRows rows make a page of every column: ~0.5 MB of timestamps, about
// parquet-go's 1 MiB page buffer cut for the widest column.
const pageRows = 1 << 16

// column is one column's buffered page and row group.
type column interface {
	// encode appends the page's encoded values to dst and describes them.
	encode(dst []byte) ([]byte, pageDesc, error)
	resetPage()
	// dictionary is the row group's dictionary page (PLAIN values) and its
	// size, or nil for a column without one; it resets the dictionary.
	dictionary() (plain []byte, n int)
	physical() format.Type
	less(a, b []byte) bool // Parquet's order of two plain-encoded values
}

// pageDesc describes an encoded page. Whether its column is optional is
// the schema's to say (chunkBuilder.optional): a required column's page has
// no levels, and every row a value.
type pageDesc struct {
	enc    format.Encoding
	values int       // non-NULL values
	lvl    *levelBuf // the definition levels of an optional column
	lo, hi []byte    // plain-encoded bounds of the non-NULL values
}

// chunkBuilder collects one column chunk's compressed pages.
type chunkBuilder struct {
	data               []byte // page headers and pages, in file order (the dictionary page is prepended at flush)
	uncompressed       int64  // headers included
	numValues, nulls   int64
	min, max           []byte // plain-encoded chunk bounds
	pages              pageIndex
	dataPages          int32
	enc                format.Encoding
	optional           bool
	defHist0, defHist1 int64
}

// pageIndex is one column chunk's column and offset index, by page.
type pageIndex struct {
	nullPages  []bool
	mins, maxs [][]byte
	nullCounts []int64
	offsets    []int64 // within the chunk's data, then within the file
	sizes      []int32
	firstRows  []int64
	rows       []int64
}

// fileTemplate is what every file of a table shares: the footer's schema,
// key-value metadata, creator and column orders, and the row groups'
// sorting columns, taken from an empty parquet-go file of the table.
type fileTemplate struct {
	md      format.FileMetaData
	sorting []format.SortingColumn
}

var templates sync.Map // *schema.Table -> *fileTemplate

func templateFor(t *schema.Table, s *parquet.Schema) (*fileTemplate, error) {
	if v, ok := templates.Load(t); ok {
		return v.(*fileTemplate), nil
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[any](&buf, writerOptions(t, s, true)...)
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("table %s: footer template: %w", t.Name, err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return nil, fmt.Errorf("table %s: footer template: %w", t.Name, err)
	}
	tp := &fileTemplate{md: *f.Metadata()}
	for _, c := range t.SortBy {
		tp.sorting = append(tp.sorting, format.SortingColumn{ColumnIdx: int32(t.ColumnIndex(c))})
	}
	templates.Store(t, tp)
	return tp, nil
}

// CountingWriter counts the bytes written through it (a file's offset).
type CountingWriter struct {
	W io.Writer
	N int64
}

func (c *CountingWriter) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}

// newColWriter starts a file of t whose columns are cols, in schema order.
func newColWriter(w io.Writer, t *schema.Table, s *parquet.Schema, extra []parquet.WriterOption, cols ...column) (*colWriter, error) {
	cfg, err := parquet.NewWriterConfig(append(writerOptions(t, s, true), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	tp, err := templateFor(t, s)
	if err != nil {
		return nil, err
	}
	fields := s.Fields()
	if len(fields) != len(cols) {
		return nil, fmt.Errorf("table %s: %d columns, the writer has %d", t.Name, len(fields), len(cols))
	}
	cw := &colWriter{out: &CountingWriter{W: w}, tmpl: tp, rgRows: int(cfg.MaxRowsPerRowGroup), cols: cols,
		codecs: make([]compress.Codec, len(cols)), chunks: make([]chunkBuilder, len(cols))}
	for c, f := range fields {
		cw.codecs[c] = cmp.Or[compress.Codec](f.Compression(), cfg.Compression)
		cw.chunks[c].optional = f.Optional()
	}
	if cw.rgRows <= 0 || cw.rgRows > RowGroupRows {
		cw.rgRows = RowGroupRows
	}
	if _, err := cw.out.Write([]byte("PAR1")); err != nil {
		return nil, err
	}
	return cw, nil
}

// room is how many more rows the current page takes (it ends at the page's
// or the row group's end).
func (cw *colWriter) room() int { return min(pageRows-cw.n, cw.rgRows-cw.rgCount-cw.n) }

// added counts n rows appended to every column, and cuts the page (and
// the row group) when full.
func (cw *colWriter) added(n int) error {
	cw.n += n
	if cw.n == pageRows || cw.rgCount+cw.n == cw.rgRows {
		if err := cw.flushPage(); err != nil {
			return err
		}
		if cw.rgCount == cw.rgRows {
			return cw.flushRowGroup()
		}
	}
	return nil
}

// flushPage encodes the buffered rows as one page of every column.
func (cw *colWriter) flushPage() error {
	if cw.n == 0 {
		return nil
	}
	for c, col := range cw.cols {
		enc, d, err := col.encode(cw.enc[:0])
		if err != nil {
			return fmt.Errorf("column %s: %w", cw.tmpl.md.Schema[c+1].Name, err)
		}
		cw.enc = enc
		if err := cw.putPage(c, d, enc); err != nil {
			return err
		}
		col.resetPage()
	}
	cw.rgCount += cw.n
	cw.total += int64(cw.n)
	cw.n = 0
	return nil
}

var levelsRLE = rle.Encoding{BitWidth: 1}

// putPage appends one v1 data page to column c's chunk: the definition
// levels (of an optional column) and the encoded values, compressed
// together.
func (cw *colWriter) putPage(c int, d pageDesc, values []byte) error {
	numValues, first := int64(cw.n), int64(cw.rgCount)
	cb := &cw.chunks[c]
	nulls := numValues - int64(d.values)
	switch {
	case !cb.optional && nulls != 0:
		return fmt.Errorf("column %s: %d of %d values in a required column", cw.tmpl.md.Schema[c+1].Name, d.values, numValues)
	case cb.optional && d.lvl == nil:
		return fmt.Errorf("column %s: optional in the schema, its writer has no levels", cw.tmpl.md.Schema[c+1].Name)
	}
	page := cw.page[:0]
	if cb.optional {
		enc, err := d.lvl.encode(cw.lvlEnc[:0])
		if err != nil {
			return err
		}
		cw.lvlEnc = enc
		page = binary.LittleEndian.AppendUint32(page, uint32(len(enc)))
		page = append(page, enc...)
	}
	page = append(page, values...)
	cw.page = page
	comp := page
	if codec := cw.codecs[c]; isCompressed(codec) {
		var err error
		if comp, err = codec.Encode(cw.comp[:0], page); err != nil {
			return err
		}
		cw.comp = comp
	}
	stats := format.Statistics{NullCount: nulls}
	if numValues > nulls {
		stats.MinValue, stats.MaxValue = d.lo, d.hi
	}
	h := format.PageHeader{Type: format.DataPage, UncompressedPageSize: int32(len(page)), CompressedPageSize: int32(len(comp))}
	h.DataPageHeader.Valid = true
	h.DataPageHeader.V = format.DataPageHeader{NumValues: int32(numValues), Encoding: d.enc,
		DefinitionLevelEncoding: format.RLE, RepetitionLevelEncoding: format.RLE, Statistics: stats}
	hdr, err := cw.header(&h)
	if err != nil {
		return err
	}
	cb.enc = d.enc
	cb.pages.offsets = append(cb.pages.offsets, int64(len(cb.data)))
	cb.pages.sizes = append(cb.pages.sizes, int32(len(hdr)+len(comp)))
	cb.pages.firstRows = append(cb.pages.firstRows, first)
	cb.pages.rows = append(cb.pages.rows, numValues)
	cb.pages.nullPages = append(cb.pages.nullPages, nulls == numValues)
	cb.pages.mins = append(cb.pages.mins, bytesOrEmpty(stats.MinValue))
	cb.pages.maxs = append(cb.pages.maxs, bytesOrEmpty(stats.MaxValue))
	cb.pages.nullCounts = append(cb.pages.nullCounts, nulls)
	cb.data = append(append(cb.data, hdr...), comp...)
	cb.uncompressed += int64(len(hdr) + len(page))
	cb.numValues += numValues
	cb.nulls += nulls
	cb.dataPages++
	cb.defHist0 += nulls
	cb.defHist1 += numValues - nulls
	if numValues > nulls {
		less := cw.cols[c].less
		if cb.min == nil || less(d.lo, cb.min) {
			cb.min = append(cb.min[:0], d.lo...)
		}
		if cb.max == nil || less(cb.max, d.hi) {
			cb.max = append(cb.max[:0], d.hi...)
		}
	}
	return nil
}

func (cw *colWriter) header(h *format.PageHeader) ([]byte, error) {
	cw.hdr.Reset()
	if err := thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&cw.hdr)).Encode(h); err != nil {
		return nil, err
	}
	return cw.hdr.Bytes(), nil
}

// flushRowGroup writes the row group's chunks (a dictionary page first).
func (cw *colWriter) flushRowGroup() error {
	if err := cw.flushPage(); err != nil {
		return err
	}
	if cw.rgCount == 0 {
		return nil
	}
	rg := format.RowGroup{NumRows: int64(cw.rgCount), SortingColumns: cw.tmpl.sorting, FileOffset: cw.out.N, Ordinal: int16(len(cw.rowGroups))}
	idx := make([]pageIndex, len(cw.cols))
	for c, col := range cw.cols {
		cb := &cw.chunks[c]
		md := format.ColumnMetaData{Type: col.physical(), PathInSchema: []string{cw.tmpl.md.Schema[c+1].Name}, Codec: cw.codecs[c].CompressionCodec(),
			NumValues: cb.numValues, Statistics: format.Statistics{NullCount: cb.nulls, MinValue: cb.min, MaxValue: cb.max}}
		start := cw.out.N
		var uncompressed int64
		if plain, n := col.dictionary(); plain != nil {
			comp := plain
			if codec := cw.codecs[c]; isCompressed(codec) {
				var err error
				if comp, err = codec.Encode(nil, plain); err != nil {
					return err
				}
			}
			h := format.PageHeader{Type: format.DictionaryPage, UncompressedPageSize: int32(len(plain)), CompressedPageSize: int32(len(comp))}
			h.DictionaryPageHeader.Valid = true
			h.DictionaryPageHeader.V = format.DictionaryPageHeader{NumValues: int32(n), Encoding: format.Plain}
			hdr, err := cw.header(&h)
			if err != nil {
				return err
			}
			md.DictionaryPageOffset = start
			if _, err := cw.out.Write(hdr); err != nil {
				return err
			}
			if _, err := cw.out.Write(comp); err != nil {
				return err
			}
			uncompressed = int64(len(hdr) + len(plain))
			md.Encoding = append(md.Encoding, format.Plain)
			md.EncodingStats = append(md.EncodingStats, format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1})
		}
		if cb.optional {
			md.Encoding = append(md.Encoding, format.RLE)
			md.SizeStatistics.DefinitionLevelHistogram = []int64{cb.defHist0, cb.defHist1}
		}
		if !slices.Contains(md.Encoding, cb.enc) {
			md.Encoding = append(md.Encoding, cb.enc)
		}
		slices.Sort(md.Encoding)
		md.EncodingStats = append(md.EncodingStats, format.PageEncodingStats{PageType: format.DataPage, Encoding: cb.enc, Count: cb.dataPages})
		md.DataPageOffset = cw.out.N
		if _, err := cw.out.Write(cb.data); err != nil {
			return err
		}
		for i := range cb.pages.offsets {
			cb.pages.offsets[i] += md.DataPageOffset
		}
		md.TotalUncompressedSize = uncompressed + cb.uncompressed
		md.TotalCompressedSize = cw.out.N - start
		rg.Columns = append(rg.Columns, format.ColumnChunk{MetaData: md})
		rg.TotalByteSize += md.TotalUncompressedSize
		rg.TotalCompressedSize += md.TotalCompressedSize
		idx[c] = cb.pages
		*cb = chunkBuilder{data: cb.data[:0], optional: cb.optional}
	}
	cw.rowGroups = append(cw.rowGroups, rg)
	cw.indexes = append(cw.indexes, idx)
	cw.rgCount = 0
	return nil
}

// close writes the last row group, the page indexes and the footer.
func (cw *colWriter) close() error {
	if err := cw.flushRowGroup(); err != nil {
		return err
	}
	// The indexes and the footer are encoded into one buffer and written
	// at once: thrift writes field by field, and straight to the file
	// that was a syscall per field (a third of a 1 h history's jar writes).
	var tail bytes.Buffer
	enc := thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&tail))
	offset := func() int64 { return cw.out.N + int64(tail.Len()) }
	for i := range cw.rowGroups {
		for c := range cw.rowGroups[i].Columns {
			p := &cw.indexes[i][c]
			ci := format.ColumnIndex{NullPages: p.nullPages, MinValues: p.mins, MaxValues: p.maxs,
				BoundaryOrder: boundaryOrder(cw.cols[c].less, p), NullCounts: p.nullCounts}
			if cw.chunks[c].optional {
				ci.DefinitionLevelHistogram = levelHistograms(p)
			}
			cc := &cw.rowGroups[i].Columns[c]
			cc.ColumnIndexOffset = offset()
			if err := enc.Encode(&ci); err != nil {
				return err
			}
			cc.ColumnIndexLength = int32(offset() - cc.ColumnIndexOffset)
		}
	}
	for i := range cw.rowGroups {
		for c := range cw.rowGroups[i].Columns {
			p := &cw.indexes[i][c]
			oi := format.OffsetIndex{}
			for k := range p.offsets {
				oi.PageLocations = append(oi.PageLocations, format.PageLocation{Offset: p.offsets[k], CompressedPageSize: p.sizes[k], FirstRowIndex: p.firstRows[k]})
			}
			cc := &cw.rowGroups[i].Columns[c]
			cc.OffsetIndexOffset = offset()
			if err := enc.Encode(&oi); err != nil {
				return err
			}
			cc.OffsetIndexLength = int32(offset() - cc.OffsetIndexOffset)
		}
	}
	md := cw.tmpl.md
	md.NumRows, md.RowGroups = cw.total, cw.rowGroups
	start := tail.Len()
	if err := enc.Encode(&md); err != nil {
		return err
	}
	var end [8]byte
	binary.LittleEndian.PutUint32(end[:4], uint32(tail.Len()-start))
	copy(end[4:], "PAR1")
	tail.Write(end[:])
	_, err := cw.out.Write(tail.Bytes())
	return err
}

// levelHistograms are the pages' definition-level histograms, page by page.
func levelHistograms(p *pageIndex) []int64 {
	h := make([]int64, 0, 2*len(p.nullCounts))
	for k, n := range p.nullCounts {
		h = append(h, n, p.rows[k]-n)
	}
	return h
}

// boundaryOrder is ASCENDING when the pages' bounds never decrease,
// DESCENDING when they never increase, else UNORDERED (null pages skipped).
func boundaryOrder(less func(a, b []byte) bool, p *pageIndex) format.BoundaryOrder {
	asc, desc := true, true
	prev := -1
	for k := range p.mins {
		if p.nullPages[k] {
			continue
		}
		if prev >= 0 {
			if less(p.mins[k], p.mins[prev]) || less(p.maxs[k], p.maxs[prev]) {
				asc = false
			}
			if less(p.mins[prev], p.mins[k]) || less(p.maxs[prev], p.maxs[k]) {
				desc = false
			}
		}
		prev = k
	}
	switch {
	case asc:
		return format.Ascending
	case desc:
		return format.Descending
	}
	return format.Unordered
}

// --- columns -----------------------------------------------------------------

// levelBuf is an optional column's definition levels for one page,
// materialized only at the page's first NULL: a page without one is a
// single run of ones (most pages; building the levels was a tenth of the
// jar writer's time).
type levelBuf struct {
	lvl     []byte // nil until the first NULL
	present int    // values before it
}

func (l *levelBuf) add(present bool) {
	if l.lvl == nil {
		if present {
			l.present++
			return
		}
		l.lvl = make([]byte, l.present, max(2*l.present, 1024))
		for i := range l.lvl {
			l.lvl[i] = 1
		}
	}
	if present {
		l.lvl = append(l.lvl, 1)
	} else {
		l.lvl = append(l.lvl, 0)
	}
}

// encode appends the levels, RLE/bit-packed at bit width 1, to dst.
func (l *levelBuf) encode(dst []byte) ([]byte, error) {
	if l.lvl != nil {
		return levelsRLE.EncodeLevels(dst, l.lvl)
	}
	// one RLE run: its length shifted left once (the RLE flag is 0), then
	// the repeated value in one byte
	return append(binary.AppendUvarint(dst, uint64(l.present)<<1), 1), nil
}

func (l *levelBuf) reset() { l.lvl, l.present = nil, 0 }

// int64Column is a required INT64 (timestamps), DELTA_BINARY_PACKED.
type int64Column struct{ vals []int64 }

func (c *int64Column) encode(dst []byte) ([]byte, pageDesc, error) {
	lo, hi := c.vals[0], c.vals[0]
	for _, v := range c.vals {
		lo, hi = min(lo, v), max(hi, v)
	}
	out, err := (&delta.BinaryPackedEncoding{}).EncodeInt64(dst, c.vals)
	return out, pageDesc{enc: format.DeltaBinaryPacked, values: len(c.vals), lo: le64(lo), hi: le64(hi)}, err
}

func (c *int64Column) resetPage()                { c.vals = c.vals[:0] }
func (c *int64Column) dictionary() ([]byte, int) { return nil, 0 }
func (c *int64Column) physical() format.Type     { return format.Int64 }
func (c *int64Column) less(a, b []byte) bool {
	return int64(binary.LittleEndian.Uint64(a)) < int64(binary.LittleEndian.Uint64(b))
}

// int32Column is an INT32 (decimals, dates), DELTA_BINARY_PACKED: its
// non-NULL values and, when optional, their levels (add); a required
// column's values are appended to vals directly.
type int32Column struct {
	vals []int32
	lv   levelBuf
}

func (c *int32Column) add(p *int32) {
	if p == nil {
		c.lv.add(false)
		return
	}
	c.vals = append(c.vals, *p)
	c.lv.add(true)
}

func (c *int32Column) encode(dst []byte) ([]byte, pageDesc, error) {
	d := pageDesc{enc: format.DeltaBinaryPacked, values: len(c.vals), lvl: &c.lv}
	if len(c.vals) > 0 {
		lo, hi := c.vals[0], c.vals[0]
		for _, v := range c.vals {
			lo, hi = min(lo, v), max(hi, v)
		}
		d.lo, d.hi = le32(lo), le32(hi)
	}
	out, err := (&delta.BinaryPackedEncoding{}).EncodeInt32(dst, c.vals)
	return out, d, err
}

func (c *int32Column) dictionary() ([]byte, int) { return nil, 0 }
func (c *int32Column) physical() format.Type     { return format.Int32 }
func (c *int32Column) resetPage()                { c.vals = c.vals[:0]; c.lv.reset() }
func (c *int32Column) less(a, b []byte) bool {
	return int32(binary.LittleEndian.Uint32(a)) < int32(binary.LittleEndian.Uint32(b))
}

// boolColumn is an optional BOOLEAN, PLAIN (bit-packed).
type boolColumn struct {
	vals []bool
	lv   levelBuf
}

func (c *boolColumn) add(p *bool) {
	if p == nil {
		c.lv.add(false)
		return
	}
	c.vals = append(c.vals, *p)
	c.lv.add(true)
}

func (c *boolColumn) encode(dst []byte) ([]byte, pageDesc, error) {
	d := pageDesc{enc: format.Plain, values: len(c.vals), lvl: &c.lv}
	if len(c.vals) > 0 {
		lo, hi := true, false
		for _, v := range c.vals {
			lo, hi = lo && v, hi || v
		}
		d.lo, d.hi = []byte{b2u(lo)}, []byte{b2u(hi)}
	}
	start := len(dst)
	dst = append(dst, make([]byte, (len(c.vals)+7)/8)...)
	for i, v := range c.vals {
		if v {
			dst[start+i/8] |= 1 << (i % 8)
		}
	}
	return dst, d, nil
}

func (c *boolColumn) dictionary() ([]byte, int) { return nil, 0 }
func (c *boolColumn) physical() format.Type     { return format.Boolean }
func (c *boolColumn) less(a, b []byte) bool     { return a[0] < b[0] }
func (c *boolColumn) resetPage()                { c.vals = c.vals[:0]; c.lv.reset() }

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// uuidColumn is a required FIXED[16] id, RLE_DICTIONARY: rows come in runs
// of one entity, so a row only compares its id with the run's.
type uuidColumn struct {
	idx        []int32
	dict       map[[16]byte]int32
	dictVal    [][16]byte
	last       [16]byte
	lastIdx    int32
	hasLast    bool
	idLo, idHi [16]byte
}

// add appends id to the page; first tells the page's first row.
func (c *uuidColumn) add(id *[16]byte, first bool) { c.idx = append(c.idx, c.index(id, first)) }

// index is id's dictionary index; only a new run (or a page's first row)
// looks it up.
func (c *uuidColumn) index(id *[16]byte, first bool) int32 {
	if first || *id != c.last || !c.hasLast {
		c.newID(*id, first)
	}
	return c.lastIdx
}

// newID makes id the current entity (a new run, or a page's first row):
// its dictionary index, and the page's bounds.
func (c *uuidColumn) newID(id [16]byte, pageStart bool) {
	if !c.hasLast || id != c.last {
		k, ok := c.dict[id]
		if !ok {
			if c.dict == nil {
				c.dict = map[[16]byte]int32{}
			}
			k = int32(len(c.dictVal))
			c.dict[id] = k
			c.dictVal = append(c.dictVal, id)
		}
		c.last, c.lastIdx, c.hasLast = id, k, true
	}
	if pageStart || bytes.Compare(id[:], c.idLo[:]) < 0 {
		c.idLo = id
	}
	if pageStart || bytes.Compare(id[:], c.idHi[:]) > 0 {
		c.idHi = id
	}
}

func (c *uuidColumn) encode(dst []byte) ([]byte, pageDesc, error) {
	out, err := (&rle.DictionaryEncoding{}).EncodeInt32(dst, c.idx)
	return out, pageDesc{enc: format.RLEDictionary, values: len(c.idx), lo: slices.Clone(c.idLo[:]), hi: slices.Clone(c.idHi[:])}, err
}

func (c *uuidColumn) dictionary() ([]byte, int) {
	plain := make([]byte, 0, 16*len(c.dictVal))
	for _, v := range c.dictVal {
		plain = append(plain, v[:]...)
	}
	n := len(c.dictVal)
	clear(c.dict)
	c.dictVal, c.hasLast = c.dictVal[:0], false
	return plain, n
}

func (c *uuidColumn) physical() format.Type { return format.FixedLenByteArray }
func (c *uuidColumn) less(a, b []byte) bool { return bytes.Compare(a, b) < 0 }
func (c *uuidColumn) resetPage()            { c.idx = c.idx[:0] }

// enumColumn is an optional BYTE_ARRAY enum, RLE_DICTIONARY; "" is NULL
// (parquet-go's convention for an optional string field; no enum has an
// empty value).
type enumColumn struct {
	idx     []int32 // the non-NULL values' dictionary indexes
	lv      levelBuf
	dict    map[string]int32
	dictVal []string
	lo, hi  string
	has     bool
}

func (c *enumColumn) add(v string) {
	if v == "" {
		c.lv.add(false)
		return
	}
	k, ok := c.dict[v]
	if !ok {
		if c.dict == nil {
			c.dict = map[string]int32{}
		}
		k = int32(len(c.dictVal))
		c.dict[v] = k
		c.dictVal = append(c.dictVal, v)
	}
	if !c.has || v < c.lo {
		c.lo = c.dictVal[k]
	}
	if !c.has || v > c.hi {
		c.hi = c.dictVal[k]
	}
	c.has = true
	c.idx = append(c.idx, k)
	c.lv.add(true)
}

func (c *enumColumn) encode(dst []byte) ([]byte, pageDesc, error) {
	d := pageDesc{enc: format.RLEDictionary, values: len(c.idx), lvl: &c.lv}
	if c.has {
		d.lo, d.hi = []byte(c.lo), []byte(c.hi)
	}
	out, err := (&rle.DictionaryEncoding{}).EncodeInt32(dst, c.idx)
	return out, d, err
}

func (c *enumColumn) dictionary() ([]byte, int) {
	var plain []byte
	for _, v := range c.dictVal {
		plain = binary.LittleEndian.AppendUint32(plain, uint32(len(v)))
		plain = append(plain, v...)
	}
	n := len(c.dictVal)
	clear(c.dict)
	c.dictVal = c.dictVal[:0]
	if plain == nil {
		plain = []byte{}
	}
	return plain, n
}

func (c *enumColumn) physical() format.Type { return format.ByteArray }
func (c *enumColumn) less(a, b []byte) bool { return bytes.Compare(a, b) < 0 }
func (c *enumColumn) resetPage()            { c.idx = c.idx[:0]; c.lv.reset(); c.has = false }

func le64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }
func le32(v int32) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

func bytesOrEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func isCompressed(c compress.Codec) bool { return c.CompressionCodec() != format.Uncompressed }
