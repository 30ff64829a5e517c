package physics

import (
	"fmt"
	"hash/fnv"
	"math"
	"testing"
	"time"
)

func TestZZGoldenTmp(t *testing.T) {
	h := fnv.New64a()
	put := func(x JarSample) {
		fmt.Fprintf(h, "%x %x %x %x;", math.Float64bits(x.VoltageV), math.Float64bits(x.TempC), math.Float64bits(x.ResistanceMOhm), math.Float64bits(x.SOC))
	}
	d0 := day(2024, 7, 3)
	d1 := d0.AddDate(0, 0, 1)
	for _, st := range []time.Duration{time.Second, 5 * time.Second} {
		n := int(24 * time.Hour / st)
		var sp StringSpan
		BuildStringSpan(&sp, testCfg(SystemUPS), 5, d1, st, n, eventsFor(77, 78, SystemUPS, d1, 1, busyDayEvents(d0, 0)...))
		var env EnvSpan
		BuildEnvSpan(&env, 3, testClimate, d1, time.Minute, 1440)
		lives := healthyString(3)
		var s JarSim
		for j := range lives {
			s.Reset(&lives[j], uint64(j), &sp, &env, int(time.Minute/st))
			for {
				x, ok := s.Next()
				if !ok {
					break
				}
				put(x)
			}
		}
	}
	// sub-second windows, for information only
	h2 := fnv.New64a()
	for _, off := range []time.Duration{40 * time.Minute, 5 * time.Hour} {
		sp, env := windowInCluster(off, 100*time.Millisecond, 700)
		l := NewJarLife(3, testSpec, ProfileHealthy, day(2021, 1, 1), 25)
		xs := collect(t, &l, 1, sp, env, 1)
		for _, x := range xs {
			fmt.Fprintf(h2, "%v;", x)
		}
	}
	t.Logf("golden >=1s: %x  sub-second: %x", h.Sum64(), h2.Sum64())
}
