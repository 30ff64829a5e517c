package jobs

import (
	"slices"
	"testing"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
)

// No sensor property is a function of the hidden profile: a jar's noise,
// resolution, calibration offset, probe bias, ohmic repeatability and
// faults are its rack position's module's (and its gateway's and site's),
// so every generation of a slot, whatever its profile, is read by the same
// sensor with the same faults on the same day.
func TestSensorBelongsToTheModuleNotTheJar(t *testing.T) {
	e := txTestEnv(t)
	tel := &telemetry{Env: e}
	day := e.Scenario.End.Time.AddDate(0, 0, -1)
	bySlot := map[string][]*fleet.Battery{}
	for _, b := range e.Fleet.Batteries {
		bySlot[b.Slot] = append(bySlot[b.Slot], b)
	}
	pairs, differentProfile := 0, 0
	for _, jars := range bySlot {
		for _, b := range jars[1:] {
			a := jars[0]
			if tel.jarSensor(a, day) != tel.jarSensor(b, day) {
				t.Fatalf("%s and %s (same slot): sensors %+v and %+v", a.Code, b.Code, tel.jarSensor(a, day), tel.jarSensor(b, day))
			}
			fa := tel.jarFaults(nil, a, day, 17280)
			fb := tel.jarFaults(nil, b, day, 17280)
			if !slices.Equal(fa, fb) {
				t.Fatalf("%s and %s (same slot): faults differ", a.Code, b.Code)
			}
			pairs++
			if a.Life.Profile != b.Life.Profile {
				differentProfile++
			}
		}
	}
	if pairs == 0 || differentProfile == 0 {
		t.Fatalf("%d slot pairs, %d with different profiles: nothing checked", pairs, differentProfile)
	}
	// And across the site's jars, the sensor's noise class is the site's
	// product: the same for every profile.
	sigma := map[physics.Profile]map[float64]bool{}
	for _, b := range e.Fleet.BatteriesActiveOn(day) {
		if sigma[b.Life.Profile] == nil {
			sigma[b.Life.Profile] = map[float64]bool{}
		}
		sigma[b.Life.Profile][tel.jarSensor(b, day).VoltSigmaV] = true
	}
	for p, s := range sigma {
		if len(s) != 1 {
			t.Errorf("profile %v: %d noise levels at one site", p, len(s))
		}
	}
}
