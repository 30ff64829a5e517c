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
