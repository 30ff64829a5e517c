// Package alerts is the pure rule engine behind the alert, incident and
// work_order tables (spec section 6). It reads nothing itself: the lake
// read side (package derive) turns tables into per-entity condition
// streams, and this package turns streams into episodes, episodes into
// alerts with a lifecycle, alerts into incidents, and incidents and
// maintenance events into work orders. Every id is a hash of what the row
// stands for, and every random choice comes from a *rand.Rand seeded from
// that id, so the same inputs give the same rows byte for byte.
//
// # Episodes
//
// A Rule watches one numeric value per sample. A sample is "raising" when
// its value is beyond the warning level, "clear" when it is back past the
// clear level (hysteresis: for an upper rule Clear < Warn, so a value
// between the two neither raises nor clears), and neutral otherwise. An
// episode starts at the first raising sample of a run and triggers once
// the run has held MinRaise (debounce); it ends at the first clear sample
// after which the value stayed clear for MinClear. One episode is one
// alert: a value that flaps around Warn inside an episode, or that
// escalates from warning to critical, does not open a second alert. The
// alert's severity is the highest level reached; context_json records the
// severity at trigger and when it escalated.
package alerts

import (
	"math"
	"time"
)

// Type is an alert_type value.
type Type string

// The eleven alert types of spec section 6.1.
const (
	VoltageLow      Type = "voltage_low"
	VoltageHigh     Type = "voltage_high"
	TemperatureHigh Type = "temperature_high"
	CurrentHigh     Type = "current_high"
	RippleHigh      Type = "ripple_high"
	ResistanceDrift Type = "resistance_drift"
	RULWarning      Type = "rul_warning"
	RULCritical     Type = "rul_critical"
	SOHDegraded     Type = "soh_degraded"
	AnomalyDetected Type = "anomaly_detected"
	DataQuality     Type = "data_quality"
)

// Types lists every alert type in the order the schema declares them.
var Types = []Type{VoltageLow, VoltageHigh, TemperatureHigh, CurrentHigh, RippleHigh, ResistanceDrift, RULWarning, RULCritical, SOHDegraded, AnomalyDetected, DataQuality}

// Severity is an alert severity; the zero value is "no alert".
type Severity int

const (
	None Severity = iota
	Info
	Warning
	Critical
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	}
	return "none"
}

// Rule is a threshold rule with hysteresis and debounce over one value.
type Rule struct {
	Type Type
	// Name tells two rules of one type on one entity apart (ids, context).
	Name string
	// Below: the condition is a value below the levels (voltage_low, SOH,
	// RUL); otherwise above.
	Below bool
	// Warn raises a warning, Crit escalates to critical (NaN: never).
	// Info, if set, is a lower level that raises an info alert (Info is
	// then the raise level and Warn an escalation).
	Info, Warn, Crit float64
	// Clear is the level the value must come back past to clear
	// (hysteresis band between Clear and the raise level).
	Clear float64
	// MinRaise is how long the condition must hold, from the first raising
	// sample to the one that triggers (0: the first sample triggers).
	MinRaise time.Duration
	// MinClear is how long the value must stay clear before the episode
	// ends (0: the first clear sample ends it).
	MinClear time.Duration
	// MaxGap breaks a pending run (not yet triggered) when two samples are
	// further apart; 0 means never (sparse streams: surveys, tests).
	MaxGap time.Duration
	// Unit names the value's unit in messages and context.
	Unit string
}

// Sample is one observation of an entity's condition value at TS (the
// time the value is known). A NaN value is skipped (no data).
type Sample struct {
	TS    time.Time
	Value float64
}

// Episode is one condition episode of an entity under a rule.
type Episode struct {
	Start     time.Time // first raising sample
	Triggered time.Time // sample at which the debounce was met
	Resolved  time.Time // zero while open
	Severity  Severity  // highest level reached
	First     Severity  // level at trigger
	Escalated time.Time // when Severity was reached, if above First
	TriggerValue,
	Peak float64 // value at trigger, and the worst value of the episode
	Samples int // samples from Start to the end (or the last sample)
}

// beyond reports whether v is past level in the rule's direction.
func (r *Rule) beyond(v, level float64) bool {
	if math.IsNaN(level) {
		return false
	}
	if r.Below {
		return v < level
	}
	return v > level
}

// raiseLevel is the level that opens an episode.
func (r *Rule) raiseLevel() float64 {
	if r.Info != 0 && !math.IsNaN(r.Info) {
		return r.Info
	}
	return r.Warn
}

// Level is the severity a value alone would have.
func (r *Rule) Level(v float64) Severity {
	switch {
	case r.beyond(v, r.Crit):
		return Critical
	case r.Info != 0 && !math.IsNaN(r.Info) && r.beyond(v, r.Warn):
		return Warning
	case r.Info != 0 && !math.IsNaN(r.Info) && r.beyond(v, r.Info):
		return Info
	case r.beyond(v, r.Warn):
		return Warning
	}
	return None
}

func (r *Rule) worse(a, b float64) bool {
	if r.Below {
		return a < b
	}
	return a > b
}

// Detect runs the rule over one entity's samples (sorted by TS) and
// returns its episodes; the last one is open (zero Resolved) when the
// condition had not cleared by the last sample.
func (r *Rule) Detect(samples []Sample) []Episode {
	d := r.NewDetector()
	var out []Episode
	for _, s := range samples {
		if e, ok := d.Add(s); ok {
			out = append(out, e)
		}
	}
	if e, ok := d.Open(); ok {
		out = append(out, e)
	}
	return out
}

// Detector is the streaming form of Detect for one entity: its state is a
// few fields, so a caller feeds day after day with bounded memory.
type Detector struct {
	r       *Rule
	cur     Episode
	pending bool      // a raising run has started
	active  bool      // the run triggered
	clearAt time.Time // first sample of the current clear run
	prev    time.Time
}

// NewDetector starts a detector of rule r (r must outlive it).
func (r *Rule) NewDetector() *Detector { return &Detector{r: r} }

// Add feeds the next sample (TS after the previous one) and returns the
// episode it closed, if any.
func (d *Detector) Add(s Sample) (Episode, bool) {
	r, v := d.r, s.Value
	if math.IsNaN(v) {
		return Episode{}, false
	}
	if d.pending && !d.active && r.MaxGap > 0 && s.TS.Sub(d.prev) > r.MaxGap {
		d.pending = false // a gap breaks a pending run: no evidence it held
	}
	d.prev = s.TS
	raising := r.beyond(v, r.raiseLevel())
	clear := !r.beyond(v, r.Clear) && v != r.Clear
	switch {
	case !d.pending:
		if raising {
			d.cur, d.pending = Episode{Start: s.TS, Peak: v, Samples: 1}, true
			if r.MinRaise == 0 {
				r.trigger(&d.cur, s.TS, v)
				d.active = true
			}
		}
	case !d.active:
		if !raising {
			d.pending = false
			return Episode{}, false
		}
		d.cur.Samples++
		if r.worse(v, d.cur.Peak) {
			d.cur.Peak = v
		}
		if s.TS.Sub(d.cur.Start) >= r.MinRaise {
			r.trigger(&d.cur, s.TS, v)
			d.active = true
		}
	default:
		d.cur.Samples++
		if r.worse(v, d.cur.Peak) {
			d.cur.Peak = v
		}
		if lv := r.Level(v); lv > d.cur.Severity {
			d.cur.Severity, d.cur.Escalated = lv, s.TS
		}
		if !clear {
			d.clearAt = time.Time{}
			return Episode{}, false
		}
		if d.clearAt.IsZero() {
			d.clearAt = s.TS
		}
		if s.TS.Sub(d.clearAt) >= r.MinClear {
			e := d.cur
			e.Resolved = s.TS
			d.pending, d.active, d.clearAt = false, false, time.Time{}
			return e, true
		}
	}
	return Episode{}, false
}

// Current returns the run in progress (pending or triggered), if any.
func (d *Detector) Current() (Episode, bool) { return d.cur, d.pending }

// Open returns the triggered episode still open, if any.
func (d *Detector) Open() (Episode, bool) {
	if d.pending && d.active {
		return d.cur, true
	}
	return Episode{}, false
}

func (r *Rule) trigger(e *Episode, ts time.Time, v float64) {
	e.Triggered, e.TriggerValue = ts, v
	e.Severity = r.Level(v)
	// The run raised on the episode's worst value so far, which may be
	// worse than the triggering sample.
	if lv := r.Level(e.Peak); lv > e.Severity {
		e.Severity = lv
	}
	if e.Severity == None {
		e.Severity = Warning
	}
	e.First = e.Severity
}
