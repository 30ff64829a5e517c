package jobs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Transactions (phase 3): maintenance_event, capacity_test_raw (with one
// capacity_test_curve blob per test), impedance_measurement_raw and
// audit_log, one job per table, one partition per calendar month.
//
// History runs from each string's commissioning to the scenario end. The
// whole history of a site is planned once per Env (siteTx) from seeds
// derived from the root and the entity or visit, never from a run-wide
// sequence, so any month written alone equals the same month of a full run
// and a re-run writes the same bytes.
//
// Maintenance cadence (IEEE 1188, vrla-physics.md "Operation and
// maintenance"), per site:
//   - monthly visit (a site-specific day of the month, ±2 days, moved off
//     weekends, from 09:00 ICT): per string one visual_inspection and one
//     voltage_measurement; the annual torque_check of a string (connection
//     verification) rides on the visit in its commissioning-anniversary month;
//   - quarterly visit (January, April, July, October, one to two days after
//     the monthly visit; about four strings a day): per string one
//     thermal_survey and ONE impedance_test event. The per-jar ohmic readings
//     of impedance_measurement_raw all reference their string's impedance_test
//     event of that quarter (the seed's event is per string or per battery;
//     a per-string event per visit is how a CMMS books a string's ohmic survey);
//   - capacity_test: exactly the schedule of schedule.go (e.CapacityTests),
//     the one telemetry injects as discharges; cancelled tests (operational,
//     or postponed because a jar of the string had failed) are events with
//     status cancelled and have no capacity_test_raw row;
//   - corrective: after a sudden failure (Life.FailureAt) of a jar still in
//     its string, 1-36 h after the alarm, before the replacement;
//   - replacement: for every battery with ReplacementOf, on its InstalledDate
//     (the day the previous jar left), battery_id = the new jar. After a
//     failure it shares the corrective event's work order.
//
// Statuses are as of the scenario end (the snapshot): a visit slips by 1-10
// days with probability txLateShare (completed_date days after
// scheduled_date); an event is cancelled with probability txCancelShare
// (completed_date NULL). Preventive work orders are generated pmLeadDays
// before their scheduled date, so events planned in the first weeks after
// the end are in the lake with status `scheduled` (maintenance_event plans
// their month in addition to the history months). An event due before the
// end but not yet closed is `in_progress`: slipped, under way, or done with
// the report not yet filed (a technician closes the work order right after
// the work 60 % of the time, otherwise 2-72 h later; see closed). Events
// whose work order did not exist yet at the end are not in the lake.
//
// No photos or IR images are synthesized: photo_urls and ir_scan_url are
// NULL (the seed allows it) rather than pointing at objects that do not
// exist.

func transactionJobs(e *Env) []pipeline.Job {
	return []pipeline.Job{
		e.maintenanceJob(),
		e.capacityTestJob(),
		e.impedanceJob(),
		e.auditJob(),
	}
}

// Documented synthesis parameters.
const (
	// txCancelShare of routine events are cancelled (2-3 %).
	txCancelShare = 0.025
	// txLateShare of visits slip by 1..txMaxLateDays days (within the
	// two-week window IEEE practice tolerates for quarterly readings).
	txLateShare   = 0.10
	txMaxLateDays = 10
	// pmLeadDays: the CMMS creates preventive work orders this long before
	// their scheduled date.
	pmLeadDays = 21

	// Impedance meters: relative noise σ 1 %, truncated at 3σ (a handheld
	// ohmic tester's stated accuracy is a few per cent); the jar's
	// resistance at its temperature follows physics.ResistanceTempFactor
	// (colder reads higher), the same curve as the BMS telemetry:
	// R_meas = R25 · f(T) · (1 + σ·z).
	impNoiseRel = fleet.OhmicNoiseRel
	// A technician walks the string: one jar every 110-150 s.
	impJarStepMinS, impJarStepMaxS = 110, 150

	// capacity_test_curve: one point per minute plus the cutoff point.
	curveStep = time.Minute
	// The test logger's voltage channels: 5 mV noise and a ±5 mV (1 σ)
	// offset per channel (estimates).
	curveNoiseV  = 0.005
	curveOffsetV = 0.005
)

// Ohmic testers per site (realistic handheld models).
var ohmicInstruments = []string{
	"Midtronics Celltron Ultra",
	"Hioki BT3554-50",
	"Fluke BT521",
	"Megger BITE3",
	"Midtronics CTU-6000",
}

// maintenance_event types.
const (
	evVisual     = "visual_inspection"
	evVoltage    = "voltage_measurement"
	evThermal    = "thermal_survey"
	evTorque     = "torque_check"
	evCapacity   = "capacity_test"
	evImpedance  = "impedance_test"
	evReplace    = "replacement"
	evCorrective = "corrective"

	stScheduled  = "scheduled"
	stInProgress = "in_progress"
	stCompleted  = "completed"
	stCancelled  = "cancelled"
)

// mEvent is one maintenance_event row plus what the other tables need.
type mEvent struct {
	ID        uuid.UUID
	Site      *fleet.Site
	String    *fleet.String
	Battery   *fleet.Battery // nil for string-level events
	Type      string
	Subtype   string
	Scheduled time.Time
	Completed time.Time // zero = NULL
	Tech      *fleet.User
	Status    string
	WorkOrder string
	Notes     string
	CreatedAt time.Time
	UpdatedAt time.Time

	// not columns
	start     time.Time // actual start (scheduled + slip)
	done      time.Time // actual end
	cancelled bool
	cancelAt  time.Time
	woKey     string
	test      *CapacityTest // capacity_test events
	testMin   float64       // measured duration (min) of a capacity test
	readings  []*impReading // impedance_test events
	r         *rand.Rand    // per-event stream for notes
}

// impReading is one impedance_measurement_raw row.
type impReading struct {
	ID         uuid.UUID
	Battery    *fleet.Battery
	Event      *mEvent
	MeasuredAt time.Time
	RMOhm      float64 // 3 decimals
	GS         float64 // 5 decimals
	TempC      float64 // 1 decimal
	Instrument string
}

// txData is the planned history of every site of the fleet.
type txData struct {
	sites      []*siteTx
	evByMonth  map[string][]*mEvent     // sorted as maintenance_event
	impByMonth map[string][]*impReading // sorted as impedance_measurement_raw
	testEvent  map[*fleet.String]map[int]*mEvent
}

type txCache struct {
	once sync.Once
	d    *txData
}

// tx plans (once per Env) the transactional history of every site.
func (e *Env) tx() *txData {
	c := &e.caches.tx
	c.once.Do(func() { c.d = e.buildTx() })
	return c.d
}

func (e *Env) buildTx() *txData {
	d := &txData{evByMonth: map[string][]*mEvent{}, impByMonth: map[string][]*impReading{}, testEvent: map[*fleet.String]map[int]*mEvent{}}
	for _, site := range e.Fleet.Sites {
		st := e.planSite(site)
		d.sites = append(d.sites, st)
		for _, ev := range st.events {
			m := lake.Month(ev.Scheduled)
			d.evByMonth[m] = append(d.evByMonth[m], ev)
			if ev.test != nil {
				if d.testEvent[ev.String] == nil {
					d.testEvent[ev.String] = map[int]*mEvent{}
				}
				d.testEvent[ev.String][ev.test.Seq] = ev
			}
			for _, r := range ev.readings {
				m := lake.Month(r.MeasuredAt)
				d.impByMonth[m] = append(d.impByMonth[m], r)
			}
		}
	}
	for _, evs := range d.evByMonth {
		slices.SortFunc(evs, func(a, b *mEvent) int {
			if c := bytes.Compare(a.Site.ID[:], b.Site.ID[:]); c != 0 {
				return c
			}
			if c := a.Scheduled.Compare(b.Scheduled); c != 0 {
				return c
			}
			return bytes.Compare(a.ID[:], b.ID[:])
		})
	}
	for _, rs := range d.impByMonth {
		slices.SortFunc(rs, func(a, b *impReading) int {
			if c := bytes.Compare(a.Battery.ID[:], b.Battery.ID[:]); c != 0 {
				return c
			}
			if c := a.MeasuredAt.Compare(b.MeasuredAt); c != 0 {
				return c
			}
			return bytes.Compare(a.ID[:], b.ID[:])
		})
	}
	return d
}

// ---------------------------------------------------------------------------
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

func (e *Env) planSite(site *fleet.Site) *siteTx {
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
		tests := st.e.CapacityTests(s)
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
				ev.testMin = st.e.measuredTestMinutes(s, *ct)
			}
			st.events = append(st.events, ev)
		}
	}
}

// measuredTestMinutes is the instrument's reading of a test's duration
// (schedule.go: the true duration with the logger's timing error, rounded
// to 0.1 min).
func (e *Env) measuredTestMinutes(_ *fleet.String, ct CapacityTest) float64 { return ct.MeasuredMin }

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
func (e *Env) jarTempOffset(b *fleet.Battery) float64 {
	return 0.3 + 0.5*physics.Unit(e.Seed("jar-temp-offset", b.Code), 0)
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
		temp := round(float64(env.LagC[i])+e.jarTempOffset(b)+heat, 1)
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

// ---------------------------------------------------------------------------
// Notes: technician language driven by the true state of the string.

func jarLabel(b *fleet.Battery) string { return fmt.Sprintf("J%02d", b.Position) }

func (st *siteTx) notes(ev *mEvent) string {
	switch ev.Type {
	case evVisual:
		return st.visualNotes(ev)
	case evVoltage:
		return st.voltageNotes(ev)
	case evThermal:
		return st.thermalNotes(ev)
	case evTorque:
		return st.torqueNotes(ev)
	case evImpedance:
		return st.impedanceNotes(ev)
	case evCapacity:
		return st.capacityNotes(ev)
	case evCorrective:
		return correctiveNotes(ev)
	case evReplace:
		return st.replacementNotes(ev)
	}
	return ""
}

func (st *siteTx) visualNotes(ev *mEvent) string {
	r, t := ev.r, ev.start
	var finds []string
	for _, b := range st.e.Fleet.StringJarsOn(ev.String.ID, t) {
		l := &b.Life
		heat, _ := l.Precursor(t)
		j := jarLabel(b)
		switch {
		case l.Failed(t) && l.Failure == physics.FailureThermalRunaway:
			finds = append(finds, fmt.Sprintf("Jar %s casing bulged and hot to touch, flagged for replacement.", j))
		case l.Failed(t) && l.Failure == physics.FailureDryOut:
			finds = append(finds, fmt.Sprintf("Jar %s casing warm, slight electrolyte odour near vent, flagged for replacement.", j))
		case l.Failed(t):
			finds = append(finds, fmt.Sprintf("Jar %s no visible damage but string alarm active on it, flagged for replacement.", j))
		case heat > 2:
			finds = append(finds, fmt.Sprintf("Jar %s casing slightly warm to touch, monitoring.", j))
		}
	}
	// Swollen cases the string's inspections found this month (the same
	// findings that got jars replaced; fleet ops.go), right or wrong.
	for _, fd := range ev.String.Findings {
		if lake.Month(fd.At) == lake.Month(t) && fd.Jar.ActiveOn(t) {
			finds = append(finds, fmt.Sprintf("Jar %s case swelling observed, replacement requested.", jarLabel(fd.Jar)))
		}
	}
	if len(finds) > 0 {
		return strings.Join(finds, " ")
	}
	routine := []string{
		"No abnormalities found. Jars clean, no leaks or swelling, vents clear.",
		"Visual check OK. No corrosion, cabling and terminal covers in place.",
		"All jars inspected, no leaks, cracks or bulging. Rack and spill tray clean.",
		"Nothing to report; enclosure clean and ventilation unobstructed.",
	}
	switch u := r.Float64(); {
	case u < 0.12:
		return fmt.Sprintf("Light corrosion on J%02d positive terminal, cleaned and anti-oxidant applied.", 1+r.IntN(ev.String.BatteriesCount))
	case u < 0.20:
		return "Dust accumulation on jar tops, cleaned. Otherwise no abnormalities."
	case u < 0.24:
		return fmt.Sprintf("J%02d terminal cover missing, replaced. No other findings.", 1+r.IntN(ev.String.BatteriesCount))
	default:
		return routine[r.IntN(len(routine))]
	}
}

func (st *siteTx) voltageNotes(ev *mEvent) string {
	r, t := ev.r, ev.start
	spec := st.e.Fleet.ModelByID[ev.String.ModelID].Spec
	env := st.roomAt(t, time.Minute, 1)
	room := float64(env.TempC[0])
	float := (spec.FloatMinV+spec.FloatMaxV)/2 - 0.018*(room-25)
	jars := st.e.Fleet.StringJarsOn(ev.String.ID, t)
	vs := make([]float64, len(jars))
	sum := 0.0
	for i, b := range jars {
		_, drift := b.Life.Precursor(t)
		v := float + 0.015*r.NormFloat64() + drift
		if b.Life.Failed(t) {
			switch b.Life.Failure {
			case physics.FailureOpenCell, physics.FailureDryOut: // the dry-out ended in an open cell
				v -= 1.8
			case physics.FailureShort:
				v -= 2.1
			case physics.FailureThermalRunaway:
				v -= 0.30
			}
		}
		vs[i] = v
		sum += v
	}
	if len(jars) == 0 {
		return "String out of service."
	}
	mean := sum / float64(len(jars))
	worst, wi := 0.0, 0
	for i, v := range vs {
		if d := math.Abs(v - mean); d > worst {
			worst, wi = d, i
		}
	}
	s := fmt.Sprintf("String float %.1f V (avg %.2f V/jar), room %.1f °C.", sum, mean, room)
	if worst > 0.1 {
		dir := "below"
		if vs[wi] > mean {
			dir = "above"
		}
		return s + fmt.Sprintf(" Jar %s at %.2f V, %.2f V %s string mean — flagged to engineering.", jarLabel(jars[wi]), vs[wi], worst, dir)
	}
	return s + fmt.Sprintf(" All jars within ±%.2f V of mean, charger output and float current normal.", math.Max(0.01, math.Ceil(worst*100)/100))
}

func (st *siteTx) thermalNotes(ev *mEvent) string {
	r, t := ev.r, ev.start
	env := st.roomAt(t, time.Minute, 1)
	room := float64(env.TempC[0])
	hot, hi := 0.0, -1
	jars := st.e.Fleet.StringJarsOn(ev.String.ID, t)
	for i, b := range jars {
		heat, _ := b.Life.Precursor(t)
		if b.Life.Failed(t) && b.Life.Failure == physics.FailureThermalRunaway {
			heat = 12
		}
		d := 0.4 + 0.8*r.Float64() + heat
		if d > hot {
			hot, hi = d, i
		}
	}
	if hi < 0 {
		return "String out of service."
	}
	j := jarLabel(jars[hi])
	switch {
	case hot >= 5:
		return fmt.Sprintf("IR scan: hot spot on %s at %.1f °C, %.1f °C above ambient %.1f °C — escalated to engineering, float current check requested.", j, room+hot, hot, room)
	case hot >= 3:
		return fmt.Sprintf("IR scan: %s %.1f °C above ambient (%.1f °C), recheck at next visit.", j, hot, room)
	case r.Float64() < 0.06:
		k := 1 + r.IntN(ev.String.BatteriesCount-1)
		return fmt.Sprintf("IR scan: connector J%02d-J%02d 2-3 °C warmer than neighbours, retorqued; jars max %.1f °C (ΔT %.1f °C).", k, k+1, room+hot, hot)
	}
	return fmt.Sprintf("IR scan of %d jars and connections: max %.1f °C on %s, ΔT %.1f °C over ambient. No hot connections.", len(jars), room+hot, j, hot)
}

func (st *siteTx) torqueNotes(ev *mEvent) string {
	r := ev.r
	n := ev.String.BatteriesCount
	spec := "11 N·m"
	if strings.HasPrefix(st.e.Fleet.ModelByID[ev.String.ModelID].Name, "HR") {
		spec = "12 N·m"
	}
	switch u := r.Float64(); {
	case u < 0.2:
		return fmt.Sprintf("Terminal J%02d retorqued to spec (%s). All other %d connections OK.", 1+r.IntN(n), spec, 2*n-1)
	case u < 0.3:
		a := 1 + r.IntN(n)
		b := 1 + (a+r.IntN(n-1))%n
		return fmt.Sprintf("Terminals J%02d and J%02d found below torque, retorqued to %s. Connection resistance rechecked OK.", a, b, spec)
	}
	return fmt.Sprintf("All %d terminal connections verified at %s, intercell connection resistance within limits.", 2*n, spec)
}

func (st *siteTx) impedanceNotes(ev *mEvent) string {
	if len(ev.readings) == 0 {
		return "No readings recorded."
	}
	worst, wr := -1.0, ev.readings[0]
	for _, x := range ev.readings {
		rise := x.RMOhm/x.Battery.InitialResistanceMOhm - 1
		if rise > worst {
			worst, wr = rise, x
		}
	}
	s := fmt.Sprintf("Ohmic readings recorded for %d jars (%s).", len(ev.readings), wr.Instrument)
	j := jarLabel(wr.Battery)
	pct := math.Round(worst * 100)
	switch {
	case worst >= 0.5:
		return s + fmt.Sprintf(" %s at %.3f mΩ, %+.0f %% over baseline — recommend replacement.", j, wr.RMOhm, pct)
	case worst >= 0.2:
		return s + fmt.Sprintf(" %s at %.3f mΩ, %+.0f %% over baseline, above 20 %% investigation threshold.", j, wr.RMOhm, pct)
	}
	return s + fmt.Sprintf(" All jars within %+.0f %% of commissioning baseline.", math.Max(pct, 1))
}

func (st *siteTx) capacityNotes(ev *mEvent) string {
	ct := ev.test
	h := int(ev.testMin) / 60
	m := ev.testMin - float64(60*h)
	// The technician's figure: the measured capacity against rated at this
	// rate and 25 °C (IEEE 450), from the measured current and duration.
	pct := ct.RatedPct
	s := fmt.Sprintf("Discharge at %.1f A to %.2f V string cutoff, ambient %.1f °C. Jar %s reached %.2f V first, after %d h %04.1f min; string capacity %.1f %% of rated (rate and temperature corrected).",
		ct.MeasuredA, CutoffV*float64(ev.String.BatteriesCount), ct.AmbientC, jarLabel(ct.Weakest), CutoffV, h, m, pct)
	switch {
	case pct < 80:
		return s + " Below 80 % end-of-life criterion: replacement of weak jars requested."
	case pct < 90:
		return s + " Below 90 %: annual testing from now on."
	}
	return s + " Result acceptable."
}

func correctiveNotes(ev *mEvent) string {
	j := jarLabel(ev.Battery)
	switch ev.Battery.Life.Failure {
	case physics.FailureDryOut:
		return fmt.Sprintf("String open alarm traced to jar %s: ohmic value had been rising for months, casing warm, now open circuit. Suspected dry-out; jar bypassed, replacement ordered.", j)
	case physics.FailureShort:
		return fmt.Sprintf("Jar %s reads about 2 V low on float and runs warm: shorted cell. Jar isolated, replacement ordered.", j)
	case physics.FailureOpenCell:
		return fmt.Sprintf("String voltage alarm traced to jar %s open cell (no voltage under load). Jar bypassed, string on reduced autonomy, replacement ordered.", j)
	case physics.FailureThermalRunaway:
		return fmt.Sprintf("High temperature alarm: jar %s casing bulged, well above ambient, float current high. Charger reduced to safe float, jar isolated, replacement ordered.", j)
	}
	return fmt.Sprintf("Corrective work on jar %s.", j)
}

// replacementSubtype is the event_subtype of a replacement for the
// evidence that got the old jar replaced.
func replacementSubtype(reason string) string {
	switch reason {
	case fleet.ReasonFailure:
		return "failure_replacement"
	case fleet.ReasonString:
		return "string_replacement"
	case fleet.ReasonCapacity:
		return "capacity_replacement"
	case fleet.ReasonOhmic:
		return "ohmic_replacement"
	case fleet.ReasonSwelling:
		return "swelling_replacement"
	}
	return "replacement"
}

func (st *siteTx) replacementNotes(ev *mEvent) string {
	b := ev.Battery
	old := st.e.Fleet.BatteryByID[*b.ReplacementOf]
	// What the operator saw, as it was recorded (it can be wrong: a false
	// swelling finding, a whole string with good jars in it).
	reason := old.Evidence
	if reason == "" {
		reason = "replacement"
	}
	return fmt.Sprintf("Replaced jar %s: SN %s out, SN %s in; old jar %s. Terminals torqued, new jar float voltage checked.",
		jarLabel(b), old.SerialNumber, b.SerialNumber, reason)
}

// ---------------------------------------------------------------------------
// maintenance_event

func (e *Env) maintenanceJob() pipeline.Job {
	t := schema.MustLookup("maintenance_event")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "transactions", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		d := e.tx()
		months := map[string]bool{}
		for _, ms := range e.historyMonths() {
			months[ms.Month] = true
		}
		for m := range d.evByMonth {
			months[m] = true
		}
		keys := make([]string, 0, len(months))
		for m := range months {
			keys = append(keys, m)
		}
		slices.Sort(keys)
		var tasks []pipeline.Task
		for _, m := range keys {
			evs := d.evByMonth[m]
			start, _ := time.Parse("2006-01", m)
			seg := e.historySegment(lake.MonthSpan{Month: m, From: start}, historySettle)
			tasks = append(tasks, rowTask(e, t.Name, lake.MustPartition(t, m, -1), int64(len(evs))+1, []lake.Segment{seg},
				func(ctx context.Context, s *RowSink, _ lake.Segment) error { return emitEvents(s, evs) }))
		}
		return tasks, nil
	}}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func emitEvents(s *RowSink, evs []*mEvent) error {
	for _, ev := range evs {
		if err := s.Add(func(b *parquetio.RowBuilder) {
			b.Set("event_id", ev.ID).Set("string_id", ev.String.ID).Set("location_id", ev.Site.ID).
				Set("event_type", ev.Type).Set("event_subtype", nullable(ev.Subtype)).
				Set("scheduled_date", ev.Scheduled).Set("completed_date", ev.Completed).
				Set("status", ev.Status).Set("work_order_id", ev.WorkOrder).Set("notes", nullable(ev.Notes)).
				Set("photo_urls", nil).Set("ir_scan_url", nil).
				Set("created_at", ev.CreatedAt).Set("updated_at", ev.UpdatedAt)
			if ev.Battery != nil {
				b.Set("battery_id", ev.Battery.ID)
			}
			if ev.Tech != nil {
				b.Set("technician_id", ev.Tech.ID)
			}
		}); err != nil {
			return fmt.Errorf("event %s: %w", ev.ID, err)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// capacity_test_raw + capacity_test_curve blobs

// TestID is the capacity_test_raw key of a scheduled test.
func (e *Env) TestID(s *fleet.String, ct CapacityTest) uuid.UUID {
	return fleet.ID(e.RootSeed, "capacity_test", fmt.Sprintf("%s/%d", s.Code, ct.Seq))
}

func (e *Env) capacityTestJob() pipeline.Job {
	t := schema.MustLookup("capacity_test_raw")
	ct := schema.MustLookup("capacity_test_curve")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "transactions", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		var tasks []pipeline.Task
		for _, ms := range e.historyMonths() {
			p := lake.MustPartition(t, ms.Month, -1)
			month := ms.Month
			tasks = append(tasks, pipeline.Task{Partition: p, Meta: e.meta(t.Name, p), Segments: []lake.Segment{e.historySegment(ms, historySettle)}, Weight: int64(len(e.Fleet.Strings)) * 100,
				Run: func(ctx context.Context, o *lake.Output) error { return e.writeCapacityTests(ctx, o, t, ct, month) }})
		}
		return tasks, nil
	}}
}

func (e *Env) writeCapacityTests(ctx context.Context, o *lake.Output, t, curveT *schema.Table, month string) error {
	d := e.tx()
	rw, err := parquetio.NewRowWriter(o.Data(), t)
	if err != nil {
		return err
	}
	sink := NewRowSink(rw, t)
	for _, s := range e.stringsByID() {
		tests := e.CapacityTests(s)
		for i := range tests {
			ct := tests[i]
			if ct.Cancelled || lake.Month(ct.Start) != month {
				continue
			}
			ev := d.testEvent[s][ct.Seq]
			if ev == nil {
				return fmt.Errorf("capacity test %s/%d has no maintenance event", s.Code, ct.Seq)
			}
			id := e.TestID(s, ct)
			key := o.BlobKey(id.String())
			if err := o.WriteBlob(key, func(w io.Writer) (int64, error) { return e.writeCapacityCurve(w, curveT, s, ct, id) }); err != nil {
				return err
			}
			spec := e.Fleet.ModelByID[s.ModelID].Spec
			notes := fmt.Sprintf("Constant-current discharge, C/%.0f. Weakest jar %s (%s); all other jars above cutoff at end of test.",
				spec.CapacityAh/ct.CurrentA, jarLabel(ct.Weakest), ct.Weakest.Code)
			if err := sink.Add(func(b *parquetio.RowBuilder) {
				b.Set("test_id", id).Set("string_id", s.ID).Set("maintenance_event_id", ev.ID).
					Set("test_date", ct.Start).Set("test_type", "full_discharge").
					Set("discharge_rate_a", round(ct.MeasuredA, 2)).Set("discharge_duration_min", ev.testMin).
					Set("cutoff_voltage_v", round(CutoffV*float64(s.BatteriesCount), 2)).
					Set("ambient_temp_c", round(ct.AmbientC, 1)).Set("raw_data_url", key).Set("notes", notes)
			}); err != nil {
				return fmt.Errorf("capacity test %s/%d: %w", s.Code, ct.Seq, err)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	n, err := sink.Close()
	o.SetRows(n)
	return err
}

// writeCapacityCurve writes a test's per-jar discharge curves: each jar's
// constant-current discharge from the schedule's simulation
// (physics.CCDischarge: the I·R drop at the start, the coup de fouet, the
// slowly falling plateau and the end knee; jars spread by capacity, R0 and
// polarisation), from the string's true SOC at the start, at the room
// model's ambient, as the test logger records it: the measured current,
// and per channel a voltage offset and noise. The first jar to reach the
// cutoff (the weakest) ends the test at its Duration; the others end above.
func (e *Env) writeCapacityCurve(w io.Writer, t *schema.Table, s *fleet.String, ct CapacityTest, id uuid.UUID) (int64, error) {
	rw, err := parquetio.NewRowWriter(w, t)
	if err != nil {
		return 0, err
	}
	sink := NewRowSink(rw, t)
	spec := e.Fleet.ModelByID[s.ModelID].Spec
	var jars []*fleet.Battery
	for _, b := range e.Fleet.StringJars(s.ID) {
		if b.ActiveOn(ct.Start) {
			jars = append(jars, b)
		}
	}
	slices.SortFunc(jars, func(a, b *fleet.Battery) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	total := int64(ct.Duration / time.Second)
	stepS := int64(curveStep / time.Second)
	seed := e.Seed("capacity-curve", s.Code, fmt.Sprint(ct.Seq))
	for _, b := range jars {
		d := e.testDischarge(b, spec, ct)
		js := physics.Mix(seed, IDSeed(b.ID))
		off := curveOffsetV * physics.Gauss(js, 1<<40)
		for el, i := int64(0), uint64(0); ; i++ {
			v := d.VoltageAt(float64(el))
			if b == ct.Weakest && el == total {
				v = CutoffV // the logger's stop condition
			}
			v += off + curveNoiseV*physics.FastGauss(js, i)
			cur := ct.MeasuredA + 0.02*physics.FastGauss(js^0x5bd1e995, i)
			if err := sink.Add(func(rb *parquetio.RowBuilder) {
				rb.Set("test_id", id).Set("elapsed_s", int(el)).Set("battery_id", b.ID).
					Set("voltage_v", round(v, 3)).Set("current_a", round(cur, 3))
			}); err != nil {
				return 0, err
			}
			if el == total {
				break
			}
			el = min(el+stepS, total)
		}
	}
	return sink.Close()
}

// ---------------------------------------------------------------------------
// impedance_measurement_raw

func (e *Env) impedanceJob() pipeline.Job {
	t := schema.MustLookup("impedance_measurement_raw")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "transactions", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		d := e.tx()
		var tasks []pipeline.Task
		for _, ms := range e.historyMonths() {
			rs := d.impByMonth[ms.Month]
			tasks = append(tasks, rowTask(e, t.Name, lake.MustPartition(t, ms.Month, -1), int64(len(rs))+1, []lake.Segment{e.historySegment(ms, historySettle)},
				func(ctx context.Context, s *RowSink, _ lake.Segment) error {
					for _, x := range rs {
						if err := s.Add(func(b *parquetio.RowBuilder) {
							b.Set("measurement_id", x.ID).Set("battery_id", x.Battery.ID).Set("maintenance_event_id", x.Event.ID).
								Set("measured_at", x.MeasuredAt).Set("resistance_mohm", x.RMOhm).Set("conductance_s", x.GS).
								Set("temperature_c", x.TempC).Set("instrument_model", x.Instrument)
						}); err != nil {
							return fmt.Errorf("impedance %s: %w", x.Battery.Code, err)
						}
					}
					return nil
				}))
		}
		return tasks, nil
	}}
}

// ---------------------------------------------------------------------------
// audit_log

// Audit trail of the monitoring platform, per site and day:
//   - sessions: 1-3 on weekdays, 0-1 on weekends, by users with access to
//     the site and an account at the time (site staff, and now and then a
//     fleet-wide admin or viewer): login, 1-3 role-dependent actions a few
//     minutes apart, and (mostly) a logout;
//   - from the maintenance history: the technician's maintenance_update
//     when an event is completed, a work_order_update when one is
//     cancelled, and an alert_acknowledge minutes after each sudden failure;
//   - the platform's own monthly report export (user NULL).
//
// Entity ids are real: maintenance events, strings, batteries, locations,
// users. IPs are private: a fixed office address per user (10.20+site.x.y
// for site staff, 10.0.x.y at headquarters) or a VPN address 192.168.x.y.

type auditRow struct {
	id         uuid.UUID
	ts         time.Time
	user       *fleet.User
	action     string
	entityType string
	entityID   *uuid.UUID
	details    map[string]any
	ip         string
}

func (e *Env) auditJob() pipeline.Job {
	t := schema.MustLookup("audit_log")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "transactions", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		var tasks []pipeline.Task
		for _, ms := range e.historyMonths() {
			ms := ms
			tasks = append(tasks, rowTask(e, t.Name, lake.MustPartition(t, ms.Month, -1), int64(len(e.Fleet.Sites))*31*8, []lake.Segment{e.historySegment(ms, historySettle)},
				func(ctx context.Context, s *RowSink, _ lake.Segment) error {
					rows := e.auditRows(ms)
					for _, a := range rows {
						if err := s.Add(func(b *parquetio.RowBuilder) {
							b.Set("log_id", a.id).Set("ts", a.ts).Set("action", a.action).
								Set("entity_type", nullable(a.entityType)).Set("entity_id", a.entityID).
								Set("details_json", a.details).Set("ip_address", nullable(a.ip))
							if a.user != nil {
								b.Set("user_id", a.user.ID)
							}
						}); err != nil {
							return fmt.Errorf("audit %s: %w", a.ts.Format(time.RFC3339), err)
						}
					}
					return nil
				}))
		}
		return tasks, nil
	}}
}

func userActiveAt(u *fleet.User, t time.Time) bool {
	return !u.CreatedAt.After(t) && (u.IsActive || t.Before(u.UpdatedAt))
}

func (e *Env) officeIP(u *fleet.User) string {
	r := physics.NewRand(e.Seed("user-ip", u.Email))
	if len(u.LocationIDs) == 1 {
		if site := e.Fleet.SiteByID[u.LocationIDs[0]]; site != nil {
			return fmt.Sprintf("10.%d.%d.%d", 20+slices.Index(fleet.SiteCodes(), site.Code), 10+r.IntN(50), 2+r.IntN(250))
		}
	}
	return fmt.Sprintf("10.0.%d.%d", 10+r.IntN(10), 2+r.IntN(250))
}

func (e *Env) sessionIP(r *rand.Rand, u *fleet.User) string {
	if r.Float64() < 0.15 {
		return fmt.Sprintf("192.168.%d.%d", 100+r.IntN(10), 2+r.IntN(250))
	}
	return e.officeIP(u)
}

func (e *Env) auditRows(ms lake.MonthSpan) []auditRow {
	d := e.tx()
	end := e.Scenario.End.Time
	var rows []auditRow
	in := func(t time.Time) bool { return !t.Before(ms.From) && t.Before(ms.To) && t.Before(end) }
	id := e.auditID
	for _, st := range d.sites {
		if len(st.strings) == 0 {
			continue
		}
		// From the maintenance history.
		for _, ev := range st.events {
			r := physics.NewRand(physics.Mix(e.Seed("audit-event"), IDSeed(ev.ID)))
			evID := ev.ID
			switch ev.Status {
			case stCompleted:
				ts := ev.UpdatedAt // closing the work order
				if ev.Tech == nil || !in(ts) {
					continue
				}
				rows = append(rows, auditRow{id: id(ev.ID.String() + "/completed"), ts: ts, user: ev.Tech, action: "maintenance_update",
					entityType: "maintenance_event", entityID: &evID, ip: e.sessionIP(r, ev.Tech),
					details: map[string]any{"event_type": ev.Type, "status": stCompleted, "work_order_id": ev.WorkOrder}})
			case stCancelled:
				ts := ev.UpdatedAt
				if !in(ts) {
					continue
				}
				u := st.pickTech(r, ts, true)
				if u == nil {
					continue
				}
				rows = append(rows, auditRow{id: id(ev.ID.String() + "/cancelled"), ts: ts, user: u, action: "work_order_update",
					entityType: "maintenance_event", entityID: &evID, ip: e.sessionIP(r, u),
					details: map[string]any{"status": stCancelled, "work_order_id": ev.WorkOrder, "reason": strings.TrimPrefix(ev.Notes, "Cancelled: ")}})
			}
		}
		for _, s := range st.strings {
			for _, b := range e.Fleet.StringJars(s.ID) {
				l := &b.Life
				if l.Failure == physics.FailureNone || (!b.Removed.IsZero() && !l.FailureAt.Before(b.Removed)) {
					continue
				}
				r := physics.NewRand(e.Seed("audit-failure", b.Code))
				ts := l.FailureAt.Add(time.Duration(300+r.IntN(3300)) * time.Second)
				u := st.pickTech(r, ts, false)
				if u == nil || !in(ts) {
					continue
				}
				bid := b.ID
				rows = append(rows, auditRow{id: id(b.Code + "/failure-ack"), ts: ts, user: u, action: "alert_acknowledge",
					entityType: "battery", entityID: &bid, ip: e.sessionIP(r, u),
					details: map[string]any{"alert_type": "jar_failure", "severity": "critical", "signature": l.Failure.String(), "jar": jarLabel(b), "string_code": s.Code}})
			}
		}
		// The platform's scheduled monthly report (1st of the month, 01:00 ICT).
		if rep := monthOf(ms.Month).Add(time.Hour); in(rep) && !rep.Before(st.site.CommissionedDate) {
			lid := st.site.ID
			rows = append(rows, auditRow{id: id(st.site.Code + "/report/" + ms.Month), ts: rep, action: "report_export",
				entityType: "location", entityID: &lid, ip: "10.0.1.15",
				details: map[string]any{"report": "monthly_battery_health", "format": "pdf", "period": lake.Month(rep.AddDate(0, -1, 0)), "scheduled": true}})
		}
		// Interactive sessions.
		for _, day := range Days(ms.From, minTime(ms.To, end)) {
			rows = st.sessions(rows, day)
		}
	}
	slices.SortFunc(rows, func(a, b auditRow) int {
		if c := a.ts.Compare(b.ts); c != 0 {
			return c
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	return rows
}

var configParams = []struct {
	name     string
	old, new float64
}{
	{"float_voltage_high_alarm_v", 13.90, 13.85},
	{"float_voltage_low_alarm_v", 13.30, 13.35},
	{"jar_temp_warning_c", 40, 38},
	{"ohmic_rise_warning_pct", 25, 20},
	{"ripple_voltage_alarm_pct", 0.5, 0.6},
	{"string_current_alarm_a", 5, 4},
}

func (st *siteTx) sessions(rows []auditRow, day time.Time) []auditRow {
	e := st.e
	if day.Before(st.site.CommissionedDate) {
		return rows
	}
	r := physics.NewRand(e.Seed("audit", st.site.Code, day.Format(time.DateOnly)))
	n := 1 + r.IntN(3)
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		n = r.IntN(2)
	}
	noon := day.Add(5 * time.Hour)
	var users []*fleet.User
	var weights []float64
	for _, u := range e.Fleet.Users {
		if !slices.Contains(u.LocationIDs, st.site.ID) || !userActiveAt(u, noon) {
			continue
		}
		w := 1.0
		if len(u.LocationIDs) > 1 {
			w = 0.15
		}
		users = append(users, u)
		weights = append(weights, w)
	}
	if len(users) == 0 {
		return rows
	}
	var strs []*fleet.String
	for _, s := range st.strings {
		if !s.InstalledDate.After(day) {
			strs = append(strs, s)
		}
	}
	if len(strs) == 0 {
		return rows
	}
	label := st.site.Code + "/" + day.Format(time.DateOnly)
	for k := 0; k < n; k++ {
		u := users[pickWeighted(r, weights)]
		ts := day.Add(time.Hour + time.Duration(r.IntN(10*3600))*time.Second) // 08:00-18:00 ICT
		ip := e.sessionIP(r, u)
		uid := u.ID
		sid := fmt.Sprintf("%016x", r.Uint64())
		base := fmt.Sprintf("%s/%d", label, k)
		rows = append(rows, auditRow{id: e.auditID(base + "/login"), ts: ts, user: u, action: "login", entityType: "user", entityID: &uid, ip: ip,
			details: map[string]any{"session_id": sid, "method": []string{"password+totp", "sso"}[r.IntN(2)]}})
		for j, m := 0, 1+r.IntN(3); j < m; j++ {
			ts = ts.Add(time.Duration(30+r.IntN(900)) * time.Second)
			if a, ok := st.action(r, u, ts, strs); ok {
				a.id, a.ts, a.user, a.ip = e.auditID(fmt.Sprintf("%s/%d", base, j)), ts, u, ip
				a.details["session_id"] = sid
				rows = append(rows, a)
			}
		}
		if r.Float64() < 0.85 {
			ts = ts.Add(time.Duration(60+r.IntN(1200)) * time.Second)
			if ts.Before(day.AddDate(0, 0, 1)) {
				rows = append(rows, auditRow{id: e.auditID(base + "/logout"), ts: ts, user: u, action: "logout", entityType: "user", entityID: &uid, ip: ip,
					details: map[string]any{"session_id": sid}})
			}
		}
	}
	return rows
}

func (e *Env) auditID(label string) uuid.UUID { return fleet.ID(e.RootSeed, "audit_log", label) }

func pickWeighted(r *rand.Rand, w []float64) int {
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	u := r.Float64() * sum
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// action draws one role-dependent action with a real entity.
func (st *siteTx) action(r *rand.Rand, u *fleet.User, ts time.Time, strs []*fleet.String) (auditRow, bool) {
	e := st.e
	var choices []string
	switch u.Role {
	case fleet.RoleAdmin:
		choices = []string{"config_change", "report_export", "work_order_update"}
	case fleet.RoleEngineer:
		choices = []string{"alert_acknowledge", "config_change", "work_order_update", "report_export", "maintenance_update", "alert_acknowledge"}
	case fleet.RoleOperator:
		choices = []string{"alert_acknowledge", "maintenance_update", "work_order_update", "alert_acknowledge"}
	default:
		// Viewers mostly browse dashboards, which is not audited.
		if r.Float64() < 0.6 {
			return auditRow{}, false
		}
		choices = []string{"report_export"}
	}
	act := choices[r.IntN(len(choices))]
	switch act {
	case "report_export":
		lid := st.site.ID
		return auditRow{action: act, entityType: "location", entityID: &lid, details: map[string]any{
			"report": []string{"battery_health_summary", "capacity_test_history", "alarm_history", "ohmic_trend"}[r.IntN(4)],
			"format": []string{"pdf", "xlsx", "csv"}[r.IntN(3)], "period": lake.Month(ts.AddDate(0, -1, 0))}}, true
	case "config_change":
		p := configParams[r.IntN(len(configParams))]
		s := strs[r.IntN(len(strs))]
		sid := s.ID
		return auditRow{action: act, entityType: "string", entityID: &sid, details: map[string]any{
			"parameter": p.name, "old_value": p.old, "new_value": p.new, "string_code": s.Code}}, true
	case "alert_acknowledge":
		s := strs[r.IntN(len(strs))]
		jars := e.Fleet.StringJarsOn(s.ID, ts)
		if len(jars) == 0 {
			return auditRow{}, false
		}
		// Alerts follow what the BMS measures: prefer the jar with the
		// highest ohmic reading (true resistance with 2 % meter noise), not
		// the hidden SOH.
		reading := func(x *fleet.Battery) float64 {
			return x.Life.ResistanceMOhm(ts) * (1 + 0.02*r.NormFloat64()) / x.InitialResistanceMOhm
		}
		b := jars[r.IntN(len(jars))]
		kind, sev := []string{"voltage_deviation", "temperature_high", "ohmic_rise"}[r.IntN(3)], "low"
		best := reading(b)
		for _, x := range jars {
			if v := reading(x); v > best {
				b, best = x, v
			}
		}
		if best > 1.35 {
			kind, sev = "ohmic_rise", "high"
		} else if best > 1.2 {
			kind, sev = "ohmic_rise", "medium"
		}
		bid := b.ID
		return auditRow{action: act, entityType: "battery", entityID: &bid, details: map[string]any{
			"alert_type": kind, "severity": sev, "jar": jarLabel(b), "string_code": s.Code}}, true
	default: // maintenance_update, work_order_update
		ev := st.eventNear(r, ts)
		if ev == nil {
			return auditRow{}, false
		}
		evID := ev.ID
		field := []string{"notes", "technician_id", "scheduled_date", "attachments"}[r.IntN(4)]
		if act == "maintenance_update" {
			field = []string{"notes", "findings", "readings"}[r.IntN(3)]
		}
		return auditRow{action: act, entityType: "maintenance_event", entityID: &evID, details: map[string]any{
			"field": field, "work_order_id": ev.WorkOrder, "event_type": ev.Type}}, true
	}
}

// eventNear picks an event of the site that existed at ts and is scheduled
// within two weeks of it.
func (st *siteTx) eventNear(r *rand.Rand, ts time.Time) *mEvent {
	lo, _ := slices.BinarySearchFunc(st.events, ts.AddDate(0, 0, -14), func(ev *mEvent, t time.Time) int { return ev.Scheduled.Compare(t) })
	var cand []*mEvent
	for i := lo; i < len(st.events) && st.events[i].Scheduled.Before(ts.AddDate(0, 0, 14)); i++ {
		if !st.events[i].CreatedAt.After(ts) {
			cand = append(cand, st.events[i])
		}
	}
	if len(cand) == 0 {
		return nil
	}
	return cand[r.IntN(len(cand))]
}
