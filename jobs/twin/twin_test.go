package twin

import (
	"go/parser"
	"go/token"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/physics"
)

// relErr is |got/want - 1|.
func relErr(got, want float64) float64 { return math.Abs(got/want - 1) }

// exactResponse simulates the exact discrete 2RC circuit with a linear
// OCV (coulomb counting at capAh from soc0), then a BMS's noise σ and
// quantisation res.
func exactResponse(e ECM, t, i []float64, soc0, capAh, sigma, res float64, seed uint64) Window {
	ocv := make([]float64, len(t))
	soc := soc0
	for k := range t {
		if k > 0 {
			soc += i[k] * (t[k] - t[k-1]) / 3600 / capAh
		}
		ocv[k] = PriorOCV.At(soc, 25)
	}
	v := e.Simulate(nil, t, i, ocv)
	r := rand.New(rand.NewPCG(seed, 1))
	for k := range v {
		v[k] = physics.Quantize(v[k]+sigma*r.NormFloat64(), res)
	}
	return Window{T: t, I: i, V: v}
}

// pulseProfile: rest, a discharge pulse of amps for pulseS, rest; step dt.
func pulseProfile(restS, pulseS, afterS, dt, amps float64) (t, i []float64) {
	for x := 0.0; x <= restS+pulseS+afterS; x += dt {
		c := 0.0
		if x > restS && x <= restS+pulseS {
			c = -amps
		}
		t, i = append(t, x), append(i, c)
	}
	return t, i
}

func TestIdentifyExact2RC(t *testing.T) {
	want := ECM{R0: 0.004, R1: 0.0016, C1: 30 / 0.0016, R2: 0.002, C2: 1800 / 0.002}
	// A 15 min pulse of 120 A (a transfer-class step: R0 comes from the
	// step alone, so it must stand well above the noise) and 90 min of
	// relaxation: the slow pair's 30 min time constant needs both its
	// build-up and its decay.
	// Sampled at 100 ms like an event window, decimated to 1 s away from
	// the current steps, as the job does.
	ts, is := pulseProfile(60, 900, 5400, 0.1, 120)
	for _, bms := range []struct{ sigma, res float64 }{{0.002, 0.001}, {0.004, 0.005}} {
		full := exactResponse(want, ts, is, 0.9, 100, bms.sigma, bms.res, 7)
		w := Decimate(full, 1, 0.5)
		f, err := Identify(w, DefaultIdent)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Tau1OK || !f.Tau2OK {
			t.Fatalf("σ %g: pairs not identified from a 106 min response: %+v", bms.sigma, f)
		}
		got := []float64{f.ECM.R0, f.ECM.R1, f.ECM.C1, f.ECM.R2, f.ECM.C2}
		exp := []float64{want.R0, want.R1, want.C1, want.R2, want.C2}
		for k, name := range []string{"R0", "R1", "C1", "R2", "C2"} {
			if e := relErr(got[k], exp[k]); e > 0.05 {
				t.Errorf("σ %g res %g: %s = %.5g, want %.5g (%.1f %%)", bms.sigma, bms.res, name, got[k], exp[k], 100*e)
			}
		}
		// The fit explains the data to the noise: RMSE ≈ σ (quantisation
		// adds res/√12).
		floor := math.Sqrt(bms.sigma*bms.sigma + bms.res*bms.res/12)
		if f.RMSEV > 1.2*floor || f.RMSEV < 0.8*floor {
			t.Errorf("σ %g: RMSE %.4f V, noise floor %.4f V", bms.sigma, f.RMSEV, floor)
		}
		// The step estimate alone (before the pairs' correction) is
		// noise-limited: 3σ of a difference of two readings over the
		// 480 mV step, plus the pairs' growth over one 100 ms step.
		tol := 3*math.Sqrt2*floor/(120*want.R0) + 0.005
		if e := relErr(f.R0Step, want.R0); e > tol {
			t.Errorf("σ %g: step R0 %.5g, want %.5g ± %.0f %%", bms.sigma, f.R0Step, want.R0, 100*tol)
		}
	}
}

// A transfer-like window (80 s at 100 ms: 10 s before, 6 s on battery)
// identifies R0 but cannot see a 30 min pair: R2, C2 stay NaN.
func TestIdentifyShortWindowFlagsTau2(t *testing.T) {
	want := ECM{R0: 0.004, R1: 0.0016, C1: 30 / 0.0016, R2: 0.002, C2: 1800 / 0.002}
	ts, is := pulseProfile(10, 6, 64, 0.1, 200)
	w := exactResponse(want, ts, is, 1, 100, 0.002, 0.001, 3)
	f, err := Identify(Decimate(w, 1, 0.5), DefaultIdent)
	if err != nil {
		t.Fatal(err)
	}
	if f.Tau2OK || !math.IsNaN(f.ECM.R2) || !math.IsNaN(f.ECM.C2) {
		t.Errorf("τ2 reported from an 80 s window: %+v", f.ECM)
	}
	if e := relErr(f.ECM.R0, want.R0); e > 0.05 {
		t.Errorf("R0 %.5g, want %.5g", f.ECM.R0, want.R0)
	}
	if f.Tau1OK {
		if e := relErr(f.ECM.Tau1(), want.Tau1()); e > 0.25 {
			t.Errorf("τ1 %.1f s reported as identified, true %.1f s", f.ECM.Tau1(), want.Tau1())
		}
	}
}

// The project's own simulator: a jar brought below 95 % SOC (no coup de
// fouet on the next discharge), rested 2 h, then a 10 min pulse and an
// hour's relaxation at 1 s, read by a CellSense-class sensor (2 mV, 1 mV
// steps). The identified circuit matches the simulator's true ECM at the
// pulse's operating point.
func TestIdentifyPhysicsJar(t *testing.T) {
	spec := physics.ModelSpec{Name: "T12-120", Manufacturer: "test", CapacityAh: 120, NominalV: 12,
		FloatMinV: 13.5, FloatMaxV: 13.8, BoostMinV: 14.4, BoostMaxV: 14.7, MaxChargeA: 36,
		TempWarnC: 45, TempCritC: 50, ExpectedLifeYears: 10, R0mOhm: 3.2, Peukert: 1.1}
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	life := physics.NewJarLife(11, spec, physics.ProfileHealthy, start.AddDate(-3, 0, 0), 25)
	life.Failure = physics.FailureNone
	const cond, rest, pre, pulse, after = 600, 7200, 60, 600, 3600
	n := cond + rest + pre + pulse + after
	sp := physics.StringSpan{Start: start, Step: time.Second, N: n,
		Mode: make([]physics.Mode, n), CurrentA: make([]float32, n), SetpointV: make([]float32, n)}
	for k := range n {
		sp.Mode[k] = physics.ModeIdle
		if k < cond || (k >= cond+rest+pre && k < cond+rest+pre+pulse) {
			sp.Mode[k], sp.CurrentA[k] = physics.ModeDischarge, -40
		}
	}
	var sim physics.JarSim
	sim.Sensor = physics.JarSensor{VoltSigmaV: 0.002, VoltResV: 0.001}
	sim.Reset(&life, 5, &sp, nil, 1)
	var w Window
	var atStep physics.JarSample
	for k := range n {
		x, ok := sim.Next()
		if !ok {
			t.Fatal("simulator ended early")
		}
		if k == cond+rest+pre {
			atStep = x
		}
		if k >= cond+rest {
			w.T = append(w.T, float64(k-cond-rest))
			w.I = append(w.I, float64(sp.CurrentA[k]))
			w.V = append(w.V, physics.Quantize(x.VoltageV, 0.001))
		}
	}
	if atStep.SOC > 0.95 {
		t.Fatalf("SOC %.3f at the pulse: coup de fouet would apply", atStep.SOC)
	}
	truth := life.ECM(start.Add(time.Duration(cond+rest+pre)*time.Second), atStep.SOC, atStep.TempC)
	f, err := Identify(w, DefaultIdent)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Tau1OK || !f.Tau2OK {
		t.Fatalf("pairs not identified: %+v", f)
	}
	got := []float64{f.ECM.R0, f.ECM.R1, f.ECM.C1, f.ECM.R2, f.ECM.C2}
	exp := []float64{truth.R0, truth.R1, truth.C1, truth.R2, truth.C2}
	for k, name := range []string{"R0", "R1", "C1", "R2", "C2"} {
		if e := relErr(got[k], exp[k]); e > 0.05 {
			t.Errorf("%s = %.5g, simulator %.5g (%.1f %%)", name, got[k], exp[k], 100*e)
		}
	}
	if f.RMSEV > 0.004 {
		t.Errorf("RMSE %.4f V", f.RMSEV)
	}
}

// The filter started at 30 % on a jar at 80 % finds it within 2 % SOC
// over a day of load steps and rests, where coulomb counting alone keeps
// its initial error.
func TestEKFConvergesFromWrongSOC(t *testing.T) {
	e := ECM{R0: 0.004, R1: 0.0016, C1: 30 / 0.0016, R2: 0.002, C2: 1800 / 0.002}
	var ts, is []float64
	for x := 0.0; x < 6*3600; x += 10 {
		c := 0.0
		if int(x/1800)%2 == 0 {
			c = -15 // 30 min discharges at C/8 between rests
		}
		ts, is = append(ts, x), append(is, c)
	}
	w := exactResponse(e, ts, is, 0.8, 120, 0.003, 0.005, 9)
	f := NewEKF(DefaultEKF(120, e, PriorOCV), 0.3)
	trueSOC := 0.8
	for k := range ts {
		if k > 0 {
			trueSOC += is[k] * (ts[k] - ts[k-1]) / 3600 / 120
		}
		f.Step(ts[k], is[k], w.V[k], 25)
	}
	if d := math.Abs(f.SOC() - trueSOC); d > 0.02 {
		t.Errorf("EKF SOC %.3f, true %.3f", f.SOC(), trueSOC)
	}
	if f.Var() > 0.02*0.02 {
		t.Errorf("variance %.2g did not shrink", f.Var())
	}
}

func TestFitOCVRecoversCurve(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	var soc, temp, v []float64
	for range 40 {
		s, c := 0.2+0.8*r.Float64(), 15+20*r.Float64()
		soc, temp = append(soc, s), append(temp, c)
		v = append(v, physics.Quantize(physics.OCV(s, c)+0.002*r.NormFloat64(), 0.001))
	}
	f, err := FitOCV(soc, temp, v)
	if err != nil {
		t.Fatal(err)
	}
	if f.Source != "fit" {
		t.Fatalf("source %s", f.Source)
	}
	for _, s := range []float64{0, 0.25, 0.5, 0.75, 1} {
		for _, c := range []float64{15, 25, 35} {
			if d := math.Abs(f.At(s, c) - physics.OCV(s, c)); d > 0.005 {
				t.Errorf("OCV(%.2f, %.0f °C) = %.4f, simulator %.4f", s, c, f.At(s, c), physics.OCV(s, c))
			}
		}
	}
	// Too narrow a SOC spread: the prior slope, shifted.
	g, err := FitOCV([]float64{0.9, 0.92}, []float64{25, 25}, []float64{12.79, 12.81})
	if err != nil || g.Source != "offset" || g.E1 != PriorOCV.E1 {
		t.Errorf("narrow spread: %+v, %v", g, err)
	}
}

func TestFades(t *testing.T) {
	if got := CapacityFadePct(85, 100); math.Abs(got-15) > 1e-9 {
		t.Errorf("capacity fade %g", got)
	}
	if got := PowerFadePct(4, 5); math.Abs(got-20) > 1e-9 {
		t.Errorf("power fade %g", got)
	}
	if !math.IsNaN(PowerFadePct(0, 5)) {
		t.Error("power fade without a baseline")
	}
}

// Package twin must see only recorded data: no simulator, fleet, lake or
// schema import outside tests.
func TestImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range ast.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			if strings.HasPrefix(p, "github.com/battlake/") {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}

// A transfer window as the telemetry job simulates it (physics.WindowBounds
// and WindowStep: 100 ms from 10 s before the transfer to 60 s after the
// string stops discharging, BuildStringSpan and JarSim with a CellSense-
// class sensor), identified as the twin job does: R0 from the step is
// within 5 % of the simulator's R0 at the step (coup de fouet and float
// overpotential included), and τ2 is reported unidentifiable.
func TestIdentifyPhysicsTransferWindow(t *testing.T) {
	spec := physics.ModelSpec{Name: "T12-150", Manufacturer: "test", CapacityAh: 150, NominalV: 12,
		FloatMinV: 13.5, FloatMaxV: 13.8, BoostMinV: 14.4, BoostMaxV: 14.7, MaxChargeA: 45,
		TempWarnC: 45, TempCritC: 50, ExpectedLifeYears: 10, R0mOhm: 3.0, Peukert: 1.1}
	cfg := physics.StringConfig{System: physics.SystemUPS, Jars: 24, Spec: spec, LoadA: physics.NominalLoadA(physics.SystemUPS)}
	t0 := time.Date(2025, 6, 3, 10, 0, 0, 0, time.UTC)
	ev := physics.Event{Kind: physics.EventTransfer, Start: t0, End: t0.Add(30 * time.Second), CurrentA: physics.NominalLoadA(physics.SystemUPS)}
	from, to := physics.WindowBounds(ev)
	step := physics.WindowStep(ev.Kind)
	n := int(to.Sub(from) / step)
	var span physics.StringSpan
	physics.BuildStringSpan(&span, cfg, 3, from, step, n, []physics.Event{ev})
	for seed := uint64(1); seed <= 4; seed++ {
		life := physics.NewJarLife(seed, spec, physics.ProfileHealthy, t0.AddDate(-2-int(seed), 0, 0), 25)
		life.Failure = physics.FailureNone
		var sim physics.JarSim
		sim.Sensor = physics.JarSensor{VoltSigmaV: 0.002, VoltResV: 0.001}
		sim.Reset(&life, seed, &span, nil, 1)
		var w Window
		var xs []physics.JarSample
		for i := range n {
			x, ok := sim.Next()
			if !ok {
				t.Fatal("simulator ended early")
			}
			xs = append(xs, x)
			w.T = append(w.T, float64(i)*step.Seconds())
			w.I = append(w.I, float64(span.CurrentA[i]))
			w.V = append(w.V, physics.Quantize(x.VoltageV, 0.001))
		}
		a, b, ok := DischargeResponse(w.I, 5, 0.5)
		if !ok {
			t.Fatalf("seed %d: no discharge step in the transfer window", seed)
		}
		f, err := Identify(Decimate(Window{T: w.T[a:b], I: w.I[a:b], V: w.V[a:b]}, 1, 0.5), DefaultIdent)
		if err != nil {
			t.Fatal(err)
		}
		k := a + 1 // first sample on battery
		truth := life.ECM(from.Add(time.Duration(k)*step), xs[k].SOC, xs[k].TempC)
		t.Logf("seed %d: R0 %.4f / %.4f mΩ, span %.1f s, RMSE %.4f V, step %.1f A", seed, 1000*f.ECM.R0, 1000*truth.R0, f.SpanS, f.RMSEV, w.I[k]-w.I[k-1])
		if e := relErr(f.ECM.R0, truth.R0); e > 0.05 {
			t.Errorf("seed %d: R0 %.4f mΩ, simulator %.4f mΩ (%.1f %%)", seed, 1000*f.ECM.R0, 1000*truth.R0, 100*e)
		}
		if f.Tau2OK || !math.IsNaN(f.ECM.R2) {
			t.Errorf("seed %d: τ2 reported from a %.0f s response", seed, f.SpanS)
		}
	}
}

// A filter resumed from the state of the previous "day" (clock shifted by
// the split) is the filter that never stopped: same SOC and variance; one
// restarted cold at full charge instead is less sure of its SOC.
func TestEKFResumeCarriesStateAcrossDays(t *testing.T) {
	e := ECM{R0: 0.004, R1: 0.0016, C1: 30 / 0.0016, R2: 0.002, C2: 1800 / 0.002}
	var ts, is []float64
	for x := 0.0; x < 4*3600; x += 60 {
		c := 0.0
		if x >= 1800 && x < 1800+5400 {
			c = -20 // a 90 min discharge at C/6, then rest
		}
		ts, is = append(ts, x), append(is, c)
	}
	w := exactResponse(e, ts, is, 1, 120, 0.003, 0.005, 11)
	cfg := DefaultEKF(120, e, PriorOCV)
	whole := NewEKF(cfg, 1)
	for k := range ts {
		whole.Step(ts[k], is[k], w.V[k], 25)
	}
	split := 2 * 3600.0 // mid-discharge
	first := NewEKF(cfg, 1)
	k := 0
	for ; ts[k] < split; k++ {
		first.Step(ts[k], is[k], w.V[k], 25)
	}
	st := first.State()
	if v := st.P[0][0]; v >= cfg.P0SOC || !st.Started {
		t.Fatalf("state after the first part: %+v", st)
	}
	resumed := Resume(cfg, st.Shift(split))
	for j := k; j < len(ts); j++ {
		resumed.Step(ts[j]-split, is[j], w.V[j], 25)
	}
	if math.Abs(resumed.SOC()-whole.SOC()) > 1e-12 || math.Abs(resumed.Var()-whole.Var()) > 1e-15 {
		t.Fatalf("resumed SOC %.6f var %.3g, continuous %.6f var %.3g", resumed.SOC(), resumed.Var(), whole.SOC(), whole.Var())
	}
	restarted := NewEKF(cfg, 1)
	for j := k; j < len(ts); j++ {
		restarted.Step(ts[j]-split, is[j], w.V[j], 25)
	}
	if restarted.Var() <= resumed.Var() {
		t.Fatalf("a restarted filter is as sure (%.3g) as the resumed one (%.3g)", restarted.Var(), resumed.Var())
	}
}
