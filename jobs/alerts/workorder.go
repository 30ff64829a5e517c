package alerts

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// WorkOrder is one work_order row.
type WorkOrder struct {
	ID          uuid.UUID
	ExternalID  string
	IncidentID  uuid.UUID // zero: NULL
	LocationID  uuid.UUID
	Title       string
	Desc        string
	Priority    string // low, medium, high, urgent
	Status      string // open, assigned, in_progress, completed, closed
	CreatedAt   time.Time
	DueDate     time.Time // zero: NULL
	CompletedAt time.Time // zero: NULL
	AssignedTo  uuid.UUID // zero: NULL
	Notes       string    // resolution_notes; empty: NULL
}

// Incident work orders by incident severity: priority and the time to
// complete. Low incidents are handled within routine maintenance (no
// work order).
var incidentPriority = map[string]struct {
	priority string
	due      time.Duration
}{
	"critical": {"urgent", 24 * time.Hour},
	"high":     {"high", 72 * time.Hour},
	"medium":   {"medium", 7 * 24 * time.Hour},
}

// Resolution notes by RCA code.
var resolutionNotes = map[string]string{
	"HVAC-FAIL":   "HVAC unit serviced and room temperature restored; jar temperatures back in band.",
	"THERM-JAR":   "Jar inspected with IR camera; connections re-torqued, jar temperature back in band.",
	"CHG-OVERV":   "Float setpoint checked and string voltages rebalanced.",
	"DISCH-UNDV":  "Charger output restored; string returned to float within band.",
	"CHG-OVERCUR": "Charger current limit verified; bus surge protection checked.",
	"CHG-RIPPLE":  "Rectifier filter capacitors checked; ripple back below limit.",
	"CELL-RES":    "Impedance re-measured; jar flagged for replacement planning.",
	"CELL-CAP":    "Capacity test reviewed; replacement planned for weak jars.",
	"AGE-EOL":     "Replacement scheduled ahead of predicted end of life.",
	"ANOM-ML":     "Readings reviewed on site; no further action needed.",
	"SENS-FAULT":  "Monitoring sensor reseated and data flow verified.",
}

// IncidentExternalID is the CMMS reference of the work order an incident
// raises: WO-YYYY-I plus the incident's number. The transactions stage's
// numbers are WO-YYYY-NNNNNN (digits only), so the two never collide.
func IncidentExternalID(incidentCode string) string {
	// INC-YYYY-NNNNNN → WO-YYYY-INNNNNN
	return "WO-" + strings.Replace(strings.TrimPrefix(incidentCode, "INC-"), "-", "-I", 1)
}

// IncidentWorkOrders raises a work order for every incident of medium or
// higher severity, assigned to an operator or engineer of the site, with
// its status as of asOf: assigned 15 min to 2 h after creation, in
// progress 1 to 12 h later (a quarter of that for urgent), completed when
// the incident is resolved (not before an hour of work), closed 1 to 3
// days after completion.
func IncidentWorkOrders(incs []Incident, users []User, asOf time.Time, seed uint64) []WorkOrder {
	var out []WorkOrder
	for i := range incs {
		in := &incs[i]
		p, ok := incidentPriority[in.Severity]
		if !ok {
			continue
		}
		w := WorkOrder{ExternalID: IncidentExternalID(in.Code), IncidentID: in.ID, LocationID: in.LocationID, Priority: p.priority,
			Title: "Investigate: " + in.Title, Desc: in.RootCause, CreatedAt: in.CreatedAt, DueDate: in.CreatedAt.Add(p.due)}
		w.ID = ID("work_order", w.ExternalID)
		r := rng(seed, w.ID, "progress")
		assigned := w.CreatedAt.Add(15*time.Minute + time.Duration(r.Int64N(int64(105*time.Minute)))).Truncate(time.Second)
		work := time.Hour + time.Duration(r.Int64N(int64(11*time.Hour)))
		if p.priority == "urgent" {
			work /= 4
		}
		started := assigned.Add(work).Truncate(time.Second)
		w.Status = "open"
		if u, ok := pickUser(users, in.LocationID, w.ID, seed, "technician"); ok && !assigned.After(asOf) {
			w.AssignedTo, w.Status = u, "assigned"
		}
		if w.Status == "assigned" && !started.After(asOf) {
			w.Status = "in_progress"
		}
		if w.Status == "in_progress" && !in.ResolvedAt.IsZero() {
			done := in.ResolvedAt
			if min := started.Add(time.Hour); done.Before(min) {
				done = min
			}
			if !done.After(asOf) {
				w.Status, w.CompletedAt = "completed", done
				w.Notes = resolutionNotes[in.RCACode]
				if c := done.Add(24*time.Hour + time.Duration(r.Int64N(int64(48*time.Hour)))); !c.After(asOf) {
					w.Status = "closed"
				}
			}
		}
		out = append(out, w)
	}
	return out
}

// MaintEvent is a maintenance_event row as the work orders need it.
type MaintEvent struct {
	EventID, BatteryID, StringID, LocationID, Technician uuid.UUID
	Type, Subtype, Status, WorkOrder, Notes              string
	Scheduled, Completed, Created, Updated               time.Time // Completed zero: NULL
}

// Priority of a CMMS work order by the kind of work it holds.
var maintPriority = map[string]string{
	"corrective": "urgent", "replacement": "high", "capacity_test": "medium", "impedance_test": "medium",
	"thermal_survey": "low", "torque_check": "low", "visual_inspection": "low", "voltage_measurement": "low",
}

var priorityRank = map[string]int{"low": 0, "medium": 1, "high": 2, "urgent": 3}

// MaintenanceWorkOrders writes the CMMS work orders the transactions
// stage referenced (maintenance_event.work_order_id), one per distinct
// reference:
//   - created at the earliest event's created_at, due at the latest
//     scheduled date plus a day, assigned to the first event's technician;
//   - priority from the most urgent kind of work it holds;
//   - status: closed once a replacement of it completed (a replacement
//     closes its work order: completed_at is the replacement's
//     completion), or when every event is done (completed or cancelled)
//     and the last one finished more than two days before asOf
//     (completed inside those two days); in_progress while an event is;
//     assigned while every event is scheduled with a technician, else open;
//   - resolution notes: the completed events' notes.
func MaintenanceWorkOrders(evs []MaintEvent, asOf time.Time) []WorkOrder {
	by := map[string][]*MaintEvent{}
	var keys []string
	for i := range evs {
		e := &evs[i]
		if e.WorkOrder == "" {
			continue
		}
		if _, ok := by[e.WorkOrder]; !ok {
			keys = append(keys, e.WorkOrder)
		}
		by[e.WorkOrder] = append(by[e.WorkOrder], e)
	}
	sort.Strings(keys)
	out := make([]WorkOrder, 0, len(keys))
	for _, k := range keys {
		es := by[k]
		sort.Slice(es, func(i, j int) bool {
			if !es[i].Scheduled.Equal(es[j].Scheduled) {
				return es[i].Scheduled.Before(es[j].Scheduled)
			}
			return lessUUID(es[i].EventID, es[j].EventID)
		})
		w := WorkOrder{ID: ID("work_order", k), ExternalID: k, LocationID: es[0].LocationID, Priority: "low", CreatedAt: es[0].Created}
		var kinds, notes []string
		var lastSched, lastDone, replaced time.Time
		counts := map[string]int{}
		for _, e := range es {
			if e.Created.Before(w.CreatedAt) {
				w.CreatedAt = e.Created
			}
			if e.Scheduled.After(lastSched) {
				lastSched = e.Scheduled
			}
			if w.AssignedTo == uuid.Nil && e.Technician != uuid.Nil {
				w.AssignedTo = e.Technician
			}
			if p := maintPriority[e.Type]; priorityRank[p] > priorityRank[w.Priority] {
				w.Priority = p
			}
			if !slices.Contains(kinds, e.Type) {
				kinds = append(kinds, e.Type)
			}
			counts[e.Status]++
			switch e.Status {
			case "completed":
				if e.Completed.After(lastDone) {
					lastDone = e.Completed
				}
				if e.Type == "replacement" && e.Completed.After(replaced) {
					replaced = e.Completed
				}
				if e.Notes != "" && len(notes) < 3 && !slices.Contains(notes, e.Notes) {
					notes = append(notes, e.Notes)
				}
			case "cancelled":
				if e.Updated.After(lastDone) {
					lastDone = e.Updated
				}
			}
		}
		w.Title = workTitle(kinds, es[0])
		w.Desc = fmt.Sprintf("%d maintenance event(s): %s", len(es), strings.Join(kinds, ", "))
		w.DueDate = lastSched.Add(24 * time.Hour)
		done := counts["completed"] + counts["cancelled"]
		switch {
		case !replaced.IsZero():
			w.Status, w.CompletedAt = "closed", replaced
		case done == len(es) && counts["completed"] == 0:
			w.Status = "closed" // every event cancelled: closed without completion
			notes = append(notes[:0], "Cancelled: no work performed.")
		case done == len(es):
			w.CompletedAt, w.Status = lastDone, "closed"
			if asOf.Sub(lastDone) <= 48*time.Hour {
				w.Status = "completed"
			}
		case counts["in_progress"] > 0 || done > 0:
			w.Status = "in_progress"
		case w.AssignedTo != uuid.Nil:
			w.Status = "assigned"
		default:
			w.Status = "open"
		}
		if w.Status == "completed" || w.Status == "closed" {
			w.Notes = strings.Join(notes, " | ")
		}
		out = append(out, w)
	}
	return out
}

func workTitle(kinds []string, e *MaintEvent) string {
	switch {
	case slices.Contains(kinds, "replacement"):
		return "Jar replacement"
	case slices.Contains(kinds, "corrective"):
		return "Corrective repair"
	case len(kinds) == 1:
		return "Scheduled " + strings.ReplaceAll(kinds[0], "_", " ")
	}
	return "Scheduled maintenance: " + strings.ReplaceAll(strings.Join(kinds, ", "), "_", " ")
}

// Maintenance windows suppress alerts of the work's scope: the work
// itself (a capacity test's discharge, a replacement's open string, a
// torque check) makes readings leave their bands. A window runs from the
// scheduled start to an hour after completion (8 h when still in
// progress). Routine inspections and surveys touch nothing and open none.
var windowKinds = []string{"capacity_test", "replacement", "corrective", "torque_check", "impedance_test"}

// MaintenanceWindows lists the windows of completed and in-progress work.
func MaintenanceWindows(evs []MaintEvent) []Window {
	var out []Window
	for _, e := range evs {
		if !slices.Contains(windowKinds, e.Type) || (e.Status != "completed" && e.Status != "in_progress") {
			continue
		}
		to := e.Scheduled.Add(8 * time.Hour)
		if !e.Completed.IsZero() {
			to = e.Completed.Add(time.Hour)
		}
		if !to.After(e.Scheduled) {
			continue
		}
		out = append(out, Window{LocationID: e.LocationID, StringID: e.StringID, From: e.Scheduled, To: to, WorkOrder: e.WorkOrder, EventType: e.Type})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].From.Equal(out[j].From) {
			return out[i].From.Before(out[j].From)
		}
		return out[i].WorkOrder < out[j].WorkOrder
	})
	return out
}

// SortWorkOrders orders work orders as the table sorts them.
func SortWorkOrders(ws []WorkOrder) {
	sort.Slice(ws, func(i, j int) bool {
		a, b := &ws[i], &ws[j]
		if a.LocationID != b.LocationID {
			return lessUUID(a.LocationID, b.LocationID)
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return lessUUID(a.ID, b.ID)
	})
}

// SortIncidents orders incidents as the table sorts them.
func SortIncidents(is []Incident) {
	sort.Slice(is, func(i, j int) bool {
		a, b := &is[i], &is[j]
		if a.LocationID != b.LocationID {
			return lessUUID(a.LocationID, b.LocationID)
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return lessUUID(a.ID, b.ID)
	})
}
