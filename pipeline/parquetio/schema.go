// Package parquetio maps registry tables to Parquet and Arrow, writes them
// (parquet-go: RowWriter, TypedWriter; the package's own column writer,
// colwriter.go, behind TypedWriter for the raw jar and string telemetry and
// the daily truth; arrow-go: ArrowWriter for jobs that compute in Arrow)
// and reads them back (Reader: streaming Arrow records;
// SliceReader: plain Go slices, the faster path for numeric jobs). It is
// the only place that knows how a schema.Type becomes a Parquet physical
// and logical type, so every table file agrees with the DDL that
// `battlake schema ddl` prints.
//
// Mapping (chosen so DuckDB and pyarrow read back the seed's types):
//
//	UUID          FIXED_LEN_BYTE_ARRAY(16), UUID logical type
//	DECIMAL(p,s)  INT32 (p<=9) or INT64, DECIMAL(p,s) logical type
//	TIMESTAMPTZ   INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true)
//	TIMESTAMP     INT64 TIMESTAMP(MICROS, isAdjustedToUTC=false)
//	DATE          INT32 DATE
//	VARCHAR/TEXT  BYTE_ARRAY STRING
//	ENUM          BYTE_ARRAY STRING, dictionary-encoded (domain checked on write)
//	JSONB         BYTE_ARRAY JSON
//	INT / BIGINT  INT32 / INT64 (signed INT logical type)
//	BOOLEAN       BOOLEAN
//	DOUBLE        DOUBLE
//
// PK and NOT NULL columns are REQUIRED, the rest OPTIONAL. Encodings follow
// the registry's hints: DELTA_BINARY_PACKED for timestamps and measurement
// decimals, RLE_DICTIONARY for entity ids and enums, PLAIN otherwise.
// Files are ZSTD-compressed (codecFor), except the columns of sensor noise
// ZSTD cannot shrink (rawColumns).
// BYTE_STREAM_SPLIT is never used: DuckDB 1.5 cannot read it on INT32/INT64
// decimals (tooling notes).
package parquetio

import (
	"fmt"
	"slices"
	"sync"

	"github.com/battlake/battlake/schema"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// orderedGroup keeps the registry's column order; parquet.Group alone sorts
// fields by name, which would scramble the seed's column order in files.
// The order is computed once: parquet-go asks for the fields many times
// per writer, and a history's ~10^4 small files spent a tenth of their
// write time re-sorting them.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func newOrderedGroup(g parquet.Group, order []string) orderedGroup {
	fields := g.Fields()
	rank := make(map[string]int, len(order))
	for i, n := range order {
		rank[n] = i
	}
	slices.SortStableFunc(fields, func(a, b parquet.Field) int { return rank[a.Name()] - rank[b.Name()] })
	return orderedGroup{Group: g, fields: fields}
}

// Fields is a copy: callers own what parquet.Group.Fields returns.
func (g orderedGroup) Fields() []parquet.Field { return slices.Clone(g.fields) }

// Node returns the Parquet node of one column.
func Node(c *schema.Column) (parquet.Node, error) {
	var n parquet.Node
	t := c.Type
	switch t.Kind {
	case schema.KindUUID:
		n = parquet.UUID()
	case schema.KindDecimal:
		if t.Precision <= 9 {
			n = parquet.Decimal(t.Scale, t.Precision, parquet.Int32Type)
		} else {
			n = parquet.Decimal(t.Scale, t.Precision, parquet.Int64Type)
		}
	case schema.KindTimestamptz:
		n = parquet.TimestampAdjusted(parquet.Microsecond, true)
	case schema.KindTimestamp:
		n = parquet.TimestampAdjusted(parquet.Microsecond, false)
	case schema.KindDate:
		n = parquet.Date()
	case schema.KindVarchar, schema.KindText, schema.KindEnum:
		n = parquet.String()
	case schema.KindJSON:
		n = parquet.JSON()
	case schema.KindInt:
		n = parquet.Int(32)
	case schema.KindBigInt:
		n = parquet.Int(64)
	case schema.KindBoolean:
		n = parquet.Leaf(parquet.BooleanType)
	case schema.KindDouble:
		n = parquet.Leaf(parquet.DoubleType)
	default:
		return nil, fmt.Errorf("column %s: unsupported kind %v", c.Name, t.Kind)
	}
	if enc := encodingOf(c); enc != nil {
		n = parquet.Encoded(n, enc)
	}
	if c.NotNull {
		return parquet.Required(n), nil
	}
	return parquet.Optional(n), nil
}

func encodingOf(c *schema.Column) encoding.Encoding {
	hint := c.Encoding
	if hint == schema.EncAuto && c.Type.Kind == schema.KindEnum {
		hint = schema.EncDict
	}
	switch hint {
	case schema.EncDict:
		return &parquet.RLEDictionary
	case schema.EncDelta:
		switch c.Type.Kind {
		case schema.KindDecimal, schema.KindTimestamptz, schema.KindTimestamp, schema.KindDate, schema.KindInt, schema.KindBigInt:
			return &parquet.DeltaBinaryPacked
		case schema.KindVarchar, schema.KindText, schema.KindJSON:
			return &parquet.DeltaByteArray
		}
	case schema.EncPlain:
		return &parquet.Plain
	}
	return nil
}

var schemaCache sync.Map // *schema.Table -> *parquet.Schema

// Schema returns the Parquet schema of a registry table (cached).
func Schema(t *schema.Table) (*parquet.Schema, error) {
	if s, ok := schemaCache.Load(t); ok {
		return s.(*parquet.Schema), nil
	}
	g := parquet.Group{}
	order := make([]string, 0, len(t.Columns))
	for i := range t.Columns {
		n, err := Node(&t.Columns[i])
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", t.Name, err)
		}
		if rawColumns[t.Name][t.Columns[i].Name] {
			n = parquet.Compressed(n, &parquet.Uncompressed)
		}
		g[t.Columns[i].Name] = n
		order = append(order, t.Columns[i].Name)
	}
	s := parquet.NewSchema(t.Name, newOrderedGroup(g, order))
	schemaCache.Store(t, s)
	return s, nil
}

// MustSchema is Schema for registry tables known to be valid.
func MustSchema(t *schema.Table) *parquet.Schema {
	s, err := Schema(t)
	if err != nil {
		panic(err)
	}
	return s
}
