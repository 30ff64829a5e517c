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

// No sensor property depends on the jar's hidden degradation: the same
// module reads jars of every profile with the same noise, offset and
// faults. NewJarSensor and JarDayFaults take no JarLife at all; this
// checks the JarSim side: the noise a jar's readings carry is the module's
// whatever the jar behind it.
func TestSensorIndependentOfProfile(t *testing.T) {
	start := day(2024, 3, 1)
	n := 720 // one hour at 5 s
	var span StringSpan
	BuildStringSpan(&span, testCfg(SystemUPS), 5, start.Add(2*time.Hour), 5*time.Second, n, nil)
	sensor := NewJarSensor(BMSModels[1], 77, 78, start)
	if sensor.VoltSigmaV == 0 || sensor.OhmicRepeat == 0 || sensor.VoltOffsetV == 0 || sensor.TempBiasC == 0 {
		t.Fatalf("sensor %+v lacks noise or calibration error", sensor)
	}
	var stds [3]float64
	var offs [3]float64
	for p := ProfileHealthy; p <= ProfileFailing; p++ {
		l := NewJarLife(9, testSpec, p, start.AddDate(0, 0, -20), 25)
		var sim JarSim
		sim.Sensor = sensor
		sim.Reset(&l, 31, &span, nil, 1)
		var sum, sum2 float64
		var perfect JarSim
		perfect.Reset(&l, 31, &span, nil, 1)
		for range n {
			x, _ := sim.Next()
			y, _ := perfect.Next()
			d := x.VoltageV - y.VoltageV // what the sensor added
			sum += d
			sum2 += d * d
		}
		m := sum / float64(n)
		stds[p], offs[p] = math.Sqrt(sum2/float64(n)-m*m), m
	}
	for p := 1; p < 3; p++ {
		if math.Abs(stds[p]-stds[0]) > 1e-9 || math.Abs(offs[p]-offs[0]) > 1e-9 {
			t.Errorf("profile %v: sensor noise σ %.5f V offset %.5f V, healthy %.5f / %.5f", Profile(p), stds[p], offs[p], stds[0], offs[0])
		}
	}
	if math.Abs(stds[0]-sensor.VoltSigmaV) > 0.2*sensor.VoltSigmaV {
		t.Errorf("sensor noise σ %.4f V, the product's %.4f V", stds[0], sensor.VoltSigmaV)
	}
}

// Modules drift between yearly recalibrations: the offset changes from one
// calibration period to the next and, within one, moves linearly.
func TestJarSensorCalibrationAndDrift(t *testing.T) {
	var diffs, drifts int
	for k := range 200 {
		seed := Mix(5, uint64(k))
		a := NewJarSensor(BMSModels[0], seed, 9, day(2024, 1, 1))
		b := NewJarSensor(BMSModels[0], seed, 9, day(2025, 6, 1))
		c := NewJarSensor(BMSModels[0], seed, 9, day(2024, 1, 20))
		if a.VoltOffsetV != b.VoltOffsetV {
			diffs++
		}
		if a.VoltOffsetV != c.VoltOffsetV && math.Abs(a.VoltOffsetV-c.VoltOffsetV) < 0.002 {
			drifts++
		}
		if a.TempBiasC != b.TempBiasC || a.OhmicGainErr != b.OhmicGainErr {
			t.Fatal("probe position or ohmic gain changed between calibrations")
		}
	}
	if diffs < 190 || drifts < 150 {
		t.Errorf("%d of 200 modules changed offset over a year, %d drifted slowly within weeks", diffs, drifts)
	}
}

// A gateway gap drops every jar of its string at once, and a site outage
// every string of the site.
func TestGatewayGapsAreShared(t *testing.T) {
	n := 17280
	var shared int
	for d := range 3000 {
		dd := day(2020, 1, 1).AddDate(0, 0, d)
		a := JarDayFaults(nil, Mix(1, uint64(d)), 42, 43, dd, n, FaultRates{})
		b := JarDayFaults(nil, Mix(2, uint64(d)), 42, 43, dd, n, FaultRates{})
		if len(a) != len(b) {
			t.Fatalf("day %d: jars of one gateway see %d and %d gaps", d, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] || a[i].Kind != FaultDropout {
				t.Fatalf("day %d: gap %+v vs %+v", d, a[i], b[i])
			}
		}
		shared += len(a)
	}
	want := 3000 * (GatewayFaultRates.GatewayPerDay + GatewayFaultRates.SitePerDay)
	if math.Abs(float64(shared)-want) > 4*math.Sqrt(want) {
		t.Errorf("%d shared gaps in 3000 days, want ~%.0f", shared, want)
	}
}
