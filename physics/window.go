package physics

import "time"

// High-rate event windows (telemetry_event_window: 100-500 ms sampling).

// WindowStep is the sampling interval of an event kind's window: 100 ms for
// transfers, generator tests and surges (second-scale dynamics), 500 ms for
// capacity tests and equalize (minute-scale); 0 for kinds without a window.
func WindowStep(kind EventKind) time.Duration {
	switch kind {
	case EventTransfer, EventGeneratorTest, EventSurge:
		return 100 * time.Millisecond
	case EventDischargeTest, EventEqualize:
		return 500 * time.Millisecond
	}
	return 0
}

const (
	windowPre     = 10 * time.Second // before a transfer or surge
	windowPost    = 60 * time.Second // after the string stops discharging
	windowLongPre = time.Minute      // before a capacity test or equalize
	// Captures are capped at 15 min after the event's start: a whole 8 h
	// capacity test at 500 ms would be 57,600 samples per jar, and the
	// interesting part (the I·R0 step and the RC relaxation) is at the start.
	windowMax = 15 * time.Minute
)

// WindowBounds is the capture interval of an event's window, on the
// WindowStep grid: transfers, generator tests and surges from 10 s before
// the start to 60 s after the string stops discharging; capacity tests and
// equalize from 1 min before the start; all capped at 15 min after the
// start. Kinds without a window return (Start, Start).
func WindowBounds(ev Event) (start, end time.Time) {
	step := WindowStep(ev.Kind)
	if step == 0 {
		return ev.Start, ev.Start
	}
	switch ev.Kind {
	case EventDischargeTest, EventEqualize:
		start, end = ev.Start.Add(-windowLongPre), ev.Start.Add(windowMax)
	default:
		start, end = ev.Start.Add(-windowPre), ev.DischargeEnd().Add(windowPost)
		if lim := ev.Start.Add(windowMax); end.After(lim) {
			end = lim
		}
	}
	start = start.Truncate(step)
	if e := end.Truncate(step); e.Before(end) {
		end = e.Add(step)
	}
	return start, end
}
