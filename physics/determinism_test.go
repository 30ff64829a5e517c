package physics

import (
	"testing"
	"time"
)

// A day simulated alone must equal the same samples of a longer run: every
// job simulates entity-days independently.

func TestEnvSpanDayEqualsSliceOfTwoDays(t *testing.T) {
	c := testClimate
	c.HVACFaultsPerYear = 300 // plenty of faults, some crossing midnight
	crossed := 0
	for seed := uint64(1); seed <= 30; seed++ {
		d1 := day(2024, 5, 20)
		d0 := d1.AddDate(0, 0, -1)
		for _, e := range EnvEvents(seed, c, d0) {
			if e.End.After(d1) {
				crossed++
			}
		}
		var one, two EnvSpan
		BuildEnvSpan(&two, seed, c, d0, time.Minute, 2880)
		BuildEnvSpan(&one, seed, c, d1, time.Minute, 1440)
		for i := 0; i < 1440; i++ {
			j := i + 1440
			if one.TempC[i] != two.TempC[j] || one.Humidity[i] != two.Humidity[j] ||
				one.HVAC[i] != two.HVAC[j] || one.LagC[i] != two.LagC[j] {
				t.Fatalf("seed %d sample %d: day alone %v/%v/%v/%v, two-day %v/%v/%v/%v", seed, i,
					one.TempC[i], one.Humidity[i], one.HVAC[i], one.LagC[i],
					two.TempC[j], two.Humidity[j], two.HVAC[j], two.LagC[j])
			}
		}
	}
	if crossed == 0 {
		t.Fatal("no HVAC fault crossed midnight: the test did not exercise carry-over")
	}
}

// busyDayEvents: a capacity test that starts on the evening of d0 and runs
// past midnight, plus the site's own events.
func busyDayEvents(d0 time.Time, days int) []Event {
	test := Event{Kind: EventDischargeTest, Start: d0.Add(21 * time.Hour), End: d0.Add(27 * time.Hour), CurrentA: 25}
	return eventsFor(77, 78, SystemUPS, d0, days, test)
}

func TestStringSpanDayEqualsSliceOfTwoDays(t *testing.T) {
	d0 := day(2024, 7, 3)
	d1 := d0.AddDate(0, 0, 1)
	cfg := testCfg(SystemUPS)
	const n = 17280
	var one, two StringSpan
	// The caller's rule: events of the span's days and the day before.
	BuildStringSpan(&two, cfg, 5, d0, 5*time.Second, 2*n, busyDayEvents(d0, 2))
	BuildStringSpan(&one, cfg, 5, d1, 5*time.Second, n, eventsFor(77, 78, SystemUPS, d1, 1, busyDayEvents(d0, 0)...))
	if one.Mode[0] != ModeDischarge {
		t.Fatalf("day starts in %v, want the carried-over discharge", one.Mode[0])
	}
	for i := range n {
		j := i + n
		if one.Mode[i] != two.Mode[j] || one.CurrentA[i] != two.CurrentA[j] || one.SetpointV[i] != two.SetpointV[j] ||
			one.Flags[i] != two.Flags[j] || one.RippleV[i] != two.RippleV[j] || one.RippleA[i] != two.RippleA[j] ||
			one.busy[i] != two.busy[j] {
			t.Fatalf("sample %d: day alone %v %v A, two-day %v %v A", i, one.Mode[i], one.CurrentA[i], two.Mode[j], two.CurrentA[j])
		}
	}
}

func TestJarSimDayEqualsSliceOfTwoDays(t *testing.T) {
	for _, chunk := range []int64{replayChunk, 1001} { // 1001: many replay chunks, off the env grid
		defer func(c int64) { replayChunk = c }(replayChunk)
		replayChunk = chunk
		testJarSimDayEqualsSliceOfTwoDays(t)
	}
}

func testJarSimDayEqualsSliceOfTwoDays(t *testing.T) {
	cfg := testCfg(SystemUPS)
	const n = 17280
	lives := []JarLife{
		NewJarLife(1, testSpec, ProfileHealthy, day(2021, 3, 1), 26),
		NewJarLife(2, testSpec, ProfileAccelerated, day(2020, 3, 1), 28),
	}
	cases := []struct {
		name string
		d0   time.Time
		evs  func(d0 time.Time, days int) []Event
	}{
		{"discharge across midnight", day(2024, 7, 3), busyDayEvents},
		{"site events only", day(2024, 8, 14), func(d0 time.Time, days int) []Event { return eventsFor(91, 92, SystemUPS, d0, days) }},
	}
	for _, tc := range cases {
		d1 := tc.d0.AddDate(0, 0, 1)
		var one, two StringSpan
		BuildStringSpan(&two, cfg, 5, tc.d0, 5*time.Second, 2*n, tc.evs(tc.d0, 2))
		var dayEvs []Event
		for _, e := range tc.evs(tc.d0, 2) { // what a job for d1 would gather: d0 and d1
			if !e.Start.Before(tc.d0) {
				dayEvs = append(dayEvs, e)
			}
		}
		BuildStringSpan(&one, cfg, 5, d1, 5*time.Second, n, dayEvs)
		var envOne, envTwo EnvSpan
		BuildEnvSpan(&envTwo, 3, testClimate, tc.d0, time.Minute, 2880)
		BuildEnvSpan(&envOne, 3, testClimate, d1, time.Minute, 1440)
		for li := range lives {
			a := collect(t, &lives[li], 40+uint64(li), &one, &envOne, 12)
			b := collect(t, &lives[li], 40+uint64(li), &two, &envTwo, 12)
			for i := range n {
				if a[i] != b[i+n] {
					t.Fatalf("%s, jar %d, sample %d (%v): day alone %+v, two-day %+v", tc.name, li, i, one.Mode[i], a[i], b[i+n])
				}
			}
		}
		if tc.name == "discharge across midnight" && one.carryFrom == 0 {
			t.Fatal("the day did not start inside the test's cluster")
		}
	}
}

// A reused JarSim equals a fresh one, even when the previous run ended
// inside a cluster and the new span starts with a cluster of its own.
func TestJarSimResetReuse(t *testing.T) {
	cfg := testCfg(SystemUPS)
	l := NewJarLife(6, testSpec, ProfileHealthy, day(2021, 3, 1), 26)
	d0 := day(2024, 7, 3)
	d1 := day(2024, 9, 9)
	var a, b StringSpan
	BuildStringSpan(&a, cfg, 5, d0, 5*time.Second, 17280, busyDayEvents(d0, 1))
	BuildStringSpan(&b, cfg, 5, d1, 5*time.Second, 17280, []Event{{Kind: EventTransfer, Start: d1, End: d1.Add(time.Minute), CurrentA: 40}})
	if !a.busy[a.N-1] || !b.busy[0] || b.carryFrom != d1.UnixNano() {
		t.Fatal("fixture: span a must end busy, span b start a cluster at its first sample")
	}
	var s JarSim
	s.Reset(&l, 1, &a, nil, 1)
	for {
		if _, ok := s.Next(); !ok {
			break
		}
	}
	s.Reset(&l, 1, &b, nil, 1)
	fresh := collect(t, &l, 1, &b, nil, 1)
	for i := range fresh {
		x, _ := s.Next()
		if x != fresh[i] {
			t.Fatalf("sample %d: reused %+v, fresh %+v", i, x, fresh[i])
		}
	}
}
