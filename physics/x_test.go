package physics

import (
	"fmt"
	"testing"
	"time"
)

func TestX(t *testing.T) {
	d0 := day(2024, 8, 14)
	d := d0.AddDate(0, 0, 1)
	evs := eventsFor(91, 92, SystemUPS, d, 1, busyDayEvents(d0, 0)...)
	var sp StringSpan
	BuildStringSpan(&sp, testCfg(SystemUPS), 5, d, 5*time.Second, 17280, evs)
	var env EnvSpan
	BuildEnvSpan(&env, 3, testClimate, d, time.Minute, 1440)
	l := noiseless(NewJarLife(1, testSpec, ProfileHealthy, day(2021, 3, 1), 26))
	var s JarSim
	s.Reset(&l, 1, &sp, &env, 12)
	for i := 0; i < sp.N; i++ {
		x, _ := s.Next()
		if i%720 == 0 || (i > 10840 && i < 10850) {
			fmt.Printf("%s %v %v I=%.3f T=%.3f amb=%.3f exc=%.4f eq=%.4f soc=%.5f\n", sp.Start.Add(time.Duration(i)*5*time.Second).Format(time.TimeOnly), sp.Mode[i], sp.busy[i], sp.CurrentA[i], x.TempC, s.amb, s.exc, s.eqExc, x.SOC)
		}
	}
}
