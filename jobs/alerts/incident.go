package alerts

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// CorrelationGap is how close in time alerts must follow one another to
// belong to one incident: a string's alerts within an hour of the
// previous one are one story (a discharge, a charger fault, a hot jar).
const CorrelationGap = time.Hour

// RCA codes (incident.rca_code), by the alert type that dominates the
// incident (its most severe alert, the earliest on ties), except HVAC-FAIL
// which needs the site-wide pattern.
var RCACodes = map[string]string{
	"HVAC-FAIL":   "Site cooling failure: room temperature rose with an HVAC fault or room-temperature excursion",
	"THERM-JAR":   "Jar overheating on one string without a room excursion (internal short, dry-out, loose connection)",
	"CHG-OVERV":   "Float voltage above band: charger setpoint, or imbalance pushing healthy jars high",
	"DISCH-UNDV":  "Voltage below float band while on float: charger loss, open or shorted cell",
	"CHG-OVERCUR": "Current above the model's charge limit or a surge on the bus",
	"CHG-RIPPLE":  "AC ripple above limit: rectifier filter wear",
	"CELL-RES":    "Internal resistance drift against baseline and string peers: ageing, dry-out, connection",
	"CELL-CAP":    "Capacity test below acceptance: capacity fade",
	"AGE-EOL":     "Predicted end of life approaching",
	"ANOM-ML":     "Anomaly model flagged unusual behaviour",
	"SENS-FAULT":  "Monitoring fault: data gaps, stuck or out-of-range sensor readings",
}

var rcaOfType = map[Type]string{
	TemperatureHigh: "THERM-JAR", VoltageHigh: "CHG-OVERV", VoltageLow: "DISCH-UNDV", CurrentHigh: "CHG-OVERCUR",
	RippleHigh: "CHG-RIPPLE", ResistanceDrift: "CELL-RES", SOHDegraded: "CELL-CAP", RULWarning: "AGE-EOL",
	RULCritical: "AGE-EOL", AnomalyDetected: "ANOM-ML", DataQuality: "SENS-FAULT",
}

// EnvExcursion is a span when a room sensor reported an HVAC fault or a
// room temperature above its excursion level.
type EnvExcursion struct {
	LocationID uuid.UUID
	SensorID   uuid.UUID
	From, To   time.Time
	PeakC      float64
	HVACFault  bool
}

// Incident is one incident row.
type Incident struct {
	ID         uuid.UUID
	LocationID uuid.UUID
	StringID   uuid.UUID // the string of a string incident (not a column)
	Code       string
	Title      string
	Desc       string
	Severity   string // low, medium, high, critical
	Status     string // open, investigating, resolved, closed
	RootCause  string
	RCACode    string
	CreatedAt  time.Time
	ResolvedAt time.Time // zero: NULL
	ClosedAt   time.Time // zero: NULL
	AssignedTo uuid.UUID
	Escalation int
	Alerts     []uuid.UUID
}

// Names labels entities in titles (optional: ids are used when absent).
type Names map[uuid.UUID]string

func (n Names) of(id uuid.UUID) string {
	if s, ok := n[id]; ok {
		return s
	}
	return id.String()[:8]
}

// Correlate groups alerts into incidents and sets each member's
// IncidentID. Suppressed alerts never open incidents (the work explains
// them). Rules, in order:
//  1. HVAC: temperature_high alerts of one location, each within
//     CorrelationGap of the previous, overlapping (±CorrelationGap) an env
//     excursion of that location → one incident HVAC-FAIL, high (critical
//     if an alert is critical).
//  2. String: the remaining alerts of one string (location-level alerts
//     count as their location), each within CorrelationGap of the
//     previous, → one incident when there are at least two or one is
//     critical. Severity: critical alerts give high, or critical with two
//     or more; warnings give medium with three or more, else low.
//
// Incident codes are INC-YYYY-NNNNNN numbered per year of created_at in
// (created_at, incident_id) order.
func Correlate(as []Alert, env []EnvExcursion, users []User, names Names, asOf time.Time, seed uint64) []Incident {
	idx := make([]int, 0, len(as))
	for i := range as {
		as[i].IncidentID = uuid.UUID{}
		if as[i].Status != "suppressed" {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(x, y int) bool {
		a, b := &as[idx[x]], &as[idx[y]]
		if !a.TriggeredAt.Equal(b.TriggeredAt) {
			return a.TriggeredAt.Before(b.TriggeredAt)
		}
		return lessUUID(a.ID, b.ID)
	})
	used := make([]bool, len(as))
	var out []Incident

	// 1. HVAC.
	envBy := map[uuid.UUID][]EnvExcursion{}
	for _, e := range env {
		envBy[e.LocationID] = append(envBy[e.LocationID], e)
	}
	for _, grp := range clusters(as, idx, func(i int) (string, bool) {
		return as[i].LocationID.String(), as[i].Type == TemperatureHigh
	}) {
		first, last := as[grp[0]].TriggeredAt, as[grp[len(grp)-1]].TriggeredAt
		var hit *EnvExcursion
		for i := range envBy[as[grp[0]].LocationID] {
			e := &envBy[as[grp[0]].LocationID][i]
			if e.From.Before(last.Add(CorrelationGap)) && e.To.After(first.Add(-CorrelationGap)) {
				hit = e
				break
			}
		}
		if hit == nil {
			continue
		}
		sev := "high"
		strs := map[uuid.UUID]bool{}
		for _, i := range grp {
			used[i] = true
			strs[as[i].StringID] = true
			if as[i].Severity == Critical {
				sev = "critical"
			}
		}
		cause := fmt.Sprintf("room temperature peaked at %.1f °C", hit.PeakC)
		if hit.HVACFault {
			cause = "HVAC reported a fault; " + cause
		}
		in := Incident{LocationID: as[grp[0]].LocationID, Severity: sev, RCACode: "HVAC-FAIL",
			Title:     fmt.Sprintf("Site-wide temperature rise at %s (%d strings)", names.of(as[grp[0]].LocationID), len(strs)),
			RootCause: RCACodes["HVAC-FAIL"] + ": " + cause}
		out = append(out, finishIncident(in, as, grp, users, asOf, seed))
	}

	// 2. String clusters.
	for _, grp := range clusters(as, idx, func(i int) (string, bool) {
		a := &as[i]
		if used[i] {
			return "", false
		}
		if a.StringID != uuid.Nil {
			return a.StringID.String(), true
		}
		return a.LocationID.String(), true
	}) {
		crit := 0
		for _, i := range grp {
			if as[i].Severity == Critical {
				crit++
			}
		}
		if len(grp) < 2 && crit == 0 {
			continue
		}
		sev := "low"
		switch {
		case crit >= 2:
			sev = "critical"
		case crit == 1:
			sev = "high"
		case len(grp) >= 3:
			sev = "medium"
		}
		dom := grp[0]
		for _, i := range grp {
			if as[i].Severity > as[dom].Severity {
				dom = i
			}
		}
		a := &as[dom]
		code := rcaOfType[a.Type]
		where := names.of(a.LocationID)
		if a.StringID != uuid.Nil {
			where = names.of(a.StringID)
		}
		in := Incident{LocationID: a.LocationID, StringID: a.StringID, Severity: sev, RCACode: code,
			Title:     fmt.Sprintf("%s on %s (%s)", strings.ReplaceAll(string(a.Type), "_", " "), where, plural(len(grp), "alert")),
			RootCause: RCACodes[code] + ": " + a.Message}
		out = append(out, finishIncident(in, as, grp, users, asOf, seed))
	}

	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return lessUUID(out[i].ID, out[j].ID)
	})
	seq := map[int]int{}
	for i := range out {
		y := out[i].CreatedAt.UTC().Year()
		seq[y]++
		out[i].Code = fmt.Sprintf("INC-%d-%06d", y, seq[y])
	}
	return out
}

// clusters groups the alerts idx (sorted by time) by key, splitting a
// key's run where consecutive alerts are more than CorrelationGap apart.
// Groups come out in the order of their first alert.
func clusters(as []Alert, idx []int, key func(int) (string, bool)) [][]int {
	open := map[string]int{} // key → index in out of its open group
	var out [][]int
	for _, i := range idx {
		k, ok := key(i)
		if !ok {
			continue
		}
		if g, ok := open[k]; ok {
			last := as[out[g][len(out[g])-1]].TriggeredAt
			if as[i].TriggeredAt.Sub(last) <= CorrelationGap {
				out[g] = append(out[g], i)
				continue
			}
		}
		open[k] = len(out)
		out = append(out, []int{i})
	}
	return out
}

func finishIncident(in Incident, as []Alert, grp []int, users []User, asOf time.Time, seed uint64) Incident {
	first := &as[grp[0]]
	in.ID = ID("incident", first.ID)
	in.CreatedAt = first.TriggeredAt
	resolved, acked := true, false
	var types []string
	for _, i := range grp {
		a := &as[i]
		a.IncidentID = in.ID
		in.Alerts = append(in.Alerts, a.ID)
		if a.ResolvedAt.IsZero() {
			resolved = false
		} else if a.ResolvedAt.After(in.ResolvedAt) {
			in.ResolvedAt = a.ResolvedAt
		}
		if a.AckBy != uuid.Nil {
			acked = true
		}
		if !slices.Contains(types, string(a.Type)) {
			types = append(types, string(a.Type))
		}
	}
	if !resolved {
		in.ResolvedAt = time.Time{}
	}
	in.Desc = fmt.Sprintf("%d correlated alerts (%s) from %s to %s", len(grp), strings.Join(types, ", "),
		first.TriggeredAt.UTC().Format(time.RFC3339), as[grp[len(grp)-1]].TriggeredAt.UTC().Format(time.RFC3339))
	in.AssignedTo, _ = pickUser(users, in.LocationID, in.ID, seed, "incident", "engineer")
	r := rng(seed, in.ID, "close")
	switch {
	case !in.ResolvedAt.IsZero():
		// Closed after review, 4 to 48 h after resolution.
		if c := in.ResolvedAt.Add(4*time.Hour + time.Duration(r.Int64N(int64(44*time.Hour)))).Truncate(time.Second); !c.After(asOf) {
			in.ClosedAt, in.Status = c, "closed"
		} else {
			in.Status = "resolved"
		}
	case acked:
		in.Status = "investigating"
	default:
		in.Status = "open"
	}
	in.Escalation = 1
	if in.Severity == "critical" {
		in.Escalation++
	}
	end := in.ResolvedAt
	if end.IsZero() {
		end = asOf
	}
	if end.Sub(in.CreatedAt) > 24*time.Hour && (in.Severity == "critical" || in.Severity == "high") {
		in.Escalation++ // unresolved for a day
	}
	return in
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
