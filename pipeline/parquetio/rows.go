package parquetio

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
)

// RowBuilder assembles one row of a registry table from Go values, checking
// each against the column's type (NOT NULL, enum domain, VARCHAR length,
// DECIMAL range). It is the write path for the small tables (master data,
// transactions, derived operations); the high-volume telemetry tables use
// TypedWriter instead. A RowBuilder is reused: Row() copies nothing, so
// append the returned row before calling Reset.
type RowBuilder struct {
	t     *schema.Table
	index map[string]int
	vals  []parquet.Value
	set   []bool
	err   error
	buf   []byte // arena for byte values of the current batch
}

// NewRowBuilder returns a builder for t.
func NewRowBuilder(t *schema.Table) *RowBuilder {
	b := &RowBuilder{t: t, index: make(map[string]int, len(t.Columns)),
		vals: make([]parquet.Value, len(t.Columns)), set: make([]bool, len(t.Columns))}
	for i, c := range t.Columns {
		b.index[c.Name] = i
	}
	return b
}

// Table is the builder's table.
func (b *RowBuilder) Table() *schema.Table { return b.t }

// Reset starts a new row.
func (b *RowBuilder) Reset() *RowBuilder {
	clear(b.vals)
	clear(b.set)
	b.err = nil
	return b
}

// Set assigns a column. nil, a nil pointer or a zero time.Time mean NULL.
// Accepted Go types per kind: UUID uuid.UUID/*uuid.UUID/[16]byte; DECIMAL
// and DOUBLE float64/*float64; TIMESTAMP(TZ)/DATE time.Time/*time.Time;
// VARCHAR/TEXT/ENUM string/*string; JSONB string/[]byte/json.RawMessage or
// any value to marshal; INT int/int32/*int; BIGINT int64/int; BOOLEAN
// bool/*bool.
func (b *RowBuilder) Set(col string, v any) *RowBuilder {
	if b.err != nil {
		return b
	}
	i, ok := b.index[col]
	if !ok {
		b.err = fmt.Errorf("table %s: unknown column %s", b.t.Name, col)
		return b
	}
	c := &b.t.Columns[i]
	val, null, err := b.convert(c, v)
	if err != nil {
		b.err = err
		return b
	}
	if null {
		val = parquet.Value{}
	}
	b.vals[i] = val
	b.set[i] = !null
	return b
}

func (b *RowBuilder) convert(c *schema.Column, v any) (parquet.Value, bool, error) {
	bad := func() (parquet.Value, bool, error) {
		return parquet.Value{}, false, fmt.Errorf("table %s column %s: cannot store %T as %s", b.t.Name, c.Name, v, c.Type.SQL())
	}
	// Dereference pointers; a nil pointer is NULL.
	switch p := v.(type) {
	case nil:
		return parquet.Value{}, true, nil
	case *uuid.UUID:
		if p == nil {
			return parquet.Value{}, true, nil
		}
		v = *p
	case *float64:
		if p == nil {
			return parquet.Value{}, true, nil
		}
		v = *p
	case *time.Time:
		if p == nil {
			return parquet.Value{}, true, nil
		}
		v = *p
	case *string:
		if p == nil {
			return parquet.Value{}, true, nil
		}
		v = *p
	case *int:
		if p == nil {
			return parquet.Value{}, true, nil
		}
		v = *p
	case *bool:
		if p == nil {
			return parquet.Value{}, true, nil
		}
		v = *p
	}
	switch c.Type.Kind {
	case schema.KindUUID:
		switch x := v.(type) {
		case uuid.UUID:
			return parquet.FixedLenByteArrayValue(b.bytes(x[:])), false, nil
		case [16]byte:
			return parquet.FixedLenByteArrayValue(b.bytes(x[:])), false, nil
		}
	case schema.KindDecimal:
		x, ok := v.(float64)
		if !ok {
			return bad()
		}
		u, err := c.ScaleDecimal(x)
		if err != nil {
			return parquet.Value{}, false, err
		}
		if c.Type.Precision <= 9 {
			return parquet.Int32Value(int32(u)), false, nil
		}
		return parquet.Int64Value(u), false, nil
	case schema.KindDouble:
		if x, ok := v.(float64); ok {
			return parquet.DoubleValue(x), false, nil
		}
	case schema.KindTimestamptz, schema.KindTimestamp:
		if x, ok := v.(time.Time); ok {
			if x.IsZero() {
				return parquet.Value{}, true, nil
			}
			if c.Type.Kind == schema.KindTimestamp {
				// Wall clock: keep the local reading, drop the zone.
				_, off := x.Zone()
				return parquet.Int64Value(x.UnixMicro() + int64(off)*1e6), false, nil
			}
			return parquet.Int64Value(x.UnixMicro()), false, nil
		}
	case schema.KindDate:
		if x, ok := v.(time.Time); ok {
			if x.IsZero() {
				return parquet.Value{}, true, nil
			}
			y, m, d := x.Date()
			days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
			return parquet.Int32Value(int32(days)), false, nil
		}
	case schema.KindVarchar, schema.KindText, schema.KindEnum:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		if c.Type.Kind == schema.KindEnum {
			if err := c.CheckEnum(x); err != nil {
				return parquet.Value{}, false, err
			}
		}
		if c.Type.Kind == schema.KindVarchar {
			if err := c.CheckVarchar(x); err != nil {
				return parquet.Value{}, false, err
			}
		}
		return parquet.ByteArrayValue(b.bytes([]byte(x))), false, nil
	case schema.KindJSON:
		var raw []byte
		switch x := v.(type) {
		case string:
			raw = []byte(x)
		case []byte:
			raw = x
		case json.RawMessage:
			raw = x
		default:
			m, err := json.Marshal(x)
			if err != nil {
				return parquet.Value{}, false, fmt.Errorf("table %s column %s: %w", b.t.Name, c.Name, err)
			}
			raw = m
		}
		if !json.Valid(raw) {
			return parquet.Value{}, false, fmt.Errorf("table %s column %s: invalid JSON %.60q", b.t.Name, c.Name, raw)
		}
		return parquet.ByteArrayValue(b.bytes(raw)), false, nil
	case schema.KindInt:
		switch x := v.(type) {
		case int:
			if int(int32(x)) != x {
				return parquet.Value{}, false, fmt.Errorf("table %s column %s: value %d overflows INT", b.t.Name, c.Name, x)
			}
			return parquet.Int32Value(int32(x)), false, nil
		case int32:
			return parquet.Int32Value(x), false, nil
		}
	case schema.KindBigInt:
		switch x := v.(type) {
		case int:
			return parquet.Int64Value(int64(x)), false, nil
		case int64:
			return parquet.Int64Value(x), false, nil
		}
	case schema.KindBoolean:
		if x, ok := v.(bool); ok {
			return parquet.BooleanValue(x), false, nil
		}
	}
	return bad()
}

// bytes copies into the builder's arena so values stay valid after the
// caller's buffer changes; the arena is released by ReleaseArena.
func (b *RowBuilder) bytes(p []byte) []byte {
	start := len(b.buf)
	if cap(b.buf)-start < len(p) {
		// Start a new arena chunk; rows already built keep the old one.
		b.buf = make([]byte, 0, max(64<<10, 2*len(p)))
		start = 0
	}
	b.buf = append(b.buf, p...)
	return b.buf[start : start+len(p) : start+len(p)]
}

// Row validates NOT NULL columns and returns the row (a fresh slice).
func (b *RowBuilder) Row() (parquet.Row, error) {
	if b.err != nil {
		return nil, b.err
	}
	row := make(parquet.Row, len(b.vals))
	for i := range b.t.Columns {
		c := &b.t.Columns[i]
		if !b.set[i] {
			if c.NotNull {
				return nil, fmt.Errorf("table %s column %s: NULL in a NOT NULL column", b.t.Name, c.Name)
			}
			row[i] = parquet.Value{}.Level(0, 0, i)
			continue
		}
		def := 0
		if !c.NotNull {
			def = 1
		}
		row[i] = b.vals[i].Level(0, def, i)
	}
	return row, nil
}
