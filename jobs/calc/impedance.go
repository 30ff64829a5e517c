package calc

import (
	"fmt"
	"math"
)

// ResistanceTemp is the empirical temperature correction of a jar's ohmic
// value to 25 °C. vrla-physics.md: resistance falls about 1 %/°C as the jar
// warms and rises about 1-1.5 %/°C below 25 °C. The spec calls the method
// "Arrhenius correction"; what this is, honestly, is an Arrhenius-shaped
// (exponential in temperature) empirical correction with two fitted
// slopes, not an activation-energy model: an exponential keeps the factor
// positive and multiplicative (two corrections compose), and 1 %/°C near
// 25 °C corresponds to an apparent activation energy of about
// 0.01·R·T² ≈ 7.4 kJ/mol. The factor is continuous at 25 °C:
//
//	R25 = R(T) · exp(k·(T − 25)),  k = WarmPerC above 25 °C, ColdPerC below.
type ResistanceTemp struct {
	WarmPerC float64 // fractional fall per °C above 25 °C (default 0.010)
	ColdPerC float64 // fractional rise per °C below 25 °C (default 0.0125, the middle of 1-1.5 %)
}

// DefaultResistanceTemp is the correction documented on ResistanceTemp.
var DefaultResistanceTemp = ResistanceTemp{WarmPerC: 0.010, ColdPerC: 0.0125}

// To25 is the resistance (any unit) measured at tempC, corrected to 25 °C.
func (p ResistanceTemp) To25(r, tempC float64) float64 {
	d := tempC - 25
	k := p.ColdPerC
	if d > 0 {
		k = p.WarmPerC
	}
	return r * math.Exp(k*d)
}

// ImpedanceRaw is one impedance_measurement_raw row. Decimals are unscaled
// at the column's scale; Null32 is NULL.
type ImpedanceRaw struct {
	MeasurementID      UUID
	BatteryID          UUID
	MeasuredAt         int64 // UTC microseconds
	ResistanceMicroOhm int32 // resistance_mohm DECIMAL(8,3): µΩ
	TemperatureDeciC   int32 // temperature_c DECIMAL(4,1): 0.1 °C
}

// ImpedanceCalcRow is one impedance_measurement_calc row (MeasurementID and
// the two decimals) plus the keys the SOH kernel needs (BatteryID,
// MeasuredAt, the corrected value as a float: NaN when NULL).
type ImpedanceCalcRow struct {
	MeasurementID UUID
	BatteryID     UUID
	MeasuredAt    int64
	// temp_corrected_resistance_mohm, unscaled (scale 3, µΩ), Null32 when
	// the resistance or the temperature is NULL.
	CorrectedMicroOhm int32
	// baseline_pct, unscaled (scale 2), Null32 without a corrected value.
	BaselineCentiPct int32
	CorrectedMOhm    float64
}

// impBase is a battery's baseline: the mean corrected value of the readings
// at its first timestamp (one reading, unless two instruments share it).
type impBase struct {
	firstAt, lastAt int64
	sum             float64
	n               int
}

// ImpedanceCalc computes impedance_measurement_calc. It keeps one baseline
// per battery across calls, so a caller may feed the table's partitions in
// order, or seed baselines from an earlier run with SetBaseline.
type ImpedanceCalc struct {
	Temp ResistanceTemp
	base map[UUID]*impBase
}

// NewImpedanceCalc returns a kernel using the given temperature correction.
func NewImpedanceCalc(t ResistanceTemp) *ImpedanceCalc {
	return &ImpedanceCalc{Temp: t, base: make(map[UUID]*impBase)}
}

// SetBaseline seeds a battery's baseline (its first corrected reading, mΩ,
// taken at firstAt) when the history before the rows about to be fed is
// not fed itself. impedance_measurement_raw is small (quarterly per jar),
// so the simplest caller feeds the whole history and needs none of this.
func (k *ImpedanceCalc) SetBaseline(battery UUID, firstAt int64, correctedMOhm float64) {
	k.base[battery] = &impBase{firstAt: firstAt, lastAt: firstAt, sum: correctedMOhm, n: 1}
}

// Run appends to out (reused: pass out[:0]) one row per input row. in must
// be sorted by (battery_id, measured_at) as the table is, and a battery's
// rows must come in time order across calls. The baseline is the battery's
// first corrected reading; readings at that same timestamp are the
// baseline itself (100 %) and the baseline is their mean, so the result
// does not depend on the order of rows sharing a timestamp. A reading
// without a corrected value (NULL resistance or temperature) neither gets
// a baseline_pct nor becomes the baseline.
func (k *ImpedanceCalc) Run(in []ImpedanceRaw, out []ImpedanceCalcRow) ([]ImpedanceCalcRow, error) {
	for i := range in {
		r := &in[i]
		row := ImpedanceCalcRow{MeasurementID: r.MeasurementID, BatteryID: r.BatteryID, MeasuredAt: r.MeasuredAt,
			CorrectedMicroOhm: Null32, BaselineCentiPct: Null32, CorrectedMOhm: math.NaN()}
		b := k.base[r.BatteryID]
		if b != nil && r.MeasuredAt < b.lastAt {
			return out, fmt.Errorf("impedance measurement %s: measured_at %d before the battery's previous reading %d: rows not sorted by (battery_id, measured_at)", idString(r.MeasurementID), r.MeasuredAt, b.lastAt)
		}
		if r.ResistanceMicroOhm != Null32 && r.TemperatureDeciC != Null32 {
			c := k.Temp.To25(float64(r.ResistanceMicroOhm)/scaleRes, float64(r.TemperatureDeciC)/scaleTemp)
			q, err := colCorrR.q32(c)
			if err != nil {
				return out, fmt.Errorf("impedance measurement %s: %w", idString(r.MeasurementID), err)
			}
			// The stored (rounded) value is what later readers see, so the
			// baseline and the ratio use it too.
			c = float64(q) / colCorrR.scale
			row.CorrectedMicroOhm, row.CorrectedMOhm = q, c
			pct := 100.0
			switch {
			case b == nil:
				b = &impBase{firstAt: r.MeasuredAt, sum: c, n: 1}
				k.base[r.BatteryID] = b
			case r.MeasuredAt == b.firstAt:
				b.sum += c
				b.n++
			default:
				pct = c / (b.sum / float64(b.n)) * 100
			}
			if row.BaselineCentiPct, err = colBaseline.q32(pct); err != nil {
				return out, fmt.Errorf("impedance measurement %s: %w", idString(r.MeasurementID), err)
			}
		}
		if b != nil {
			b.lastAt = r.MeasuredAt
		}
		out = append(out, row)
	}
	return out, nil
}
