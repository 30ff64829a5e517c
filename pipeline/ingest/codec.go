package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math"
	"strconv"
	"time"

	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
)

// val is one column value in the ingest's working form: integers for every
// integer-like kind (decimals unscaled at the column's scale, timestamps in
// microseconds, dates in days since 1970-01-01), raw bytes for strings.
type val struct {
	null bool
	i    int64
	f    float64
	u    [16]byte
	b    []byte
}

// class groups kinds by their working form.
type class uint8

const (
	clsInt class = iota // DECIMAL, TIMESTAMP(TZ), DATE, INT, BIGINT, BOOLEAN
	clsUUID
	clsBytes // VARCHAR, TEXT, ENUM, JSONB
	clsDouble
)

func classOf(k schema.Kind) class {
	switch k {
	case schema.KindUUID:
		return clsUUID
	case schema.KindVarchar, schema.KindText, schema.KindEnum, schema.KindJSON:
		return clsBytes
	case schema.KindDouble:
		return clsDouble
	}
	return clsInt
}

// A record is one row in a self-describing byte string, so rows can be
// buffered in arenas, sorted by plain byte comparison and spilled to temp
// files:
//
//	u32 total length | u16 sort-key length | sort key | origin (1) | line (8, big endian) | payload
//
// The sort key is memcomparable (byte order = the table's SortBy order,
// NULLs last, as parquet.Ascending declares); origin and line break ties so
// that, among rows with one key, rows of the input come first in file
// order and the lake's row last. The payload holds every column.
const (
	originInput byte = 0
	originLake  byte = 1
)

type codec struct {
	t         *schema.Table
	cls       []class
	fixedOff  []int // per column: offset of its null byte in a fixed-width row
	fixedSize int
	sortIdx   []int // column indexes of t.SortBy
	pkIdx     []int // column indexes of the primary key (or the dedupe key)
}

func newCodec(t *schema.Table, dedupe []string) *codec {
	c := &codec{t: t}
	for _, col := range t.Columns {
		c.cls = append(c.cls, classOf(col.Type.Kind))
		c.fixedOff = append(c.fixedOff, c.fixedSize)
		c.fixedSize += 1 + fixedWidth[classOf(col.Type.Kind)]
	}
	for _, n := range t.SortBy {
		c.sortIdx = append(c.sortIdx, t.ColumnIndex(n))
	}
	for _, n := range dedupe {
		c.pkIdx = append(c.pkIdx, t.ColumnIndex(n))
	}
	return c
}

// appendKey appends the memcomparable key of vals over cols.
func (c *codec) appendKey(dst []byte, vals []val, cols []int) []byte {
	for _, i := range cols {
		v := &vals[i]
		if v.null {
			dst = append(dst, 2)
			continue
		}
		dst = append(dst, 1)
		switch c.cls[i] {
		case clsInt:
			dst = binary.BigEndian.AppendUint64(dst, uint64(v.i)^(1<<63))
		case clsUUID:
			dst = append(dst, v.u[:]...)
		case clsDouble:
			b := math.Float64bits(v.f)
			if b>>63 == 1 {
				b = ^b
			} else {
				b |= 1 << 63
			}
			dst = binary.BigEndian.AppendUint64(dst, b)
		case clsBytes:
			for _, x := range v.b {
				if x == 0 {
					dst = append(dst, 0, 0xff)
				} else {
					dst = append(dst, x)
				}
			}
			dst = append(dst, 0, 1)
		}
	}
	return dst
}

// appendRecord appends one record of vals.
func (c *codec) appendRecord(dst []byte, vals []val, origin byte, line int64) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0)
	dst = c.appendKey(dst, vals, c.sortIdx)
	keyLen := len(dst) - start - 6
	dst = append(dst, origin)
	dst = binary.BigEndian.AppendUint64(dst, uint64(line))
	for i := range vals {
		v := &vals[i]
		if v.null {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		switch c.cls[i] {
		case clsInt:
			dst = binary.AppendVarint(dst, v.i)
		case clsUUID:
			dst = append(dst, v.u[:]...)
		case clsDouble:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.f))
		case clsBytes:
			dst = binary.AppendUvarint(dst, uint64(len(v.b)))
			dst = append(dst, v.b...)
		}
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	binary.LittleEndian.PutUint16(dst[start+4:], uint16(keyLen))
	return dst
}

// A fixed-width row holds, per column, a null byte and the value: an
// integer or a double's bits (8 bytes), a UUID (16), or the offset and
// length of a byte value in a side arena (4 + 4). The fast path hands
// rows to its sequencer so: no varints, and a sixth of a []val's size.
var fixedWidth = [...]int{clsInt: 8, clsUUID: 16, clsBytes: 8, clsDouble: 8}

// appendFixed appends vals as one fixed-width row to dst, their bytes to
// arena.
func (c *codec) appendFixed(dst, arena []byte, vals []val) ([]byte, []byte) {
	n := len(dst)
	dst = append(dst, make([]byte, c.fixedSize)...)
	row := dst[n:]
	for i := range vals {
		v, o := &vals[i], c.fixedOff[i]
		if v.null {
			row[o] = 1
			continue
		}
		switch c.cls[i] {
		case clsInt:
			binary.LittleEndian.PutUint64(row[o+1:], uint64(v.i))
		case clsUUID:
			copy(row[o+1:o+17], v.u[:])
		case clsDouble:
			binary.LittleEndian.PutUint64(row[o+1:], math.Float64bits(v.f))
		case clsBytes:
			binary.LittleEndian.PutUint32(row[o+1:], uint32(len(arena)))
			binary.LittleEndian.PutUint32(row[o+5:], uint32(len(v.b)))
			arena = append(arena, v.b...)
		}
	}
	return dst, arena
}

// decodeFixed fills vals from a fixed-width row; byte values alias arena.
func (c *codec) decodeFixed(row, arena []byte, vals []val) {
	for i := range vals {
		v, o := &vals[i], c.fixedOff[i]
		*v = val{}
		if row[o] != 0 {
			v.null = true
			continue
		}
		switch c.cls[i] {
		case clsInt:
			v.i = int64(binary.LittleEndian.Uint64(row[o+1:]))
		case clsUUID:
			copy(v.u[:], row[o+1:o+17])
		case clsDouble:
			v.f = math.Float64frombits(binary.LittleEndian.Uint64(row[o+1:]))
		case clsBytes:
			a := binary.LittleEndian.Uint32(row[o+1:])
			l := binary.LittleEndian.Uint32(row[o+5:])
			v.b = arena[a : a+l : a+l]
			if v.b == nil {
				v.b = []byte{} // an empty string, not NULL
			}
		}
	}
}

// rec views one encoded record.
type rec []byte

func (r rec) sortKey() []byte { n := binary.LittleEndian.Uint16(r[4:]); return r[6 : 6+n] }

// fullKey is the sort key with origin and line: the merge order.
func (r rec) fullKey() []byte { n := binary.LittleEndian.Uint16(r[4:]); return r[6 : 6+int(n)+9] }

func (r rec) origin() byte { n := binary.LittleEndian.Uint16(r[4:]); return r[6+n] }

func (r rec) line() int64 {
	n := binary.LittleEndian.Uint16(r[4:])
	return int64(binary.BigEndian.Uint64(r[6+int(n)+1:]))
}

func (r rec) payload() []byte { n := binary.LittleEndian.Uint16(r[4:]); return r[6+int(n)+9:] }

func compareRec(a, b rec) int { return bytes.Compare(a.fullKey(), b.fullKey()) }

// decode fills vals from a record's payload; byte values alias r.
func (c *codec) decode(r rec, vals []val) {
	p := r.payload()
	for i := range vals {
		v := &vals[i]
		*v = val{}
		if p[0] == 0 {
			v.null = true
			p = p[1:]
			continue
		}
		p = p[1:]
		switch c.cls[i] {
		case clsInt:
			x, n := binary.Varint(p)
			v.i, p = x, p[n:]
		case clsUUID:
			copy(v.u[:], p[:16])
			p = p[16:]
		case clsDouble:
			v.f = math.Float64frombits(binary.LittleEndian.Uint64(p))
			p = p[8:]
		case clsBytes:
			l, n := binary.Uvarint(p)
			v.b = p[n : n+int(l)]
			p = p[n+int(l):]
		}
	}
}

// toParquet fills row with vals at the levels of t's flat schema.
func (c *codec) toParquet(vals []val, row parquet.Row) parquet.Row {
	row = row[:0]
	for i := range vals {
		col := &c.t.Columns[i]
		v := &vals[i]
		def := 1
		if col.NotNull {
			def = 0
		}
		if v.null {
			row = append(row, parquet.Value{}.Level(0, 0, i))
			continue
		}
		var pv parquet.Value
		switch col.Type.Kind {
		case schema.KindUUID:
			pv = parquet.FixedLenByteArrayValue(v.u[:])
		case schema.KindDecimal:
			if col.Type.Precision <= 9 {
				pv = parquet.Int32Value(int32(v.i))
			} else {
				pv = parquet.Int64Value(v.i)
			}
		case schema.KindDate, schema.KindInt:
			pv = parquet.Int32Value(int32(v.i))
		case schema.KindBoolean:
			pv = parquet.BooleanValue(v.i != 0)
		case schema.KindDouble:
			pv = parquet.DoubleValue(v.f)
		case schema.KindVarchar, schema.KindText, schema.KindEnum, schema.KindJSON:
			pv = parquet.ByteArrayValue(v.b)
		default: // timestamps, BIGINT
			pv = parquet.Int64Value(v.i)
		}
		row = append(row, pv.Level(0, def, i))
	}
	return row
}

// fromParquet fills vals from a row read back from a lake file of t.
func (c *codec) fromParquet(row parquet.Row, vals []val) {
	for i := range vals {
		vals[i] = val{null: true}
	}
	for _, pv := range row {
		i := pv.Column()
		if i < 0 || i >= len(vals) || pv.IsNull() {
			continue
		}
		v := &vals[i]
		v.null = false
		switch c.cls[i] {
		case clsInt:
			switch pv.Kind() {
			case parquet.Int32:
				v.i = int64(pv.Int32())
			case parquet.Boolean:
				if pv.Boolean() {
					v.i = 1
				}
			default:
				v.i = pv.Int64()
			}
		case clsUUID:
			copy(v.u[:], pv.ByteArray())
		case clsDouble:
			v.f = pv.Double()
		case clsBytes:
			v.b = append([]byte(nil), pv.ByteArray()...)
		}
	}
}

// format renders one value as CSV text per the package contract (for the
// raw_record of rejects found after parsing: duplicates).
func formatVal(dst []byte, col *schema.Column, v *val) []byte {
	if v.null {
		return dst
	}
	switch col.Type.Kind {
	case schema.KindUUID:
		return formatUUID(dst, v.u)
	case schema.KindDecimal:
		return appendDecimal(dst, v.i, col.Type.Scale)
	case schema.KindTimestamptz:
		return time.UnixMicro(v.i).UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999Z07:00")
	case schema.KindTimestamp:
		return time.UnixMicro(v.i).UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999")
	case schema.KindDate:
		return time.Unix(v.i*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
	case schema.KindBoolean:
		return strconv.AppendBool(dst, v.i != 0)
	case schema.KindDouble:
		return strconv.AppendFloat(dst, v.f, 'g', -1, 64)
	case schema.KindInt, schema.KindBigInt:
		return strconv.AppendInt(dst, v.i, 10)
	}
	return appendQuoted(dst, v.b)
}

// appendQuoted quotes b per RFC 4180 when it needs it.
func appendQuoted(dst, b []byte) []byte {
	if bytes.IndexAny(b, ",\"\r\n") < 0 {
		return append(dst, b...)
	}
	dst = append(dst, '"')
	for _, x := range b {
		if x == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, x)
	}
	return append(dst, '"')
}

// appendDecimal renders an unscaled decimal with scale fractional digits.
func appendDecimal(dst []byte, u int64, scale int) []byte {
	if u < 0 {
		dst = append(dst, '-')
		u = -u
	}
	s := strconv.FormatUint(uint64(u), 10)
	if scale == 0 {
		return append(dst, s...)
	}
	for len(s) <= scale {
		s = "0" + s
	}
	dst = append(dst, s[:len(s)-scale]...)
	dst = append(dst, '.')
	return append(dst, s[len(s)-scale:]...)
}

// formatRecord renders vals as one CSV line in schema order.
func formatRecord(t *schema.Table, vals []val) string {
	var b []byte
	for i := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = formatVal(b, &t.Columns[i], &vals[i])
	}
	return string(b)
}

func newSHA() hash.Hash { return sha256.New() }
