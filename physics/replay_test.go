package physics

import (
	"math"
	"testing"
	"time"
)

// replayCases are windows that start inside activity clusters at
// sub-second steps: in a boost recharge, in the settling tail, during a
// long outage, during (and after the cutoff of) a capacity test, off the
// 1 s grid and at a step that does not divide 1 s.
func replayCases() []struct {
	name   string
	first  Event
	offset time.Duration
	step   time.Duration
	n      int
} {
	d := day(2024, 6, 2).Add(3 * time.Hour)
	outage := Event{Kind: EventTransfer, Start: d, End: d.Add(20 * time.Minute), CurrentA: 40}
	long := Event{Kind: EventTransfer, Start: d.Add(1234 * time.Millisecond), End: d.Add(time.Hour), CurrentA: 40}
	test := Event{Kind: EventDischargeTest, Start: d.Add(700 * time.Millisecond), End: d.Add(8 * time.Hour), CurrentA: testSpec.CapacityAh / 5}
	return []struct {
		name   string
		first  Event
		offset time.Duration
		step   time.Duration
		n      int
	}{
		{"recharge (CV taper), 100 ms", outage, 40 * time.Minute, 100 * time.Millisecond, 700},
		{"walk-in just ended, 100 ms", outage, 20*time.Minute + 30*time.Second, 100 * time.Millisecond, 700},
		{"settling tail 5 h in, 100 ms", outage, 5 * time.Hour, 100 * time.Millisecond, 700},
		{"end blend 8.5 h in, 100 ms", outage, 8*time.Hour + 30*time.Minute, 100 * time.Millisecond, 700},
		{"during a 1 h outage, 100 ms, off the 1 s grid", long, 30*time.Minute + 3300*time.Millisecond, 100 * time.Millisecond, 700},
		{"capacity test 2 h in, 500 ms", test, 2*time.Hour + 500*time.Millisecond, 500 * time.Millisecond, 1800},
		{"capacity test past cutoff, 500 ms", test, 7 * time.Hour, 500 * time.Millisecond, 1800},
		{"recharge, 300 ms (0.9 s replay)", outage, 55*time.Minute + 2100*time.Millisecond, 300 * time.Millisecond, 300},
		{"cluster started 0.7 s before, 100 ms", outage, 700 * time.Millisecond, 100 * time.Millisecond, 700},
	}
}

// The coarse replay of a sub-second span leaves the jars where a replay at
// the span's step would: no visible step at the window's start and the
// same window within a few mV, hundredths of a degree and 0.1 % SOC.
func TestSubSecondReplayMatchesFineReplay(t *testing.T) {
	lives := []JarLife{
		noiseless(NewJarLife(1, testSpec, ProfileHealthy, day(2021, 3, 1), 26)),
		noiseless(NewJarLife(2, testSpec, ProfileAccelerated, day(2020, 3, 1), 28)),
	}
	defer func(s time.Duration) { replayMaxStep = s }(replayMaxStep)
	for _, tc := range replayCases() {
		sp, env := windowAfter(tc.first, tc.offset, tc.step, tc.n)
		if sp.carryFrom == 0 || sp.carryFrom != tc.first.Start.UnixNano() {
			t.Fatalf("%s: the window does not start inside the first event's cluster", tc.name)
		}
		var dv0, dt0, ds0, dv, dT, dS float64
		for li := range lives {
			replayMaxStep = time.Second
			coarse := collect(t, &lives[li], 7+uint64(li), sp, env, 1)
			replayMaxStep = 0
			fine := collect(t, &lives[li], 7+uint64(li), sp, env, 1)
			dv0 = math.Max(dv0, math.Abs(coarse[0].VoltageV-fine[0].VoltageV))
			dt0 = math.Max(dt0, math.Abs(coarse[0].TempC-fine[0].TempC))
			ds0 = math.Max(ds0, math.Abs(coarse[0].SOC-fine[0].SOC))
			for i := range coarse {
				dv = math.Max(dv, math.Abs(coarse[i].VoltageV-fine[i].VoltageV))
				dT = math.Max(dT, math.Abs(coarse[i].TempC-fine[i].TempC))
				dS = math.Max(dS, math.Abs(coarse[i].SOC-fine[i].SOC))
			}
		}
		t.Logf("%-48s at start: %.2f mV %.4f °C %.5f %% SOC; window max: %.2f mV %.4f °C %.5f %% SOC",
			tc.name, dv0*1e3, dt0, ds0*100, dv*1e3, dT, dS*100)
		if dv > 0.005 || dT > 0.05 || dS > 0.001 {
			t.Errorf("%s: coarse replay off by %.2f mV, %.4f °C, %.5f SOC", tc.name, dv*1e3, dT, dS)
		}
	}
}

// A sub-second window is a pure function of its inputs: generated twice,
// by a fresh JarSim or by one reused across jars, spans and steps (its
// replay buffers reused or rebuilt), the samples are the same.
func TestSubSecondReplayDeterministic(t *testing.T) {
	lives := healthyString(3)
	type win struct {
		sp  *StringSpan
		env *EnvSpan
	}
	var wins []win
	for _, tc := range replayCases() {
		sp, env := windowAfter(tc.first, tc.offset, tc.step, tc.n)
		wins = append(wins, win{sp, env})
	}
	want := make([][][]JarSample, len(wins))
	for w := range wins {
		for j := range lives {
			want[w] = append(want[w], collect(t, &lives[j], uint64(j), wins[w].sp, wins[w].env, 1))
		}
	}
	check := func(what string, s *JarSim, w, j int) {
		t.Helper()
		for i := range want[w][j] {
			x, ok := s.Next()
			if !ok || x != want[w][j][i] {
				t.Fatalf("%s: window %d jar %d sample %d: %+v, fresh %+v", what, w, j, i, x, want[w][j][i])
			}
		}
	}
	var s JarSim
	for round := range 2 { // second round: every replay buffer is warm
		for w := range wins {
			for j := range lives {
				s.Reset(&lives[j], uint64(j), wins[w].sp, wins[w].env, 1)
				check("reused", &s, w, j)
			}
		}
		_ = round
	}
	// A span rebuilt in place with other inputs must not reuse the replay.
	tc := replayCases()[2]
	sp, env := windowAfter(tc.first, tc.offset, tc.step, tc.n)
	s.Reset(&lives[0], 0, sp, env, 1)
	for {
		if _, ok := s.Next(); !ok {
			break
		}
	}
	cfg := testCfg(SystemUPS)
	cfg.LoadA *= 1.5
	BuildStringSpan(sp, cfg, 2, sp.Start, sp.Step, sp.N, sp.Events)
	BuildEnvSpan(env, 5, testClimate, env.Start, env.Step, env.N)
	fresh := collect(t, &lives[0], 0, sp, env, 1)
	s.Reset(&lives[0], 0, sp, env, 1)
	for i := range fresh {
		if x, _ := s.Next(); x != fresh[i] {
			t.Fatalf("rebuilt span, sample %d: reused %+v, fresh %+v", i, x, fresh[i])
		}
	}
}

// Spans of 1 s and more replay at their own step: their replay is the
// same samples as the longer run it stands for (see also
// TestJarSimDayEqualsSliceOfTwoDays at 5 s).
func TestOneSecondWindowEqualsSliceOfLongerRun(t *testing.T) {
	d := day(2024, 6, 2).Add(3 * time.Hour)
	first := Event{Kind: EventTransfer, Start: d.Add(300 * time.Millisecond), End: d.Add(20 * time.Minute), CurrentA: 40}
	long, envL := windowAfter(first, -time.Minute, time.Second, 3*3600)
	short, envS := windowAfter(first, 2*time.Hour-time.Minute, time.Second, 600)
	short.Events = append(short.Events[:0], long.Events...) // the long run's second event too
	BuildStringSpan(short, testCfg(SystemUPS), 2, short.Start, short.Step, short.N, long.Events)
	l := NewJarLife(4, testSpec, ProfileHealthy, day(2021, 3, 1), 26)
	a := collect(t, &l, 3, long, envL, 1)
	b := collect(t, &l, 3, short, envS, 1)
	if short.carryFrom == 0 {
		t.Fatal("fixture: the short run does not start inside the cluster")
	}
	for i := range b {
		if b[i] != a[i+2*3600] {
			t.Fatalf("sample %d: alone %+v, in the longer run %+v", i, b[i], a[i+2*3600])
		}
	}
}
