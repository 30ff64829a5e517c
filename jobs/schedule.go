package jobs

import (
	"math"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
)

// Capacity tests (IEEE 1188 / 450 practice, vrla-physics.md) are part of
// the string's operations, simulated with the fleet (jobs/fleet/ops.go):
// an acceptance test after commissioning (and after a whole-string
// replacement), then every 24 months (at most 25 % of the 10-year expected
// life), yearly once the measured capacity is below 90 %; ~3 % cancelled,
// 15 % late, postponed while a jar of the string has failed. Each test is
// simulated with the one capacity model of physics (physics.CCDischarge)
// from the string's true SOC at the start and the room model's ambient;
// the first jar at cutoff ends it, and the instrument reports it with its
// errors (fleet.CapCurrentErr, fleet.CapTimingErr). A result below 80 %
// gets jars (or the whole string) replaced.
//
// The telemetry stage draws the test discharges from the same list the
// transactions stage writes capacity_test_raw from, so both agree.

// CapacityTest is one scheduled string capacity test.
type CapacityTest = fleet.CapTest

// CutoffV is the end-of-discharge voltage per 12 V block at the test rates
// used here (1.75 V/cell).
const CutoffV = physics.CutoffV

// CapInstrumentErr is the documented relative error (1 σ) of a measured
// capacity: the current and run-time errors of the load bank and logger.
var CapInstrumentErr = math.Hypot(fleet.CapCurrentErr, fleet.CapTimingErr)

// dischargeTestEvents are the capacity-test discharges of s starting on
// day: the fleet's schedule (s.Tests, cancelled ones flagged) is the one
// list both telemetry and capacity_test_raw read, so they agree.
func dischargeTestEvents(s *fleet.String, day time.Time) []physics.Event {
	var out []physics.Event
	for _, ct := range s.Tests {
		if ct.Cancelled || !sameDay(ct.Start, day) {
			continue
		}
		out = append(out, physics.Event{Kind: physics.EventDischargeTest, Start: ct.Start, End: ct.End(), CurrentA: ct.CurrentA, Seq: uint32(100 + ct.Seq)})
	}
	return out
}

// lastCapacityTest is the date of the string's last completed test before
// the scenario end (string.last_capacity_test_date).
func lastCapacityTest(s *fleet.String) *time.Time {
	var last *time.Time
	for _, ct := range s.Tests {
		if !ct.Cancelled {
			d := ct.Start.Truncate(24 * time.Hour)
			last = &d
		}
	}
	return last
}

func sameDay(a, b time.Time) bool {
	return a.UTC().Truncate(24 * time.Hour).Equal(b.UTC().Truncate(24 * time.Hour))
}

func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}
