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
