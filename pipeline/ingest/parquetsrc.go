package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Parquet input: each value is rendered as the CSV contract's text for
// its logical type and goes through the same checks, so a Parquet export
// with compatible types (any integer width for an INT, a DOUBLE or any
// DECIMAL for a DECIMAL column, timestamps in any unit, strings for enums)
// is validated exactly like a CSV one. source_row is the row number from 1.

// pqColumn renders one flat Parquet column.
type pqColumn struct {
	name   string
	render func(dst []byte, v parquet.Value) []byte
}

func pqRenderer(f parquet.Field) (func(dst []byte, v parquet.Value) []byte, error) {
	typ := f.Type()
	lt := typ.LogicalType()
	var lv format.LogicalTypeValue
	if lt != nil {
		lv = lt.Value
	}
	kind := typ.Kind()
	switch l := lv.(type) {
	case *format.UUIDType:
		return func(dst []byte, v parquet.Value) []byte {
			b := v.ByteArray()
			if len(b) != 16 {
				return append(dst, b...)
			}
			var u val
			copy(u.u[:], b)
			return formatUUID(dst, u.u)
		}, nil
	case *format.DecimalType:
		scale := int(l.Scale)
		return func(dst []byte, v parquet.Value) []byte {
			switch v.Kind() {
			case parquet.Int32:
				return appendDecimal(dst, int64(v.Int32()), scale)
			case parquet.Int64:
				return appendDecimal(dst, v.Int64(), scale)
			}
			// Big-endian two's complement bytes.
			b := v.ByteArray()
			x := new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
			s := x.String()
			neg := s[0] == '-'
			if neg {
				s = s[1:]
				dst = append(dst, '-')
			}
			for len(s) <= scale {
				s = "0" + s
			}
			if scale == 0 {
				return append(dst, s...)
			}
			return append(append(append(dst, s[:len(s)-scale]...), '.'), s[len(s)-scale:]...)
		}, nil
	case *format.TimestampType:
		unit := l.Unit.Value.Duration()
		utc := l.IsAdjustedToUTC
		return func(dst []byte, v parquet.Value) []byte {
			var t time.Time
			switch unit {
			case time.Millisecond:
				t = time.UnixMilli(v.Int64())
			case time.Microsecond:
				t = time.UnixMicro(v.Int64())
			default:
				t = time.Unix(0, v.Int64())
			}
			if utc {
				return t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999Z07:00")
			}
			return t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999")
		}, nil
	case *format.DateType:
		return func(dst []byte, v parquet.Value) []byte {
			return time.Unix(int64(v.Int32())*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
		}, nil
	}
	switch kind {
	case parquet.Boolean:
		return func(dst []byte, v parquet.Value) []byte { return strconv.AppendBool(dst, v.Boolean()) }, nil
	case parquet.Int32:
		return func(dst []byte, v parquet.Value) []byte { return strconv.AppendInt(dst, int64(v.Int32()), 10) }, nil
	case parquet.Int64:
		return func(dst []byte, v parquet.Value) []byte { return strconv.AppendInt(dst, v.Int64(), 10) }, nil
	case parquet.Float:
		return func(dst []byte, v parquet.Value) []byte {
			return strconv.AppendFloat(dst, float64(v.Float()), 'g', -1, 32)
		}, nil
	case parquet.Double:
		return func(dst []byte, v parquet.Value) []byte { return strconv.AppendFloat(dst, v.Double(), 'g', -1, 64) }, nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return func(dst []byte, v parquet.Value) []byte { return append(dst, v.ByteArray()...) }, nil
	}
	return nil, fmt.Errorf("column %s: Parquet type %v is not supported", f.Name(), typ)
}

func formatUUID(dst []byte, u [16]byte) []byte {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return append(dst, b[:]...)
}

// pqBatch is rendered rows: fields per row, their text in buf.
type pqBatch struct {
	first  int64 // row number of the first row, from 1
	fields [][][]byte
}

func (e *engine) readParquet(ctx context.Context, fi int) error {
	f := e.files[fi]
	obj, err := f.openAt(ctx)
	if err != nil {
		return fmt.Errorf("ingest: open %s: %w", f.name, err)
	}
	defer obj.Close()
	// The source's SHA-256 for lineage: one sequential pass.
	h := newSHA()
	if _, err := io.Copy(h, io.NewSectionReader(obj, 0, obj.Size())); err != nil {
		return fmt.Errorf("ingest: read %s: %w", f.name, err)
	}
	e.hashes[fi] = hex.EncodeToString(h.Sum(nil))
	pf, err := parquet.OpenFile(obj, obj.Size(), parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return fmt.Errorf("ingest: %s is not a readable Parquet file: %w", f.name, err)
	}
	var cols []pqColumn
	for _, fd := range pf.Schema().Fields() {
		if !fd.Leaf() || fd.Repeated() {
			return fmt.Errorf("ingest: %s: column %s is nested or repeated: only flat Parquet files can be ingested", f.name, fd.Name())
		}
		r, err := pqRenderer(fd)
		if err != nil {
			return fmt.Errorf("ingest: %s: %w", f.name, err)
		}
		cols = append(cols, pqColumn{name: fd.Name(), render: r})
	}
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.name
	}
	plan, err := e.plan(fi, header)
	if err != nil {
		return err
	}

	return parallel(ctx, e, fi, plan, func(ctx context.Context, yield func(pqBatch) error) error {
		var rowNum int64 = 1
		buf := make([]parquet.Row, 1024)
		for _, rg := range pf.RowGroups() {
			rows := rg.Rows()
			for {
				n, err := rows.ReadRows(buf)
				if n > 0 {
					b := pqBatch{first: rowNum, fields: make([][][]byte, n)}
					var text []byte
					for i, r := range buf[:n] {
						fs := make([][]byte, len(cols))
						for _, v := range r {
							j := v.Column()
							if j < 0 || j >= len(cols) || v.IsNull() {
								continue
							}
							start := len(text)
							text = cols[j].render(text, v)
							fs[j] = text[start:len(text):len(text)]
							if len(fs[j]) == 0 && !v.IsNull() && (v.Kind() == parquet.ByteArray) {
								fs[j] = nil // an empty string reads as NULL, as in CSV
							}
						}
						b.fields[i] = fs
					}
					rowNum += int64(n)
					if err := yield(b); err != nil {
						rows.Close()
						return err
					}
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					rows.Close()
					return fmt.Errorf("ingest: read %s: %w", f.name, err)
				}
			}
			rows.Close()
		}
		return nil
	}, func(wk *worker, b pqBatch) error {
		var raw []byte
		for i, fs := range b.fields {
			raw = raw[:0]
			for j, x := range fs {
				if j > 0 {
					raw = append(raw, ',')
				}
				raw = appendQuoted(raw, x)
			}
			if err := wk.row(fs, b.first+int64(i), raw); err != nil {
				return err
			}
		}
		return nil
	})
}
