package physics

import (
	"testing"
	"time"
)

// Test fixtures: a 120 Ah AGM block and a Bangkok-like battery room.
var testSpec = ModelSpec{
	Name: "HX12-120", Manufacturer: "test", CapacityAh: 120, NominalV: 12,
	FloatMinV: 13.5, FloatMaxV: 13.8, BoostMinV: 14.4, BoostMaxV: 14.7,
	MaxChargeA: 36, TempWarnC: 45, TempCritC: 50, ExpectedLifeYears: 10,
	R0mOhm: 3.2, Peukert: 1.1,
}

var testClimate = Climate{
	OutdoorMeanC: 28.6, OutdoorSeasonAmpC: 2, OutdoorDailyAmpC: 4.5,
	RoomSetpointC: 24, RoomCouplingC: 1.0, HumidityMeanPct: 55, HVACFaultsPerYear: 4,
}

func testCfg(sys SystemType) StringConfig {
	return StringConfig{System: sys, Jars: 24, Spec: testSpec, LoadA: NominalLoadA(sys), RectifierWear: 0.3}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// collect runs a JarSim over a span and returns its samples.
func collect(t testing.TB, life *JarLife, jarSeed uint64, span *StringSpan, env *EnvSpan, ratio int) []JarSample {
	t.Helper()
	var s JarSim
	s.Reset(life, jarSeed, span, env, ratio)
	out := make([]JarSample, 0, span.N)
	for {
		x, ok := s.Next()
		if !ok {
			break
		}
		out = append(out, x)
	}
	if len(out) != span.N {
		t.Fatalf("got %d samples, want %d", len(out), span.N)
	}
	return out
}

// eventsFor is what a string job passes: site and equalize events of the
// span's days and of the day before, plus extra (capacity tests).
func eventsFor(siteSeed, strSeed uint64, sys SystemType, from time.Time, days int, extra ...Event) []Event {
	var evs []Event
	for d := -1; d < days; d++ {
		dd := from.AddDate(0, 0, d)
		evs = append(evs, SiteEvents(siteSeed, sys, dd)...)
		evs = append(evs, EqualizeEvents(strSeed, dd)...)
	}
	return append(evs, extra...)
}
