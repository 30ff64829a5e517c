package physics

import (
	"math"
	"testing"
	"time"
)

func TestClimateValidate(t *testing.T) {
	if err := testClimate.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*Climate){
		func(c *Climate) { c.RoomSetpointC = 5 },
		func(c *Climate) { c.HumidityMeanPct = 120 },
		func(c *Climate) { c.HVACFaultsPerYear = -1 },
		func(c *Climate) { c.OutdoorDailyAmpC = math.NaN() },
	} {
		c := testClimate
		bad(&c)
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
}

// monthEnv averages a month of the room at 10-min steps.
func monthEnv(seed uint64, c Climate, y int, m time.Month) (temp, rh float64, byHourLocal [24]float64, states [3]int) {
	var env EnvSpan
	start := day(y, m, 1)
	n := int(start.AddDate(0, 1, 0).Sub(start) / (10 * time.Minute))
	BuildEnvSpan(&env, seed, c, start, 10*time.Minute, n)
	for i := range n {
		temp += float64(env.TempC[i]) / float64(n)
		rh += float64(env.Humidity[i]) / float64(n)
		h := (env.Start.Add(time.Duration(i)*10*time.Minute).Hour() + thaiUTCOffsetH) % 24
		byHourLocal[h] += float64(env.TempC[i]) / float64(n) * 24
		states[env.HVAC[i]]++
	}
	return
}

// Thai seasons: the hot season (April) is the warmest, the cool season
// (December) the coolest; the conditioned room holds its humidity through
// the rainy season; the room's daily cycle peaks in the local afternoon.
func TestEnvSeasonsAndDailyCycle(t *testing.T) {
	c := testClimate
	c.RoomCouplingC = 3 // let the room feel the outdoor clearly
	c.HVACFaultsPerYear = 0
	apr, _, hours, st := monthEnv(4, c, 2024, time.April)
	dec, rhDec, _, stDec := monthEnv(4, c, 2024, time.December)
	_, rhSep, _, _ := monthEnv(4, c, 2024, time.September)
	_, rhFeb, _, _ := monthEnv(4, c, 2024, time.February)
	if apr-dec < 0.3 {
		t.Errorf("April room %.2f °C, December %.2f °C", apr, dec)
	}
	for _, rh := range []float64{rhSep, rhFeb, rhDec} {
		if math.Abs(rh-c.HumidityMeanPct) > 1.5 {
			t.Errorf("humidity September %.1f %%, February %.1f %%, December %.1f %%: a conditioned room holds %.0f %%", rhSep, rhFeb, rhDec, c.HumidityMeanPct)
		}
	}
	peak := 0
	for h := range hours {
		if hours[h] > hours[peak] {
			peak = h
		}
	}
	if peak < 12 || peak > 18 {
		t.Errorf("room temperature peaks at %02d:00 local, want the afternoon", peak)
	}
	// HVAC runs most of the time; standby cycles on cool nights.
	if st[HVACRunning] < st[HVACStandby] || stDec[HVACStandby] == 0 || st[HVACFault] != 0 {
		t.Errorf("HVAC states April %v, December %v", st, stDec)
	}
	if math.Abs((apr+dec)/2-c.RoomMeanC()) > 1 {
		t.Errorf("room mean %.2f °C vs RoomMeanC %.2f °C", (apr+dec)/2, c.RoomMeanC())
	}
}

func TestEnvEventsRateAndDuration(t *testing.T) {
	c := testClimate
	c.HVACFaultsPerYear = 12
	n := 0
	for k := range 3652 {
		d := day(2020, 1, 1).AddDate(0, 0, k)
		evs := EnvEvents(9, c, d)
		for i, e := range evs {
			if e.Kind != EventHVACFault || e.Start.Before(d) || !e.Start.Before(d.AddDate(0, 0, 1)) {
				t.Fatalf("%+v not a fault starting on %v", e, d)
			}
			if dur := e.End.Sub(e.Start); dur < time.Hour || dur > 8*time.Hour {
				t.Fatalf("fault lasts %v", dur)
			}
			if i > 0 && e.Start.Before(evs[i-1].Start) {
				t.Fatal("faults not sorted")
			}
		}
		n += len(evs)
	}
	if perYear := float64(n) / 10; perYear < 9 || perYear > 15 {
		t.Errorf("%.1f faults per year, want ~12", perYear)
	}
}

// A conditioned room stays within 40-60 % RH while its HVAC runs, and its
// humidity climbs towards the humid outdoor air only while the HVAC is down.
func TestHumidityConditionedAndClimbsInFaults(t *testing.T) {
	c := testClimate
	c.HumidityMeanPct = 50
	c.HVACFaultsPerYear = 40
	var env EnvSpan
	BuildEnvSpan(&env, 11, c, day(2024, 8, 1), time.Minute, 60*24*60)
	var inFault, maxNormal, maxFault float64
	for i := range env.N {
		h := float64(env.Humidity[i])
		if env.HVAC[i] == HVACFault {
			inFault++
			maxFault = math.Max(maxFault, h)
			continue
		}
		if h > maxNormal && h < 60.0001 {
			maxNormal = h
		}
	}
	for i := range env.N {
		if h := env.Humidity[i]; env.HVAC[i] != HVACFault && (h < 40 || h > 60) {
			// only the recovery after a fault may be above the envelope
			recovering := false
			for _, e := range env.Events {
				d := env.Start.Add(time.Duration(i) * time.Minute).Sub(e.End)
				recovering = recovering || (d >= 0 && d < 3*time.Hour)
			}
			if !recovering {
				t.Fatalf("sample %d: %.1f %% RH with HVAC %v outside 40-60 %%", i, h, env.HVAC[i])
			}
		}
	}
	if inFault == 0 {
		t.Fatal("no HVAC fault in two months at 40 per year")
	}
	if maxFault < maxNormal+5 {
		t.Errorf("humidity peaks at %.1f %% in faults, %.1f %% otherwise: no climb while the HVAC is down", maxFault, maxNormal)
	}
}
