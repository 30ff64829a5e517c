package physics

import (
	"math"
	"testing"
	"time"
)

func TestJarSensorFaultsRatesAndShape(t *testing.T) {
	const jarDays, n = 20000, 17280 // 5 s samples
	step := 24 * time.Hour / n
	var drop, stuck, spikes int
	buf := make([]SensorFault, 0, 16)
	for k := range jarDays {
		buf = JarSensorFaults(buf, Mix(1, uint64(k%100)), day(2024, 1, 1).AddDate(0, 0, k/100), n, DefaultFaultRates)
		for i, f := range buf {
			if i > 0 && f.From < buf[i-1].From {
				t.Fatal("faults not sorted by From")
			}
			if f.From < 0 || f.To > n || f.To <= f.From {
				t.Fatalf("fault %+v outside the day", f)
			}
			dur := time.Duration(f.To-f.From) * step
			switch f.Kind {
			case FaultDropout:
				drop++
				if (dur < time.Minute || dur > 30*time.Minute) && f.To != n {
					t.Fatalf("dropout of %v", dur)
				}
			case FaultStuck:
				stuck++
				if (dur < 10*time.Minute || dur > 2*time.Hour) && f.To != n {
					t.Fatalf("stuck for %v", dur)
				}
			case FaultSpike:
				spikes++
				m := math.Abs(f.Magnitude)
				if f.To != f.From+1 || (f.Channel == ChannelVoltage && (m < 1 || m > 4)) ||
					(f.Channel == ChannelTemperature && (m < 10 || m > 20)) || f.Channel == ChannelAll {
					t.Fatalf("spike %+v", f)
				}
			}
		}
	}
	check := func(name string, got, want float64) {
		if se := math.Sqrt(want / jarDays); math.Abs(got-want) > 4*se {
			t.Errorf("%s: %.4f per jar-day, want %.4f", name, got, want)
		}
	}
	check("dropouts", float64(drop)/jarDays, DefaultFaultRates.DropoutPerDay)
	check("stuck", float64(stuck)/jarDays, DefaultFaultRates.StuckPerDay)
	check("spikes", float64(spikes)/jarDays, DefaultFaultRates.SpikesPerDay)
	if a := testing.AllocsPerRun(10, func() { buf = JarSensorFaults(buf, 3, day(2024, 1, 1), n, DefaultFaultRates) }); a != 0 {
		t.Errorf("%.0f allocations with a reusable buffer", a)
	}
}

func TestWindowStepAndBounds(t *testing.T) {
	s := day(2024, 5, 1).Add(10*time.Hour + 123*time.Millisecond)
	cases := []struct {
		ev      Event
		step    time.Duration
		maxSpan time.Duration
	}{
		{Event{Kind: EventTransfer, Start: s, End: s.Add(20 * time.Second)}, 100 * time.Millisecond, 91 * time.Second},
		{Event{Kind: EventTransfer, Start: s, End: s.Add(50 * time.Minute)}, 100 * time.Millisecond, 15*time.Minute + 11*time.Second},
		{Event{Kind: EventGeneratorTest, Start: s, End: s.Add(30 * time.Minute), OnBattery: 5 * time.Second}, 100 * time.Millisecond, 76 * time.Second},
		{Event{Kind: EventSurge, Start: s, End: s.Add(time.Second)}, 100 * time.Millisecond, 72 * time.Second},
		{Event{Kind: EventDischargeTest, Start: s, End: s.Add(8 * time.Hour)}, 500 * time.Millisecond, 16*time.Minute + time.Second},
		{Event{Kind: EventEqualize, Start: s, End: s.Add(10 * time.Hour)}, 500 * time.Millisecond, 16*time.Minute + time.Second},
	}
	for _, c := range cases {
		if got := WindowStep(c.ev.Kind); got != c.step {
			t.Errorf("%v: step %v, want %v", c.ev.Kind, got, c.step)
		}
		a, b := WindowBounds(c.ev)
		if a.After(c.ev.Start) || !b.After(c.ev.Start) || b.Sub(a) > c.maxSpan {
			t.Errorf("%v: window %v-%v for an event at %v", c.ev.Kind, a, b, c.ev.Start)
		}
		if a.Sub(a.Truncate(c.step)) != 0 || b.Sub(b.Truncate(c.step)) != 0 {
			t.Errorf("%v: window not on the %v grid", c.ev.Kind, c.step)
		}
		if c.ev.Kind != EventDischargeTest && c.ev.Kind != EventEqualize && c.ev.DischargeEnd().Sub(c.ev.Start) < 10*time.Minute && b.Before(c.ev.DischargeEnd().Add(time.Minute)) {
			t.Errorf("%v: window ends before the discharge's aftermath", c.ev.Kind)
		}
	}
	if WindowStep(EventHVACFault) != 0 {
		t.Error("HVAC faults get no window")
	}
}
