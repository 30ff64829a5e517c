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

// Observation model. What a monitoring system reports is the jar's physics
// seen through its sensor: every property below belongs to the sensor (the
// BMS product of the site, the monitoring module of a rack position, the
// string's gateway), never to the jar's hidden degradation. A jar shows its
// condition only through physics (a larger I·R step, more float heat).

// BMSModel is a battery-monitoring product: the noise class of all its
// modules. Figures are estimates for cell-monitoring systems (voltage
// accuracy ±0.1-0.25 % of reading, 1-5 mV resolution, ohmic repeatability
// a few percent).
type BMSModel struct {
	Name         string
	VoltSigmaV   float64 // per-sample voltage noise σ
	VoltResV     float64 // voltage resolution (quantisation step)
	VoltOffsetV  float64 // σ of a module's calibration offset after calibration
	VoltDriftV   float64 // σ of a module's drift per year between recalibrations
	TempSigmaC   float64 // per-sample temperature noise σ
	TempResC     float64 // temperature resolution
	OhmicRepeat  float64 // relative σ of one ohmic reading (repeatability)
	OhmicGainStd float64 // σ of a module's ohmic calibration gain error
}

// BMSModels are the monitoring products of the fleet (fictional names).
var BMSModels = [...]BMSModel{
	{Name: "CellSense 4", VoltSigmaV: 0.002, VoltResV: 0.001, VoltOffsetV: 0.003, VoltDriftV: 0.004,
		TempSigmaC: 0.05, TempResC: 0.1, OhmicRepeat: 0.02, OhmicGainStd: 0.015},
	{Name: "StringGuard 2", VoltSigmaV: 0.004, VoltResV: 0.005, VoltOffsetV: 0.006, VoltDriftV: 0.008,
		TempSigmaC: 0.1, TempResC: 0.1, OhmicRepeat: 0.035, OhmicGainStd: 0.02},
}

// JarSensor is one monitoring module's observation model on one day: the
// product's noise and the module's own calibration state.
type JarSensor struct {
	VoltSigmaV   float64
	VoltResV     float64
	VoltOffsetV  float64 // calibration offset plus drift since the last recalibration
	TempSigmaC   float64
	TempResC     float64
	TempBiasC    float64 // probe position on the jar and rack, plus calibration
	OhmicRepeat  float64
	OhmicGainErr float64 // relative calibration gain error of the module
}

var (
	tagModCal   = HashString("sensor.module.cal")
	tagModDrift = HashString("sensor.module.drift")
	tagModProbe = HashString("sensor.module.probe")
	tagModGain  = HashString("sensor.module.gain")
	tagRecal    = HashString("sensor.recal_phase")
	tagGateway  = HashString("sensor.gateway")
	tagSiteBMS  = HashString("sensor.site_bms")
)

// NewJarSensor is the state on day of the monitoring module moduleSeed
// (derived for the rack position, so a replacement jar is read by the same
// module) of a product bms, recalibrated yearly on a date set by
// recalSeed (the site's): after each recalibration the offset is redrawn
// and drifts linearly until the next. The probe bias is the module's
// placement on the jar's case or terminal: N(+0.3, 0.3) °C (estimate:
// terminals run a little warmer than the case). Pure function of its
// arguments.
func NewJarSensor(bms BMSModel, moduleSeed, recalSeed uint64, day time.Time) JarSensor {
	years := float64(day.Unix())/secPerYear - Unit(Mix(recalSeed, tagRecal), 0)
	k := math.Floor(years)
	since := years - k
	kk := uint64(int64(k) + 1<<20)
	return JarSensor{
		VoltSigmaV:   bms.VoltSigmaV,
		VoltResV:     bms.VoltResV,
		VoltOffsetV:  bms.VoltOffsetV*Gauss(Mix(moduleSeed, tagModCal), kk) + bms.VoltDriftV*Gauss(Mix(moduleSeed, tagModDrift), kk)*since,
		TempSigmaC:   bms.TempSigmaC,
		TempResC:     bms.TempResC,
		TempBiasC:    0.3 + 0.3*Gauss(Mix(moduleSeed, tagModProbe), 0),
		OhmicRepeat:  bms.OhmicRepeat,
		OhmicGainErr: bms.OhmicGainStd * Gauss(Mix(moduleSeed, tagModGain), 0),
	}
}

// GatewayFaultRates are the defaults of the shared parts of the monitoring
// chain per day (estimates): a string's gateway loses its link on 0.5 % of
// days (5 min-4 h, every jar of the string and the string sensor), and the
// site's BMS server on 0.2 % (30 min-12 h, every string of the site).
var GatewayFaultRates = struct{ GatewayPerDay, SitePerDay float64 }{0.005, 0.002}

// JarDayFaults appends to dst[:0] every fault a jar's rows see on day:
// its module's own (JarSensorFaults of moduleSeed), its string gateway's
// gaps (gatewaySeed) and its site's BMS outages (siteSeed), sorted by From.
// The two shared gaps are pure functions of their seeds and the day, so all
// the jars of a string (of a site) lose the same rows.
func JarDayFaults(dst []SensorFault, moduleSeed, gatewaySeed, siteSeed uint64, day time.Time, n int, rates FaultRates) []SensorFault {
	dst = JarSensorFaults(dst, moduleSeed, day, n, rates)
	dst = GatewayFaults(dst, gatewaySeed, siteSeed, day, n)
	slices.SortFunc(dst, func(a, b SensorFault) int { return a.From - b.From })
	return dst
}

// GatewayFaults appends the gaps of a string's gateway and of its site's
// BMS server on day (dropouts of the whole string or site).
func GatewayFaults(dst []SensorFault, gatewaySeed, siteSeed uint64, day time.Time, n int) []SensorFault {
	if n <= 0 {
		return dst
	}
	stepS := secPerDay / float64(n)
	gap := func(seed uint64, p, minS, maxS float64) {
		s := Mix(seed, uint64(dayNumber(day)))
		if Unit(s, 0) >= p {
			return
		}
		dur := minS * math.Pow(maxS/minS, Unit(s, 1))
		from := int(Unit(s, 2) * float64(n))
		dst = append(dst, SensorFault{Kind: FaultDropout, Channel: ChannelAll, From: from, To: min(n, from+max(1, int(dur/stepS)))})
	}
	gap(Mix(gatewaySeed, tagGateway), GatewayFaultRates.GatewayPerDay, 300, 4*3600)
	gap(Mix(siteSeed, tagSiteBMS), GatewayFaultRates.SitePerDay, 1800, 12*3600)
	return dst
}

// ActiveFault returns the fault of a day's short list covering sample i, a
// dropout first (faults may overlap), or nil.
func ActiveFault(faults []SensorFault, i int) *SensorFault {
	var hit *SensorFault
	for k := range faults {
		f := &faults[k]
		if f.From <= i && i < f.To {
			if f.Kind == FaultDropout {
				return f
			}
			if hit == nil {
				hit = f
			}
		}
	}
	return hit
}

// Quantize rounds x to the resolution res (no rounding when res is 0).
func Quantize(x, res float64) float64 {
	if res <= 0 {
		return x
	}
	return math.Round(x/res) * res
}
