package physics

import (
	"testing"
	"time"
)

// BenchmarkJarSim measures JarSim.Next in float mode over a quiet day at
// 5 s (17,280 samples); ns/sample is the per-sample cost.
func BenchmarkJarSim(b *testing.B) {
	d0 := day(2024, 2, 12)
	var env EnvSpan
	BuildEnvSpan(&env, 1, testClimate, d0, time.Minute, 1440)
	var sp StringSpan
	BuildStringSpan(&sp, testCfg(SystemUPS), 2, d0, 5*time.Second, 17280, nil)
	life := NewJarLife(3, testSpec, ProfileHealthy, day(2021, 1, 1), 25)
	var s JarSim
	var sink float64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Reset(&life, 9, &sp, &env, 12)
		for {
			x, ok := s.Next()
			if !ok {
				break
			}
			sink += x.VoltageV
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/17280, "ns/sample")
	if sink == 0 {
		b.Fatal("no samples")
	}
}

// BenchmarkJarSimBusy: a day inside an activity cluster (a capacity test
// carried over from the evening before, its recharge, site events), i.e.
// the full two-RC and thermal model plus the replay from the cluster start.
func BenchmarkJarSimBusy(b *testing.B) {
	d0 := day(2024, 7, 3)
	d1 := d0.AddDate(0, 0, 1)
	var env EnvSpan
	BuildEnvSpan(&env, 1, testClimate, d1, time.Minute, 1440)
	var sp StringSpan
	BuildStringSpan(&sp, testCfg(SystemUPS), 2, d1, 5*time.Second, 17280, eventsFor(77, 78, SystemUPS, d1, 1, busyDayEvents(d0, 0)...))
	life := NewJarLife(3, testSpec, ProfileHealthy, day(2021, 1, 1), 25)
	var s JarSim
	b.ReportAllocs()
	for b.Loop() {
		s.Reset(&life, 9, &sp, &env, 12)
		for {
			if _, ok := s.Next(); !ok {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/17280, "ns/sample")
}

func BenchmarkBuildStringSpan(b *testing.B) {
	d := day(2024, 7, 3)
	evs := eventsFor(77, 78, SystemUPS, d, 1, busyDayEvents(d, 0)...)
	var sp StringSpan
	b.ReportAllocs()
	for b.Loop() {
		BuildStringSpan(&sp, testCfg(SystemUPS), 2, d, 5*time.Second, 17280, evs)
	}
}

func BenchmarkBuildEnvSpan(b *testing.B) {
	var env EnvSpan
	b.ReportAllocs()
	for b.Loop() {
		BuildEnvSpan(&env, 1, testClimate, day(2024, 7, 3), time.Minute, 1440)
	}
}

// windowInCluster is a high-rate event window that starts hours into an
// activity cluster: a 20 min outage at 03:00 (boost recharge, then the
// settling tail), and a short transfer at 03:00+offset whose window (10 s
// before, n samples at step) a job would capture.
func windowInCluster(offset, step time.Duration, n int) (*StringSpan, *EnvSpan) {
	d := day(2024, 6, 2)
	first := Event{Kind: EventTransfer, Start: d.Add(3 * time.Hour), End: d.Add(3*time.Hour + 20*time.Minute), CurrentA: 40}
	return windowAfter(first, offset, step, n)
}

// windowAfter is a window of n samples at step from first.Start+offset,
// with a 2 s transfer 10 s into it (and the events more).
func windowAfter(first Event, offset, step time.Duration, n int, more ...Event) (*StringSpan, *EnvSpan) {
	ws := first.Start.Add(offset)
	second := Event{Kind: EventTransfer, Start: ws.Add(10 * time.Second), End: ws.Add(12 * time.Second), CurrentA: 40}
	var sp StringSpan
	BuildStringSpan(&sp, testCfg(SystemUPS), 2, ws, step, n, append([]Event{first, second}, more...))
	var env EnvSpan
	BuildEnvSpan(&env, 1, testClimate, ws, step, n)
	return &sp, &env
}

// BenchmarkJarSimWindowReplay: a 70 s transfer window at 100 ms starting
// ~5 h into a cluster, for the 24 jars of a string as the event-window job
// runs them (one JarSim, Reset per jar); ms/jar-window is the cost of one
// jar's window, replay included.
func BenchmarkJarSimWindowReplay(b *testing.B) {
	const n, jars = 700, 24
	sp, env := windowInCluster(5*time.Hour, 100*time.Millisecond, n)
	if sp.carryFrom == 0 {
		b.Fatal("fixture: the window does not start inside a cluster")
	}
	lives := make([]JarLife, jars)
	for j := range lives {
		lives[j] = NewJarLife(Mix(3, uint64(j)), testSpec, ProfileHealthy, day(2021, 1, 1), 25)
	}
	var s JarSim
	var sink float64
	b.ReportAllocs()
	for b.Loop() {
		for j := range lives {
			s.Reset(&lives[j], Mix(9, uint64(j)), sp, env, 1)
			for {
				x, ok := s.Next()
				if !ok {
					break
				}
				sink += x.VoltageV
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N)/jars, "ms/jar-window")
	if sink == 0 {
		b.Fatal("no samples")
	}
}
