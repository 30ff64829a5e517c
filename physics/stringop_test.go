package physics

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestSiteEventsCadence(t *testing.T) {
	const seed = 314
	var outages, gen, surges int
	var short, long int
	genDays := map[int]bool{}
	start := day(2023, 1, 1)
	const days = 730
	for k := range days {
		d := start.AddDate(0, 0, k)
		evs := SiteEvents(seed, SystemUPS, d)
		if !slices.Equal(evs, SiteEvents(seed, SystemUPS, d)) {
			t.Fatal("SiteEvents is not a pure function of (seed, day)")
		}
		rect := SiteEvents(seed, SystemRectifier, d)
		for i, e := range evs {
			if e.Seq != uint32(i) || e.Start.Before(d) || !e.Start.Before(d.AddDate(0, 0, 1)) {
				t.Fatalf("bad event %+v on %v", e, d)
			}
			if !e.Discharges() || e.CurrentA <= 0 || e.DischargeEnd().Before(e.Start) {
				t.Fatalf("discharge event without current %+v", e)
			}
			if !rect[i].Start.Equal(e.Start) || rect[i].CurrentA >= e.CurrentA {
				t.Fatalf("systems of a site must see the same events, the rectifier a lighter load: %+v vs %+v", rect[i], e)
			}
			dur := e.End.Sub(e.Start)
			switch e.Kind {
			case EventTransfer:
				outages++
				if dur <= time.Minute {
					short++
				}
				if dur > 10*time.Minute {
					long++
				}
				if dur > time.Hour || dur < time.Second {
					t.Fatalf("outage of %v", dur)
				}
			case EventGeneratorTest:
				gen++
				genDays[d.Day()] = true
				if dur < 20*time.Minute || dur > 40*time.Minute || e.OnBattery < time.Second || e.OnBattery > 15*time.Second {
					t.Fatalf("generator test %+v", e)
				}
			case EventSurge:
				surges++
				if dur > 5*time.Second {
					t.Fatalf("surge of %v", dur)
				}
			}
		}
	}
	months := float64(days) / 30.44
	if perMonth := float64(outages) / months; perMonth < 1.5 || perMonth > 5 {
		t.Errorf("%.1f outages per month, want a few", perMonth)
	}
	if f := float64(short) / float64(outages); f < 0.55 || f > 0.85 {
		t.Errorf("%.2f of outages up to a minute, want most", f)
	}
	if long == 0 || long > outages/5 {
		t.Errorf("%d of %d outages over 10 min, want rare ones", long, outages)
	}
	if gen != 24 || len(genDays) != 1 {
		t.Errorf("%d generator tests on days %v, want one a month on a fixed day", gen, genDays)
	}
	if surges == 0 {
		t.Error("no surges")
	}
}

func TestEqualizeQuarterly(t *testing.T) {
	n := 0
	for k := range 366 {
		d := day(2024, 1, 1).AddDate(0, 0, k)
		for _, e := range EqualizeEvents(27, d) {
			n++
			if dur := e.End.Sub(e.Start); dur < 8*time.Hour || dur > 12*time.Hour || e.Kind != EventEqualize {
				t.Fatalf("equalize %+v", e)
			}
		}
	}
	if n != 4 {
		t.Fatalf("%d equalize charges in a year, want 4", n)
	}
}

// Equalize runs at boost/equalize voltage with its flag and returns to
// float; a generator test flags the whole test, on battery only briefly.
func TestStringSpanEqualizeAndGeneratorTest(t *testing.T) {
	d := day(2024, 3, 5)
	eq := Event{Kind: EventEqualize, Start: d.Add(2 * time.Hour), End: d.Add(12 * time.Hour)}
	gt := Event{Kind: EventGeneratorTest, Start: d.Add(14 * time.Hour), End: d.Add(14*time.Hour + 30*time.Minute), CurrentA: 40, OnBattery: 6 * time.Second}
	var sp StringSpan
	BuildStringSpan(&sp, testCfg(SystemUPS), 1, d, time.Second, 86400, []Event{eq, gt})
	at := func(x time.Time) int { return int(x.Sub(d) / time.Second) }
	i := at(eq.Start.Add(time.Hour))
	if sp.Mode[i] != ModeEqualize || sp.Flags[i]&FlagEqualize == 0 || sp.SetpointV[i] < float32(testSpec.BoostMinV) || sp.CurrentA[i] <= sp.CurrentA[0] {
		t.Errorf("during equalize: %v flags %b %.2f V %.2f A", sp.Mode[i], sp.Flags[i], sp.SetpointV[i], sp.CurrentA[i])
	}
	if i := at(eq.End) + 1; sp.Mode[i] != ModeFloat || sp.Flags[i] != 0 {
		t.Errorf("after equalize: %v flags %b", sp.Mode[i], sp.Flags[i])
	}
	i = at(gt.Start) + 2
	if sp.Mode[i] != ModeDischarge || sp.Flags[i] != FlagGeneratorTest|FlagTransfer || sp.CurrentA[i] >= 0 {
		t.Errorf("at the transfer: %v flags %b %.1f A", sp.Mode[i], sp.Flags[i], sp.CurrentA[i])
	}
	i = at(gt.Start) + 600
	if sp.Mode[i] == ModeDischarge || sp.Flags[i] != FlagGeneratorTest|FlagTransfer {
		t.Errorf("on generator: %v flags %b", sp.Mode[i], sp.Flags[i])
	}
	if sp.Flags[at(gt.End)+1] != 0 {
		t.Error("generator test flag outlives the test")
	}
	modes := map[Mode]bool{}
	for _, m := range sp.Mode {
		modes[m] = true
	}
	if !modes[ModeIdle] || !modes[ModeFloat] {
		t.Errorf("modes seen %v", modes)
	}
}

// Ripple stays below 0.5 % of float voltage with a new rectifier and
// grows with wear and in boost; ripple current crosses 0.05 C only when worn.
func TestRippleLevels(t *testing.T) {
	d := day(2024, 3, 5)
	ev := Event{Kind: EventTransfer, Start: d.Add(time.Hour), End: d.Add(2 * time.Hour), CurrentA: 40}
	stats := func(wear float64) (floatV, floatA, boostA float64) {
		cfg := testCfg(SystemUPS)
		cfg.RectifierWear = wear
		var sp StringSpan
		BuildStringSpan(&sp, cfg, 1, d, 10*time.Second, 8640, []Event{ev})
		var nf, nb float64
		for i := range sp.N {
			switch sp.Mode[i] {
			case ModeFloat:
				floatV += float64(sp.RippleV[i])
				floatA += float64(sp.RippleA[i])
				nf++
			case ModeBoost:
				boostA += float64(sp.RippleA[i])
				nb++
			}
		}
		return floatV / nf, floatA / nf, boostA / nb
	}
	v0, a0, b0 := stats(0)
	v1, a1, _ := stats(1)
	stringFloatV := 24 * (testSpec.FloatMinV + testSpec.FloatMaxV) / 2
	if v0/stringFloatV > 0.005 || v1 <= v0 || b0 <= a0 {
		t.Errorf("ripple %.3f V new, %.3f V worn (string float %.0f V); boost %.2f A vs float %.2f A", v0, v1, stringFloatV, b0, a0)
	}
	if lim := 0.05 * testSpec.CapacityAh; a0 > lim || a1 < lim {
		t.Errorf("ripple current %.2f A new, %.2f A worn, limit %.1f A", a0, a1, lim)
	}
}

// Naive DFT of the waveform: THD matches RippleTHD within 10 %.
func TestRippleWaveformTHD(t *testing.T) {
	for _, sys := range []SystemType{SystemUPS, SystemRectifier} {
		for _, wear := range []float64{0, 0.4, 1} {
			cfg := testCfg(sys)
			cfg.RectifierWear = wear
			const rate = 10000
			f1 := RippleFundamentalHz(cfg)
			n := int(20 * rate / f1) // 20 whole periods
			x := make([]float64, n)
			RippleWaveform(x, 5, day(2024, 1, 1).Add(time.Hour), cfg, rate)
			amp := func(f float64) float64 {
				var re, im float64
				for j, v := range x {
					a := 2 * math.Pi * f * float64(j) / rate
					re += v * math.Cos(a)
					im -= v * math.Sin(a)
				}
				return math.Hypot(re, im)
			}
			a1 := amp(f1)
			var h2 float64
			for h := 2; float64(h)*f1 < rate/2; h++ {
				h2 += amp(float64(h)*f1) * amp(float64(h)*f1)
			}
			got := 100 * math.Sqrt(h2) / a1
			if want := RippleTHD(cfg); math.Abs(got/want-1) > 0.1 {
				t.Errorf("%v wear %.1f: THD %.2f %%, want %.2f %%", sys, wear, got, want)
			}
		}
	}
}

// An open cell opens its series string: from the failure to the
// replacement the string carries no current (an outage does not reach
// it), the charger's setpoint is gone, and the healthy jars relax from
// float to their open-circuit voltage; after the swap float resumes.
func TestOpenCellOpensTheString(t *testing.T) {
	cfg := testCfg(SystemUPS)
	from := day(2024, 5, 2).Add(6 * time.Hour)
	cfg.OpenFrom, cfg.OpenTo = from.UnixNano(), day(2024, 5, 4).UnixNano()
	out := Event{Kind: EventTransfer, Start: from.Add(3 * time.Hour), End: from.Add(3*time.Hour + 5*time.Minute), CurrentA: 200}
	var sp StringSpan
	BuildStringSpan(&sp, cfg, 3, day(2024, 5, 2), time.Minute, 3*1440, []Event{out})
	l := NewJarLife(30, testSpec, ProfileHealthy, day(2022, 1, 1), 25)
	xs := collect(t, &l, 4, &sp, nil, 1)
	for i := range sp.N {
		at := sp.Start.Add(time.Duration(i) * time.Minute)
		open := !at.Before(from) && at.Before(day(2024, 5, 4))
		if open && (sp.CurrentA[i] != 0 || sp.SetpointV[i] != 0 || sp.RippleA[i] != 0 || sp.Mode[i] != ModeIdle) {
			t.Fatalf("%s: open string carries %.1f A, setpoint %.2f V, mode %v", at, sp.CurrentA[i], sp.SetpointV[i], sp.Mode[i])
		}
		if !open && sp.Mode[i] == ModeIdle {
			t.Fatalf("%s: idle outside the open interval", at)
		}
	}
	before := xs[5*60].VoltageV        // 05:00, on float
	rested := xs[(24+5)*60].VoltageV   // a day later, open
	after := xs[2*1440+12*60].VoltageV // after the swap
	if before < 13.4 || math.Abs(rested-OCV(1, 25)) > 0.05 || after < 13.4 {
		t.Errorf("jar voltage on float %.3f V, open a day %.3f V (OCV %.3f V), after the swap %.3f V", before, rested, OCV(1, 25), after)
	}
}

// Resistance falls about 1 %/°C as a jar warms and rises 1-1.5 %/°C
// below 25 °C (vrla-physics.md).
func TestResistanceTemperatureFactor(t *testing.T) {
	warm := (ResistanceTempFactor(25) - ResistanceTempFactor(35)) / 10
	cold := (ResistanceTempFactor(15) - ResistanceTempFactor(25)) / 10
	if math.Abs(warm-0.01) > 0.002 || cold < 0.01 || cold > 0.015 {
		t.Errorf("resistance %.2f %%/°C warm, %.2f %%/°C cold", 100*warm, 100*cold)
	}
}

// A UPS string discharges at 1-3 C and holds the load only for its
// autonomy (minutes at that rate), however long the outage.
func TestUPSDischargeRateAndAutonomy(t *testing.T) {
	cfg := testCfg(SystemUPS)
	cfg.LoadA = 2 * testSpec.CapacityAh // 2 C
	st := day(2024, 6, 1).Add(8 * time.Hour)
	out := Event{Kind: EventTransfer, Start: st, End: st.Add(time.Hour), CurrentA: NominalLoadA(SystemUPS)}
	var sp StringSpan
	BuildStringSpan(&sp, cfg, 3, st.Add(-time.Minute), 10*time.Second, 6*90, []Event{out})
	on := 0
	for i := range sp.N {
		if sp.Mode[i] == ModeDischarge {
			on++
			if c := -float64(sp.CurrentA[i]) / testSpec.CapacityAh; c < 1 || c > 3 {
				t.Fatalf("discharge at %.2f C", c)
			}
		}
	}
	if m := float64(on) / 6; m < 5 || m > 30 {
		t.Errorf("on battery %.1f min in a one-hour outage at 2 C", m)
	}
}

// Float current doubles per ~10 °C and rises with age and a jar in
// distress (vrla-physics.md).
func TestFloatCurrentFollowsTemperatureAgeAndDistress(t *testing.T) {
	base := FloatCurrentA(120, 25, 0, 1)
	if r := FloatCurrentA(120, 35, 0, 1) / base; math.Abs(r-2) > 0.01 {
		t.Errorf("+10 °C: x%.2f", r)
	}
	if FloatCurrentA(120, 25, 8, 1) <= 1.5*base || FloatCurrentA(120, 25, 0, 4) != 4*base {
		t.Error("float current ignores age or distress")
	}
	l := failingLife(t, FailureThermalRunaway)
	if m := l.FloatCurrentMult(l.FailureAt.Add(-time.Hour)); m < 3 {
		t.Errorf("thermal runaway onset draws x%.1f float current, want above 3x", m)
	}
}
