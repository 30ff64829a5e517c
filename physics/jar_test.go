package physics

import (
	"math"
	"testing"
	"time"
)

func TestOCVMonotoneAndInRange(t *testing.T) {
	for _, temp := range []float64{15, 25, 35} {
		prev := math.Inf(-1)
		for s := 0.0; s <= 1.0001; s += 0.01 {
			v := OCV(s, temp)
			if v <= prev {
				t.Fatalf("OCV not increasing at SOC %.2f, %v °C", s, temp)
			}
			prev = v
		}
	}
	if lo, hi := OCV(0, 25), OCV(1, 25); math.Abs(lo-11.8) > 0.05 || math.Abs(hi-12.9) > 0.05 {
		t.Fatalf("OCV(0)=%.3f OCV(1)=%.3f at 25 °C, want ~11.8 and ~12.9 (AGM)", lo, hi)
	}
	// Thermodynamic dE/dT: +0.2..0.3 mV/°C per cell (not the 2.5-3 mV/°C
	// charge compensation).
	if k := (OCV(0.5, 35) - OCV(0.5, 25)) / 10 / 6; k < 0.0002 || k > 0.0003 {
		t.Fatalf("OCV temperature coefficient %.4f V/°C/cell", k)
	}
}

func TestECMWithinPhysicsRanges(t *testing.T) {
	l := NewJarLife(4, testSpec, ProfileHealthy, day(2022, 1, 1), 25)
	at := day(2024, 1, 1)
	p := l.ECM(at, 1, 25)
	if s := (p.R1 + p.R2) / p.R0; s < 0.5 || s > 1.5 {
		t.Errorf("R1+R2 = %.2f R0, want 0.5-1.5", s)
	}
	if tau := p.R1 * p.C1; tau < 10 || tau > 60 {
		t.Errorf("τ1 = %.0f s", tau)
	}
	if tau := p.R2 * p.C2; tau < 600 || tau > 3600 {
		t.Errorf("τ2 = %.0f s", tau)
	}
	if cold, empty := l.ECM(at, 1, 10), l.ECM(at, 0.1, 25); cold.R0 <= p.R0 || empty.R0 <= p.R0 {
		t.Errorf("R0 %.5f: cold %.5f and empty %.5f should be higher", p.R0, cold.R0, empty.R0)
	}
}

// quietDay runs jars over a day without events (canonical float).
func quietDay(t *testing.T, d time.Time, lives []JarLife) (*EnvSpan, *StringSpan, [][]JarSample) {
	var env EnvSpan
	var sp StringSpan
	BuildEnvSpan(&env, 21, testClimate, d, time.Minute, 1440)
	BuildStringSpan(&sp, testCfg(SystemUPS), 22, d, 5*time.Second, 17280, nil)
	out := make([][]JarSample, len(lives))
	for j := range lives {
		out[j] = collect(t, &lives[j], Mix(23, uint64(j)), &sp, &env, 12)
	}
	return &env, &sp, out
}

func healthyString(n int) []JarLife {
	lives := make([]JarLife, n)
	for j := range lives {
		lives[j] = NewJarLife(Mix(5, uint64(j)), testSpec, ProfileHealthy, day(2021, 6, 1), 26)
	}
	return lives
}

// Healthy jars on float stay in the model's float band once compensated to
// 25 °C (-3 mV/°C per cell), with a visible jar-to-jar spread.
func TestHealthyFloatStaysInBand(t *testing.T) {
	lives := healthyString(24)
	for _, d := range []time.Time{day(2024, 1, 15), day(2024, 4, 15), day(2024, 9, 15)} {
		_, _, js := quietDay(t, d, lives)
		means := make([]float64, len(js))
		for j, xs := range js {
			for i, x := range xs {
				v25 := x.VoltageV - compCoefV*(x.TempC-25)
				if v25 < testSpec.FloatMinV || v25 > testSpec.FloatMaxV {
					t.Fatalf("%s jar %d sample %d: %.3f V at %.1f °C = %.3f V at 25 °C, outside %.2f-%.2f",
						d.Format(time.DateOnly), j, i, x.VoltageV, x.TempC, v25, testSpec.FloatMinV, testSpec.FloatMaxV)
				}
				means[j] += v25 / float64(len(xs))
			}
		}
		lo, hi := means[0], means[0]
		for _, m := range means {
			lo, hi = math.Min(lo, m), math.Max(hi, m)
		}
		if hi-lo < 0.02 || hi-lo > 0.1 {
			t.Errorf("%s: jar float spread %.3f V, want a few tens of mV", d.Format(time.DateOnly), hi-lo)
		}
	}
}

// Jar temperature follows the room (with a block's lag) plus a small
// positive float heating, also through an HVAC fault.
func TestJarTemperatureFollowsRoom(t *testing.T) {
	c := testClimate
	c.HVACFaultsPerYear = 100
	// Find a long fault in the middle of a day.
	var d time.Time
	var fault Event
	for k := 0; k < 2000 && d.IsZero(); k++ {
		dd := day(2024, 3, 1).AddDate(0, 0, k)
		evs := EnvEvents(31, c, dd)
		if len(evs) != 1 || len(EnvEvents(31, c, dd.AddDate(0, 0, -1))) != 0 {
			continue // only one fault in the day and the day before
		}
		if e := evs[0]; e.End.Sub(e.Start) >= 4*time.Hour && e.Start.Sub(dd) > 4*time.Hour && e.End.Sub(dd) < 17*time.Hour {
			d, fault = dd, e
		}
	}
	if d.IsZero() {
		t.Fatal("no suitable HVAC fault")
	}
	var env EnvSpan
	var sp StringSpan
	BuildEnvSpan(&env, 31, c, d, time.Minute, 1440)
	BuildStringSpan(&sp, testCfg(SystemUPS), 22, d, 5*time.Second, 17280, nil)
	lives := healthyString(4)
	fi := int(fault.Start.Sub(d) / time.Minute)
	fe := int(fault.End.Sub(d) / time.Minute)
	for j := range lives {
		xs := collect(t, &lives[j], uint64(j), &sp, &env, 12)
		jarAt := func(m int) float64 { return xs[m*12].TempC }
		// Before the fault: near the room, a fraction of a degree above.
		var diff float64
		for m := 0; m < fi; m++ {
			diff += (jarAt(m) - float64(env.TempC[m])) / float64(fi)
			if math.Abs(jarAt(m)-float64(env.TempC[m])) > 1.0 {
				t.Fatalf("jar %d minute %d: %.2f °C in a %.2f °C room", j, m, jarAt(m), env.TempC[m])
			}
		}
		if diff <= 0 || diff > 0.5 {
			t.Errorf("jar %d: mean %.3f °C above the room before the fault, want a small positive heating", j, diff)
		}
		// During the fault the room warms; the jar follows, later and less.
		peakRoom, peakJar := fi, fi
		for m := fi; m < 1440; m++ {
			if env.TempC[m] > env.TempC[peakRoom] {
				peakRoom = m
			}
			if jarAt(m) > jarAt(peakJar) {
				peakJar = m
			}
		}
		roomRise := float64(env.TempC[peakRoom] - env.TempC[fi])
		jarRise := jarAt(peakJar) - jarAt(fi)
		if roomRise < 2 || jarRise < 0.3*roomRise || jarRise > roomRise+0.3 {
			t.Errorf("jar %d: room +%.2f °C, jar +%.2f °C over the fault", j, roomRise, jarRise)
		}
		if peakJar <= peakRoom {
			t.Errorf("jar %d peaks at minute %d, room at %d: no thermal lag", j, peakJar, peakRoom)
		}
	}
	if env.HVAC[(fi+fe)/2] != HVACFault {
		t.Errorf("HVAC %v during the fault", env.HVAC[(fi+fe)/2])
	}
}

// noiseless returns a copy of l without sensor noise, to test the model.
func noiseless(l JarLife) JarLife {
	l.Params.NoiseStd = 0
	return l
}

// A discharge shows the instantaneous I·R0 step at its start and an RC
// relaxation afterwards; at its end the voltage steps back up and keeps
// recovering while the charger walks in.
func TestDischargeStepAndRCRelaxation(t *testing.T) {
	l := noiseless(NewJarLife(8, testSpec, ProfileHealthy, day(2022, 5, 1), 26))
	evStart := day(2024, 6, 2).Add(12 * time.Hour)
	ev := Event{Kind: EventTransfer, Start: evStart, End: evStart.Add(90 * time.Second), CurrentA: 40}
	cfg := testCfg(SystemUPS)
	step := 100 * time.Millisecond
	ws, we := WindowBounds(ev)
	n := int(we.Sub(ws) / step)
	var sp StringSpan
	BuildStringSpan(&sp, cfg, 3, ws, step, n, []Event{ev})
	var env EnvSpan
	BuildEnvSpan(&env, 3, testClimate, ws, time.Second, (n+9)/10)
	xs := collect(t, &l, 1, &sp, &env, 10)
	i0 := int(evStart.Sub(ws) / step)
	i1 := int(ev.End.Sub(ws) / step)
	if sp.Mode[i0-1] != ModeFloat || sp.Mode[i0] != ModeDischarge || sp.Mode[i1] == ModeDischarge {
		t.Fatalf("modes around the event: %v %v … %v", sp.Mode[i0-1], sp.Mode[i0], sp.Mode[i1])
	}
	I := -float64(sp.CurrentA[i0])
	r0 := l.ECM(evStart, 1, xs[i0].TempC).R0
	if drop := xs[i0-1].VoltageV - xs[i0].VoltageV; drop < I*r0 {
		t.Errorf("step at discharge start %.3f V < I·R0 = %.3f V", drop, I*r0)
	}
	v := func(i int) float64 { return xs[i].VoltageV }
	// Keeps falling for tens of seconds (fast pair) and minutes (slow pair).
	if !(v(i0+10) < v(i0+1) && v(i0+300) < v(i0+10) && v(i0+890) < v(i0+300)) {
		t.Errorf("no RC relaxation in discharge: %.3f %.3f %.3f %.3f", v(i0+1), v(i0+10), v(i0+300), v(i0+890))
	}
	if sp.Mode[i1] != ModeIdle {
		t.Fatalf("mode %v after the outage, want idle (charger walk-in)", sp.Mode[i1])
	}
	r0 = l.ECM(ev.End, xs[i1].SOC, xs[i1].TempC).R0
	if rise := v(i1) - v(i1-1); rise < 0.9*I*r0 {
		t.Errorf("step at discharge end %.3f V < I·R0 = %.3f V", rise, I*r0)
	}
	if !(v(i1+20) > v(i1+1) && v(i1+50) > v(i1+20)) {
		t.Errorf("no recovery after the discharge: %.3f %.3f %.3f", v(i1+1), v(i1+20), v(i1+50))
	}
}

// A capacity test ends at cutoff; the Ah delivered follow Peukert: less at
// a higher rate, consistent with EffectiveCapacityAh.
func TestCapacityTestCutoffAndPeukert(t *testing.T) {
	l := noiseless(NewJarLife(12, testSpec, ProfileHealthy, day(2021, 1, 1), 25))
	d := day(2024, 1, 20)
	delivered := func(amps float64) (ah, tempC float64) {
		ev := Event{Kind: EventDischargeTest, Start: d.Add(time.Hour), End: d.Add(13 * time.Hour), CurrentA: amps}
		var sp StringSpan
		BuildStringSpan(&sp, testCfg(SystemUPS), 4, d, 10*time.Second, 8640, []Event{ev})
		xs := collect(t, &l, 2, &sp, nil, 1)
		for i, x := range xs {
			if sp.Mode[i] == ModeDischarge {
				if x.VoltageV <= CutoffV {
					return ah, x.TempC
				}
				ah += amps * 10 / 3600
			}
		}
		t.Fatalf("no cutoff at %.0f A", amps)
		return
	}
	hi, tHi := delivered(testSpec.CapacityAh / 3)
	lo, tLo := delivered(testSpec.CapacityAh / 8)
	if hi >= lo {
		t.Fatalf("C/3 delivered %.1f Ah, C/8 %.1f Ah: no rate effect", hi, lo)
	}
	wantRatio := math.Pow(8.0/3, 1-testSpec.Peukert)
	if r := hi / lo; math.Abs(r/wantRatio-1) > 0.05 {
		t.Errorf("C/3 over C/8 capacity %.3f, Peukert %.3f", r, wantRatio)
	}
	if want := l.EffectiveCapacityAh(testSpec, d, testSpec.CapacityAh/8, tLo); math.Abs(lo/want-1) > 0.06 {
		t.Errorf("C/8 delivered %.1f Ah, effective capacity %.1f Ah", lo, want)
	}
	if tHi <= 25.5 {
		t.Errorf("a C/3 discharge left the jar at %.2f °C: no I²R heating", tHi)
	}
}

// The charger returns 1.05-1.1 × the Ah removed, current-limited at the
// model's MaxChargeA in boost, then tapers back to float.
func TestRechargeReturnsAhRemoved(t *testing.T) {
	d := day(2024, 2, 2)
	ev := Event{Kind: EventTransfer, Start: d.Add(3 * time.Hour), End: d.Add(3*time.Hour + 40*time.Minute), CurrentA: 40}
	cfg := testCfg(SystemUPS)
	var sp StringSpan
	BuildStringSpan(&sp, cfg, 9, d, 5*time.Second, 17280, []Event{ev})
	floatA := float64(sp.CurrentA[0])
	var out, in, maxA float64
	boost := 0
	for i := range sp.N {
		a := float64(sp.CurrentA[i])
		switch {
		case a < 0:
			out -= a * 5 / 3600
		case sp.Mode[i] != ModeFloat || a > floatA*1.001:
			in += (a - floatA) * 5 / 3600
		}
		maxA = math.Max(maxA, a)
		if sp.Mode[i] == ModeBoost {
			boost++
			if sp.SetpointV[i] < float32(testSpec.BoostMinV) || sp.SetpointV[i] > float32(testSpec.BoostMaxV) {
				t.Fatalf("boost setpoint %.3f", sp.SetpointV[i])
			}
		}
	}
	if r := in / out; r < 1.04 || r > 1.1 {
		t.Errorf("returned %.2f Ah for %.2f Ah removed (%.3f)", in, out, r)
	}
	if math.Abs(maxA-floatA-testSpec.MaxChargeA) > 0.01 || boost == 0 {
		t.Errorf("max charge current %.2f A, boost samples %d", maxA, boost)
	}
	if sp.Mode[sp.N-1] != ModeFloat || sp.busy[sp.N-1] {
		t.Errorf("day ends in %v (busy %v)", sp.Mode[sp.N-1], sp.busy[sp.N-1])
	}
	if sp.Flags[int(ev.Start.Sub(d)/(5*time.Second))]&FlagTransfer == 0 {
		t.Error("no transfer flag during the outage")
	}
}

func TestJarSimNextDoesNotAllocate(t *testing.T) {
	d := day(2024, 7, 3)
	var sp StringSpan
	BuildStringSpan(&sp, testCfg(SystemUPS), 5, d, 5*time.Second, 17280, busyDayEvents(d, 1))
	var env EnvSpan
	BuildEnvSpan(&env, 1, testClimate, d, time.Minute, 1440)
	l := NewJarLife(1, testSpec, ProfileFailing, day(2023, 6, 1), 26)
	var s JarSim
	s.Reset(&l, 1, &sp, &env, 12)
	allocs := testing.AllocsPerRun(5, func() {
		s.Reset(&l, 1, &sp, &env, 12)
		for {
			if _, ok := s.Next(); !ok {
				break
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%.0f allocations per day", allocs)
	}
}

func TestSum4x16IsFastGauss(t *testing.T) {
	for i := range uint64(10000) {
		if a, b := sum4x16(mix64(77^(i*0x9e3779b97f4a7c15))), FastGauss(77, i); a != b {
			t.Fatalf("sample %d: %v != FastGauss %v", i, a, b)
		}
	}
}

// A year of one string's jars with every kind of event stays finite and
// physical, and every event kind shows up in the modes.
func TestYearSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("year run")
	}
	for _, sys := range []SystemType{SystemUPS, SystemRectifier} {
		cfg := testCfg(sys)
		lives := []JarLife{
			NewJarLife(1, testSpec, ProfileHealthy, day(2022, 1, 1), 27),
			NewJarLife(2, testSpec, ProfileAccelerated, day(2022, 1, 1), 27),
			failingLife(t, FailureThermalRunaway),
		}
		c := testClimate
		c.HVACFaultsPerYear = 12
		modes := map[Mode]int{}
		var sp StringSpan
		var env EnvSpan
		var s JarSim
		start := day(2024, 1, 1)
		for k := range 366 {
			d := start.AddDate(0, 0, k)
			var extra []Event
			if k == 100 || k == 101 { // a capacity test on day 100 at 20:00
				td := start.AddDate(0, 0, 100)
				extra = append(extra, Event{Kind: EventDischargeTest, Start: td.Add(20 * time.Hour), End: td.Add(28 * time.Hour), CurrentA: testSpec.CapacityAh / 5})
			}
			BuildStringSpan(&sp, cfg, 33, d, time.Minute, 1440, eventsFor(31, 32, sys, d, 1, extra...))
			BuildEnvSpan(&env, 31, c, d, time.Minute, 1440)
			for i := range sp.N {
				modes[sp.Mode[i]]++
			}
			for li := range lives {
				s.Reset(&lives[li], uint64(li), &sp, &env, 1)
				for i := 0; ; i++ {
					x, ok := s.Next()
					if !ok {
						break
					}
					bad := math.IsNaN(x.VoltageV+x.TempC+x.ResistanceMOhm+x.SOC) || x.VoltageV < 0 || x.VoltageV > 15.5 ||
						x.TempC < 10 || x.TempC > 90 || x.ResistanceMOhm <= 0 || x.SOC < 0 || x.SOC > 1
					if bad && !lives[li].Failed(d) {
						t.Fatalf("%v %s jar %d sample %d (%v): %+v", sys, d.Format(time.DateOnly), li, i, sp.Mode[i], x)
					}
				}
			}
		}
		for m := ModeFloat; m <= ModeEqualize; m++ {
			if modes[m] == 0 {
				t.Errorf("%v: no %v samples in a year", sys, m)
			}
		}
		if f := float64(modes[ModeFloat]) / float64(366*1440); f < 0.9 {
			t.Errorf("%v: float only %.3f of the time", sys, f)
		}
	}
}

// A hand-made span (not from BuildStringSpan) and no environment still
// simulate: the full model everywhere, 25 °C ambient.
func TestJarSimHandMadeSpan(t *testing.T) {
	n := 600
	sp := StringSpan{Start: day(2024, 1, 1), Step: time.Second, N: n,
		Mode: make([]Mode, n), CurrentA: make([]float32, n), SetpointV: make([]float32, n)}
	for i := range n {
		sp.Mode[i], sp.CurrentA[i], sp.SetpointV[i] = ModeFloat, 0.08, 13.65
		if i >= 300 {
			sp.Mode[i], sp.CurrentA[i], sp.SetpointV[i] = ModeDischarge, -30, 0
		}
	}
	l := noiseless(NewJarLife(1, testSpec, ProfileHealthy, day(2023, 1, 1), 25))
	xs := collect(t, &l, 1, &sp, nil, 1)
	if math.Abs(xs[299].VoltageV-13.65) > 0.06 || xs[599].VoltageV > 12.9 || math.Abs(xs[0].TempC-25.2) > 0.3 {
		t.Fatalf("float %.3f V at %.2f °C, discharge %.3f V", xs[299].VoltageV, xs[0].TempC, xs[599].VoltageV)
	}
}

// When a cluster ends the jars rejoin their canonical float state without
// a visible step in temperature or voltage.
func TestClusterEndIsContinuous(t *testing.T) {
	seen := 0
	for _, d0 := range []time.Time{day(2024, 7, 3), day(2024, 8, 14), day(2024, 2, 2)} {
		for dd := range 2 {
			d := d0.AddDate(0, 0, dd)
			var sp StringSpan
			BuildStringSpan(&sp, testCfg(SystemUPS), 5, d, 5*time.Second, 17280, eventsFor(91, 92, SystemUPS, d, 1, busyDayEvents(d0, 0)...))
			var env EnvSpan
			BuildEnvSpan(&env, 3, testClimate, d, time.Minute, 1440)
			l := noiseless(NewJarLife(1, testSpec, ProfileHealthy, day(2021, 3, 1), 26))
			xs := collect(t, &l, 1, &sp, &env, 12)
			const w = 60 // 5 min each side averages the probe noise out
			for i := w; i+w <= sp.N; i++ {
				if !sp.busy[i-1] || sp.busy[i] {
					continue
				}
				seen++
				var tb, ta, vb, va float64
				for k := 0; k < w; k++ {
					tb += xs[i-1-k].TempC / w
					ta += xs[i+k].TempC / w
					vb += xs[i-1-k].VoltageV / w
					va += xs[i+k].VoltageV / w
				}
				if math.Abs(ta-tb) > 0.04 || math.Abs(va-vb) > 0.002 {
					t.Errorf("%v: step of %.3f °C, %.4f V at a cluster's end", sp.Start.Add(time.Duration(i)*sp.Step), ta-tb, va-vb)
				}
			}
		}
	}
	if seen < 3 {
		t.Fatalf("only %d cluster ends seen", seen)
	}
}

// NextTrueV yields exactly Next's TrueVoltageV, sample by sample, over
// spans with activity, an open string and sudden failures.
func TestNextTrueVMatchesNext(t *testing.T) {
	checked := 0
	for s := uint64(0); s < 40; s++ {
		prof := []Profile{ProfileHealthy, ProfileAccelerated, ProfileFailing}[s%3]
		l := NewJarLife(Mix(11, s), testSpec, prof, day(2019, 1, 1), 27)
		for _, d0 := range []time.Time{day(2024, 7, 3), l.FailureAt.Truncate(24 * time.Hour)} {
			if d0.IsZero() || d0.Year() < 2019 {
				continue
			}
			for _, step := range []time.Duration{5 * time.Second, time.Hour} {
				n := int(24 * time.Hour / step)
				cfg := testCfg(SystemUPS)
				if s%4 == 0 {
					cfg.OpenFrom = d0.Add(6 * time.Hour).UnixNano()
				}
				var span StringSpan
				BuildStringSpan(&span, cfg, Mix(5, s), d0, step, n, busyDayEvents(d0, 1))
				ratio := 1 + int(s%2)*11 // one ambient sample per jar sample, or per 12
				var a, b, c JarSim
				a.Reset(&l, Mix(3, s), &span, nil, ratio)
				b.Reset(&l, Mix(3, s), &span, nil, ratio)
				c.Reset(&l, Mix(3, s), &span, nil, ratio)
				// AddTrueV over the day in uneven pieces, onto a base
				sum := make([]float64, n)
				for i := range sum {
					sum[i] = float64(i % 7)
				}
				for k, piece := 0, 1; k < n; k, piece = k+piece, piece*3+1 {
					if !c.AddTrueV(sum[k:min(n, k+piece)]) {
						t.Fatalf("jar %d day %s step %s: AddTrueV ended before sample %d of %d", s, d0.Format(time.DateOnly), step, k, n)
					}
				}
				for i := 0; i < n; i++ {
					x, ok1 := a.Next()
					v, ok2 := b.NextTrueV()
					if ok1 != ok2 || x.TrueVoltageV != v {
						t.Fatalf("jar %d day %s step %s sample %d: Next %v (%v), NextTrueV %v (%v)", s, d0.Format(time.DateOnly), step, i, x.TrueVoltageV, ok1, v, ok2)
					}
					if want := float64(i%7) + v; sum[i] != want {
						t.Fatalf("jar %d day %s step %s sample %d: AddTrueV gave %v, NextTrueV %v", s, d0.Format(time.DateOnly), step, i, sum[i]-float64(i%7), v)
					}
					checked++
				}
				if c.AddTrueV(make([]float64, 1)) {
					t.Fatalf("jar %d day %s step %s: AddTrueV past the span's end", s, d0.Format(time.DateOnly), step)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

// A jar whose sudden failure lies ahead of its precursor runs exactly like
// the same jar without one (the quiet fast path; voltages to rounding);
// inside the precursor it does not.
func TestFailureAheadIsQuietBeforeItsPrecursor(t *testing.T) {
	checked, differed := 0, 0
	for s := uint64(0); s < 60 && checked < 3; s++ {
		l := NewJarLife(Mix(17, s), testSpec, ProfileFailing, day(2019, 1, 1), 27)
		if l.Failure == FailureNone || l.FailureAt.Year() < 2021 {
			continue
		}
		none := l
		none.Failure = FailureNone
		quiet := l.FailureAt.Add(-time.Duration(l.precursorDays*24)*time.Hour - 72*time.Hour).Truncate(24 * time.Hour)
		inside := l.FailureAt.Add(-time.Duration(l.precursorDays*12) * time.Hour).Truncate(24 * time.Hour)
		for _, d0 := range []time.Time{quiet, inside} {
			step := time.Minute
			n := int(24 * time.Hour / step)
			var span StringSpan
			BuildStringSpan(&span, testCfg(SystemUPS), Mix(5, s), d0, step, n, busyDayEvents(d0, 1))
			var a, b JarSim
			a.Reset(&l, Mix(3, s), &span, nil, 1)
			b.Reset(&none, Mix(3, s), &span, nil, 1)
			diff := 0 // samples whose voltage shows the precursor's drift
			for i := 0; i < n; i++ {
				x, _ := a.Next()
				y, _ := b.Next()
				if math.Abs(x.TrueVoltageV-y.TrueVoltageV) > 1e-9 {
					diff++
				}
				if math.Abs(x.TrueVoltageV-y.TrueVoltageV) > 1e-12 || x.TempC != y.TempC || x.ResistanceMOhm != y.ResistanceMOhm {
					if d0.Equal(quiet) {
						t.Fatalf("jar %d day %s sample %d: with its failure ahead %+v, without %+v", s, d0.Format(time.DateOnly), i, x, y)
					}
				}
			}
			if d0.Equal(quiet) {
				checked++
			} else if diff > n/2 { // the precursor's drift shows at float, most of the day
				differed++
			}
		}
	}
	if checked == 0 || differed != checked {
		t.Fatalf("%d quiet days checked, %d precursor days showed its drift in most samples (want as many)", checked, differed)
	}
}
