package derive

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/uuid"
)

// Value readers of Arrow columns for readers outside this package (the
// report) that stream tables through EachRecord.

// UUIDAt reads a UUID value (the UUID extension type or its storage);
// false when NULL.
func UUIDAt(a arrow.Array, i int) (uuid.UUID, bool) { return uuidAt(a, i) }

// TimeAt reads a TIMESTAMP(TZ) value in UTC; zero when NULL.
func TimeAt(a arrow.Array, i int) time.Time { return tsAt(a, i) }

// StrAt reads a string-like value (plain or dictionary-encoded enum); ""
// when NULL.
func StrAt(a arrow.Array, i int) string { return str(a, i) }

// NumAt reads a DECIMAL or DOUBLE cell as a float64; false at NULL.
func NumAt(a arrow.Array, i int) (float64, bool) {
	if a.IsNull(i) {
		return 0, false
	}
	switch x := a.(type) {
	case *array.Decimal128:
		return x.Value(i).ToFloat64(x.DataType().(*arrow.Decimal128Type).Scale), true
	case *array.Float64:
		return x.Value(i), true
	}
	return 0, false
}
