package jobs

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/google/uuid"
)

// Transactions (phase 3): maintenance_event, capacity_test_raw (with one
// capacity_test_curve blob per test), impedance_measurement_raw and
// audit_log, one job per table, one partition per calendar month.
//
// History runs from each string's commissioning to the scenario end. The
// whole history of a site is planned once per run (siteTx, cached by the
// transactions family for its four jobs) from seeds
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
//   - capacity_test: exactly the fleet's schedule (fleet.String.Tests, schedule.go),
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

// transactions is the phase-3 family. Its four tables are views of one
// planned history (maintenance events, their tests and readings, the
// sessions around them), built once on first use and shared by the jobs.
type transactions struct {
	*Env
	history struct {
		once sync.Once
		d    *txData
	}
}

func transactionJobs(e *Env) []pipeline.Job {
	tx := &transactions{Env: e}
	return []pipeline.Job{
		tx.maintenanceJob(),
		tx.capacityTestJob(),
		tx.impedanceJob(),
		tx.auditJob(),
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

// plan returns the transactional history of every site, planned once.
func (tx *transactions) plan() *txData {
	h := &tx.history
	h.once.Do(func() { h.d = buildTx(tx.Env) })
	return h.d
}

func buildTx(e *Env) *txData {
	d := &txData{evByMonth: map[string][]*mEvent{}, impByMonth: map[string][]*impReading{}, testEvent: map[*fleet.String]map[int]*mEvent{}}
	for _, site := range e.Fleet.Sites {
		st := planSite(e, site)
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
