package physics

import (
	"math"
	"sort"
	"testing"
	"time"
)

// A simple classifier of the hidden profile, trained on one hour of
// healthy-looking float data per jar (5 s readings through each jar's own
// monitoring module), does no better than chance: the profile a jar will
// end in does not show in its sensor's noise, offset or readings before
// its wear has changed anything physical.
func TestProfileNotClassifiableFromHealthyFloat(t *testing.T) {
	inst := day(2020, 1, 1)
	at := inst.AddDate(1, 0, 0).Add(3 * time.Hour) // an hour one year in
	const n = 720
	var span StringSpan
	BuildStringSpan(&span, testCfg(SystemUPS), 3, at, 5*time.Second, n, nil)
	var env EnvSpan
	BuildEnvSpan(&env, 4, Climate{OutdoorMeanC: 28, OutdoorSeasonAmpC: 2, OutdoorDailyAmpC: 4, RoomSetpointC: 24,
		RoomCouplingC: 1, HumidityMeanPct: 50}, at, time.Minute, n/12+1)
	type jar struct {
		x     [5]float64
		label bool // ends its service in accelerated or failing wear
	}
	var jars []jar
	var nPos, nNeg int
	for j := 0; nPos < 150 || nNeg < 150; j++ {
		l := DrawJarLife(Mix(12, uint64(j)), testSpec, FleetMix, inst, Stress{RoomC: 25})
		pos := l.Profile != ProfileHealthy
		// Healthy-looking: no onset yet, no failure precursor, in service.
		if (!l.OnsetAt.IsZero() && l.OnsetAt.Before(at.Add(time.Hour))) || !l.End.After(at.AddDate(0, 2, 0)) {
			continue
		}
		if (pos && nPos >= 150) || (!pos && nNeg >= 150) {
			continue
		}
		if pos {
			nPos++
		} else {
			nNeg++
		}
		var sim JarSim
		sim.Sensor = NewJarSensor(BMSModels[j%2], Mix(13, uint64(j)), 14, at)
		sim.Reset(&l, Mix(15, uint64(j)), &span, &env, 12)
		var sv, sv2, st, st2, sr float64
		for range n {
			x, _ := sim.Next()
			sv += x.VoltageV
			sv2 += x.VoltageV * x.VoltageV
			st += x.TempC
			st2 += x.TempC * x.TempC
			sr += x.ResistanceMOhm
		}
		mv, mt := sv/n, st/n
		jars = append(jars, jar{x: [5]float64{mv, math.Sqrt(math.Max(0, sv2/n-mv*mv)), mt, math.Sqrt(math.Max(0, st2/n-mt*mt)), sr / n}, label: pos})
	}
	// Train on even jars, test on odd ones.
	var train, test []jar
	for i, x := range jars {
		if i%2 == 0 {
			train = append(train, x)
		} else {
			test = append(test, x)
		}
	}
	limit := 0.5 + 3*math.Sqrt(0.25/float64(len(test)))
	acc := func(pred func(x [5]float64) bool) float64 {
		ok := 0
		for _, x := range test {
			if pred(x.x) == x.label {
				ok++
			}
		}
		return float64(ok) / float64(len(test))
	}
	base := math.Max(float64(nPos), float64(nNeg)) / float64(nPos+nNeg)
	// Nearest centroid on standardised features.
	var mu, sd, c0, c1 [5]float64
	var k0, k1 float64
	for _, x := range train {
		for f := range 5 {
			mu[f] += x.x[f] / float64(len(train))
		}
	}
	for _, x := range train {
		for f := range 5 {
			sd[f] += (x.x[f] - mu[f]) * (x.x[f] - mu[f]) / float64(len(train))
			if x.label {
				c1[f] += x.x[f]
			} else {
				c0[f] += x.x[f]
			}
		}
		if x.label {
			k1++
		} else {
			k0++
		}
	}
	for f := range 5 {
		sd[f] = math.Sqrt(sd[f])
		c0[f] /= k0
		c1[f] /= k1
	}
	nc := acc(func(x [5]float64) bool {
		var d0, d1 float64
		for f := range 5 {
			a, b := (x[f]-c0[f])/sd[f], (x[f]-c1[f])/sd[f]
			d0 += a * a
			d1 += b * b
		}
		return d1 < d0
	})
	if nc > limit {
		t.Errorf("nearest-centroid classifier: %.3f accuracy on held-out jars, chance %.2f, limit %.3f", nc, base, limit)
	}
	// The best single-feature threshold on the training half.
	for f := range 5 {
		vals := make([]float64, 0, len(train))
		for _, x := range train {
			vals = append(vals, x.x[f])
		}
		sort.Float64s(vals)
		bestAcc, bestThr, bestAbove := 0.0, 0.0, false
		for _, thr := range vals {
			for _, above := range []bool{false, true} {
				ok := 0
				for _, x := range train {
					if (x.x[f] > thr) == above == x.label {
						ok++
					}
				}
				if a := float64(ok) / float64(len(train)); a > bestAcc {
					bestAcc, bestThr, bestAbove = a, thr, above
				}
			}
		}
		if a := acc(func(x [5]float64) bool { return (x[f] > bestThr) == bestAbove }); a > limit {
			t.Errorf("feature %d: threshold classifier %.3f accuracy on held-out jars, limit %.3f", f, a, limit)
		}
	}
}
