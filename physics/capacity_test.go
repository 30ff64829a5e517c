package physics

import (
	"math"
	"testing"
	"time"
)

// A constant-current discharge from full charge: the immediate I·R drop,
// a coup de fouet (a dip in the first minutes and a recovery), a slowly
// falling plateau and a steep end knee down to the cutoff; it lasts about
// what the capacity model says the jar holds, a little less (the knee).
func TestCCDischargeCurveShape(t *testing.T) {
	l := NewJarLife(21, testSpec, ProfileHealthy, day(2020, 1, 1), 25)
	at := day(2023, 1, 1)
	amps := 30.0 // C/4
	d := NewCCDischarge(&l, testSpec, at, amps, 25, 1, 1)
	ocv := OCV(1, 25)
	ir := amps * l.ResistanceMOhm(at) / 1000
	if v0 := d.VoltageAt(0); math.Abs(ocv-v0-ir) > 0.01 {
		t.Errorf("start: %.3f V, OCV %.3f V, I·R0 %.3f V", v0, ocv, ir)
	}
	trough, tt := math.Inf(1), 0.0
	for s := 0.0; s <= 600; s += 5 {
		if v := d.VoltageAt(s); v < trough {
			trough, tt = v, s
		}
	}
	if tt < 20 || tt > 200 || d.VoltageAt(360) <= trough+0.01 {
		t.Errorf("coup de fouet: trough %.3f V at %.0f s, %.3f V at 6 min", trough, tt, d.VoltageAt(360))
	}
	end := d.CutoffS()
	want := 3600 * l.EffectiveCapacityAh(testSpec, at, amps, 25) / amps
	if end > want || end < 0.85*want {
		t.Fatalf("cutoff after %.0f s, the capacity holds %.0f s", end, want)
	}
	if v := d.VoltageAt(end); math.Abs(v-CutoffV) > 1e-3 {
		t.Errorf("voltage at cutoff %.4f V", v)
	}
	// Slopes: the knee falls many times faster than the plateau.
	mid := (d.VoltageAt(0.3*end) - d.VoltageAt(0.7*end)) / 0.4
	knee := (d.VoltageAt(0.95*end) - d.VoltageAt(end)) / 0.05
	if mid <= 0 || knee < 5*mid {
		t.Errorf("plateau falls %.3f V per run, the knee %.3f V per run over the last 5 %%", mid, knee)
	}
	// From a partial charge: shorter, and no coup de fouet.
	p := NewCCDischarge(&l, testSpec, at, amps, 25, 0.8, 1)
	if p.CutoffS() > 0.85*end {
		t.Errorf("from 80 %% SOC the test lasts %.0f s, from full %.0f s", p.CutoffS(), end)
	}
	if coupDeFouet(120, 0.8, 2.5) != 0 {
		t.Error("coup de fouet from a partial charge")
	}
}

// JarSim and CCDischarge are one model: a jar discharged at constant
// current in JarSim reaches the cutoff when CCDischarge says, within the
// effect of self-heating and discretisation.
func TestJarSimMatchesCCDischarge(t *testing.T) {
	l := NewJarLife(22, testSpec, ProfileAccelerated, day(2021, 1, 1), 25)
	start := day(2023, 3, 1).Add(2 * time.Hour)
	amps := 30.0
	ev := Event{Kind: EventDischargeTest, Start: start, End: start.Add(10 * time.Hour), CurrentA: amps}
	var span StringSpan
	BuildStringSpan(&span, testCfg(SystemRectifier), 1, start, 10*time.Second, 6*360, []Event{ev})
	xs := collect(t, &l, 5, &span, nil, 1)
	cut := -1
	for i, x := range xs {
		if x.VoltageV <= CutoffV+1e-9 {
			cut = i
			break
		}
	}
	d := NewCCDischarge(&l, testSpec, start, amps, 25, 1, 1)
	want := d.CutoffS()
	if got := float64(cut) * 10; cut < 0 || math.Abs(got-want) > 0.03*want {
		t.Errorf("JarSim reaches cutoff after %.0f s, CCDischarge %.0f s", got, want)
	}
}
