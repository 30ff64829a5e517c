package jobs

// Hot-path row types of the high-volume telemetry tables (the jar and
// string tables' are parquetio.JarRawRow and parquetio.StringRawRow, shared
// with ingest). Each must derive exactly the
// registry's Parquet schema (checked when the writer opens); encodings come
// from the registry. Decimals are unscaled integers at the column's scale;
// an optional numeric field's zero is NULL in parquet-go, so producers never
// emit a physical zero.

// Static targets for optional booleans: pointing at them costs no allocation.
var (
	boolTrue  = true
	boolFalse = false
)

func boolPtr(b bool) *bool {
	if b {
		return &boolTrue
	}
	return &boolFalse
}

type windowSampleRow struct {
	WindowID     [16]byte `parquet:"window_id,uuid"`
	TS           int64    `parquet:"ts,timestamp(microsecond)"`
	BatteryID    [16]byte `parquet:"battery_id,uuid"`
	VoltageV     int32    `parquet:"voltage_v,decimal(3:5),optional"`
	CurrentA     *int32   `parquet:"current_a,decimal(3:7),optional"`
	TemperatureC int32    `parquet:"temperature_c,decimal(1:4),optional"`
}

type rippleRow struct {
	CaptureTS      int64    `parquet:"capture_ts,timestamp(microsecond)"`
	StringID       [16]byte `parquet:"string_id,uuid"`
	SampleIdx      int32    `parquet:"sample_idx"`
	SampleRateHz   int32    `parquet:"sample_rate_hz"`
	RippleVoltageV *int32   `parquet:"ripple_voltage_v,decimal(4:6),optional"`
}

// arena32 backs the optional pointer fields of one batch of typed rows, for
// columns where zero is a real reading (a current, a ripple sample): a nil
// pointer is NULL, a pointer to 0 is 0. Sized once, reset after each
// Write (parquet-go copies the values), so it never allocates per row.
type arena32 struct{ v []int32 }

func newArena32(n int) *arena32 { return &arena32{v: make([]int32, 0, n)} }

func (a *arena32) ptr(x int32) *int32 {
	if len(a.v) == cap(a.v) {
		// Grow by replacement: rows already built keep the old array.
		a.v = make([]int32, 0, 2*cap(a.v)+16)
	}
	a.v = append(a.v, x)
	return &a.v[len(a.v)-1]
}

func (a *arena32) reset() { a.v = a.v[:0] }
