package jobs

import (
	"math"
	"testing"
	"time"

	"github.com/battlake/battlake/physics"
)

// jarDay is the module's view of the simulation: over jar-days with
// faults it yields every sample but the dropped ones, in order; a spike
// moves only its channel, by its magnitude; stuck samples are flagged
// after their interval's first; the rest is the simulator's sample, read
// here from a second JarSim over the same spans. Chunks of an odd size
// check that a chunk boundary loses nothing.
func TestJarDayAppliesTheDaysFaults(t *testing.T) {
	e := txTestEnv(t)
	tel := &telemetry{Env: e}
	ds := &daySim{tel: tel}
	var it jarDay
	var ref physics.JarSim
	buf := make([]jarReading, 0, 97)
	seen := map[physics.SensorFaultKind]int{}
	for day := e.Scenario.End.Time.AddDate(0, 0, -28); day.Before(e.Scenario.End.Time); day = day.AddDate(0, 0, 1) {
		step := time.Minute // a whole number of steps per ohmic refresh
		n := int(24 * time.Hour / step)
		for _, b := range e.Fleet.BatteriesActiveOn(day) {
			faults := tel.jarFaults(nil, b, day, n)
			if len(faults) == 0 {
				continue
			}
			s := e.Fleet.StringByID[b.StringID]
			ds.startJarDay(&it, b, s, day, step, n)
			span, env := ds.prepare(s, day, step, n) // cached: the iterator's spans
			ref.Sensor = tel.jarSensor(b, day)
			ref.Reset(&b.Life, tel.jarSeed(b), span, env, 1)
			next := 0
			dropped := func(to int) {
				for ; next < to; next++ {
					ref.Next()
					if f := physics.ActiveFault(faults, next); f == nil || f.Kind != physics.FaultDropout {
						t.Fatalf("%s %s: sample %d missing without a dropout", b.Code, day.Format(time.DateOnly), next)
					}
					seen[physics.FaultDropout]++
				}
			}
			for {
				rds, err := it.next(buf)
				if err != nil {
					t.Fatal(err)
				}
				if len(rds) == 0 {
					break
				}
				for _, rd := range rds {
					dropped(rd.I)
					smp, ok := ref.Next()
					if !ok {
						t.Fatalf("%s: reference ended at %d", b.Code, rd.I)
					}
					next++
					where := func() string { return b.Code + " " + day.Format(time.DateOnly) }
					if want := rd.I%int(OhmicRefresh/step) == 0; rd.Ohmic != want {
						t.Fatalf("%s sample %d: ohmic refresh %v, want %v", where(), rd.I, rd.Ohmic, want)
					}
					if rd.ResistanceMOhm != smp.ResistanceMOhm {
						t.Fatalf("%s sample %d: resistance %g, simulator %g", where(), rd.I, rd.ResistanceMOhm, smp.ResistanceMOhm)
					}
					dv, dt := rd.VoltageV-smp.VoltageV, rd.TempC-smp.TempC
					f := physics.ActiveFault(faults, rd.I)
					switch {
					case f == nil:
						if dv != 0 || dt != 0 || rd.Stuck != notStuck {
							t.Fatalf("%s sample %d without a fault: dV %g dT %g stuck %d", where(), rd.I, dv, dt, rd.Stuck)
						}
					case f.Kind == physics.FaultDropout:
						t.Fatalf("%s sample %d: a dropped sample was yielded", where(), rd.I)
					case f.Kind == physics.FaultSpike:
						moved, still := dv, dt
						if f.Channel == physics.ChannelTemperature {
							moved, still = dt, dv
						}
						if math.Abs(moved-f.Magnitude) > 1e-9 || still != 0 || rd.Stuck != notStuck {
							t.Fatalf("%s sample %d: spike %+v gave dV %g dT %g", where(), rd.I, *f, dv, dt)
						}
						seen[f.Kind]++
					case f.Kind == physics.FaultStuck:
						want := stuckFirst
						if rd.I > f.From {
							want = stuckHeld
						}
						if rd.Stuck != want || dv != 0 || dt != 0 {
							t.Fatalf("%s sample %d: stuck %+v flagged %d (want %d), dV %g dT %g", where(), rd.I, *f, rd.Stuck, want, dv, dt)
						}
						seen[f.Kind]++
					}
				}
			}
			dropped(n)
		}
	}
	for _, k := range []physics.SensorFaultKind{physics.FaultDropout, physics.FaultSpike, physics.FaultStuck} {
		if seen[k] == 0 {
			t.Errorf("no %v sample met in 28 days: nothing checked", k)
		}
	}
	t.Logf("samples checked under faults: %v", seen)
}
