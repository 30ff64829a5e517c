package jobs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/google/uuid"
)

// Planning one site: the visits, tests, jar events and work orders of a
// site's history (see transactions.go for the cadence).
// Planning one site

type siteTx struct {
	e       *Env
	site    *fleet.Site
	idx     int // canonical site index (work order numbering)
	strings []*fleet.String
	techs   []*fleet.User
	events  []*mEvent
	// instrument change: the site's ohmic tester is replaced once, at
	// instrSwitch (zero if never).
	instr       [2]string
	instrSwitch time.Time
	env         physics.EnvSpan
}

func planSite(e *Env, site *fleet.Site) *siteTx {
	st := &siteTx{e: e, site: site, idx: slices.Index(fleet.SiteCodes(), site.Code), techs: e.Fleet.Technicians(site.ID)}
	for _, s := range e.Fleet.Strings {
		if s.LocationID == site.ID {
			st.strings = append(st.strings, s)
		}
	}
	slices.SortFunc(st.strings, func(a, b *fleet.String) int { return strings.Compare(a.Code, b.Code) })
	if len(st.strings) == 0 {
		return st
	}
	r := physics.NewRand(e.Seed("ohmic-instrument", site.Code))
	k := r.IntN(len(ohmicInstruments))
	st.instr = [2]string{ohmicInstruments[k], ohmicInstruments[(k+1+r.IntN(len(ohmicInstruments)-1))%len(ohmicInstruments)]}
	if r.Float64() < 0.5 {
		// The tester is replaced 4-8 years after commissioning.
		st.instrSwitch = site.CommissionedDate.AddDate(4+r.IntN(5), r.IntN(12), 0)
	}

	st.planVisits()
	st.planCapacityTests()
	st.planJarEvents()
	st.assignWorkOrders()
	for _, ev := range st.events {
		st.finish(ev)
	}
	// Drop what the CMMS did not know at the snapshot.
	end := e.Scenario.End.Time
	st.events = slices.DeleteFunc(st.events, func(ev *mEvent) bool { return !ev.CreatedAt.Before(end) })
	slices.SortFunc(st.events, func(a, b *mEvent) int {
		if c := a.Scheduled.Compare(b.Scheduled); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return st
}

func (st *siteTx) instrument(t time.Time) string {
	if !st.instrSwitch.IsZero() && !t.Before(st.instrSwitch) {
		return st.instr[1]
	}
	return st.instr[0]
}

func (st *siteTx) id(label string) uuid.UUID {
	return fleet.ID(st.e.RootSeed, "maintenance_event", label)
}

// pickTech draws a technician with a platform account at t, an engineer
// when preferred and available; nil when nobody was hired yet (the work
// is then booked as done by a contractor).
func (st *siteTx) pickTech(r *rand.Rand, at time.Time, preferEngineer bool) *fleet.User {
	var pool, eng []*fleet.User
	for _, u := range st.techs {
		if u.CreatedAt.After(at) {
			continue
		}
		pool = append(pool, u)
		if u.Role == fleet.RoleEngineer {
			eng = append(eng, u)
		}
	}
	if preferEngineer && len(eng) > 0 {
		return eng[r.IntN(len(eng))]
	}
	if len(pool) == 0 {
		return nil
	}
	return pool[r.IntN(len(pool))]
}

func offWeekend(d time.Time) time.Time {
	switch d.Weekday() {
	case time.Saturday:
		return d.AddDate(0, 0, 2)
	case time.Sunday:
		return d.AddDate(0, 0, 1)
	}
	return d
}

func minutes(r *rand.Rand, lo, hi int) time.Duration {
	return time.Duration(lo+r.IntN(hi-lo+1)) * time.Minute
}

// planVisits lays out the monthly and quarterly visits from the first
// string's commissioning until the work orders the CMMS could have created
// by the scenario end.
func (st *siteTx) planVisits() {
	e := st.e
	end := e.Scenario.End.Time
	first := st.strings[0].InstalledDate
	for _, s := range st.strings {
		if s.InstalledDate.Before(first) {
			first = s.InstalledDate
		}
	}
	baseDay := 3 + physics.NewRand(e.Seed("visit-day", st.site.Code)).IntN(18) // 3..20
	horizon := end.AddDate(0, 0, pmLeadDays+1)
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); m.Before(horizon); m = m.AddDate(0, 1, 0) {
		month := lake.Month(m)
		r := physics.NewRand(e.Seed("visit", st.site.Code, month))
		day := offWeekend(m.AddDate(0, 0, baseDay-1+r.IntN(5)-2))
		st.visit(r, month, "monthly", day)
		if (m.Month()-1)%3 == 0 {
			qday := offWeekend(day.AddDate(0, 0, 1+r.IntN(2)))
			st.visit(physics.NewRand(e.Seed("visit", st.site.Code, month, "quarterly")), month, "quarterly", qday)
		}
	}
}

// visit plans one visit's events string by string from 09:00-10:00 ICT;
// quarterly work moves to the next working day after about seven hours.
func (st *siteTx) visit(r *rand.Rand, month, kind string, day time.Time) {
	slip := 0
	if r.Float64() < txLateShare {
		slip = 1 + r.IntN(txMaxLateDays)
	}
	tech := st.pickTech(r, day, kind == "quarterly")
	t := day.Add(2*time.Hour + minutes(r, 0, 60))
	dayStart := day
	for _, s := range st.strings {
		if !day.After(s.InstalledDate) {
			continue // the string is commissioned on or after the visit day
		}
		var types []string
		if kind == "monthly" {
			types = []string{evVisual, evVoltage}
			if m := monthOf(month); m.Month() == s.InstalledDate.Month() && m.Year() > s.InstalledDate.Year() {
				types = append(types, evTorque)
			}
		} else {
			types = []string{evThermal, evImpedance}
		}
		for _, typ := range types {
			var dur time.Duration
			switch typ {
			case evVisual:
				dur = minutes(r, 15, 30)
			case evVoltage:
				dur = minutes(r, 15, 25)
			case evTorque:
				dur = minutes(r, 45, 75)
			case evThermal:
				dur = minutes(r, 20, 35)
			case evImpedance:
				dur = minutes(r, 50, 70)
			}
			if kind == "quarterly" && t.Sub(dayStart) > 9*time.Hour {
				dayStart = offWeekend(dayStart.AddDate(0, 0, 1))
				t = dayStart.Add(2*time.Hour + minutes(r, 0, 30))
			}
			ev := &mEvent{
				ID:        st.id(fmt.Sprintf("%s/%s/%s", s.Code, typ, month)),
				Site:      st.site,
				String:    s,
				Type:      typ,
				Subtype:   visitSubtype(typ),
				Scheduled: t,
				Tech:      tech,
				woKey:     fmt.Sprintf("PM/%s/%s/%s", month, kind, typ),
				r:         physics.NewRand(st.e.Seed("maintenance_event", s.Code, typ, month)),
			}
			ev.start = t.AddDate(0, 0, slip)
			if slip > 0 {
				ev.start = ev.start.Add(minutes(r, -30, 90))
			}
			ev.done = ev.start.Add(dur)
			if r.Float64() < txCancelShare {
				ev.cancelled = true
				ev.cancelAt = t.Add(-time.Duration(r.Float64() * float64(48*time.Hour))).Truncate(time.Second)
			}
			ev.CreatedAt = pmCreated(t, s)
			st.events = append(st.events, ev)
			t = t.Add(dur + minutes(r, 5, 15))
		}
	}
}

func monthOf(month string) time.Time {
	m, _ := time.Parse("2006-01", month)
	return m
}

func visitSubtype(typ string) string {
	switch typ {
	case evVisual:
		return "monthly_visual"
	case evVoltage:
		return "monthly_float_voltage"
	case evTorque:
		return "annual_connection_torque"
	case evThermal:
		return "quarterly_ir_scan"
	case evImpedance:
		return "quarterly_ohmic"
	}
	return ""
}

// pmCreated: preventive work orders are generated pmLeadDays ahead at
// 01:00 ICT, never before the string exists in the platform.
func pmCreated(sched time.Time, s *fleet.String) time.Time {
	c := sched.Truncate(24*time.Hour).AddDate(0, 0, -pmLeadDays).Add(-6 * time.Hour)
	if c.Before(s.CreatedAt) {
		c = s.CreatedAt
	}
	if c.After(sched) {
		c = sched
	}
	return c
}

// planCapacityTests books the schedule's tests as events.
func (st *siteTx) planCapacityTests() {
	for _, s := range st.strings {
		tests := s.Tests
		for i := range tests {
			ct := &tests[i]
			r := physics.NewRand(st.e.Seed("maintenance_event", s.Code, evCapacity, fmt.Sprint(ct.Seq)))
			sub := "periodic_full_discharge"
			switch {
			case ct.Seq == 0:
				sub = "acceptance"
			case i > 0 && tests[i-1].Cancelled:
				sub = "rescheduled"
			}
			ev := &mEvent{
				ID:        st.id(fmt.Sprintf("%s/%s/%d", s.Code, evCapacity, ct.Seq)),
				Site:      st.site,
				String:    s,
				Type:      evCapacity,
				Subtype:   sub,
				Scheduled: ct.Scheduled,
				Tech:      st.pickTech(r, ct.Scheduled, true),
				woKey:     fmt.Sprintf("CT/%s/%d", s.Code, ct.Seq),
				test:      ct,
				r:         r,
				start:     ct.Start,
				done:      ct.End(),
				cancelled: ct.Cancelled,
			}
			ev.CreatedAt = ct.Scheduled.AddDate(0, 0, -30)
			if ev.CreatedAt.Before(s.CreatedAt) {
				ev.CreatedAt = s.CreatedAt
			}
			if ct.Cancelled {
				ev.cancelAt = ct.Scheduled.Add(-time.Duration(r.Float64() * float64(72*time.Hour))).Truncate(time.Second)
			} else {
				ev.testMin = ct.MeasuredMin // the logger's reading (fleet.CapTest)
			}
			st.events = append(st.events, ev)
		}
	}
}

// planJarEvents books a corrective event after each sudden failure of a jar
// still in its string and a replacement event for every jar that replaced
// another.
func (st *siteTx) planJarEvents() {
	e := st.e
	end := e.Scenario.End.Time
	correctiveOf := map[uuid.UUID]*mEvent{}
	for _, s := range st.strings {
		for _, b := range e.Fleet.StringJars(s.ID) {
			l := &b.Life
			if l.Failure == physics.FailureNone || !l.FailureAt.Before(end) {
				continue
			}
			if !b.Removed.IsZero() && !l.FailureAt.Before(b.Removed) {
				continue // worn out and replaced before the sudden event
			}
			r := physics.NewRand(e.Seed("maintenance_event", b.Code, evCorrective))
			detect := l.FailureAt.Add(time.Duration(10+r.IntN(50)) * time.Minute)
			sched := detect.Add(time.Duration(1+r.IntN(35)) * time.Hour).Truncate(time.Minute)
			if !b.Removed.IsZero() && !sched.Before(b.Removed) {
				if b.Removed.Sub(detect) < time.Hour {
					continue // found only while swapping the worn-out jar
				}
				sched = detect.Add(b.Removed.Sub(detect) / 2).Truncate(time.Minute)
			}
			ev := &mEvent{
				ID:        st.id(b.Code + "/" + evCorrective),
				Site:      st.site,
				String:    s,
				Battery:   b,
				Type:      evCorrective,
				Subtype:   l.Failure.String(),
				Scheduled: sched,
				Tech:      st.pickTech(r, sched, true),
				woKey:     "CM/" + b.Code,
				r:         r,
				start:     sched,
				CreatedAt: detect,
			}
			ev.done = sched.Add(minutes(r, 60, 240))
			if !b.Removed.IsZero() && !ev.done.Before(b.Removed) {
				ev.done = sched.Add(b.Removed.Sub(sched) / 2).Truncate(time.Second)
			}
			correctiveOf[b.ID] = ev
			st.events = append(st.events, ev)
		}
	}
	for _, s := range st.strings {
		for _, b := range e.Fleet.StringJars(s.ID) {
			if b.ReplacementOf == nil {
				continue
			}
			old := e.Fleet.BatteryByID[*b.ReplacementOf]
			r := physics.NewRand(e.Seed("maintenance_event", b.Code, evReplace))
			sched := b.InstalledDate.Add(2*time.Hour + minutes(r, 0, 360))
			ev := &mEvent{
				ID:        st.id(b.Code + "/" + evReplace),
				Site:      st.site,
				String:    s,
				Battery:   b,
				Type:      evReplace,
				Scheduled: sched,
				Tech:      st.pickTech(r, sched, true),
				woKey:     "RP/" + b.Code,
				r:         r,
				start:     sched,
			}
			ev.done = sched.Add(minutes(r, 45, 150))
			// The work order is raised when the evidence was observed (a
			// test, a survey, an inspection, an alarm: fleet ops.go).
			ev.CreatedAt = old.FlaggedAt.Truncate(time.Second)
			if ev.CreatedAt.IsZero() || ev.CreatedAt.Before(old.InstalledDate) {
				ev.CreatedAt = sched
			}
			ev.Subtype = replacementSubtype(old.RemovalReason)
			if c, ok := correctiveOf[old.ID]; ok && old.RemovalReason == fleet.ReasonFailure {
				ev.woKey = c.woKey
				if c.CreatedAt.Before(ev.CreatedAt) {
					ev.CreatedAt = c.CreatedAt.Add(time.Duration(r.IntN(3600)) * time.Second)
				}
			}
			if ev.CreatedAt.After(sched) {
				ev.CreatedAt = sched
			}
			st.events = append(st.events, ev)
		}
	}
}

// assignWorkOrders numbers the site's work orders per year in creation
// order: WO-YYYY-NNNNNN with NNNNNN = sequence·9 + canonical site index, so
// numbers look like one fleet-wide CMMS sequence yet depend only on the
// site's own history.
func (st *siteTx) assignWorkOrders() {
	created := map[string]time.Time{}
	for _, ev := range st.events {
		if c, ok := created[ev.woKey]; !ok || ev.CreatedAt.Before(c) {
			created[ev.woKey] = ev.CreatedAt
		}
	}
	keys := make([]string, 0, len(created))
	for k := range created {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := created[a].Compare(created[b]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	number := map[string]string{}
	seq := map[int]int{}
	n := len(fleet.SiteCodes())
	for _, k := range keys {
		y := created[k].Year()
		seq[y]++
		number[k] = fmt.Sprintf("WO-%d-%06d", y, seq[y]*n+st.idx)
	}
	for _, ev := range st.events {
		ev.WorkOrder = number[ev.woKey]
	}
}

// finish sets the status as of the scenario end, the timestamps, the
// impedance readings and the notes.
func (st *siteTx) finish(ev *mEvent) {
	end := st.e.Scenario.End.Time
	if ev.cancelled && ev.cancelAt.Before(ev.CreatedAt) {
		ev.cancelAt = ev.CreatedAt
	}
	switch {
	case ev.cancelled && ev.cancelAt.Before(end):
		ev.Status, ev.UpdatedAt = stCancelled, ev.cancelAt
	case ev.cancelled:
		ev.Status, ev.UpdatedAt = stScheduled, ev.CreatedAt
	case ev.closed().Before(end):
		ev.Status, ev.Completed, ev.UpdatedAt = stCompleted, ev.done, ev.closed()
	case ev.Scheduled.Before(end):
		// Due before the snapshot and not closed: the work order is open
		// (slipped, under way, or done with the report still to file).
		ev.Status, ev.UpdatedAt = stInProgress, ev.Scheduled
		if ev.start.Before(end) {
			ev.UpdatedAt = ev.start
		}
	default:
		ev.Status, ev.UpdatedAt = stScheduled, ev.CreatedAt
	}
	if ev.Type == evImpedance && (ev.Status == stCompleted || ev.Status == stInProgress) {
		st.measure(ev)
	}
	switch ev.Status {
	case stCancelled:
		ev.Notes = cancelReasons[ev.r.IntN(len(cancelReasons))]
		if ev.test != nil && ev.test.CancelReason != "" {
			ev.Notes = ev.test.CancelReason
		}
	case stCompleted:
		ev.Notes = st.notes(ev)
		if ev.Tech == nil {
			ev.Notes = "Performed by contractor (no platform account). " + ev.Notes
		}
	}
}

// closed is when the technician closes the work order in the CMMS: right
// after the work for 60 % of events, otherwise 2-72 h later (report to
// write, readings to upload). Until then the event is in_progress.
func (ev *mEvent) closed() time.Time {
	r := physics.NewRand(physics.Mix(IDSeed(ev.ID), physics.HashString("close")))
	if r.Float64() < 0.6 {
		return ev.done.Add(time.Duration(r.IntN(1800)) * time.Second)
	}
	return ev.done.Add(time.Duration(2*3600+r.IntN(70*3600)) * time.Second)
}

var cancelReasons = []string{
	"Cancelled: customer change freeze on the data hall.",
	"Cancelled: site access restricted during customer audit.",
	"Cancelled: technician reassigned to outage response.",
	"Cancelled: load transfer not approved by operations.",
	"Cancelled: duplicate work order, covered by next visit.",
	"Cancelled: generator maintenance window took priority.",
}

// roomAt evaluates the site's room model (physics.BuildEnvSpan) from t at
// step: TempC is the room, LagC a jar's thermally lagged ambient.
func (st *siteTx) roomAt(t time.Time, step time.Duration, n int) *physics.EnvSpan {
	physics.BuildEnvSpan(&st.env, st.e.siteSeed(st.site), st.site.Climate, t.Truncate(time.Second), step, max(n, 1))
	return &st.env
}

// jarTempOffset is a jar's steady float self-heating above its lagged
// ambient (0.3-0.8 °C), per jar.
func (st *siteTx) jarTempOffset(b *fleet.Battery) float64 {
	return 0.3 + 0.5*physics.Unit(st.e.Seed("jar-temp-offset", b.Code), 0)
}

// measure takes the ohmic readings of an impedance_test event: every jar
// in the string that day, in position order, before the scenario end.
func (st *siteTx) measure(ev *mEvent) {
	e := st.e
	end := e.Scenario.End.Time
	jars := e.Fleet.StringJarsOn(ev.String.ID, ev.start)
	r := physics.NewRand(e.Seed("impedance", ev.String.Code, lake.Month(ev.Scheduled)))
	times := make([]time.Time, len(jars))
	t := ev.start.Add(time.Duration(60+r.IntN(240)) * time.Second)
	for i := range jars {
		times[i] = t
		t = t.Add(time.Duration(impJarStepMinS+r.IntN(impJarStepMaxS-impJarStepMinS+1)) * time.Second)
	}
	if len(jars) == 0 {
		return
	}
	step := times[len(times)-1].Sub(times[0]) / time.Duration(max(len(jars)-1, 1))
	env := st.roomAt(times[0], max(step, time.Second), len(jars))
	month := lake.Month(ev.Scheduled)
	for i, b := range jars {
		at := times[i]
		if !at.Before(end) || !b.ActiveOn(at) {
			continue
		}
		heat, _ := b.Life.Precursor(at)
		temp := round(float64(env.LagC[i])+st.jarTempOffset(b)+heat, 1)
		// The reading the fleet's survey decided on (fleet.OhmicZ).
		z := fleet.OhmicZ(e.RootSeed, b.Code, month)
		rm := round(b.Life.ResistanceMOhm(at)*physics.ResistanceTempFactor(temp)*(1+impNoiseRel*z), 3)
		ev.readings = append(ev.readings, &impReading{
			ID:         fleet.ID(e.RootSeed, "impedance_measurement", b.Code+"/"+month),
			Battery:    b,
			Event:      ev,
			MeasuredAt: at,
			RMOhm:      rm,
			GS:         round(1000/rm, 5),
			TempC:      temp,
			Instrument: st.instrument(at),
		})
	}
}
