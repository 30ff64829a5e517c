package calc

import (
	"math"
	"testing"
)

// An ageing jar: resistance rises over its baseline by rise(t), accelerating
// (a knee), and capacity falls 0.5 points per point of rise. The string is
// tested three times; the jar floats between tests, sampled every 15 min.
const yearUS = 365 * 24 * hourUS

func riseAt(t int64) float64 { return 0.4 * math.Pow(float64(t)/float64(3*yearUS), 1.5) }

func truthPct(t int64) float64 { return 100 - 0.5*100*riseAt(t) }

func ageingFixture(s UUID, jars []UUID, from, to int64, scales ...float64) fixture {
	step := 15 * 60 * int64(microsPerSecond)
	var f fixture
	for ts := from; ts < to; ts += step {
		f.str.TS = append(f.str.TS, ts)
		f.str.StringID = append(f.str.StringID, s)
		f.str.VoltageCentiV = append(f.str.VoltageCentiV, 32688)
		f.str.CurrentMA = append(f.str.CurrentMA, 70)
	}
	f.perJar = len(f.str.TS)
	for n, j := range jars {
		scale := 1.0
		if n < len(scales) {
			scale = scales[n]
		}
		for _, ts := range f.str.TS {
			// The BMS reads at the jar's temperature, which swings between 20
			// and 30 °C: the kernel corrects it back to 25 °C.
			temp := 25 + 5*math.Sin(float64(ts)/float64(24*hourUS)*2*math.Pi)
			r25 := 4 * (1 + scale*riseAt(ts))
			f.jar.TS = append(f.jar.TS, ts)
			f.jar.BatteryID = append(f.jar.BatteryID, j)
			f.jar.VoltageMV = append(f.jar.VoltageMV, 13620)
			f.jar.TemperatureDeciC = append(f.jar.TemperatureDeciC, int32(math.Round(temp*10)))
			f.jar.ResistanceMicroOhm = append(f.jar.ResistanceMicroOhm, int32(math.Round(1000*r25/DefaultResistanceTemp.To25(1, math.Round(temp*10)/10))))
		}
	}
	return f
}

func TestSOHTracksCapacityTests(t *testing.T) {
	s, a := id(1), id(2)
	other, b := id(3), id(4) // no test, no baseline
	knowns := []int64{1 * yearUS, 2 * yearUS, 29 * yearUS / 10}
	var tests []CapacityTestCalc
	for _, k := range knowns {
		tests = append(tests, CapacityTestCalc{StringID: s, KnownAt: k, Pct: math.Round(truthPct(k)*100) / 100})
	}
	// One test of another string must not leak into this one.
	tests = append(tests, CapacityTestCalc{StringID: other, KnownAt: yearUS / 2, Pct: 50})
	f := ageingFixture(s, []UUID{a}, 0, 3*yearUS)
	out := runAll(t, f, []JarBattery{{BatteryID: a, StringID: s, Model: agm100, InitialResistanceMOhm: 4}}, tests, nil)
	step := f.jar.TS[1] - f.jar.TS[0]
	row := func(ts int64) int { return int((ts + step - 1) / step) } // first row at or after ts
	soh := func(i int) float64 { return float64(out.SOHCentiPct[i]) / 100 }

	// Before any test: resistance alone, 100 − 0.4·rise (truth: 0.5·rise).
	i := row(yearUS / 2)
	if want := 100 - 0.4*100*riseAt(f.jar.TS[i]); math.Abs(soh(i)-want) > 0.05 {
		t.Errorf("half a year, no test yet: SOH %.2f, want %.2f", soh(i), want)
	}
	if math.Abs(soh(i)-truthPct(f.jar.TS[i])) > 0.5 {
		t.Errorf("half a year: SOH %.2f, truth %.2f", soh(i), truthPct(f.jar.TS[i]))
	}
	for n, k := range knowns {
		i := row(k)
		if math.Abs(soh(i)-tests[n].Pct) > 0.02 {
			t.Errorf("test %d just known: SOH %.2f, want the test's %.2f", n, soh(i), tests[n].Pct)
		}
		// As-of: the row just before the test is known does not see it
		// (after the second test the fitted slope predicts the third test,
		// so only the first two can tell).
		if n < 2 && math.Abs(soh(i-1)-tests[n].Pct) < 0.3 {
			t.Errorf("test %d: the row before it is known already reads %.2f", n, soh(i-1))
		}
	}
	// Between tests the estimate follows the truth: within 2 points with the
	// prior slope (0.4 vs 0.5), and within 0.2 once two tests have fitted it.
	for i := row(knowns[0]); i < row(knowns[2]); i += 97 {
		tol := 2.0
		if i >= row(knowns[1]) {
			tol = 0.2
		}
		if d := math.Abs(soh(i) - truthPct(f.jar.TS[i])); d > tol {
			t.Fatalf("at %.2f years: SOH %.2f, truth %.2f", float64(f.jar.TS[i])/float64(yearUS), soh(i), truthPct(f.jar.TS[i]))
		}
	}
	// With the prior slope the estimate just before the second test is
	// 96.15 − 0.4·(rise − rise₁) ≈ 90.5, not the test's 89.1.
	i = row(knowns[1]) - 1
	if want := tests[0].Pct - 0.4*100*(riseAt(f.jar.TS[i])-riseAt(knowns[0])); math.Abs(soh(i)-want) > 0.1 {
		t.Errorf("before the second test: SOH %.2f, want %.2f", soh(i), want)
	}

	// A jar without a baseline or tests has no SOH.
	g := ageingFixture(other, []UUID{b}, 0, yearUS/4)
	out = runAll(t, g, []JarBattery{{BatteryID: b, StringID: other, Model: agm100}}, nil, nil)
	if out.SOHCentiPct[len(out.SOHCentiPct)-1] != Null32 {
		t.Errorf("no baseline, no test: SOH %d, want NULL", out.SOHCentiPct[len(out.SOHCentiPct)-1])
	}
}

// TestSOHFromHistory: rows that start after the tests use the impedance
// history for the resistance at each test, and the first reading as the
// baseline when the master data has none.
func TestSOHFromHistory(t *testing.T) {
	s, a := id(1), id(2)
	var tests []CapacityTestCalc
	for _, k := range []int64{1 * yearUS, 3 * yearUS / 2, 2 * yearUS} {
		tests = append(tests, CapacityTestCalc{StringID: s, KnownAt: k, Pct: math.Round(truthPct(k)*100) / 100})
	}
	var imp []ImpedanceCalcRow
	for ts := int64(0); ts < 3*yearUS; ts += yearUS / 4 { // quarterly, from commissioning
		imp = append(imp, ImpedanceCalcRow{BatteryID: a, MeasuredAt: ts, CorrectedMOhm: 4 * (1 + riseAt(ts))})
	}
	from := 5 * yearUS / 2
	f := ageingFixture(s, []UUID{a}, from, from+30*24*hourUS)
	out := runAll(t, f, []JarBattery{{BatteryID: a, StringID: s, Model: agm100}}, tests, imp)
	// The 2-year test is known; its rise is the reading at 2 years, the
	// slope is fitted from the three tests (0.5), and the live trend gives
	// the rise now.
	for _, i := range []int{100, len(out.SOHCentiPct) - 1} {
		got := float64(out.SOHCentiPct[i]) / 100
		if truth := truthPct(f.jar.TS[i]); math.Abs(got-truth) > 0.2 {
			t.Errorf("row %d: SOH %.2f, truth %.2f", i, got, truth)
		}
	}
	// Before the first float-full hold (30 min) the latest reading stands in
	// for the live trend: the 2.5-year reading, at the row's own time.
	if got, want := float64(out.SOHCentiPct[0])/100, truthPct(from); math.Abs(got-want) > 0.2 {
		t.Errorf("first row: SOH %.2f, want %.2f", got, want)
	}
}

// TestSOHStringTestMeasuresWeakestJar: a string test is the weakest jar's
// point on the capacity-vs-rise line; a healthier jar of the same string
// reads its SOH off the same line, above the test.
func TestSOHStringTestMeasuresWeakestJar(t *testing.T) {
	s, weak, healthy := id(1), id(2), id(3)
	const slope = 40.0 // points per unit of rise: DefaultJarParams.SOHSlope·100
	truth := func(scale float64, ts int64) float64 { return 100 - slope*scale*riseAt(ts) }
	test := CapacityTestCalc{StringID: s, KnownAt: 2 * yearUS, Pct: math.Round(truth(1.5, 2*yearUS)*100) / 100}
	var imp []ImpedanceCalcRow
	for _, j := range []struct {
		id    UUID
		scale float64
	}{{weak, 1.5}, {healthy, 0.5}} {
		for ts := int64(0); ts < 3*yearUS; ts += yearUS / 4 {
			imp = append(imp, ImpedanceCalcRow{BatteryID: j.id, MeasuredAt: ts, CorrectedMOhm: 4 * (1 + j.scale*riseAt(ts))})
		}
	}
	from := 5 * yearUS / 2
	f := ageingFixture(s, []UUID{weak, healthy}, from, from+10*24*hourUS, 1.5, 0.5)
	bats := []JarBattery{{BatteryID: weak, StringID: s, Model: agm100, InitialResistanceMOhm: 4}, {BatteryID: healthy, StringID: s, Model: agm100, InitialResistanceMOhm: 4}}
	out := runAll(t, f, bats, []CapacityTestCalc{test}, imp)
	for n, scale := range []float64{1.5, 0.5} {
		i := (n+1)*f.perJar - 1
		got, want := float64(out.SOHCentiPct[i])/100, truth(scale, f.jar.TS[i])
		if math.Abs(got-want) > 0.2 {
			t.Errorf("jar with %.1f× the rise: SOH %.2f, want %.2f (test %.2f)", scale, got, want, test.Pct)
		}
	}
	if h := float64(out.SOHCentiPct[2*f.perJar-1]) / 100; h <= test.Pct {
		t.Errorf("healthy jar: SOH %.2f not above the string test %.2f", h, test.Pct)
	}
	// Given only the healthy jar, the test would be placed at its own rise:
	// a lower SOH. The kernel needs every jar of the string.
	g := f
	g.jar = *sliceJar(&f.jar, f.perJar, 2*f.perJar)
	out = runAll(t, g, bats[1:], []CapacityTestCalc{test}, imp)
	if got := float64(out.SOHCentiPct[len(out.SOHCentiPct)-1]) / 100; got >= truth(0.5, f.jar.TS[len(f.jar.TS)-1])-1 {
		t.Errorf("without the weak jar: SOH %.2f; the placement did not use the string's jars", got)
	}
}
