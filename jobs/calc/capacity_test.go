package calc

import (
	"math"
	"strings"
	"testing"
)

func TestCapacityHandComputed(t *testing.T) {
	p := DefaultCapacityParams
	const rated = 100 // Ah, C10: the rated current is 10 A
	for _, c := range []struct {
		name           string
		amps100, min10 int32 // discharge_rate_a ×100, duration ×10
		temp10         int32 // ambient ×10
		measured, pct  int32 // ×100
		verdict        string
	}{
		{"at the rated rate and 25 °C", 1000, 6000, 250, 10000, 10000, "pass"},
		// 20 A × 4 h = 80 Ah; Peukert (20/10)^0.25 = 1.189207 → 95.137 %.
		{"twice the rated current", 2000, 2400, 250, 8000, 9514, "pass"},
		// 10 A × 9 h = 90 Ah at 15 °C: f = 1 − 0.006·10 = 0.94 → 95.745 %.
		{"cold room", 1000, 5400, 150, 9000, 9574, "pass"},
		// 10 A × 9 h at 35 °C: f = 1.03 → 87.379 %.
		{"warm room", 1000, 5400, 350, 9000, 8738, "marginal"},
		{"exactly 90 %", 1000, 5400, 250, 9000, 9000, "pass"},
		{"just below 90 %", 1000, 5399, 250, 8998, 8998, "marginal"},
		{"exactly 80 %", 1000, 4800, 250, 8000, 8000, "marginal"},
		{"just below 80 %", 1000, 4799, 250, 7998, 7998, "fail"},
		// 10 A × 480.7 min = 80.1167 Ah at 25.5 °C: f = 1.0015 → 79.9967 %,
		// stored as 80.00: the verdict follows the stored value.
		{"rounds up to 80.00", 1000, 4807, 255, 8012, 8000, "marginal"},
		{"no ambient: no temperature correction", 1000, 5400, Null32, 9000, 9000, "pass"},
	} {
		raw := CapacityTestRaw{TestID: id(1), StringID: id(2), TestDate: 10 * hourUS, TestType: "full_discharge",
			DischargeRateCentiA: c.amps100, DurationDeciMin: c.min10, AmbientDeciC: c.temp10}
		got, err := p.Compute(raw, rated)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.MeasuredCentiAh != c.measured || got.PctCenti != c.pct || got.PassFail != c.verdict {
			t.Errorf("%s: measured %d pct %d %s, want %d %d %s", c.name, got.MeasuredCentiAh, got.PctCenti, got.PassFail, c.measured, c.pct, c.verdict)
		}
		wantKnown := raw.TestDate + int64(c.min10)*6*int64(microsPerSecond)
		if got.KnownAt != wantKnown || got.StringID != raw.StringID || got.Pct != float64(c.pct)/100 {
			t.Errorf("%s: known at %d pct %g, want %d %g", c.name, got.KnownAt, got.Pct, wantKnown, float64(c.pct)/100)
		}
	}
}

func TestCapacityNullsAndErrors(t *testing.T) {
	p := DefaultCapacityParams
	partial := CapacityTestRaw{TestType: "partial_discharge", DischargeRateCentiA: 2000, DurationDeciMin: 300, AmbientDeciC: 250}
	got, err := p.Compute(partial, 100)
	if err != nil || got.MeasuredCentiAh != 1000 || got.PctCenti != Null32 || got.PassFail != "" || !math.IsNaN(got.Pct) {
		t.Errorf("partial discharge: %+v %v; want 10.00 Ah drawn, no percentage or verdict", got, err)
	}
	sweep := CapacityTestRaw{TestType: "impedance_sweep", DischargeRateCentiA: Null32, DurationDeciMin: Null32, AmbientDeciC: 250}
	got, err = p.Compute(sweep, 100)
	if err != nil || got.MeasuredCentiAh != Null32 || got.PctCenti != Null32 || got.PassFail != "" {
		t.Errorf("impedance sweep: %+v %v; want all NULL", got, err)
	}
	if _, err = p.Compute(CapacityTestRaw{TestType: "full_charge"}, 100); err == nil || !strings.Contains(err.Error(), "full_charge") {
		t.Errorf("unknown test type: %v", err)
	}
	full := CapacityTestRaw{TestType: "full_discharge", DischargeRateCentiA: 1000, DurationDeciMin: 6000, AmbientDeciC: 250}
	if _, err = p.Compute(full, 0); err == nil || !strings.Contains(err.Error(), "rated capacity") {
		t.Errorf("zero rated capacity: %v", err)
	}
	// 100 A for 10 h on a 1 Ah model: 1000 Ah fits DECIMAL(6,2), the
	// percentage (~560000 %) does not fit DECIMAL(5,2).
	huge := CapacityTestRaw{TestType: "full_discharge", DischargeRateCentiA: 10000, DurationDeciMin: 6000, AmbientDeciC: 250}
	if _, err = p.Compute(huge, 1); err == nil || !strings.Contains(err.Error(), "capacity_pct_of_rated") {
		t.Errorf("overflowing percentage: %v", err)
	}
}
