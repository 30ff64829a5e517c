package physics

import (
	"math"
	"slices"
	"time"
)

// DefaultFaultRates are the sensor-reality defaults per jar-day (estimates
// for a BMS with one monitoring module per jar): a dropout interval on 1 %
// of jar-days, a stuck module on 0.5 %, and 0.2 single-sample spikes.
var DefaultFaultRates = FaultRates{DropoutPerDay: 0.01, StuckPerDay: 0.005, SpikesPerDay: 0.2}

var tagSensor = HashString("sensor.faults")

// JarSensorFaults appends to dst[:0] the sensor faults of one jar-day of n
// samples, sorted by From: a dropout (no rows, 1-30 min) and a stuck module
// (values frozen, 10 min-2 h) with the given per-day probabilities, and a
// Poisson number of single-sample spikes on one channel (±1-4 V or
// ±10-20 °C). seed must be derived for the jar; the result is a pure
// function of (seed, day, n, rates) and does not allocate when dst has room.
// Faults may overlap; a dropout wins.
func JarSensorFaults(dst []SensorFault, seed uint64, day time.Time, n int, rates FaultRates) []SensorFault {
	dst = dst[:0]
	if n <= 0 {
		return dst
	}
	s := Mix(seed, tagSensor, uint64(dayNumber(day)))
	stepS := secPerDay / float64(n)
	c := uint64(0)
	next := func() float64 { c++; return Unit(s, c) }
	interval := func(kind SensorFaultKind, minS, maxS float64) {
		dur := minS * math.Pow(maxS/minS, next()) // log-uniform
		from := int(next() * float64(n))
		to := min(n, from+max(1, int(dur/stepS)))
		dst = append(dst, SensorFault{Kind: kind, Channel: ChannelAll, From: from, To: to})
	}
	if next() < rates.DropoutPerDay {
		interval(FaultDropout, 60, 1800)
	}
	if next() < rates.StuckPerDay {
		interval(FaultStuck, 600, 7200)
	}
	for range poisson(next(), rates.SpikesPerDay) {
		f := SensorFault{Kind: FaultSpike, Channel: ChannelVoltage, From: int(next() * float64(n))}
		f.To = f.From + 1
		if next() < 0.7 {
			f.Magnitude = 1 + 3*next()
		} else {
			f.Channel, f.Magnitude = ChannelTemperature, 10+10*next()
		}
		if next() < 0.5 {
			f.Magnitude = -f.Magnitude
		}
		dst = append(dst, f)
	}
	slices.SortFunc(dst, func(a, b SensorFault) int { return a.From - b.From })
	return dst
}
