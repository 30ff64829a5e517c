package physics

import "time"

// This file is the contract between the simulators and the jobs that turn
// them into rows. Implementations live in climate.go, stringop.go, jar.go,
// ecm.go, ripple.go, sensor.go and window.go.

// Climate parameterises one site's battery-room environment.
type Climate struct {
	OutdoorMeanC      float64 // annual mean outdoor temperature
	OutdoorSeasonAmpC float64 // hot-season swing above the mean (Thai hot season March-May)
	OutdoorDailyAmpC  float64 // half of the day-night swing
	RoomSetpointC     float64 // HVAC setpoint of the battery room (22-27 °C)
	RoomCouplingC     float64 // how many °C the room drifts per 10 °C outdoor excess with HVAC running
	HumidityMeanPct   float64
	HVACFaultsPerYear float64 // mean number of HVAC faults per year (each warms the room for hours)
}

// RoomMeanC is the long-run mean room temperature used by the life model.
func (c Climate) RoomMeanC() float64 {
	return c.RoomSetpointC + c.RoomCouplingC*(c.OutdoorMeanC-c.RoomSetpointC)/10
}

// HVACState matches telemetry_env.hvac_status.
type HVACState uint8

const (
	HVACRunning HVACState = iota
	HVACStandby
	HVACFault
)

func (h HVACState) String() string {
	return [...]string{"running", "standby", "fault"}[h]
}

// Mode matches telemetry_string_raw.mode.
type Mode uint8

const (
	ModeFloat Mode = iota
	ModeBoost
	ModeDischarge
	ModeIdle
	ModeEqualize
)

func (m Mode) String() string {
	return [...]string{"float", "boost", "discharge", "idle", "equalize"}[m]
}

// EventKind enumerates operational events. The first four match
// telemetry_event_window.event_type via WindowType.
type EventKind uint8

const (
	EventDischargeTest EventKind = iota // capacity test (from the maintenance schedule)
	EventTransfer                       // utility outage / transfer-switch event
	EventEqualize                       // scheduled equalize charge
	EventSurge                          // short high-current load surge
	EventGeneratorTest                  // monthly generator test (transfer flag, brief discharge)
	EventHVACFault                      // room warms for hours
)

// WindowType is the telemetry_event_window.event_type of an event kind, or
// "" if the kind gets no high-rate window.
func (k EventKind) WindowType() string {
	switch k {
	case EventDischargeTest:
		return "discharge_test"
	case EventTransfer, EventGeneratorTest:
		return "transfer_event"
	case EventEqualize:
		return "equalize"
	case EventSurge:
		return "surge"
	}
	return ""
}

func (k EventKind) String() string {
	return [...]string{"discharge_test", "outage", "equalize", "surge", "generator_test", "hvac_fault"}[k]
}

// Event is one operational event on a site or a string.
type Event struct {
	Kind  EventKind
	Start time.Time
	End   time.Time // end of the disturbance (discharge end, equalize end); recharge follows
	// CurrentA is the string discharge current while on battery (positive
	// number of amperes drawn), for discharge-type events. Capacity tests:
	// the test current as is. Site events (SiteEvents): on the
	// NominalLoadA scale of the system type; BuildStringSpan rescales them
	// to StringConfig.LoadA.
	CurrentA float64
	Seq      uint32 // index of the event within its day, for stable ids
	// OnBattery is, for a generator test, how long the string carries the
	// load at the transfer (seconds); zero means the whole [Start, End) for
	// discharge-type events. Use DischargeEnd rather than reading it.
	OnBattery time.Duration
}

// Discharges reports whether the event draws current from the string.
func (e Event) Discharges() bool {
	switch e.Kind {
	case EventDischargeTest, EventTransfer, EventSurge, EventGeneratorTest:
		return true
	}
	return false
}

// DischargeEnd is when the string stops carrying the load: End for outages,
// surges and capacity tests, Start+OnBattery for a generator test, Start for
// events that draw no current.
func (e Event) DischargeEnd() time.Time {
	switch {
	case !e.Discharges():
		return e.Start
	case e.Kind == EventGeneratorTest && e.OnBattery > 0:
		return e.Start.Add(e.OnBattery)
	}
	return e.End
}

// SystemType of the string's parent system.
type SystemType uint8

const (
	SystemUPS SystemType = iota
	SystemRectifier
)

// StringConfig describes one string for the operation simulator.
type StringConfig struct {
	System SystemType
	Jars   int // 24
	Spec   ModelSpec
	// LoadA is the discharge current the load draws when the string carries it.
	LoadA float64
	// RectifierWear in [0,1] grows ripple and its harmonic content with age.
	RectifierWear float64
	// RoomC optionally sets the room's mean temperature for the float
	// current level (it doubles per 10 °C); 0 means 25 °C.
	RoomC float64
	// FloatTrimV is the charger's float setting above (below) the model's
	// mid-band value, per block: the string's trim, or a misconfigured
	// charger (an ageing stressor, see Stress).
	FloatTrimV float64
	// OpenFrom and OpenTo (unix ns; 0: none / open-ended) bound an open
	// circuit of the string: an open cell (or a dried-out jar) opens the
	// series string until the jar is replaced.
	OpenFrom, OpenTo int64
}

// StringSpan is a string's operating timeline over [Start, Start+N*Step):
// what the charger and the load impose on every jar of the string. It is a
// reusable buffer: BuildStringSpan overwrites it.
type StringSpan struct {
	Start time.Time
	Step  time.Duration
	N     int
	Mode  []Mode
	// CurrentA is the string current per sample: positive charges the jars,
	// negative discharges them.
	CurrentA []float32
	// SetpointV is the charger's per-jar voltage target per sample (float,
	// boost or equalize, temperature compensated); 0 while on battery.
	SetpointV []float32
	Flags     []uint8 // FlagEqualize | FlagGeneratorTest | FlagTransfer
	RippleV   []float32
	RippleA   []float32
	Events    []Event // events overlapping the span, incl. carried-over ones

	// Set by BuildStringSpan so that JarSim can replay a carried-over event.
	cfg            StringConfig
	seed           uint64
	built          bool
	floatV, floatA float64 // the charger's float setting and current
	// busy marks samples inside an activity cluster (an event, its
	// recharge and a settling tail); outside them every jar is at its
	// canonical float state, a pure function of time.
	busy []bool
	// carryFrom is the start (unix ns) of the cluster that covers Start, or
	// 0 if Start is quiet.
	carryFrom int64
	// clusterEnd holds the ends (unix ns) of the clusters overlapping the
	// span, in order: jars blend into their canonical state before them.
	clusterEnd []int64
	segs       []segment // scratch
	evs        []Event   // scratch
}

const (
	FlagEqualize uint8 = 1 << iota
	FlagGeneratorTest
	FlagTransfer
)

// EnvSpan is a site's room environment over [Start, Start+N*Step).
type EnvSpan struct {
	Start    time.Time
	Step     time.Duration
	N        int
	TempC    []float32
	Humidity []float32
	HVAC     []HVACState
	// LagC is the room temperature seen through a 12 V block's thermal lag
	// (first order, τ = 2 h): a jar's ambient. Pure function of time.
	LagC   []float32
	Events []Event // HVAC faults overlapping the span

	clim    Climate // set by BuildEnvSpan, for JarSim's replay
	seed    uint64
	built   bool
	scratch []float64
}

// JarSample is one simulated reading of a jar: the physics seen through the
// jar's monitoring module (JarSim.Sensor: noise, calibration offset, probe
// bias, ohmic repeatability), before quantisation to its resolution.
type JarSample struct {
	VoltageV       float64
	TempC          float64
	ResistanceMOhm float64
	SOC            float64 // true SOC, for truth and tests only
	TrueVoltageV   float64 // true terminal voltage (what the string sums)
}

// SensorFaultKind is a data-quality fault of a sensor channel.
type SensorFaultKind uint8

const (
	FaultDropout SensorFaultKind = iota // no rows for the interval
	FaultStuck                          // value frozen at the first sample of the interval
	FaultSpike                          // single-sample outlier
)

func (k SensorFaultKind) String() string {
	return [...]string{"sensor_dropout", "sensor_stuck", "sensor_spike"}[k]
}

// SensorChannel is the channel a sensor fault hits.
type SensorChannel uint8

const (
	ChannelAll         SensorChannel = iota // the jar's whole monitoring module
	ChannelVoltage                          // V
	ChannelTemperature                      // °C
)

// SensorFault is a fault over sample indexes [From, To) of one day.
type SensorFault struct {
	Kind     SensorFaultKind
	Channel  SensorChannel // dropouts and stuck modules: ChannelAll; spikes: one channel
	From, To int
	// Magnitude is the spike size in units of the channel (V, °C) — signed.
	Magnitude float64
}

// FaultRates are documented defaults for sensor reality (per jar-day).
type FaultRates struct {
	DropoutPerDay float64 // probability of a dropout interval on a given jar-day
	StuckPerDay   float64
	SpikesPerDay  float64 // mean number of spikes per jar-day
}
