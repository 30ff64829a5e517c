package physics

import (
	"math"
	"testing"
	"time"
)

type replayCase struct {
	name   string
	first  Event
	offset time.Duration
	step   time.Duration
	n      int
	more   []Event
}

// replayCases are windows that start inside activity clusters at
// sub-second steps: in a boost recharge, right after a charger's walk-in,
// in the settling tail, during a long outage (weak jars at the cutoff),
// during and after the cutoff of a capacity test, with a surge shorter
// than a second in the replay, off the 1 s grid and at a step that does
// not divide 1 s.
func replayCases() []replayCase {
	d := day(2024, 6, 2).Add(3 * time.Hour)
	outage := Event{Kind: EventTransfer, Start: d, End: d.Add(20 * time.Minute), CurrentA: 40}
	long := Event{Kind: EventTransfer, Start: d.Add(1234 * time.Millisecond), End: d.Add(time.Hour), CurrentA: 40}
	test := Event{Kind: EventDischargeTest, Start: d.Add(700 * time.Millisecond), End: d.Add(8 * time.Hour), CurrentA: testSpec.CapacityAh / 5}
	surge := Event{Kind: EventSurge, Start: d.Add(59*time.Minute + 40950*time.Millisecond), End: d.Add(59*time.Minute + 41750*time.Millisecond), CurrentA: 40}
	ms := time.Millisecond
	return []replayCase{
		{"recharge (CV taper), 100 ms", outage, 40 * time.Minute, 100 * ms, 700, nil},
		{"walk-in just ended, 100 ms", outage, 20*time.Minute + 30*time.Second, 100 * ms, 700, nil},
		{"settling tail 5 h in, 100 ms", outage, 5 * time.Hour, 100 * ms, 700, nil},
		{"end blend 8.5 h in, 100 ms", outage, 8*time.Hour + 30*time.Minute, 100 * ms, 700, nil},
		{"0.8 s surge 20 s before, 100 ms", outage, time.Hour, 100 * ms, 700, []Event{surge}},
		{"during a 1 h outage, off the 1 s grid, 100 ms", long, 30*time.Minute + 3300*ms, 100 * ms, 700, nil},
		{"capacity test 2 h in, 500 ms", test, 2*time.Hour + 500*ms, 500 * ms, 1800, nil},
		{"capacity test past cutoff, 500 ms", test, 7 * time.Hour, 500 * ms, 1800, nil},
		{"recharge, 300 ms (0.9 s replay)", outage, 55*time.Minute + 2100*ms, 300 * ms, 300, nil},
		{"cluster started 0.7 s before, 100 ms", outage, 700 * ms, 100 * ms, 700, nil},
	}
}

func (c replayCase) window() (*StringSpan, *EnvSpan) {
	return windowAfter(c.first, c.offset, c.step, c.n, c.more...)
}

// The coarse replay of a sub-second span leaves the jars where a replay at
// the span's step would: no visible step at the window's start, and the
// same window within a few mV, hundredths of a degree and 0.1 % SOC, for
// new, aged and nearly dead jars (one reaches the cutoff in minutes).
func TestSubSecondReplayMatchesFineReplay(t *testing.T) {
	lives := []JarLife{
		noiseless(NewJarLife(1, testSpec, ProfileHealthy, day(2021, 3, 1), 26)),
		noiseless(NewJarLife(2, testSpec, ProfileAccelerated, day(2020, 3, 1), 28)),
		noiseless(NewJarLife(3, testSpec, ProfileAccelerated, day(2022, 3, 1), 27)),
	}
	defer func(s time.Duration) { replayMaxStep = s }(replayMaxStep)
	for _, tc := range replayCases() {
		sp, env := tc.window()
		if sp.carryFrom != tc.first.Start.UnixNano() {
			t.Fatalf("%s: the window does not start inside the first event's cluster", tc.name)
		}
		var dv0, dt0, ds0, dv, dT, dS float64
		for li := range lives {
			replayMaxStep = time.Second
			coarse := collect(t, &lives[li], 7+uint64(li), sp, env, 1)
			replayMaxStep = 0 // replay at the span's step
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
		t.Logf("%-47s at start: %.2f mV %.4f °C %.4f %% SOC; window max: %.2f mV %.4f °C %.4f %% SOC",
			tc.name, dv0*1e3, dt0, ds0*100, dv*1e3, dT, dS*100)
		if dv > 0.005 || dT > 0.05 || dS > 0.001 {
			t.Errorf("%s: the coarse replay is off by %.2f mV, %.4f °C, %.4f %% SOC", tc.name, dv*1e3, dT, dS*100)
		}
	}
}

// A sub-second window is a pure function of its inputs: generated twice,
// by a fresh JarSim or by one reused across jars, windows and steps (its
// replay buffers reused or rebuilt), in one replay chunk or many, the
// samples are the same.
func TestSubSecondReplayDeterministic(t *testing.T) {
	lives := healthyString(3)
	lives[2] = NewJarLife(2, testSpec, ProfileAccelerated, day(2020, 3, 1), 28)
	type win struct {
		sp  *StringSpan
		env *EnvSpan
	}
	var wins []win
	for _, tc := range replayCases() {
		sp, env := tc.window()
		wins = append(wins, win{sp, env})
	}
	want := make([][][]JarSample, len(wins))
	for w := range wins {
		for j := range lives {
			want[w] = append(want[w], collect(t, &lives[j], uint64(j), wins[w].sp, wins[w].env, 1))
		}
	}
	var s JarSim
	run := func(what string, w, j int) {
		t.Helper()
		s.Reset(&lives[j], uint64(j), wins[w].sp, wins[w].env, 1)
		for i := range want[w][j] {
			if x, ok := s.Next(); !ok || x != want[w][j][i] {
				t.Fatalf("%s: window %d jar %d sample %d: %+v, fresh %+v", what, w, j, i, x, want[w][j][i])
			}
		}
	}
	for range 2 { // the second round starts with warm replay buffers
		for w := range wins {
			for j := range lives {
				run("reused", w, j)
			}
		}
	}
	func() {
		defer func(c int64) { replayChunk = c }(replayChunk)
		replayChunk = 1001
		for w := range wins {
			run("chunked", w, len(lives)-1)
		}
	}()
	// A span and env rebuilt in place with other inputs do not reuse the
	// replay's buffers.
	sp, env := wins[2].sp, wins[2].env
	run("before the rebuild", 2, 0)
	cfg := testCfg(SystemUPS)
	cfg.LoadA *= 1.5
	BuildStringSpan(sp, cfg, 2, sp.Start, sp.Step, sp.N, sp.Events)
	BuildEnvSpan(env, 5, testClimate, env.Start, env.Step, env.N)
	want[2][0] = collect(t, &lives[0], 0, sp, env, 1)
	run("rebuilt", 2, 0)
}

// Spans of 1 s and more replay at their own step: a span that starts
// inside a cluster equals the same samples of a longer run (see also
// TestJarSimDayEqualsSliceOfTwoDays at 5 s).
func TestOneSecondSpanEqualsSliceOfLongerRun(t *testing.T) {
	d := day(2024, 6, 2).Add(3 * time.Hour)
	evs := []Event{{Kind: EventTransfer, Start: d.Add(300 * time.Millisecond), End: d.Add(20 * time.Minute), CurrentA: 40}}
	l := NewJarLife(4, testSpec, ProfileHealthy, day(2021, 3, 1), 26)
	var long, short StringSpan
	var envL, envS EnvSpan
	BuildStringSpan(&long, testCfg(SystemUPS), 2, d.Add(-time.Minute), time.Second, 3*3600, evs)
	BuildEnvSpan(&envL, 1, testClimate, d.Add(-time.Minute), time.Second, 3*3600)
	BuildStringSpan(&short, testCfg(SystemUPS), 2, d.Add(2*time.Hour-time.Minute), time.Second, 600, evs)
	BuildEnvSpan(&envS, 1, testClimate, d.Add(2*time.Hour-time.Minute), time.Second, 600)
	if short.carryFrom == 0 {
		t.Fatal("fixture: the short span does not start inside the cluster")
	}
	a := collect(t, &l, 3, &long, &envL, 1)
	b := collect(t, &l, 3, &short, &envS, 1)
	for i := range b {
		if b[i] != a[i+2*3600] {
			t.Fatalf("sample %d: alone %+v, in the longer run %+v", i, b[i], a[i+2*3600])
		}
	}
}
