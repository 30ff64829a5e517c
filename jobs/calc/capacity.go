package calc

import (
	"fmt"
	"math"
)

// CapacityParams are the normalisations of a capacity test
// (capacity_test_calc). Defaults in DefaultCapacityParams.
type CapacityParams struct {
	// RatedHours is the discharge time of battery_model.capacity_ah: VRLA
	// standby blocks are rated at the 10-hour rate (C10), so the rated
	// current is capacity_ah/10.
	RatedHours float64
	// PeukertK is the effective Peukert exponent. vrla-physics.md: quoted
	// AGM values are 1.05-1.15, but AGM datasheets give C3/C10 ≈ 0.75-0.80
	// and a 15-minute rate near 0.5 of C10, an effective exponent of about
	// 1.2-1.3 between those rates. 1.25 reproduces both (C3/C10 = 0.78,
	// 15 min: 0.47), so it covers rectifier (C/5-C/10) and UPS (1-3 C) tests.
	PeukertK float64
	// Capacity-temperature factor f(T), estimate (IEEE 450-style table,
	// asymmetric): available capacity falls ColdPerC per °C below 25 °C and
	// gains WarmPerC per °C above it, at most WarmMax.
	ColdPerC, WarmPerC, WarmMax float64
	// FailBelowPct and MarginalBelowPct: end of life is 80 % of rated (IEEE
	// 1188/450, EUROBAT); 80-90 % is marginal (test yearly once below 90 %).
	FailBelowPct, MarginalBelowPct float64
}

// DefaultCapacityParams are the values documented on CapacityParams.
var DefaultCapacityParams = CapacityParams{
	RatedHours: 10, PeukertK: 1.25,
	ColdPerC: 0.006, WarmPerC: 0.003, WarmMax: 1.03,
	FailBelowPct: 80, MarginalBelowPct: 90,
}

// CapacityTestRaw is the part of a capacity_test_raw row the kernel reads.
// Decimals are unscaled at the column's scale; Null32 is NULL.
type CapacityTestRaw struct {
	TestID              UUID
	StringID            UUID
	TestDate            int64  // UTC microseconds
	TestType            string // full_discharge, partial_discharge, impedance_sweep
	DischargeRateCentiA int32  // discharge_rate_a DECIMAL(6,2)
	DurationDeciMin     int32  // discharge_duration_min DECIMAL(6,1)
	AmbientDeciC        int32  // ambient_temp_c DECIMAL(4,1)
}

// CapacityTestCalc is a capacity_test_calc row (TestID, the two decimals,
// PassFail) plus what the SOH kernel joins on: the string and the time the
// result exists (KnownAt = test_date + duration: an as-of join must not
// see a test before it has ended).
type CapacityTestCalc struct {
	TestID, StringID UUID
	KnownAt          int64
	MeasuredCentiAh  int32  // measured_capacity_ah, unscaled (scale 2), Null32
	PctCenti         int32  // capacity_pct_of_rated, unscaled (scale 2), Null32
	PassFail         string // "pass", "marginal", "fail"; "" is NULL
	Pct              float64
}

// tempFactor is f(T), the capacity available at T relative to 25 °C.
func (p CapacityParams) tempFactor(tempC float64) float64 {
	if tempC < 25 {
		return 1 - p.ColdPerC*(25-tempC)
	}
	return math.Min(p.WarmMax, 1+p.WarmPerC*(tempC-25))
}

// Normalise converts the capacity measured at a constant discharge current
// (A) and ambient temperature (°C; NaN: taken as 25 °C, no correction)
// into the capacity at the rated rate and 25 °C:
//
//	C_rated = C_meas · (I / I_rated)^(k−1) / f(T),   I_rated = ratedAh / RatedHours
//
// Peukert: a faster discharge delivers less, so a test above the rated
// current is scaled up; f(T) as on CapacityParams.
func (p CapacityParams) Normalise(measuredAh, currentA, tempC, ratedAh float64) float64 {
	c := measuredAh * math.Pow(currentA/(ratedAh/p.RatedHours), p.PeukertK-1)
	if !math.IsNaN(tempC) {
		c /= p.tempFactor(tempC)
	}
	return c
}

// Compute derives one capacity_test_calc row from its raw test and the
// rated capacity (battery_model.capacity_ah of the string's jars; a series
// string has the capacity of one jar).
//
// measured_capacity_ah is the spec's `current × duration` as measured; the
// percentage of rated uses the rate- and temperature-normalised capacity
// (Normalise), so tests at different rates and room temperatures compare.
// pass_fail is decided on the stored (rounded) percentage, so a reader
// re-applying the thresholds to the column agrees: fail below 80.00,
// marginal from 80.00 to below 90.00, pass from 90.00.
//
// A partial_discharge stops before cutoff: its Ah is what was drawn, not a
// capacity, so percentage and verdict are NULL. An impedance_sweep (or a
// test missing its current or duration) has no discharge: all NULL.
func (p CapacityParams) Compute(raw CapacityTestRaw, ratedAh float64) (CapacityTestCalc, error) {
	out := CapacityTestCalc{TestID: raw.TestID, StringID: raw.StringID, KnownAt: raw.TestDate,
		MeasuredCentiAh: Null32, PctCenti: Null32, Pct: math.NaN()}
	switch raw.TestType {
	case "full_discharge", "partial_discharge":
	case "impedance_sweep":
		return out, nil
	default:
		return out, fmt.Errorf("capacity test %s: unknown test_type %q", idString(raw.TestID), raw.TestType)
	}
	if raw.DischargeRateCentiA == Null32 || raw.DurationDeciMin == Null32 {
		return out, nil
	}
	if !(ratedAh > 0) {
		return out, fmt.Errorf("capacity test %s: rated capacity %g Ah is not positive", idString(raw.TestID), ratedAh)
	}
	amps := float64(raw.DischargeRateCentiA) / 100
	minutes := float64(raw.DurationDeciMin) / 10
	if amps <= 0 || minutes < 0 {
		return out, fmt.Errorf("capacity test %s: discharge_rate_a %g and discharge_duration_min %g must be positive", idString(raw.TestID), amps, minutes)
	}
	out.KnownAt = raw.TestDate + int64(math.Round(minutes*60*microsPerSecond))
	measured := amps * minutes / 60
	var err error
	if out.MeasuredCentiAh, err = colMeasuredAh.q32(measured); err != nil {
		return out, fmt.Errorf("capacity test %s: %w", idString(raw.TestID), err)
	}
	if raw.TestType == "partial_discharge" {
		return out, nil
	}
	temp := math.NaN()
	if raw.AmbientDeciC != Null32 {
		temp = float64(raw.AmbientDeciC) / scaleTemp
	}
	pct := p.Normalise(measured, amps, temp, ratedAh) / ratedAh * 100
	if out.PctCenti, err = colPctRated.q32(pct); err != nil {
		return out, fmt.Errorf("capacity test %s: %w", idString(raw.TestID), err)
	}
	out.Pct = float64(out.PctCenti) / colPctRated.scale
	switch {
	case out.Pct < p.FailBelowPct:
		out.PassFail = "fail"
	case out.Pct < p.MarginalBelowPct:
		out.PassFail = "marginal"
	default:
		out.PassFail = "pass"
	}
	return out, nil
}
