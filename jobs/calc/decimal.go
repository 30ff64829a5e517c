package calc

import (
	"fmt"
	"math"
)

// UUID is a 16-byte identifier as the lake stores it (Parquet UUID,
// Arrow's uuid extension type over FixedSizeBinary(16)).
type UUID = [16]byte

// Null markers of unscaled decimal columns (see the package doc).
const (
	Null32 int32 = math.MinInt32
	Null64 int64 = math.MinInt64
)

// decimalCol is an output column's decimal type: values are rounded to its
// scale and refused when they do not fit its precision, as jobs.quant does
// for the raw tables: a value that does not fit is an error, never clipped.
type decimalCol struct {
	name  string
	scale float64 // 10^scale
	limit float64 // 10^precision: |unscaled| must stay below it
}

func newDecimalCol(name string, precision, scale int) decimalCol {
	return decimalCol{name: name, scale: math.Pow10(scale), limit: math.Pow10(precision)}
}

// q32 rounds x to the column's scale (half away from zero) for a column on
// INT32 (precision <= 9). NaN, infinities and out-of-range values are
// errors naming the column and the value.
func (c decimalCol) q32(x float64) (int32, error) {
	u := math.Round(x * c.scale)
	if !(math.Abs(u) < c.limit) { // also catches NaN
		return 0, fmt.Errorf("column %s: value %g does not fit", c.name, x)
	}
	return int32(u), nil
}

// q64 is q32 for a column on INT64 (precision 10-18).
func (c decimalCol) q64(x float64) (int64, error) {
	u := math.Round(x * c.scale)
	if !(math.Abs(u) < c.limit) {
		return 0, fmt.Errorf("column %s: value %g does not fit", c.name, x)
	}
	return int64(u), nil
}

// Output columns of the four tables (schema/tables_calc.go).
var (
	colSOC        = newDecimalCol("soc_pct", 5, 2)
	colSOH        = newDecimalCol("soh_pct", 5, 2)
	colPower      = newDecimalCol("power_w", 10, 2)
	colTHD        = newDecimalCol("thd_pct", 5, 2)
	colMeasuredAh = newDecimalCol("measured_capacity_ah", 6, 2)
	colPctRated   = newDecimalCol("capacity_pct_of_rated", 5, 2)
	colCorrR      = newDecimalCol("temp_corrected_resistance_mohm", 8, 3)
	colBaseline   = newDecimalCol("baseline_pct", 5, 2)
)

// Input scales of the raw columns the kernels read.
const (
	scaleJarV    = 1e3 // telemetry_jar_raw.voltage_v DECIMAL(5,3): mV
	scaleTemp    = 1e1 // temperature_c DECIMAL(4,1): 0.1 °C
	scaleRes     = 1e3 // resistance_mohm DECIMAL(8,3): µΩ
	scaleStrV    = 1e2 // telemetry_string_raw.voltage_v DECIMAL(6,2): 10 mV
	scaleCurrent = 1e3 // current_a DECIMAL(7,3): mA
	scaleRipple  = 1e4 // ripple_capture.ripple_voltage_v DECIMAL(6,4): 0.1 mV
)

// microsPerSecond converts the lake's timestamps.
const microsPerSecond = 1e6

// clamp bounds x to [lo, hi] (NaN stays NaN). Comparisons rather than
// the builtin min/max, whose NaN and signed-zero rules cost more.
func clamp(x, lo, hi float64) float64 {
	switch {
	case x < lo:
		return lo
	case x > hi:
		return hi
	}
	return x
}

// idString is u in the canonical 8-4-4-4-12 form, for error messages.
func idString(u UUID) string {
	const hexd = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexd[x>>4], hexd[x&15]
		j += 2
	}
	return string(b[:])
}
