package physics

import (
	"math"
	"testing"
	"time"
)

// slope is the least-squares slope of y over x.
func slope(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	return sxy / sxx
}

// Before the knee, realised SOH and resistance rates match the seed's
// section 8.3 profiles (fit on JarLife samples of many jars at 25 °C).
func TestLifeSlopesMatchProfilesBeforeKnee(t *testing.T) {
	inst := day(2020, 1, 1)
	for p := ProfileHealthy; p <= ProfileFailing; p++ {
		var sohSlope, rSlope float64
		const jars = 300
		for j := range jars {
			l := NewJarLife(Mix(uint64(p), uint64(j)), testSpec, p, inst, 25)
			endY := 0.5 * l.kneeAge()
			if l.Failure != FailureNone {
				endY = math.Min(endY, l.FailureAt.Sub(inst).Hours()/hoursPerYear-(precursorMaxDays+1)/365.25)
			}
			var x, ys, yr []float64
			for d := 0.0; d <= endY*365.25; d += math.Max(1, endY*365.25/200) {
				at := inst.Add(time.Duration(d * 24 * float64(time.Hour)))
				x = append(x, d/365.25)
				ys = append(ys, l.SOH(at))
				yr = append(yr, l.ResistanceMOhm(at)/l.R0mOhm)
			}
			if len(x) < 10 {
				t.Fatalf("%v jar %d: only %d samples before the knee", p, j, len(x))
			}
			sohSlope += slope(x, ys) / jars
			rSlope += slope(x, yr) / jars
		}
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
