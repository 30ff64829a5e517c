package jobs

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

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

func (tx *transactions) auditJob() pipeline.Job {
	t := schema.MustLookup("audit_log")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "transactions", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		var tasks []pipeline.Task
		for _, ms := range tx.historyMonths() {
			ms := ms
			tasks = append(tasks, rowTask(tx.Env, t.Name, lake.MustPartition(t, ms.Month, -1), int64(len(tx.Fleet.Sites))*31*8, []lake.Segment{tx.historySegment(ms, historySettle)},
				func(ctx context.Context, s *RowSink, _ lake.Segment) error {
					rows := tx.auditRows(ms)
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

func (tx *transactions) officeIP(u *fleet.User) string {
	r := physics.NewRand(tx.Seed("user-ip", u.Email))
	if len(u.LocationIDs) == 1 {
		if site := tx.Fleet.SiteByID[u.LocationIDs[0]]; site != nil {
			return fmt.Sprintf("10.%d.%d.%d", 20+slices.Index(fleet.SiteCodes(), site.Code), 10+r.IntN(50), 2+r.IntN(250))
		}
	}
	return fmt.Sprintf("10.0.%d.%d", 10+r.IntN(10), 2+r.IntN(250))
}

func (tx *transactions) sessionIP(r *rand.Rand, u *fleet.User) string {
	if r.Float64() < 0.15 {
		return fmt.Sprintf("192.168.%d.%d", 100+r.IntN(10), 2+r.IntN(250))
	}
	return tx.officeIP(u)
}

func (tx *transactions) auditRows(ms lake.MonthSpan) []auditRow {
	d := tx.plan()
	end := tx.Scenario.End.Time
	var rows []auditRow
	in := func(t time.Time) bool { return !t.Before(ms.From) && t.Before(ms.To) && t.Before(end) }
	id := tx.auditID
	for _, st := range d.sites {
		if len(st.strings) == 0 {
			continue
		}
		// From the maintenance history.
		for _, ev := range st.events {
			r := physics.NewRand(physics.Mix(tx.Seed("audit-event"), IDSeed(ev.ID)))
			evID := ev.ID
			switch ev.Status {
			case stCompleted:
				ts := ev.UpdatedAt // closing the work order
				if ev.Tech == nil || !in(ts) {
					continue
				}
				rows = append(rows, auditRow{id: id(ev.ID.String() + "/completed"), ts: ts, user: ev.Tech, action: "maintenance_update",
					entityType: "maintenance_event", entityID: &evID, ip: tx.sessionIP(r, ev.Tech),
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
					entityType: "maintenance_event", entityID: &evID, ip: tx.sessionIP(r, u),
					details: map[string]any{"status": stCancelled, "work_order_id": ev.WorkOrder, "reason": strings.TrimPrefix(ev.Notes, "Cancelled: ")}})
			}
		}
		for _, s := range st.strings {
			for _, b := range tx.Fleet.StringJars(s.ID) {
				l := &b.Life
				if l.Failure == physics.FailureNone || (!b.Removed.IsZero() && !l.FailureAt.Before(b.Removed)) {
					continue
				}
				r := physics.NewRand(tx.Seed("audit-failure", b.Code))
				ts := l.FailureAt.Add(time.Duration(300+r.IntN(3300)) * time.Second)
				u := st.pickTech(r, ts, false)
				if u == nil || !in(ts) {
					continue
				}
				bid := b.ID
				rows = append(rows, auditRow{id: id(b.Code + "/failure-ack"), ts: ts, user: u, action: "alert_acknowledge",
					entityType: "battery", entityID: &bid, ip: tx.sessionIP(r, u),
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
			rows = tx.sessions(st, rows, day)
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

func (tx *transactions) sessions(st *siteTx, rows []auditRow, day time.Time) []auditRow {
	if day.Before(st.site.CommissionedDate) {
		return rows
	}
	r := physics.NewRand(tx.Seed("audit", st.site.Code, day.Format(time.DateOnly)))
	n := 1 + r.IntN(3)
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		n = r.IntN(2)
	}
	noon := day.Add(5 * time.Hour)
	var users []*fleet.User
	var weights []float64
	for _, u := range tx.Fleet.Users {
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
		ip := tx.sessionIP(r, u)
		uid := u.ID
		sid := fmt.Sprintf("%016x", r.Uint64())
		base := fmt.Sprintf("%s/%d", label, k)
		rows = append(rows, auditRow{id: tx.auditID(base + "/login"), ts: ts, user: u, action: "login", entityType: "user", entityID: &uid, ip: ip,
			details: map[string]any{"session_id": sid, "method": []string{"password+totp", "sso"}[r.IntN(2)]}})
		for j, m := 0, 1+r.IntN(3); j < m; j++ {
			ts = ts.Add(time.Duration(30+r.IntN(900)) * time.Second)
			if a, ok := st.action(r, u, ts, strs); ok {
				a.id, a.ts, a.user, a.ip = tx.auditID(fmt.Sprintf("%s/%d", base, j)), ts, u, ip
				a.details["session_id"] = sid
				rows = append(rows, a)
			}
		}
		if r.Float64() < 0.85 {
			ts = ts.Add(time.Duration(60+r.IntN(1200)) * time.Second)
			if ts.Before(day.AddDate(0, 0, 1)) {
				rows = append(rows, auditRow{id: tx.auditID(base + "/logout"), ts: ts, user: u, action: "logout", entityType: "user", entityID: &uid, ip: ip,
					details: map[string]any{"session_id": sid}})
			}
		}
	}
	return rows
}

func (tx *transactions) auditID(label string) uuid.UUID {
	return fleet.ID(tx.RootSeed, "audit_log", label)
}

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
		jars := st.e.Fleet.StringJarsOn(s.ID, ts)
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
