package calc

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var agm100 = BatteryModel{NominalVoltageV: 12, CapacityAh: 100, FloatVoltageMinV: 13.5}

// phase is a stretch of constant string current (A) and jar voltage (V).
type phase struct {
	hours, amps, volts float64
}

// fixture is a string with its jars sampled every step (µs) through phases:
// string rows and jar rows (sorted by (battery_id, ts)), and where each
// phase starts (row index within one jar's run).
type fixture struct {
	str    StringBatch
	jar    JarBatch
	starts []int
	perJar int
}

func buildFixture(s UUID, jars []UUID, step int64, phases []phase, resistanceMicroOhm int32) fixture {
	var f fixture
	var amps, volts []float64
	for _, p := range phases {
		f.starts = append(f.starts, len(amps))
		n := int(math.Round(p.hours * float64(hourUS) / float64(step)))
		for range n {
			amps, volts = append(amps, p.amps), append(volts, p.volts)
		}
	}
	f.perJar = len(amps)
	for i, a := range amps {
		f.str.TS = append(f.str.TS, int64(i)*step)
		f.str.StringID = append(f.str.StringID, s)
		f.str.VoltageCentiV = append(f.str.VoltageCentiV, int32(math.Round(volts[i]*24*100)))
		f.str.CurrentMA = append(f.str.CurrentMA, int32(math.Round(a*1000)))
	}
	for _, j := range jars {
		for i, v := range volts {
			f.jar.TS = append(f.jar.TS, int64(i)*step)
			f.jar.BatteryID = append(f.jar.BatteryID, j)
			f.jar.VoltageMV = append(f.jar.VoltageMV, int32(math.Round(v*1000)))
			f.jar.TemperatureDeciC = append(f.jar.TemperatureDeciC, 250)
			f.jar.ResistanceMicroOhm = append(f.jar.ResistanceMicroOhm, resistanceMicroOhm)
		}
	}
	return f
}

func sliceJar(b *JarBatch, lo, hi int) *JarBatch {
	return &JarBatch{b.TS[lo:hi], b.BatteryID[lo:hi], b.VoltageMV[lo:hi], b.TemperatureDeciC[lo:hi], b.ResistanceMicroOhm[lo:hi]}
}

func sliceStr(b *StringBatch, lo, hi int) *StringBatch {
	return &StringBatch{b.TS[lo:hi], b.StringID[lo:hi], b.VoltageCentiV[lo:hi], b.CurrentMA[lo:hi]}
}

// kernelFor is a jar kernel over the string rows str.
func kernelFor(t *testing.T, str *StringBatch, bats []JarBattery, tests []CapacityTestCalc, imp []ImpedanceCalcRow) *JarCalc {
	t.Helper()
	cur := NewStringCurrents()
	if err := cur.Add(str); err != nil {
		t.Fatal(err)
	}
	k, err := NewJarCalc(DefaultJarParams, bats, cur, tests, imp)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// runAll runs the kernel over the whole fixture in one batch.
func runAll(t *testing.T, f fixture, bats []JarBattery, tests []CapacityTestCalc, imp []ImpedanceCalcRow) JarCalcOut {
	t.Helper()
	k := kernelFor(t, &f.str, bats, tests, imp)
	var out JarCalcOut
	if err := k.Run(&f.jar, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// ocvOf is the test's own OCV curve: 11.8 V empty to 12.9 V full.
func ocvOf(socPct float64) float64 { return 11.8 + 1.1*socPct/100 }

var socPhases = []phase{
	{3, 0.07, 13.62},      // 0 float: full
	{1, -20, 12.2},        // 1 discharge at C/5 for 1 h: −20 Ah
	{3, 0, ocvOf(75)},     // 2 rest; the jar relaxes to the OCV of 75 %
	{2, 10, 14.4},         // 3 boost: +10 A × 2 h × 0.95 = +19 Ah
	{1, 2, 13.62},         // 4 float voltage, still recharging at 2 A: +1.9 Ah
	{1, 0.07, 13.62},      // 5 float, tapered: full after 30 min
	{0.5, -30, ocvOf(50)}, // 6 a cold start would read this
}

func TestSOCDischargeRestRecharge(t *testing.T) {
	s, a := id(1), id(2)
	step := int64(5 * microsPerSecond)
	f := buildFixture(s, []UUID{a}, step, socPhases, 4000)
	out := runAll(t, f, []JarBattery{{BatteryID: a, StringID: s, Model: agm100, InitialResistanceMOhm: 4}}, nil, nil)
	soc := func(i int) float64 { return float64(out.SOCCentiPct[i]) / 100 }
	at := func(ph int, hours float64) int { return f.starts[ph] + int(hours*float64(hourUS)/float64(step)) }
	near := func(what string, i int, want, tol float64) {
		t.Helper()
		if got := soc(i); math.Abs(got-want) > tol {
			t.Errorf("%s: SOC %.2f %%, want %.2f ± %.2f", what, got, want, tol)
		}
	}
	near("on float at the start", 0, 100, 0)
	near("end of float", f.starts[1]-1, 100, 0)
	for i := f.starts[1] + 1; i < f.starts[2]; i++ {
		if soc(i) >= soc(i-1) && soc(i-1) > 0 {
			t.Fatalf("discharge: SOC %.2f at row %d after %.2f: not falling", soc(i), i, soc(i-1))
		}
	}
	near("end of the 1 h C/5 discharge", f.starts[2]-1, 80, 0.05)
	near("rest, before the rest criterion (2 h)", at(2, 1.99), 80, 0.05)
	near("rest, re-anchored to the OCV", f.starts[3]-1, 75, 0.05)
	for i := f.starts[3] + 1; i < f.starts[4]; i++ {
		if soc(i) < soc(i-1) {
			t.Fatalf("boost: SOC %.2f at row %d after %.2f: falling", soc(i), i, soc(i-1))
		}
	}
	near("end of boost", f.starts[4]-1, 94, 0.05)
	// On float voltage but still taking 2 A: the terminal voltage is the
	// charger's, not an OCV; SOC keeps counting.
	near("float voltage while recharging", f.starts[4], 94, 0.05)
	near("end of the recharge at float", f.starts[5]-1, 95.9, 0.05)
	near("tapered, before the float hold", at(5, 0.49), 95.9, 0.05)
	near("tapered for 30 min: full", at(5, 0.5), 100, 0)
	near("near 100 % after recharge", f.starts[6]-1, 100, 0)

	// Cold start mid-discharge: OCV at V − I·R = 12.2 + 30 A × 4 mΩ.
	g := buildFixture(s, []UUID{a}, step, socPhases[6:], 4000)
	out = runAll(t, g, []JarBattery{{BatteryID: a, StringID: s, Model: agm100}}, nil, nil)
	want := (ocvOf(50) + 30*0.004 - 11.8) / 1.1 * 100
	if got := float64(out.SOCCentiPct[0]) / 100; math.Abs(got-want) > 0.01 {
		t.Errorf("cold start during a discharge: SOC %.2f, want %.2f", got, want)
	}
	if out.SOHCentiPct[0] != Null32 {
		t.Errorf("no baseline, no test: SOH %d, want NULL", out.SOHCentiPct[0])
	}
}

// TestJarCalcStreaming: the result does not depend on how the rows are cut
// into batches, nor on feeding time slices with TrimBefore in between.
func TestJarCalcStreaming(t *testing.T) {
	s, a, b := id(1), id(2), id(3)
	step := int64(5 * microsPerSecond)
	f := buildFixture(s, []UUID{a, b}, step, socPhases, 4000)
	bats := []JarBattery{{BatteryID: a, StringID: s, Model: agm100, InitialResistanceMOhm: 4}, {BatteryID: b, StringID: s, Model: agm100, InitialResistanceMOhm: 3.5}}
	want := runAll(t, f, bats, nil, nil)

	k := kernelFor(t, &f.str, bats, nil, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	var out JarCalcOut
	var soc, soh []int32
	for lo := 0; lo < f.jar.Len(); {
		hi := min(f.jar.Len(), lo+1+rng.IntN(5000))
		if err := k.Run(sliceJar(&f.jar, lo, hi), &out); err != nil {
			t.Fatal(err)
		}
		soc, soh = append(soc, out.SOCCentiPct...), append(soh, out.SOHCentiPct...)
		lo = hi
	}
	if !slices.Equal(soc, want.SOCCentiPct) || !slices.Equal(soh, want.SOHCentiPct) {
		t.Error("random batches: results differ from one batch")
	}

	// Time slices: string rows up to 6 h, jar rows up to 5 h; trim; then
	// the rest. Jar rows of a slice are sorted by (battery_id, ts).
	cut := int(5 * hourUS / step)
	strCut := int(6 * hourUS / step)
	cur := NewStringCurrents()
	k, _ = NewJarCalc(DefaultJarParams, bats, cur, nil, nil)
	if err := cur.Add(sliceStr(&f.str, 0, strCut)); err != nil {
		t.Fatal(err)
	}
	n := f.perJar
	got := JarCalcOut{SOCCentiPct: make([]int32, 2*n), SOHCentiPct: make([]int32, 2*n)}
	for _, sl := range [][2]int{{0, cut}, {cut, n}} {
		if sl[0] == cut {
			cur.TrimBefore(f.jar.TS[cut])
			// The sample at the cut serves the as-of lookup; older ones go.
			if held := cur.Samples(); held != strCut-cut {
				t.Errorf("after TrimBefore the store holds %d samples, want %d", held, strCut-cut)
			}
			if err := cur.Add(sliceStr(&f.str, strCut, n)); err != nil {
				t.Fatal(err)
			}
		}
		for j := range 2 {
			if err := k.Run(sliceJar(&f.jar, j*n+sl[0], j*n+sl[1]), &out); err != nil {
				t.Fatal(err)
			}
			copy(got.SOCCentiPct[j*n+sl[0]:], out.SOCCentiPct)
			copy(got.SOHCentiPct[j*n+sl[0]:], out.SOHCentiPct)
		}
	}
	if !slices.Equal(got.SOCCentiPct, want.SOCCentiPct) || !slices.Equal(got.SOHCentiPct, want.SOHCentiPct) {
		t.Error("time slices: results differ from one batch")
	}

	// Reset forgets the state: the same rows again give the same result;
	// without it, the rows are out of time order.
	if err := k.Run(sliceJar(&f.jar, 0, 10), &out); err == nil || !strings.Contains(err.Error(), "not sorted") {
		t.Errorf("rows before the state's time: %v", err)
	}
	k = kernelFor(t, &f.str, bats, nil, nil)
	_ = k.Run(&f.jar, &out)
	k.Reset()
	if err := k.Run(&f.jar, &out); err != nil || !slices.Equal(out.SOCCentiPct, want.SOCCentiPct) {
		t.Errorf("after Reset: %v, equal %v", err, slices.Equal(out.SOCCentiPct, want.SOCCentiPct))
	}
	unknown := JarBatch{[]int64{0}, []UUID{id(9)}, []int32{13000}, []int32{250}, []int32{4000}}
	if err := k.Run(&unknown, &out); err == nil || !strings.Contains(err.Error(), "battery 00000000-0000-0000-0000-000000000009: not in the master data") {
		t.Errorf("unknown battery: %v", err)
	}
	if _, err := NewJarCalc(DefaultJarParams, []JarBattery{{BatteryID: a}}, cur, nil, nil); err == nil {
		t.Error("battery without a model: no error")
	}
}

// TestRestNeedsQuietString: the rest criterion watches every string sample,
// not only those at the jar's timestamps: a one-second 5 A pulse between two
// jar samples restarts the 2 h rest.
func TestRestNeedsQuietString(t *testing.T) {
	s, a := id(1), id(2)
	sec := int64(microsPerSecond)
	n := int(4 * hourUS / sec)
	pulse := int(hourUS/sec) + 2 // one second at 1 h + 2 s, between jar samples
	var str StringBatch
	for i := range n {
		ma := int32(0)
		if i == pulse {
			ma = 5000
		}
		str.TS, str.StringID = append(str.TS, int64(i)*sec), append(str.StringID, s)
		str.VoltageCentiV, str.CurrentMA = append(str.VoltageCentiV, 30300), append(str.CurrentMA, ma)
	}
	var jar JarBatch
	for i := 0; i < n; i += 5 {
		jar.TS, jar.BatteryID = append(jar.TS, int64(i)*sec), append(jar.BatteryID, a)
		jar.VoltageMV = append(jar.VoltageMV, int32(math.Round(ocvOf(60)*1000)))
		jar.TemperatureDeciC, jar.ResistanceMicroOhm = append(jar.TemperatureDeciC, 250), append(jar.ResistanceMicroOhm, Null32)
	}
	// Start from a known SOC: the first row reads the OCV (60 %); then the
	// pulse adds 5 A·s. Re-anchoring would pull back to 60 only 2 h after
	// the pulse, i.e. from 3 h + 2 s.
	run := func(str StringBatch) []int32 {
		k := kernelFor(t, &str, []JarBattery{{BatteryID: a, StringID: s, Model: agm100}}, nil, nil)
		var out JarCalcOut
		if err := k.Run(&jar, &out); err != nil {
			t.Fatal(err)
		}
		return out.SOCCentiPct
	}
	soc := run(str)
	row := func(ts int64) int { return int(ts / (5 * sec)) }
	pulseSOC := int32(6000 + math.Round(5.0/3600*0.95)) // +0.0013 %: rounds to 60.00
	if soc[0] != 6000 || soc[row(2*hourUS)] != pulseSOC {
		t.Errorf("SOC at start %d and at 2 h %d, want 6000", soc[0], soc[row(2*hourUS)])
	}
	// Move the OCV: with the jar's voltage at 58 % from 1 h on, a quiet
	// string re-anchors at 2 h + 0 s (rest since 0), a pulsed one at 3 h.
	for i := range jar.VoltageMV {
		if jar.TS[i] >= hourUS {
			jar.VoltageMV[i] = int32(math.Round(ocvOf(58) * 1000))
		}
	}
	quiet := str
	quiet.CurrentMA = slices.Clone(str.CurrentMA)
	quiet.CurrentMA[pulse] = 0
	q, p := run(quiet), run(str)
	at := row(2*hourUS + 30*60*sec)
	if q[at] > 5850 {
		t.Errorf("quiet string, 2.5 h: SOC %d, want re-anchored towards 5800", q[at])
	}
	if p[at] != 6000 {
		t.Errorf("pulsed string, 2.5 h: SOC %d, want 6000 (rest restarted by the pulse)", p[at])
	}
	if end := p[len(p)-1]; math.Abs(float64(end-5800)) > 5 {
		t.Errorf("pulsed string, 4 h: SOC %d, want 5800 (re-anchored from 3 h)", end)
	}
}

// TestJarFastPathEqualsFullPath: the steady-float loop gives exactly what
// the full per-row path gives, on random operating histories with NULLs,
// telemetry gaps, string samples between jar samples and random batches.
func TestJarFastPathEqualsFullPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for trial := range 20 {
		s := id(1)
		jars := []UUID{id(2), id(3), id(4)}
		var phases []phase
		for range 12 {
			switch rng.IntN(5) {
			case 0, 1:
				phases = append(phases, phase{rng.Float64() * 3, 0.07 + 0.3*rng.Float64(), 13.4 + 0.4*rng.Float64()})
			case 2:
				phases = append(phases, phase{rng.Float64(), -30 * rng.Float64(), 12 + rng.Float64()})
			case 3:
				phases = append(phases, phase{rng.Float64() * 3, 0.1 * rng.NormFloat64(), ocvOf(100 * rng.Float64())})
			default:
				phases = append(phases, phase{rng.Float64() * 2, 10 * rng.Float64(), 14.4})
			}
		}
		step := int64(5 * microsPerSecond)
		f := buildFixture(s, jars, step, phases, 4000)
		// String noise, a string sample between jar samples now and then,
		// gaps, and NULLs in every jar column.
		var str StringBatch
		for i := range f.str.TS {
			str.TS, str.StringID = append(str.TS, f.str.TS[i]), append(str.StringID, s)
			str.VoltageCentiV = append(str.VoltageCentiV, f.str.VoltageCentiV[i])
			a := f.str.CurrentMA[i] + int32(50*rng.NormFloat64())
			if rng.IntN(500) == 0 {
				a = Null32
			}
			str.CurrentMA = append(str.CurrentMA, a)
			if rng.IntN(300) == 0 {
				str.TS, str.StringID = append(str.TS, f.str.TS[i]+step/2), append(str.StringID, s)
				str.VoltageCentiV, str.CurrentMA = append(str.VoltageCentiV, 0), append(str.CurrentMA, int32(2000*rng.NormFloat64()))
			}
		}
		if gap := rng.IntN(len(str.TS) - 200); trial%2 == 0 {
			str = StringBatch{append(str.TS[:gap:gap], str.TS[gap+100:]...), append(str.StringID[:gap:gap], str.StringID[gap+100:]...),
				append(str.VoltageCentiV[:gap:gap], str.VoltageCentiV[gap+100:]...), append(str.CurrentMA[:gap:gap], str.CurrentMA[gap+100:]...)}
		}
		for i := range f.jar.TS {
			switch rng.IntN(400) {
			case 0:
				f.jar.VoltageMV[i] = Null32
			case 1:
				f.jar.TemperatureDeciC[i] = Null32
			case 2:
				f.jar.ResistanceMicroOhm[i] = Null32
			}
			f.jar.TemperatureDeciC[i] += int32(rng.IntN(3)) - 1
		}
		bats := []JarBattery{{BatteryID: jars[0], StringID: s, Model: agm100, InitialResistanceMOhm: 4},
			{BatteryID: jars[1], StringID: s, Model: agm100}, {BatteryID: jars[2], StringID: s, Model: agm100, InitialResistanceMOhm: 3.8}}
		tests := []CapacityTestCalc{{StringID: s, KnownAt: f.jar.TS[f.perJar/2], Pct: 91}}
		imp := []ImpedanceCalcRow{{BatteryID: jars[1], MeasuredAt: f.jar.TS[f.perJar/3], CorrectedMOhm: 4.2}}
		var outs [2][2][]int32
		for mode := range 2 {
			k := kernelFor(t, &str, bats, tests, imp)
			k.noFastPath = mode == 1
			var out JarCalcOut
			for lo := 0; lo < f.jar.Len(); {
				hi := min(f.jar.Len(), lo+1+rng.IntN(3000))
				if err := k.Run(sliceJar(&f.jar, lo, hi), &out); err != nil {
					t.Fatal(err)
				}
				outs[mode][0], outs[mode][1] = append(outs[mode][0], out.SOCCentiPct...), append(outs[mode][1], out.SOHCentiPct...)
				lo = hi
			}
		}
		for c, name := range []string{"SOC", "SOH"} {
			for i := range outs[0][c] {
				if outs[0][c][i] != outs[1][c][i] {
					t.Fatalf("trial %d row %d: %s %d with the fast path, %d without", trial, i, name, outs[0][c][i], outs[1][c][i])
				}
			}
		}
		full := 0
		for _, v := range outs[0][0] {
			if v == 10000 {
				full++
			}
		}
		if full < len(outs[0][0])/10 {
			t.Errorf("trial %d: only %d of %d rows full: the fast path is hardly exercised", trial, full, len(outs[0][0]))
		}
	}
}

// A kernel made by With equals one built whole with the same MaxHold, and
// the hold matters: at 1 h samples the default 5 min integrates nothing
// between samples, a 1 h hold the whole discharge.
func TestJarCalcWithEqualsNew(t *testing.T) {
	s, jars := id(1), []UUID{id(2), id(3)}
	bats := []JarBattery{{BatteryID: jars[0], StringID: s, Model: agm100, InitialResistanceMOhm: 4}, {BatteryID: jars[1], StringID: s, Model: agm100, InitialResistanceMOhm: 4}}
	hour := int64(3600 * microsPerSecond)
	f := buildFixture(s, jars, hour, socPhases, 4000)
	cur := NewStringCurrents()
	if err := cur.Add(&f.str); err != nil {
		t.Fatal(err)
	}
	base, err := NewJarCalc(DefaultJarParams, bats, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	outs := map[int64]JarCalcOut{}
	for _, hold := range []int64{DefaultJarParams.MaxHold, hour} {
		p := DefaultJarParams
		p.MaxHold = hold
		whole, err := NewJarCalc(p, bats, cur, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var a, b JarCalcOut
		if err := whole.Run(&f.jar, &a); err != nil {
			t.Fatal(err)
		}
		if err := base.With(hold, cur).Run(&f.jar, &b); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.SOCCentiPct, b.SOCCentiPct) || !slices.Equal(a.SOHCentiPct, b.SOHCentiPct) {
			t.Fatalf("hold %d µs: With differs from NewJarCalc", hold)
		}
		outs[hold] = a
	}
	if slices.Equal(outs[hour].SOCCentiPct, outs[DefaultJarParams.MaxHold].SOCCentiPct) {
		t.Fatal("a 1 h hold changed nothing on 1 h samples")
	}
}
