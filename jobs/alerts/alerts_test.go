package alerts

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

var t0 = time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)

// hourly is a stream of one value per hour from t0.
func hourly(vs ...float64) []Sample {
	out := make([]Sample, len(vs))
	for i, v := range vs {
		out[i] = Sample{TS: t0.Add(time.Duration(i+1) * time.Hour), Value: v}
	}
	return out
}

// every is a stream of one value per interval d from t0.
func every(d time.Duration, vs ...float64) []Sample {
	out := make([]Sample, len(vs))
	for i, v := range vs {
		out[i] = Sample{TS: t0.Add(time.Duration(i) * d), Value: v}
	}
	return out
}

// A model like the fleet's: 12 V jars, float 13.5-13.8 V, boost max
// 14.7 V, 45/50 °C, 30 A charge limit.
const (
	floatMin, floatMax, boostMax = 13.5, 13.8, 14.7
	tWarn, tCrit, maxCharge      = 45.0, 50.0, 30.0
)

func drift(pairs ...[2]float64) []float64 {
	out := make([]float64, len(pairs))
	for i, p := range pairs {
		out[i] = DriftLevel(p[0], p[1])
	}
	return out
}

// Every type: a planted condition fires once with the expected severity;
// a near miss (just inside a level, or too short for the debounce) does
// not fire.
func TestEachTypeFiresAndNearMissDoesNot(t *testing.T) {
	quarter := 91 * 24 * time.Hour
	day := 24 * time.Hour
	cases := []struct {
		rule     Rule
		fire     []Sample
		sev      Severity
		nearMiss []Sample
		why      string
	}{
		{VoltageLowRule(floatMin), hourly(13.25, 13.2, 13.22, 13.5), Warning,
			hourly(13.25, 13.2, 13.5, 13.25, 13.2, 13.5, 13.31, 13.31, 13.31, 13.31), "two hours under then back, or just above the level"},
		{VoltageLowRule(floatMin), hourly(12.7, 12.6, 12.6), Critical, hourly(12.7, 12.6, 13.6), "a shorted cell three hours; a two-hour dip"},
		{VoltageHighRule(floatMax, boostMax), hourly(14.0, 14.0, 14.05), Warning, hourly(13.94, 13.94, 13.94, 13.94, 13.94), "13.95 V is the level"},
		{TemperatureHighRule(tWarn, tCrit), hourly(46, 47), Warning, hourly(48, 30, 30, 49, 25), "single-hour spikes"},
		{TemperatureHighRule(tWarn, tCrit), hourly(46, 51, 52), Critical, hourly(44.9, 44.9, 44.9), "just under the warning level"},
		{CurrentHighRule(maxCharge), hourly(20, 35, 20), Warning, hourly(29.9, 29.9, 29.9), "at the charger's limit"},
		{RippleHighRule(), hourly(0.6, 0.6, 0.62), Warning, hourly(0.49, 0.49, 0.49, 0.6, 0.6, 0.3), "below 0.5 %, or 0.6 % for only an hour"},
		{ResistanceDriftRule(), every(quarter, drift([2]float64{110, 1.0}, [2]float64{136, 1.08}, [2]float64{138, 1.1})...), Warning,
			every(quarter, drift([2]float64{125, 1.0}, [2]float64{134, 1.02}, [2]float64{139, 0.99}, [2]float64{124, 1.3}, [2]float64{136, math.NaN()})...),
			"an old jar in line with its peers under +40 %, an outlier under +25 %, or no peers"},
		{ResistanceDriftRule(), every(quarter, drift([2]float64{140, 1.1}, [2]float64{142, 1.45})...), Critical,
			every(quarter, drift([2]float64{125, 1.0}, [2]float64{129, 1.09})...), "the hysteresis band only"},
		{ResistanceDriftRule(), every(quarter, drift([2]float64{156, math.NaN()})...), Critical,
			every(quarter, drift([2]float64{124.9, 1.5}, [2]float64{134.9, 1.19}, [2]float64{139.9, 1.04})...), "just under each warning level"},
		{SOHDegradedRule(), every(365*day, 92, 83), Warning, every(365*day, 92, 85.5, 86), "85 % is the level"},
		{SOHDegradedRule(), every(365*day, 84, 79), Critical, every(365*day, 90, 88), "healthy"},
		{RULWarningRule(), every(day, 400, 170, 160), Warning, every(day, 400, 170, 250, 175, 260), "one low prediction at a time"},
		{RULCriticalRule(), every(day, 40, 25, 20), Critical, every(day, 40, 32, 31, 35), "above 30 days"},
		{AnomalyRule(), every(time.Hour, -0.1, 0.05, 0.1, -0.2), Warning, every(time.Hour, -0.1, 0.2, -0.1, 0.3, -0.2), "isolated anomalous scores"},
		{DataQualityRule(), hourly(0, 2, 2, 0, 0, 0), Warning, hourly(0, 2, 0, 0, 2, 0), "single-hour out-of-range glitches"},
		{DataQualityRule(), hourly(0, 1, 1, 0, 0, 0), Info, hourly(0, 1, 0, 1, 0), "single-hour gaps"},
		{StuckSensorRule(), hourly(0, 1, 0), Info, hourly(0, 0, 0, 0), "never stuck"},
	}
	seen := map[Type]bool{}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%s/%d", c.rule.Type, i), func(t *testing.T) {
			eps := c.rule.Detect(c.fire)
			if len(eps) != 1 {
				t.Fatalf("planted condition: %d episodes %+v, want 1", len(eps), eps)
			}
			if eps[0].Severity != c.sev {
				t.Errorf("severity %s, want %s", eps[0].Severity, c.sev)
			}
			if eps[0].Triggered.Before(eps[0].Start) || (!eps[0].Resolved.IsZero() && eps[0].Resolved.Before(eps[0].Triggered)) {
				t.Errorf("times out of order: %+v", eps[0])
			}
			if got := c.rule.Detect(c.nearMiss); len(got) != 0 {
				t.Errorf("near miss (%s) fired: %+v", c.why, got)
			}
		})
		seen[c.rule.Type] = true
	}
	for _, tp := range Types {
		if !seen[tp] {
			t.Errorf("type %s has no case", tp)
		}
	}
}

// A value flapping around the raise level inside the hysteresis band, with
// clear dips shorter than MinClear, is one episode; a value that stays
// clear ends it.
func TestFlappingEpisodeIsOneAlert(t *testing.T) {
	r := VoltageHighRule(floatMax, boostMax) // raise 13.95, clear under 13.85, 1 h clear
	vs := []float64{14.0, 14.0, 14.0}        // held 2 h: triggers
	for i := 0; i < 12; i++ {
		vs = append(vs, 14.0, 13.9) // above, then in the band
	}
	vs = append(vs, 14.0, 14.0, 13.8, 14.0, 14.0) // one clear hour: not enough
	vs = append(vs, 13.7, 13.7, 13.7, 13.7)       // clear for 3 h: ends
	eps := r.Detect(hourly(vs...))
	if len(eps) != 1 {
		t.Fatalf("%d episodes, want 1: %+v", len(eps), eps)
	}
	e := eps[0]
	if e.Resolved.IsZero() || !e.Resolved.Equal(t0.Add(time.Duration(len(vs)-2)*time.Hour)) {
		t.Errorf("resolved at %v, want the second clear hour after the last raise", e.Resolved)
	}
	// Without hysteresis (clear at the raise level) the same stream splits.
	r.Clear = r.Warn
	r.MinClear, r.MinRaise = 0, 0
	if n := len(r.Detect(hourly(vs...))); n < 10 {
		t.Errorf("without hysteresis and debounce: %d episodes; the test would prove nothing", n)
	}
}

// Escalating from warning to critical stays one alert, at the highest
// severity, and records when it escalated.
func TestEscalationStaysOneAlert(t *testing.T) {
	r := TemperatureHighRule(tWarn, tCrit)
	eps := r.Detect(hourly(46, 46, 47, 51, 53, 47, 41, 40, 40))
	if len(eps) != 1 {
		t.Fatalf("%d episodes, want 1", len(eps))
	}
	e := eps[0]
	if e.First != Warning || e.Severity != Critical || !e.Escalated.Equal(t0.Add(4*time.Hour)) || e.Peak != 53 {
		t.Errorf("episode %+v: want warning at trigger, critical from hour 4, peak 53", e)
	}
	a := NewAlert(&r, e, uuid.New(), uuid.New(), uuid.New(), "rule_engine", uuid.Nil, "m", nil)
	if a.Severity != Critical || a.Context["severity_at_trigger"] != "warning" || a.Context["escalated_at"] == nil {
		t.Errorf("alert context %v", a.ContextJSON())
	}
}

func testUsers(loc, other uuid.UUID) []User {
	return []User{
		{ID: ID("u", 1), Role: "operator", Locations: []uuid.UUID{loc}, Active: true},
		{ID: ID("u", 2), Role: "engineer", Locations: []uuid.UUID{loc, other}, Active: true},
		{ID: ID("u", 3), Role: "viewer", Locations: []uuid.UUID{loc}, Active: true},
		{ID: ID("u", 4), Role: "operator", Locations: []uuid.UUID{other}, Active: true},
		{ID: ID("u", 5), Role: "operator", Locations: []uuid.UUID{loc}, Active: false},
	}
}

func TestLifecycle(t *testing.T) {
	loc, other, str := ID("loc"), ID("other"), ID("str")
	users := testUsers(loc, other)
	r := VoltageHighRule(floatMax, boostMax)
	var as []Alert
	for i := 0; i < 60; i++ {
		start := t0.Add(time.Duration(i) * 7 * time.Hour)
		e := Episode{Start: start, Triggered: start.Add(2 * time.Hour), Severity: Severity(1 + i%3), First: Warning}
		if i%4 != 0 {
			e.Resolved = e.Triggered.Add(time.Duration(i%5) * 3 * time.Hour)
		}
		as = append(as, NewAlert(&r, e, ID("jar", i), str, loc, "rule_engine", uuid.Nil, "m", nil))
	}
	// Resistance drift inside a window: the survey's own reading.
	dr := ResistanceDriftRule()
	as = append(as, NewAlert(&dr, Episode{Start: t0.Add(3 * time.Hour), Triggered: t0.Add(3 * time.Hour), Severity: Warning}, ID("jar", 99), str, loc, "rule_engine", uuid.Nil, "m", nil))
	windows := []Window{{LocationID: loc, StringID: str, From: t0, To: t0.Add(10 * time.Hour), WorkOrder: "WO-2026-000010", EventType: "capacity_test"}}
	asOf := t0.Add(60 * 7 * time.Hour)
	Lifecycle(as, users, windows, asOf, 1)
	holders := map[uuid.UUID]bool{ID("u", 1): true, ID("u", 2): true}
	var acked, suppressed, resolved, active int
	for _, a := range as {
		if a.AckBy != uuid.Nil {
			acked++
			if !holders[a.AckBy] {
				t.Errorf("acknowledged by %s, who is not an active operator or engineer of the location", a.AckBy)
			}
			if a.AckAt.Before(a.TriggeredAt) || (!a.ResolvedAt.IsZero() && a.ResolvedAt.Before(a.AckAt)) || a.AckAt.After(asOf) {
				t.Errorf("out of order: triggered %v ack %v resolved %v", a.TriggeredAt, a.AckAt, a.ResolvedAt)
			}
		}
		inWindow := a.TriggeredAt.Before(t0.Add(10 * time.Hour))
		switch a.Status {
		case "suppressed":
			suppressed++
			if !inWindow || a.AckBy != uuid.Nil || a.Type == ResistanceDrift {
				t.Errorf("suppressed %s at %v (in window %v, ack %v)", a.Type, a.TriggeredAt, inWindow, a.AckBy)
			}
		case "resolved":
			resolved++
			if a.ResolvedAt.IsZero() {
				t.Error("resolved without resolved_at")
			}
		case "acknowledged":
			if a.AckBy == uuid.Nil || !a.ResolvedAt.IsZero() {
				t.Errorf("acknowledged: ack %v resolved %v", a.AckBy, a.ResolvedAt)
			}
		case "active":
			active++
			if !a.ResolvedAt.IsZero() {
				t.Error("active with resolved_at")
			}
		}
		if inWindow && a.Type != ResistanceDrift && a.Status != "suppressed" {
			t.Errorf("alert at %v inside the window not suppressed", a.TriggeredAt)
		}
	}
	if acked < 20 || suppressed == 0 || resolved < 20 {
		t.Errorf("acked %d suppressed %d resolved %d of %d: the checks saw too little", acked, suppressed, resolved, len(as))
	}
	// Same inputs, same lifecycle; another seed, other delays.
	again := slices.Clone(as)
	Lifecycle(again, users, windows, asOf, 1)
	other2 := slices.Clone(as)
	Lifecycle(other2, users, windows, asOf, 2)
	diff := 0
	for i := range as {
		if again[i].AckAt != as[i].AckAt || again[i].AckBy != as[i].AckBy || again[i].Status != as[i].Status {
			t.Fatalf("alert %d differs on a rerun", i)
		}
		if other2[i].AckAt != as[i].AckAt {
			diff++
		}
	}
	if diff == 0 {
		t.Error("the seed changes no acknowledgement delay")
	}
}

func alertAt(r Rule, loc, str uuid.UUID, at time.Time, sev Severity, resolved time.Duration) Alert {
	e := Episode{Start: at, Triggered: at, Severity: sev, First: sev}
	if resolved > 0 {
		e.Resolved = at.Add(resolved)
	}
	return NewAlert(&r, e, uuid.Nil, str, loc, "rule_engine", uuid.Nil, string(r.Type), nil)
}

func TestCorrelate(t *testing.T) {
	loc, loc2 := ID("loc"), ID("loc2")
	s1, s2, s3 := ID("s1"), ID("s2"), ID("s3")
	users := testUsers(loc, loc2)
	temp, vh, dq := TemperatureHighRule(tWarn, tCrit), VoltageHighRule(floatMax, boostMax), DataQualityRule()
	as := []Alert{
		// s1: two alerts 40 min apart → one incident, low.
		alertAt(vh, loc, s1, t0, Warning, time.Hour),
		alertAt(dq, loc, s1, t0.Add(40*time.Minute), Warning, time.Hour),
		// s2: two warnings 3 h apart → no incident.
		alertAt(vh, loc, s2, t0, Warning, time.Hour),
		alertAt(vh, loc, s2, t0.Add(3*time.Hour), Warning, time.Hour),
		// s3: one critical alone → incident high.
		alertAt(vh, loc, s3, t0.Add(5*time.Hour), Critical, 0),
		// loc2: site-wide temperature on two strings with an HVAC fault.
		alertAt(temp, loc2, ID("s4"), t0.Add(24*time.Hour), Warning, 2*time.Hour),
		alertAt(temp, loc2, ID("s5"), t0.Add(24*time.Hour+30*time.Minute), Critical, 2*time.Hour),
		// loc: temperature alerts with no room excursion → string incident.
		alertAt(temp, loc, s2, t0.Add(48*time.Hour), Warning, time.Hour),
		alertAt(temp, loc, s2, t0.Add(48*time.Hour+20*time.Minute), Warning, time.Hour),
	}
	env := []EnvExcursion{{LocationID: loc2, From: t0.Add(23 * time.Hour), To: t0.Add(26 * time.Hour), PeakC: 33, HVACFault: true}}
	asOf := t0.Add(30 * 24 * time.Hour)
	Lifecycle(as, users, nil, asOf, 1)
	incs := Correlate(as, env, users, Names{loc2: "DC-X"}, asOf, 1)
	if len(incs) != 4 {
		for _, in := range incs {
			t.Logf("%s %s %s %d alerts", in.Code, in.RCACode, in.Severity, len(in.Alerts))
		}
		t.Fatalf("%d incidents, want 4 (s1 pair, s3 critical, HVAC at loc2, s2 temperature pair)", len(incs))
	}
	byRCA := map[string]Incident{}
	for i, in := range incs {
		byRCA[in.RCACode+in.Severity] = in
		if want := fmt.Sprintf("INC-2026-%06d", i+1); in.Code != want {
			t.Errorf("incident %d code %s, want %s (numbered by creation)", i, in.Code, want)
		}
		if in.AssignedTo != ID("u", 2) {
			t.Errorf("%s assigned to %s, want the location's engineer", in.Code, in.AssignedTo)
		}
		if in.Status != "closed" && in.ResolvedAt.IsZero() == (in.Status == "resolved") {
			t.Errorf("%s status %s resolved %v", in.Code, in.Status, in.ResolvedAt)
		}
		if _, ok := RCACodes[in.RCACode]; !ok {
			t.Errorf("rca %q not documented", in.RCACode)
		}
	}
	if in, ok := byRCA["HVAC-FAILcritical"]; !ok || len(in.Alerts) != 2 || in.LocationID != loc2 {
		t.Errorf("no site-wide HVAC incident of two alerts: %+v", byRCA)
	}
	if in, ok := byRCA["CHG-OVERVhigh"]; !ok || len(in.Alerts) != 1 || in.Status != "investigating" {
		t.Errorf("lone critical: %+v", in)
	}
	if _, ok := byRCA["THERM-JARlow"]; !ok {
		t.Error("temperature pair without room excursion not a string incident")
	}
	member := 0
	for _, a := range as {
		if a.IncidentID != uuid.Nil {
			member++
			if a.StringID == s2 && a.Type == VoltageHigh {
				t.Error("alerts 3 h apart correlated")
			}
		}
	}
	if member != 7 {
		t.Errorf("%d alerts in incidents, want 7", member)
	}
	// Work orders: medium and above only, CMMS ids that cannot collide
	// with the transactions stage's WO-YYYY-NNNNNN.
	wos := IncidentWorkOrders(incs, users, asOf, 1)
	digits := regexp.MustCompile(`^WO-\d{4}-\d{6}$`)
	if len(wos) != 2 {
		t.Fatalf("%d incident work orders, want 2 (the high and the critical)", len(wos))
	}
	for _, w := range wos {
		if digits.MatchString(w.ExternalID) || !regexp.MustCompile(`^WO-2026-I\d{6}$`).MatchString(w.ExternalID) {
			t.Errorf("external id %q", w.ExternalID)
		}
		if w.AssignedTo != ID("u", 1) && w.AssignedTo != ID("u", 2) {
			t.Errorf("technician %s does not hold the location", w.AssignedTo)
		}
		if !w.DueDate.After(w.CreatedAt) || (!w.CompletedAt.IsZero() && w.CompletedAt.Before(w.CreatedAt)) {
			t.Errorf("times out of order: %+v", w)
		}
	}
}

func TestMaintenanceWorkOrders(t *testing.T) {
	loc, tech := ID("loc"), ID("tech")
	day := 24 * time.Hour
	ev := func(wo, typ, status string, sched time.Time, done time.Duration) MaintEvent {
		e := MaintEvent{EventID: ID(wo, typ, sched), LocationID: loc, StringID: ID("s"), Technician: tech, Type: typ, Status: status, WorkOrder: wo,
			Scheduled: sched, Created: sched.Add(-7 * day), Updated: sched, Notes: typ + " done"}
		if done > 0 {
			e.Completed = sched.Add(done)
		}
		return e
	}
	asOf := t0.Add(100 * day)
	evs := []MaintEvent{
		ev("WO-2026-000019", "corrective", "completed", t0, 2*time.Hour),
		ev("WO-2026-000019", "replacement", "completed", t0.Add(3*day), 3*time.Hour),
		ev("WO-2026-000028", "visual_inspection", "cancelled", t0, 0),
		ev("WO-2026-000037", "visual_inspection", "scheduled", asOf.Add(5*day), 0),
		ev("WO-2026-000046", "impedance_test", "completed", asOf.Add(-day), time.Hour),
	}
	wos := MaintenanceWorkOrders(evs, asOf)
	by := map[string]WorkOrder{}
	for _, w := range wos {
		by[w.ExternalID] = w
	}
	if len(by) != 4 {
		t.Fatalf("%d work orders, want one per reference (4)", len(by))
	}
	if w := by["WO-2026-000019"]; w.Status != "closed" || !w.CompletedAt.Equal(t0.Add(3*day+3*time.Hour)) || w.Priority != "urgent" || w.Notes == "" {
		t.Errorf("replacement work order: %+v; want closed at the replacement's completion", w)
	}
	if w := by["WO-2026-000028"]; w.Status != "closed" || !w.CompletedAt.IsZero() {
		t.Errorf("cancelled work order: %+v", w)
	}
	if w := by["WO-2026-000037"]; w.Status != "assigned" || w.AssignedTo != tech || !w.CompletedAt.IsZero() {
		t.Errorf("scheduled work order: %+v", w)
	}
	if w := by["WO-2026-000046"]; w.Status != "completed" {
		t.Errorf("work finished yesterday: %s, want completed (closed after two days)", w.Status)
	}
	ws := MaintenanceWindows(evs)
	if len(ws) != 3 { // corrective, replacement, impedance: the inspection opens none
		t.Errorf("%d windows, want 3", len(ws))
	}
}

// Ids are a function of what the row stands for.
func TestIDsAreStable(t *testing.T) {
	r := VoltageLowRule(floatMin)
	e := Episode{Start: t0, Triggered: t0.Add(2 * time.Hour), Severity: Warning}
	a := NewAlert(&r, e, ID("b"), ID("s"), ID("l"), "rule_engine", uuid.Nil, "m", nil)
	b := NewAlert(&r, e, ID("b"), ID("s"), ID("l"), "rule_engine", uuid.Nil, "m", nil)
	e.Start = e.Start.Add(time.Hour)
	c := NewAlert(&r, e, ID("b"), ID("s"), ID("l"), "rule_engine", uuid.Nil, "m", nil)
	if a.ID != b.ID || a.ID == c.ID || a.ContextJSON() != b.ContextJSON() {
		t.Errorf("ids %s %s %s", a.ID, b.ID, c.ID)
	}
}
