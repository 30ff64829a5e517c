package physics

import (
	"math"
	"testing"
	"time"
)

// slope is the least-squares slope of y over x.
func slope(x, y []float64) float64 {
	sxy, sxx, _ := moments(x, y)
	return sxy / sxx
}

// corr is the Pearson correlation of x and y.
func corr(x, y []float64) float64 {
	sxy, sxx, syy := moments(x, y)
	return sxy / math.Sqrt(sxx*syy)
}

// moments are the centred sums of products of x and y.
func moments(x, y []float64) (sxy, sxx, syy float64) {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return
}

// Before the knee, realised SOH and resistance rates match the seed's
// section 8.3 profiles (fit on JarLife samples of many jars at 25 °C).
func TestLifeSlopesMatchProfilesBeforeKnee(t *testing.T) {
	inst := day(2020, 1, 1)
	for p := ProfileHealthy; p <= ProfileFailing; p++ {
		var sohSlope, rSlope float64
		const all = 300
		jars := 0.0
		for j := range all {
			l := NewJarLife(Mix(uint64(p), uint64(j)), testSpec, p, inst, 25)
			endY := 0.5 * l.kneeAge()
			if l.Failure != FailureNone {
				endY = math.Min(endY, l.FailureAt.Sub(inst).Hours()/hoursPerYear-(l.precursorDays+1)/365.25)
			}
			var x, ys, yr []float64
			for d := 0.0; d <= endY*365.25; d += math.Max(1, endY*365.25/200) {
				at := inst.Add(time.Duration(d * 24 * float64(time.Hour)))
				x = append(x, d/365.25)
				ys = append(ys, l.SOH(at))
				yr = append(yr, l.ResistanceMOhm(at)/l.R0mOhm)
			}
			if len(x) < 10 {
				continue // a sudden failure came too early to fit
			}
			sohSlope += slope(x, ys)
			rSlope += slope(x, yr)
			jars++
		}
		if jars < 0.7*all {
			t.Fatalf("%v: only %.0f of %d jars lived long enough to fit", p, jars, all)
		}
		sohSlope /= jars
		rSlope /= jars
		wantS := -Profiles[p].SOHDeclinePctPerYear / 100
		wantR := Profiles[p].ResistanceIncreasePctPerYear / 100
		if math.Abs(sohSlope/wantS-1) > 0.2 {
			t.Errorf("%v: SOH slope %.4f/yr, profile %.4f/yr", p, sohSlope, wantS)
		}
		if math.Abs(rSlope/wantR-1) > 0.2 {
			t.Errorf("%v: resistance slope %.4f/yr, profile %.4f/yr", p, rSlope, wantR)
		}
	}
}

func TestFleetMixOfDrawProfile(t *testing.T) {
	r := NewRand(2024)
	var n [3]int
	const draws = 20000
	for range draws {
		n[DrawProfile(r, FleetMix)]++
	}
	for p, want := range FleetMix {
		if got := float64(n[p]) / draws; math.Abs(got-want) > 0.01 {
			t.Errorf("%v: %.3f of draws, want %.2f ± 0.01", Profile(p), got, want)
		}
	}
}

func TestHotterRoomAgesFaster(t *testing.T) {
	inst := day(2020, 1, 1)
	for j := range uint64(50) {
		cool := NewJarLife(j, testSpec, ProfileHealthy, inst, 25)
		hot := NewJarLife(j, testSpec, ProfileHealthy, inst, 33)
		if !hot.EOL.Before(cool.EOL) {
			t.Fatalf("jar %d: EOL at 33 °C %v not before 25 °C %v", j, hot.EOL, cool.EOL)
		}
		// Life halves per HalvingC (BU-806a: 10 years at 25 °C, 5 at 33 °C).
		ratio := hot.EOL.Sub(inst).Hours() / cool.EOL.Sub(inst).Hours()
		if want := math.Exp2(-8 / HalvingC); math.Abs(ratio/want-1) > 0.02 {
			t.Fatalf("jar %d: life ratio %.3f, want %.3f", j, ratio, want)
		}
	}
}

// failingLife returns a failing-profile life with a sudden event of kind k.
func failingLife(t *testing.T, k FailureKind) JarLife {
	t.Helper()
	for s := uint64(0); s < 5000; s++ {
		l := NewJarLife(Mix(99, s), testSpec, ProfileFailing, day(2023, 1, 1), 26)
		if l.Failure == k {
			return l
		}
	}
	t.Fatalf("no failing jar with %v", k)
	return JarLife{}
}

// Jars with sudden events show a rising resistance precursor in the days
// before the failure, visible in JarSim's readings.
func TestFailingJarsShowRisingResistancePrecursor(t *testing.T) {
	cfg := testCfg(SystemRectifier)
	for _, k := range []FailureKind{FailureDryOut, FailureOpenCell, FailureThermalRunaway} {
		l := failingLife(t, k)
		fd := l.FailureAt.Truncate(24 * time.Hour)
		daily := func(d time.Time) (r float64) {
			var sp StringSpan
			var env EnvSpan
			BuildStringSpan(&sp, cfg, 1, d, time.Minute, 1440, nil)
			BuildEnvSpan(&env, 1, testClimate, d, time.Minute, 1440)
			for _, x := range collect(t, &l, 7, &sp, &env, 1) {
				r += x.ResistanceMOhm / 1440
			}
			return
		}
		r20 := daily(fd.AddDate(0, 0, -20))
		r5 := daily(fd.AddDate(0, 0, -5))
		r1 := daily(fd.AddDate(0, 0, -1))
		if !(r1 > r5 && r5 >= r20*0.98 && r1 > 1.1*r20) {
			t.Errorf("%v: daily mean resistance %.3f (-20 d), %.3f (-5 d), %.3f (-1 d): no rising precursor", k, r20, r5, r1)
		}
		// After the failure: an open cell reads near 0-2 V, a dried-out jar
		// very high resistance.
		var sp StringSpan
		BuildStringSpan(&sp, cfg, 1, fd.AddDate(0, 0, 1), time.Minute, 60, nil)
		x := collect(t, &l, 7, &sp, nil, 1)[30]
		switch k {
		case FailureOpenCell:
			if x.VoltageV > 2.1 || x.VoltageV < 0 {
				t.Errorf("open cell reads %.2f V", x.VoltageV)
			}
		case FailureDryOut:
			if x.ResistanceMOhm < 5*r20 {
				t.Errorf("dried-out jar reads %.2f mΩ, healthy was %.2f", x.ResistanceMOhm, r20)
			}
		case FailureThermalRunaway:
			if x.TempC < 40 {
				t.Errorf("thermal runaway jar at %.1f °C", x.TempC)
			}
		}
	}
}

// stressLives draws the same jars (seeds) under two stresses.
func stressLives(n int, a, b Stress) (x, y []JarLife) {
	inst := day(2018, 1, 1)
	for j := range n {
		x = append(x, DrawJarLife(Mix(7, uint64(j)), testSpec, FleetMix, inst, a))
		y = append(y, DrawJarLife(Mix(7, uint64(j)), testSpec, FleetMix, inst, b))
	}
	return
}

// agesFaster checks that every jar under the harsher stress reaches end of
// life and end of service earlier, and by a mean life ratio within want.
func agesFaster(t *testing.T, name string, base, harsh Stress, lo, hi float64) {
	t.Helper()
	x, y := stressLives(200, base, harsh)
	ratio := 0.0
	for j := range x {
		if !y[j].EOL.Before(x[j].EOL) || y[j].End.After(x[j].End) {
			t.Fatalf("%s: jar %d EOL %v (harsh) vs %v, end %v vs %v", name, j, y[j].EOL, x[j].EOL, y[j].End, x[j].End)
		}
		ratio += y[j].EOL.Sub(y[j].Installed).Hours() / x[j].EOL.Sub(x[j].Installed).Hours() / float64(len(x))
	}
	if ratio < lo || ratio > hi {
		t.Errorf("%s: mean life ratio %.3f, want %.2f-%.2f", name, ratio, lo, hi)
	}
}

// Each causal stressor ages a jar faster (Stress.Factor documents the
// sources): a hotter room, time above 30 °C, deeper and more frequent
// discharges, float above the compensated setpoint, ripple.
func TestHotterRoomAgesJarsFaster(t *testing.T) {
	base := Stress{RoomC: 25}
	agesFaster(t, "room 33 °C", base, Stress{RoomC: 33}, 0.49, 0.56)
	agesFaster(t, "HVAC faults", base, Stress{RoomC: 25, HoursAbove30PerYear: 300, HotC: 35}, 0.9, 0.99)
}

func TestDeeperOrMoreFrequentDischargesAgeJarsFaster(t *testing.T) {
	base := Stress{RoomC: 25, DischargesPerYear: 12, MeanDoD: 0.1}
	agesFaster(t, "more discharges", base, Stress{RoomC: 25, DischargesPerYear: 48, MeanDoD: 0.1}, 0.8, 0.99)
	agesFaster(t, "deeper discharges", base, Stress{RoomC: 25, DischargesPerYear: 12, MeanDoD: 0.5}, 0.6, 0.95)
}

func TestFloatAboveSetpointAgesJarsFaster(t *testing.T) {
	base := Stress{RoomC: 25}
	// +150 mV per block is +25 mV per cell: corrosion ×√2.
	agesFaster(t, "float +150 mV", base, Stress{RoomC: 25, FloatExcessV: 0.15}, 0.68, 0.74)
	agesFaster(t, "ripple 3x the limit", base, Stress{RoomC: 25, RippleC: 0.15}, 0.94, 0.99)
	// Float below the setpoint is not an ageing stressor here (its harm,
	// sulfation from undercharge, is not modelled).
	x, y := stressLives(20, base, Stress{RoomC: 25, FloatExcessV: -0.05})
	for j := range x {
		if !x[j].EOL.Equal(y[j].EOL) {
			t.Fatalf("jar %d: float below setpoint changed its life", j)
		}
	}
}

// Wear accelerates at an onset drawn from a hazard that rises with age:
// every jar starts healthy, onsets are rarer in the first years than later,
// a hotter room brings them earlier, and the profile a jar ends its service
// in follows its onset (it is not fixed at install).
func TestOnsetHazardRisesWithAgeAndHeat(t *testing.T) {
	inst := day(2010, 1, 1)
	const n = 8000
	var early, late, hotEarly int
	for j := range n {
		l := DrawJarLife(Mix(8, uint64(j)), testSpec, FleetMix, inst, Stress{RoomC: 25})
		h := DrawJarLife(Mix(8, uint64(j)), testSpec, FleetMix, inst, Stress{RoomC: 31})
		if s := l.SOH(inst.AddDate(0, 0, 7)); s < 0.96 {
			t.Fatalf("jar %d: SOH %.3f a week after install", j, s)
		}
		if l.OnsetAt.IsZero() {
			continue
		}
		y := l.OnsetAt.Sub(inst).Hours() / hoursPerYear
		switch {
		case y < 2:
			early++
		case y >= 6 && y < 8:
			late++
		}
		if hy := h.OnsetAt.Sub(inst).Hours() / hoursPerYear; hy < 2 {
			hotEarly++
		}
		if (l.Profile != ProfileHealthy) != l.OnsetAt.Before(l.End) {
			t.Fatalf("jar %d: profile %v, onset %v, end %v", j, l.Profile, l.OnsetAt, l.End)
		}
	}
	if late < 3*early/2 {
		t.Errorf("onsets in years 0-2: %d, years 6-8: %d: the hazard does not rise with age", early, late)
	}
	if hotEarly < early*5/4 {
		t.Errorf("onsets in the first two years: %d at 25 °C, %d at 31 °C", early, hotEarly)
	}
}

// Sudden failures strike any jar, not only failing ones, at a rate rising
// with age and heat; a dry-out develops over months.
func TestSuddenFailuresStrikeAnyJar(t *testing.T) {
	inst := day(2010, 1, 1)
	const n = 8000
	var healthy, first, second, hot, dry int
	for j := range n {
		l := DrawJarLife(Mix(9, uint64(j)), testSpec, [3]float64{1, 0, 0}, inst, Stress{RoomC: 25})
		h := DrawJarLife(Mix(9, uint64(j)), testSpec, [3]float64{1, 0, 0}, inst, Stress{RoomC: 33})
		if h.Failure != FailureNone && h.FailureAt.Before(inst.AddDate(8, 0, 0)) {
			hot++
		}
		if l.Failure == FailureNone {
			continue
		}
		if l.Profile != ProfileHealthy {
			t.Fatalf("jar %d: profile %v with an all-healthy mix", j, l.Profile)
		}
		y := l.FailureAt.Sub(inst).Hours() / hoursPerYear
		switch {
		case y < 4:
			first++
			healthy++
		case y < 8:
			second++
			healthy++
		}
		if l.Failure == FailureDryOut {
			dry++
			heat, _ := l.Precursor(l.FailureAt.AddDate(0, 0, -60))
			if heat <= 0 || l.precursorDays < dryOutMinDays {
				t.Fatalf("jar %d: dry-out shows nothing 60 days before its failure (%.0f days)", j, l.precursorDays)
			}
		}
	}
	if healthy < n/200 || second < first*3/2 {
		t.Errorf("sudden failures of healthy jars in 8 years: %d (years 0-4: %d, 4-8: %d)", healthy, first, second)
	}
	if hot < healthy*3/2 {
		t.Errorf("sudden failures within 8 years: %d at 25 °C, %d at 33 °C", healthy, hot)
	}
	if dry == 0 {
		t.Error("no dry-out")
	}
}

// The seed's noise_std is process noise on the trajectories: more irregular
// for worse profiles; resistance follows fade, but not deterministically.
func TestProcessNoiseAndResistanceFadeCorrelation(t *testing.T) {
	inst := day(2018, 1, 1)
	var cv [3]float64
	for p := ProfileHealthy; p <= ProfileFailing; p++ {
		for j := range 100 {
			l := NewJarLife(Mix(10, uint64(j)), testSpec, p, inst, 25)
			var sum, sum2 float64
			m := 0
			for k := 0; k+1 < len(l.fadeCum) && k < 8; k++ {
				d := l.fadeCum[k+1] - l.fadeCum[k]
				sum += d
				sum2 += d * d
				m++
			}
			mean := sum / float64(m)
			cv[p] += math.Sqrt(math.Max(0, sum2/float64(m)-mean*mean)) / mean / 100
		}
	}
	if !(cv[0] > 0.05 && cv[1] > 1.5*cv[0] && cv[2] > 1.5*cv[1]) {
		t.Errorf("quarterly fade-rate variation healthy/accelerated/failing %.3f/%.3f/%.3f", cv[0], cv[1], cv[2])
	}
	// Across jars at the same age: fade and resistance rise correlate,
	// but far from perfectly.
	var xs, ys []float64
	for j := range 400 {
		l := NewJarLife(Mix(11, uint64(j)), testSpec, ProfileAccelerated, inst, 25)
		at := inst.AddDate(1, 0, 0)
		xs = append(xs, l.Capacity0Ah/l.RatedAh-l.SOH(at))
		ys = append(ys, l.ResistanceFactor(at))
	}
	r := corr(xs, ys)
	if r < 0.2 || r > 0.9 {
		t.Errorf("correlation of fade and resistance rise %.2f, want clearly positive but not deterministic", r)
	}
}

// ResistanceAndCapacity is exactly ResistanceMOhm and CapacityAh (the
// telemetry's knots use it), and SOHAndResistance SOH and ResistanceMOhm
// (the daily truth uses it).
func TestResistanceAndCapacityMatchesSeparateCalls(t *testing.T) {
	n := 0
	for s := uint64(0); s < 300; s++ {
		prof := []Profile{ProfileHealthy, ProfileAccelerated, ProfileFailing}[s%3]
		l := NewJarLife(Mix(7, s), testSpec, prof, day(2016, 1, 1), 24+float64(s%8))
		for h := int64(0); h < 15*8766; h += 97 {
			at := l.Installed.Add(time.Duration(h) * time.Hour)
			r, c := l.ResistanceAndCapacity(at)
			if r != l.ResistanceMOhm(at) || c != l.CapacityAh(at) {
				t.Fatalf("jar %d at %s: (%v, %v), separate calls (%v, %v)", s, at, r, c, l.ResistanceMOhm(at), l.CapacityAh(at))
			}
			if soh, r2 := l.SOHAndResistance(at); soh != l.SOH(at) || r2 != r {
				t.Fatalf("jar %d at %s: SOHAndResistance (%v, %v), separate calls (%v, %v)", s, at, soh, r2, l.SOH(at), r)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no case checked")
	}
}
