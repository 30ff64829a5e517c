package parquetio

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqfile "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/battlake/battlake/schema"
)

// ArrowType is the Arrow type a registry column has in memory — the form in
// which later jobs (calculated layer, features) pass record batches, and
// what Arrow-based readers such as pyarrow produce from our files.
func ArrowType(t schema.Type) arrow.DataType {
	switch t.Kind {
	case schema.KindUUID:
		return extensions.NewUUIDType()
	case schema.KindDecimal:
		return &arrow.Decimal128Type{Precision: int32(t.Precision), Scale: int32(t.Scale)}
	case schema.KindTimestamptz:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case schema.KindTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case schema.KindDate:
		return arrow.FixedWidthTypes.Date32
	case schema.KindVarchar, schema.KindText, schema.KindEnum:
		return arrow.BinaryTypes.String
	case schema.KindJSON:
		// JSON text; the Parquet JSON logical type marks it on disk.
		return arrow.BinaryTypes.String
	case schema.KindInt:
		return arrow.PrimitiveTypes.Int32
	case schema.KindBigInt:
		return arrow.PrimitiveTypes.Int64
	case schema.KindBoolean:
		return arrow.FixedWidthTypes.Boolean
	case schema.KindDouble:
		return arrow.PrimitiveTypes.Float64
	}
	return nil
}

// ArrowSchema is a table's in-memory Arrow schema.
func ArrowSchema(t *schema.Table) *arrow.Schema {
	fields := make([]arrow.Field, len(t.Columns))
	for i, c := range t.Columns {
		fields[i] = arrow.Field{Name: c.Name, Type: ArrowType(c.Type), Nullable: !c.NotNull}
	}
	return arrow.NewSchema(fields, nil)
}

// ReadArrow reads a whole Parquet file into an Arrow table with arrow-go's
// reader (the same C++-compatible mapping pyarrow uses), as the file says,
// JSON as binary included. It checks what any Arrow reader sees; jobs read
// with Reader, which streams and returns the registry's Arrow schema.
func ReadArrow(ctx context.Context, r pqfile.ReaderAtSeeker) (arrow.Table, error) {
	tbl, err := pqarrow.ReadTable(ctx, r, pqfile.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("read parquet as arrow: %w", err)
	}
	return tbl, nil
}
