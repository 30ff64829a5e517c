package parquetio

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"
	"unsafe"

	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// jarWriter writes telemetry_jar_raw, the lake's largest table (a 5 s
// fleet-day is 33.6 M rows), straight from JarRawRow values into Parquet
// pages. parquet-go's generic row machinery (per-value dictionary probes,
// definition-level buffers and histograms, page bounds over boxed values)
// was two thirds of the table's write time; the columns here are fixed:
//
//	ts               INT64 timestamp, required   DELTA_BINARY_PACKED
//	battery_id       FIXED[16] uuid, required    RLE_DICTIONARY (dictionary per row group)
//	voltage_v …      INT32 decimal, optional     DELTA_BINARY_PACKED, RLE levels; 0 is NULL
//
// The file is what parquet-go writes for the same schema and options in
// every respect a reader looks at: the footer's schema, key-value metadata
// and column orders are taken from a parquet-go file of the table (so they
// cannot drift from the registry), row groups of RowGroupRows, data pages
// v1 with statistics, chunk statistics and level histograms, the column
// and offset indexes, and the declared sort order. Pages hold jarPageRows
// rows of every column. TypedWriter routes JarRawRow here, so the
// synthesizer and ingest still write the same bytes.
type jarWriter struct {
	out    *CountingWriter
	tmpl   *fileTemplate
	codecs [jarColumns]compress.Codec // per column: the schema's, else the table's
	rgRows int

	// the current page, column by column
	ts         []int64
	idx        []int32 // battery_id: indexes into the row group's dictionary
	idLo, idHi [16]byte
	opt        [4]optColumn
	rgCount    int // rows in the current row group (flushed pages included)
	cols       [jarColumns]chunkBuilder
	dict       map[[16]byte]int32
	dictVal    [][16]byte
	lastID     [16]byte
	lastIdx    int32
	hasLast    bool

	rowGroups []format.RowGroup
	indexes   [][jarColumns]pageIndex
	total     int64

	// scratch
	i64    []int64
	i32    []int32
	lvl    []byte
	enc    []byte
	lvlEnc []byte
	page   []byte
	comp   []byte
	hdr    bytes.Buffer
}

const (
	jarColumns = 6
	// jarPageRows rows make a page of every column: ~0.5 MB of timestamps,
	// about parquet-go's 1 MiB page buffer cut for the widest column.
	jarPageRows = 1 << 16
)

// chunkBuilder collects one column chunk's compressed pages.
type chunkBuilder struct {
	data               []byte // page headers and pages, in file order (the dictionary page is prepended at flush)
	uncompressed       int64  // headers included
	numValues, nulls   int64
	min, max           []byte // plain-encoded chunk bounds
	pages              pageIndex
	dataPages          int32
	defHist0, defHist1 int64
}

// pageIndex is one column chunk's column and offset index, by page.
type pageIndex struct {
	nullPages  []bool
	mins, maxs [][]byte
	nullCounts []int64
	offsets    []int64 // within the chunk's data (the dictionary page excluded)
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

func newJarWriter(w io.Writer, t *schema.Table, s *parquet.Schema, extra []parquet.WriterOption) (*jarWriter, error) {
	cfg, err := parquet.NewWriterConfig(append(writerOptions(t, s, true), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	tp, err := templateFor(t, s)
	if err != nil {
		return nil, err
	}
	jw := &jarWriter{out: &CountingWriter{W: w}, tmpl: tp, rgRows: int(cfg.MaxRowsPerRowGroup), dict: map[[16]byte]int32{}}
	fields := s.Fields()
	if len(fields) != jarColumns {
		return nil, fmt.Errorf("table %s: %d columns, the jar writer writes %d", t.Name, len(fields), jarColumns)
	}
	for c, f := range fields {
		jw.codecs[c] = cmp.Or[compress.Codec](f.Compression(), cfg.Compression)
	}
	if jw.rgRows <= 0 || jw.rgRows > RowGroupRows {
		jw.rgRows = RowGroupRows
	}
	if _, err := jw.out.Write([]byte("PAR1")); err != nil {
		return nil, err
	}
	return jw, nil
}

// jarRow is a row type the jar writer takes: JarRawRow (zero is NULL) or
// JarRawNullableRow (nil is NULL, zero a reading). Both start with TS and
// BatteryID; their optional decimals are read at their offsets.
type jarRowType interface{ JarRawRow | JarRawNullableRow }

var (
	jarOffsets = [4]uintptr{unsafe.Offsetof(JarRawRow{}.VoltageV), unsafe.Offsetof(JarRawRow{}.TemperatureC),
		unsafe.Offsetof(JarRawRow{}.ResistanceMOhm), unsafe.Offsetof(JarRawRow{}.ConductanceS)}
	jarNullableOffsets = [4]uintptr{unsafe.Offsetof(JarRawNullableRow{}.VoltageV), unsafe.Offsetof(JarRawNullableRow{}.TemperatureC),
		unsafe.Offsetof(JarRawNullableRow{}.ResistanceMOhm), unsafe.Offsetof(JarRawNullableRow{}.ConductanceS)}
)

// A compile-time check of the prefix writeJarRows reads through unsafe
// pointers: TS at offset 0 and BatteryID at the same offset in both types
// (the index is out of range otherwise).
var _ = [1]struct{}{}[unsafe.Offsetof(JarRawRow{}.TS)+unsafe.Offsetof(JarRawNullableRow{}.TS)+
	(unsafe.Offsetof(JarRawRow{}.BatteryID)^unsafe.Offsetof(JarRawNullableRow{}.BatteryID))]

// writeJarRows buffers rows column by column, cutting pages and row groups.
func writeJarRows[R jarRowType](jw *jarWriter, rows []R, nullable bool) error {
	idOff := unsafe.Offsetof(JarRawRow{}.BatteryID)
	offs := jarOffsets
	if nullable {
		offs = jarNullableOffsets
	}
	for len(rows) > 0 {
		// a chunk that ends at most at the page's (and row group's) end,
		// written column by column: tight loops
		n := min(len(rows), jarPageRows-len(jw.ts), jw.rgRows-jw.rgCount-len(jw.ts))
		chunk := rows[:n]
		rows = rows[n:]
		base := len(jw.ts)
		jw.ts = slices.Grow(jw.ts, n)[:base+n]
		for i, ts := 0, jw.ts[base:]; i < len(chunk) && i < len(ts); i++ {
			ts[i] = *(*int64)(unsafe.Pointer(&chunk[i]))
		}
		jw.idx = slices.Grow(jw.idx, n)[:base+n]
		for i, idx := 0, jw.idx[base:]; i < len(chunk) && i < len(idx); i++ {
			if id := (*[16]byte)(unsafe.Add(unsafe.Pointer(&chunk[i]), idOff)); *id != jw.lastID || i+base == 0 {
				jw.newID(*id, i+base == 0)
			}
			idx[i] = jw.lastIdx
		}
		for k := range jw.opt {
			if nullable {
				addPtrs(&jw.opt[k], chunk, offs[k])
			} else {
				addInts(&jw.opt[k], chunk, offs[k])
			}
		}
		if len(jw.ts) == jarPageRows || jw.rgCount+len(jw.ts) == jw.rgRows {
			if err := jw.flushPage(); err != nil {
				return err
			}
			if jw.rgCount == jw.rgRows {
				if err := jw.flushRowGroup(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// newID makes id the current battery (a new run, or a page's first row):
// its dictionary index, and the page's id bounds.
func (jw *jarWriter) newID(id [16]byte, pageStart bool) {
	if !jw.hasLast || id != jw.lastID {
		k, ok := jw.dict[id]
		if !ok {
			k = int32(len(jw.dictVal))
			jw.dict[id] = k
			jw.dictVal = append(jw.dictVal, id)
		}
		jw.lastID, jw.lastIdx, jw.hasLast = id, k, true
	}
	if pageStart || bytes.Compare(id[:], jw.idLo[:]) < 0 {
		jw.idLo = id
	}
	if pageStart || bytes.Compare(id[:], jw.idHi[:]) > 0 {
		jw.idHi = id
	}
}

// optColumn buffers one page of an optional decimal: its non-NULL values,
// and its definition levels
// only once the page has a NULL: a page without one has a single run of
// ones (most pages; building the levels was a tenth of the writer's time).
type optColumn struct {
	vals []int32
	lvl  []byte // materialized at the page's first NULL
}

// addInts appends the int32 field at offset off of every row; 0 is NULL.
func addInts[R jarRowType](o *optColumn, rows []R, off uintptr) {
	if o.lvl == nil {
		// no NULL in the page yet: values in place until the first one
		base := len(o.vals)
		o.vals = slices.Grow(o.vals, len(rows))[:base+len(rows)]
		dst := o.vals[base:]
		for i := 0; i < len(rows) && i < len(dst); i++ {
			v := *(*int32)(unsafe.Add(unsafe.Pointer(&rows[i]), off))
			if v == 0 {
				o.vals = o.vals[:base+i]
				rows = rows[i:]
				goto levels
			}
			dst[i] = v
		}
		return
	}
levels:
	for i := range rows {
		v := *(*int32)(unsafe.Add(unsafe.Pointer(&rows[i]), off))
		o.addLevel(v, v != 0)
	}
}

// addPtrs appends the *int32 field at offset off of every row; nil is NULL.
func addPtrs[R jarRowType](o *optColumn, rows []R, off uintptr) {
	for i := range rows {
		if p := *(**int32)(unsafe.Add(unsafe.Pointer(&rows[i]), off)); p == nil {
			o.addLevel(0, false)
		} else if o.lvl != nil {
			o.addLevel(*p, true)
		} else {
			o.vals = append(o.vals, *p)
		}
	}
}

func (o *optColumn) addLevel(v int32, present bool) {
	if o.lvl == nil {
		o.lvl = make([]byte, len(o.vals), max(2*len(o.vals), 1024))
		for i := range o.lvl {
			o.lvl[i] = 1
		}
	}
	if !present {
		o.lvl = append(o.lvl, 0)
		return
	}
	o.lvl = append(o.lvl, 1)
	o.vals = append(o.vals, v)
}

// levels appends the page's definition levels, RLE/bit-packed (bit width
// 1), to dst.
func (o *optColumn) levels(dst []byte) ([]byte, error) {
	if o.lvl != nil {
		return levelsRLE.EncodeLevels(dst, o.lvl)
	}
	// one RLE run: its length shifted left once (the RLE flag is 0), then
	// the repeated value in one byte
	return append(binary.AppendUvarint(dst, uint64(len(o.vals))<<1), 1), nil
}

func (o *optColumn) bounds() (lo, hi []byte) {
	if len(o.vals) == 0 {
		return nil, nil
	}
	l, h := o.vals[0], o.vals[0]
	for _, v := range o.vals {
		l, h = min(l, v), max(h, v)
	}
	return le32(l), le32(h)
}

func (o *optColumn) reset() { o.vals, o.lvl = o.vals[:0], nil }

// flushPage encodes the buffered rows as one page of every column.
func (jw *jarWriter) flushPage() error {
	n := int64(len(jw.ts))
	if n == 0 {
		return nil
	}
	first := int64(jw.rgCount)
	ts := jw.ts
	lo, hi := ts[0], ts[0]
	for _, v := range ts {
		lo, hi = min(lo, v), max(hi, v)
	}
	enc, err := (&delta.BinaryPackedEncoding{}).EncodeInt64(jw.enc[:0], ts)
	if err != nil {
		return err
	}
	jw.enc = enc
	if err := jw.putPage(0, first, n, 0, nil, enc, format.DeltaBinaryPacked, le64(lo), le64(hi)); err != nil {
		return err
	}
	if enc, err = (&rle.DictionaryEncoding{}).EncodeInt32(jw.enc[:0], jw.idx); err != nil {
		return err
	}
	jw.enc = enc
	if err := jw.putPage(1, first, n, 0, nil, enc, format.RLEDictionary, slices.Clone(jw.idLo[:]), slices.Clone(jw.idHi[:])); err != nil {
		return err
	}
	for k := range jw.opt {
		o := &jw.opt[k]
		bLo, bHi := o.bounds()
		if enc, err = (&delta.BinaryPackedEncoding{}).EncodeInt32(jw.enc[:0], o.vals); err != nil {
			return err
		}
		jw.enc = enc
		if err := jw.putPage(2+k, first, n, n-int64(len(o.vals)), o, enc, format.DeltaBinaryPacked, bLo, bHi); err != nil {
			return err
		}
		o.reset()
	}
	jw.rgCount += int(n)
	jw.total += n
	jw.ts, jw.idx = jw.ts[:0], jw.idx[:0]
	return nil
}

var levelsRLE = rle.Encoding{BitWidth: 1}

// putPage appends one v1 data page to column c's chunk: the definition
// levels (when lvl is not nil) and the encoded values, compressed together.
func (jw *jarWriter) putPage(c int, firstRow, numValues, nulls int64, lvl *optColumn, values []byte, e format.Encoding, lo, hi []byte) error {
	page := jw.page[:0]
	if lvl != nil {
		enc, err := lvl.levels(jw.lvlEnc[:0])
		if err != nil {
			return err
		}
		jw.lvlEnc = enc
		page = binary.LittleEndian.AppendUint32(page, uint32(len(enc)))
		page = append(page, enc...)
	}
	page = append(page, values...)
	jw.page = page
	comp := page
	if codec := jw.codecs[c]; isCompressed(codec) {
		var err error
		if comp, err = codec.Encode(jw.comp[:0], page); err != nil {
			return err
		}
		jw.comp = comp
	}
	stats := format.Statistics{NullCount: nulls}
	if numValues > nulls {
		stats.MinValue, stats.MaxValue = lo, hi
	}
	h := format.PageHeader{Type: format.DataPage, UncompressedPageSize: int32(len(page)), CompressedPageSize: int32(len(comp))}
	h.DataPageHeader.Valid = true
	h.DataPageHeader.V = format.DataPageHeader{NumValues: int32(numValues), Encoding: e,
		DefinitionLevelEncoding: format.RLE, RepetitionLevelEncoding: format.RLE, Statistics: stats}
	hdr, err := jw.header(&h)
	if err != nil {
		return err
	}
	cb := &jw.cols[c]
	cb.pages.offsets = append(cb.pages.offsets, int64(len(cb.data)))
	cb.pages.sizes = append(cb.pages.sizes, int32(len(hdr)+len(comp)))
	cb.pages.firstRows = append(cb.pages.firstRows, firstRow)
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
	if lvl != nil {
		cb.defHist0 += nulls
		cb.defHist1 += numValues - nulls
	}
	if numValues > nulls {
		if cb.min == nil || jw.less(c, lo, cb.min) {
			cb.min = append(cb.min[:0], lo...)
		}
		if cb.max == nil || jw.less(c, cb.max, hi) {
			cb.max = append(cb.max[:0], hi...)
		}
	}
	return nil
}

func (jw *jarWriter) header(h *format.PageHeader) ([]byte, error) {
	jw.hdr.Reset()
	if err := thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&jw.hdr)).Encode(h); err != nil {
		return nil, err
	}
	return jw.hdr.Bytes(), nil
}

// less orders plain-encoded values of column c as Parquet compares them.
func (jw *jarWriter) less(c int, a, b []byte) bool {
	switch c {
	case 0:
		return int64(binary.LittleEndian.Uint64(a)) < int64(binary.LittleEndian.Uint64(b))
	case 1:
		return bytes.Compare(a, b) < 0
	}
	return int32(binary.LittleEndian.Uint32(a)) < int32(binary.LittleEndian.Uint32(b))
}

// flushRowGroup writes the row group's chunks (the dictionary page first).
func (jw *jarWriter) flushRowGroup() error {
	if err := jw.flushPage(); err != nil {
		return err
	}
	if jw.rgCount == 0 {
		return nil
	}
	rg := format.RowGroup{NumRows: int64(jw.rgCount), SortingColumns: jw.tmpl.sorting, FileOffset: jw.out.N, Ordinal: int16(len(jw.rowGroups))}
	var idx [jarColumns]pageIndex
	for c := range jw.cols {
		cb := &jw.cols[c]
		path := jw.tmpl.md.Schema[c+1].Name
		md := format.ColumnMetaData{PathInSchema: []string{path}, Codec: jw.codecs[c].CompressionCodec(), NumValues: cb.numValues,
			Statistics: format.Statistics{NullCount: cb.nulls, MinValue: cb.min, MaxValue: cb.max}}
		start := jw.out.N
		var uncompressed int64
		switch c {
		case 0:
			md.Type, md.Encoding = format.Int64, []format.Encoding{format.DeltaBinaryPacked}
			md.EncodingStats = []format.PageEncodingStats{{PageType: format.DataPage, Encoding: format.DeltaBinaryPacked, Count: cb.dataPages}}
		case 1:
			md.Type, md.Encoding = format.FixedLenByteArray, []format.Encoding{format.Plain, format.RLEDictionary}
			plain := make([]byte, 0, 16*len(jw.dictVal))
			for _, v := range jw.dictVal {
				plain = append(plain, v[:]...)
			}
			comp, err := jw.codecs[c].Encode(nil, plain)
			if err != nil {
				return err
			}
			h := format.PageHeader{Type: format.DictionaryPage, UncompressedPageSize: int32(len(plain)), CompressedPageSize: int32(len(comp))}
			h.DictionaryPageHeader.Valid = true
			h.DictionaryPageHeader.V = format.DictionaryPageHeader{NumValues: int32(len(jw.dictVal)), Encoding: format.Plain}
			hdr, err := jw.header(&h)
			if err != nil {
				return err
			}
			md.DictionaryPageOffset = start
			if _, err := jw.out.Write(hdr); err != nil {
				return err
			}
			if _, err := jw.out.Write(comp); err != nil {
				return err
			}
			uncompressed = int64(len(hdr) + len(plain))
			md.EncodingStats = []format.PageEncodingStats{{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1},
				{PageType: format.DataPage, Encoding: format.RLEDictionary, Count: cb.dataPages}}
		default:
			md.Type, md.Encoding = format.Int32, []format.Encoding{format.RLE, format.DeltaBinaryPacked}
			md.EncodingStats = []format.PageEncodingStats{{PageType: format.DataPage, Encoding: format.DeltaBinaryPacked, Count: cb.dataPages}}
			md.SizeStatistics.DefinitionLevelHistogram = []int64{cb.defHist0, cb.defHist1}
		}
		md.DataPageOffset = jw.out.N
		if _, err := jw.out.Write(cb.data); err != nil {
			return err
		}
		for i := range cb.pages.offsets {
			cb.pages.offsets[i] += md.DataPageOffset
		}
		md.TotalUncompressedSize = uncompressed + cb.uncompressed
		md.TotalCompressedSize = jw.out.N - start
		rg.Columns = append(rg.Columns, format.ColumnChunk{MetaData: md})
		rg.TotalByteSize += md.TotalUncompressedSize
		rg.TotalCompressedSize += md.TotalCompressedSize
		idx[c] = cb.pages
		*cb = chunkBuilder{data: cb.data[:0]}
	}
	jw.rowGroups = append(jw.rowGroups, rg)
	jw.indexes = append(jw.indexes, idx)
	jw.rgCount = 0
	clear(jw.dict)
	jw.dictVal, jw.hasLast = jw.dictVal[:0], false
	return nil
}

// close writes the last row group, the page indexes and the footer.
func (jw *jarWriter) close() error {
	if err := jw.flushRowGroup(); err != nil {
		return err
	}
	enc := thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(jw.out))
	for i := range jw.rowGroups {
		for c := range jw.rowGroups[i].Columns {
			p := &jw.indexes[i][c]
			ci := format.ColumnIndex{NullPages: p.nullPages, MinValues: p.mins, MaxValues: p.maxs,
				BoundaryOrder: boundaryOrder(func(a, b []byte) bool { return jw.less(c, a, b) }, p), NullCounts: p.nullCounts}
			if c >= 2 {
				ci.DefinitionLevelHistogram = levelHistograms(p)
			}
			cc := &jw.rowGroups[i].Columns[c]
			cc.ColumnIndexOffset = jw.out.N
			if err := enc.Encode(&ci); err != nil {
				return err
			}
			cc.ColumnIndexLength = int32(jw.out.N - cc.ColumnIndexOffset)
		}
	}
	for i := range jw.rowGroups {
		for c := range jw.rowGroups[i].Columns {
			p := &jw.indexes[i][c]
			oi := format.OffsetIndex{}
			for k := range p.offsets {
				oi.PageLocations = append(oi.PageLocations, format.PageLocation{Offset: p.offsets[k], CompressedPageSize: p.sizes[k], FirstRowIndex: p.firstRows[k]})
			}
			cc := &jw.rowGroups[i].Columns[c]
			cc.OffsetIndexOffset = jw.out.N
			if err := enc.Encode(&oi); err != nil {
				return err
			}
			cc.OffsetIndexLength = int32(jw.out.N - cc.OffsetIndexOffset)
		}
	}
	md := jw.tmpl.md
	md.NumRows, md.RowGroups = jw.total, jw.rowGroups
	start := jw.out.N
	if err := enc.Encode(&md); err != nil {
		return err
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:4], uint32(jw.out.N-start))
	copy(tail[4:], "PAR1")
	_, err := jw.out.Write(tail[:])
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

func le64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }
func le32(v int32) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

func bytesOrEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func isCompressed(c compress.Codec) bool { return c.CompressionCodec() != format.Uncompressed }
