package calc

import (
	"math"
	"strings"
	"testing"
)

func id(b byte) UUID { return UUID{15: b} }

const hourUS = int64(3600 * microsPerSecond)

func TestResistanceTo25(t *testing.T) {
	p := DefaultResistanceTemp
	for _, c := range []struct{ r, temp, want float64 }{
		{4, 25, 4},
		{4, 35, 4 * math.Exp(0.10)},   // warm jar reads low: 4.4207
		{4, 15, 4 * math.Exp(-0.125)}, // cold jar reads high: 3.5300
		{4, 26, 4.0402},               // ~1 %/°C above 25
		{4, 24, 3.9503},               // ~1.25 %/°C below 25
	} {
		if got := p.To25(c.r, c.temp); math.Abs(got-c.want) > 5e-5 {
			t.Errorf("To25(%g, %g) = %.5f, want %.5f", c.r, c.temp, got, c.want)
		}
	}
}

func TestImpedanceCalcBaselineAndCorrection(t *testing.T) {
	a, b := id(1), id(2)
	in := []ImpedanceRaw{
		{MeasurementID: id(10), BatteryID: a, MeasuredAt: 1 * hourUS, ResistanceMicroOhm: 4000, TemperatureDeciC: Null32}, // no temperature: not the baseline
		{MeasurementID: id(11), BatteryID: a, MeasuredAt: 2 * hourUS, ResistanceMicroOhm: 4000, TemperatureDeciC: 250},
		{MeasurementID: id(12), BatteryID: a, MeasuredAt: 2 * hourUS, ResistanceMicroOhm: 4100, TemperatureDeciC: 250}, // same ts as the first: the baseline itself
		{MeasurementID: id(13), BatteryID: a, MeasuredAt: 3 * hourUS, ResistanceMicroOhm: 4860, TemperatureDeciC: 250},
		{MeasurementID: id(14), BatteryID: a, MeasuredAt: 4 * hourUS, ResistanceMicroOhm: 4400, TemperatureDeciC: 350},
		{MeasurementID: id(20), BatteryID: b, MeasuredAt: 1 * hourUS, ResistanceMicroOhm: 3000, TemperatureDeciC: 150},
		{MeasurementID: id(21), BatteryID: b, MeasuredAt: 5 * hourUS, ResistanceMicroOhm: Null32, TemperatureDeciC: 250},
		{MeasurementID: id(22), BatteryID: b, MeasuredAt: 6 * hourUS, ResistanceMicroOhm: 3000, TemperatureDeciC: 250},
	}
	k := NewImpedanceCalc(DefaultResistanceTemp)
	out, err := k.Run(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Hand computed: baseline of a = mean(4.000, 4.100) = 4.050 mΩ.
	// 4.400 at 35 °C → 4.4·e^0.1 = 4.86276 → 4.863; 4.863/4.05 = 120.07 %.
	// b: 3.000 at 15 °C → 3·e^-0.125 = 2.64749 → 2.647 (baseline);
	// 3.000 at 25 °C → 3.000/2.647 = 113.34 %.
	want := []struct{ corr, pct int32 }{
		{Null32, Null32}, {4000, 10000}, {4100, 10000}, {4860, 12000}, {4863, 12007},
		{2647, 10000}, {Null32, Null32}, {3000, 11334},
	}
	if len(out) != len(want) {
		t.Fatalf("%d rows, want %d", len(out), len(want))
	}
	for i, w := range want {
		if out[i].MeasurementID != in[i].MeasurementID || out[i].CorrectedMicroOhm != w.corr || out[i].BaselineCentiPct != w.pct {
			t.Errorf("row %d: corrected %d pct %d, want %d %d", i, out[i].CorrectedMicroOhm, out[i].BaselineCentiPct, w.corr, w.pct)
		}
	}

	// The same rows fed one at a time, in two calls, give the same result.
	k2 := NewImpedanceCalc(DefaultResistanceTemp)
	var got []ImpedanceCalcRow
	for i := range in {
		if got, err = k2.Run(in[i:i+1], got); err != nil {
			t.Fatal(err)
		}
	}
	for i := range out {
		if got[i] != out[i] && !(math.IsNaN(got[i].CorrectedMOhm) && math.IsNaN(out[i].CorrectedMOhm)) {
			t.Errorf("row %d fed alone: %+v, want %+v", i, got[i], out[i])
		}
	}

	// A seeded baseline replaces the history.
	k3 := NewImpedanceCalc(DefaultResistanceTemp)
	k3.SetBaseline(a, 2*hourUS, 4.050)
	got, err = k3.Run(in[3:4], nil)
	if err != nil || got[0].BaselineCentiPct != 12000 {
		t.Errorf("seeded baseline: %+v, %v; want 120.00 %%", got, err)
	}
}

func TestImpedanceCalcRefuses(t *testing.T) {
	a := id(1)
	k := NewImpedanceCalc(DefaultResistanceTemp)
	_, err := k.Run([]ImpedanceRaw{
		{BatteryID: a, MeasuredAt: 2 * hourUS, ResistanceMicroOhm: 4000, TemperatureDeciC: 250},
		{BatteryID: a, MeasuredAt: 1 * hourUS, ResistanceMicroOhm: 4000, TemperatureDeciC: 250},
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "not sorted") {
		t.Errorf("unsorted rows: %v", err)
	}
	// 99000 mΩ at 45 °C corrects to 120919 mΩ: beyond DECIMAL(8,3).
	_, err = NewImpedanceCalc(DefaultResistanceTemp).Run([]ImpedanceRaw{{BatteryID: a, ResistanceMicroOhm: 99_000_000, TemperatureDeciC: 450}}, nil)
	if err == nil || !strings.Contains(err.Error(), "temp_corrected_resistance_mohm") || !strings.Contains(err.Error(), "120918.87") {
		t.Errorf("overflowing correction: %v", err)
	}
	// 11× the baseline is 1100 %: beyond DECIMAL(5,2).
	_, err = NewImpedanceCalc(DefaultResistanceTemp).Run([]ImpedanceRaw{
		{BatteryID: a, MeasuredAt: 1, ResistanceMicroOhm: 1000, TemperatureDeciC: 250},
		{BatteryID: a, MeasuredAt: 2, ResistanceMicroOhm: 11000, TemperatureDeciC: 250},
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "baseline_pct") || !strings.Contains(err.Error(), "1100") {
		t.Errorf("overflowing baseline_pct: %v", err)
	}
}
