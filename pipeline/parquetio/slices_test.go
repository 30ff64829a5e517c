package parquetio

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/battlake/battlake/schema"
)

// sliceValue is row i of an Arrow column in the slice reader's physical form.
func sliceValue(a arrow.Array, i int) any {
	if ea, ok := a.(array.ExtensionArray); ok {
		return [16]byte(ea.Storage().(*array.FixedSizeBinary).Value(i))
	}
	switch a := a.(type) {
	case *array.Decimal128:
		if a.DataType().(*arrow.Decimal128Type).Precision <= 9 {
			return int32(a.Value(i).LowBits())
		}
		return int64(a.Value(i).LowBits())
	case *array.Timestamp:
		return int64(a.Value(i))
	case *array.Date32:
		return int32(a.Value(i))
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	}
	return nil
}

func (c *ColumnSlice) value(i int) any {
	switch {
	case c.UUID != nil:
		return c.UUID[i]
	case c.Int32 != nil:
		return c.Int32[i]
	case c.Int64 != nil:
		return c.Int64[i]
	case c.Float64 != nil:
		return c.Float64[i]
	case c.Bool != nil:
		return c.Bool[i]
	}
	return nil
}

// Every supported column of every table reads back through the slice
// reader with the Arrow fixture's values and NULLs, across row groups.
func TestSliceReaderEveryTable(t *testing.T) {
	for _, tb := range schema.All() {
		t.Run(tb.Name, func(t *testing.T) {
			want := fixture(tb, 50, memory.DefaultAllocator)
			defer want.Release()
			data := writeArrow(t, tb, ArrowWriterOptions{RowGroupRows: 16}, want)
			var cols []string
			var idx []int
			for i, c := range tb.Columns {
				switch c.Type.Kind {
				case schema.KindVarchar, schema.KindText, schema.KindEnum, schema.KindJSON:
				default:
					cols, idx = append(cols, c.Name), append(idx, i)
				}
			}
			if len(cols) == 0 {
				t.Skip("no numeric column")
			}
			r, err := NewSliceReader(bytes.NewReader(data), int64(len(data)), tb, ReadOptions{Columns: cols})
			if err != nil {
				t.Fatal(err)
			}
			row, groups := 0, 0
			eachSliceBatch(t, r, func(b *SliceBatch) {
				groups++
				for j, c := range b.Cols {
					a := want.Column(idx[j])
					for i := range b.Rows {
						valid := c.Valid == nil || c.Valid[i]
						if valid != a.IsValid(row+i) {
							t.Fatalf("row %d %s: valid %v, want %v", row+i, c.Name, valid, a.IsValid(row+i))
						}
						if valid && c.value(i) != sliceValue(a, row+i) {
							t.Fatalf("row %d %s = %v, want %v", row+i, c.Name, c.value(i), sliceValue(a, row+i))
						}
					}
				}
				row += b.Rows
			})
			if row != 50 || groups != 4 {
				t.Fatalf("read %d rows in %d row groups, want 50 in 4", row, groups)
			}
		})
	}
}

func TestSliceReaderRejects(t *testing.T) {
	tb := schema.MustLookup("telemetry_string_raw")
	rec := fixture(tb, 5, memory.DefaultAllocator)
	defer rec.Release()
	data := writeArrow(t, tb, ArrowWriterOptions{}, rec)
	if _, err := NewSliceReader(bytes.NewReader(data), int64(len(data)), tb, ReadOptions{Columns: []string{"ts", "mode"}}); !errors.Is(err, ErrUnsupportedColumn) {
		t.Errorf("enum column: %v", err)
	}
	if _, err := NewSliceReader(bytes.NewReader(data), int64(len(data)), schema.MustLookup("telemetry_jar_raw"), ReadOptions{}); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("other table: %v", err)
	}
}

// eachSliceBatch calls fn with every batch of r, reusing one SliceBatch.
func eachSliceBatch(t testing.TB, r *SliceReader, fn func(*SliceBatch)) {
	t.Helper()
	var b SliceBatch
	for {
		err := r.Next(&b)
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(&b)
	}
}
