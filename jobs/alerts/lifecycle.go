package alerts

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Alert is one alert row, before and after its lifecycle is applied.
type Alert struct {
	ID         uuid.UUID
	BatteryID  uuid.UUID // zero: NULL
	StringID   uuid.UUID // zero: NULL
	LocationID uuid.UUID
	Type       Type
	Severity   Severity
	Source     string    // rule_engine, ml_model, digital_twin
	ModelID    uuid.UUID // zero: NULL
	Episode    Episode
	Message    string
	// Context holds the values and thresholds behind the alert; the
	// lifecycle adds its own keys. Encoded with sorted keys.
	Context map[string]any

	// Set by Lifecycle.
	Status       string // active, acknowledged, resolved, suppressed
	AckBy        uuid.UUID
	AckAt        time.Time
	SuppressedBy string // work order of the maintenance window
	IncidentID   uuid.UUID
	TriggeredAt  time.Time
	ResolvedAt   time.Time // zero: NULL
}

// ns is the namespace of every id this package derives.
var ns = uuid.MustParse("6d1f0a52-5b0e-4f57-9a7c-2a4c1d0b7e11")

// ID derives a stable UUID from the parts (a name-based UUID: same parts,
// same id on every run).
func ID(parts ...any) uuid.UUID {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%v\x00", p)
	}
	return uuid.NewSHA1(ns, []byte(b.String()))
}

// rng is a local generator seeded from seed and an id.
func rng(seed uint64, id uuid.UUID, salt string) *rand.Rand {
	h := sha256.Sum256(append(append(id[:], salt...), byte(seed), byte(seed>>8), byte(seed>>16), byte(seed>>24)))
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(h[:8])^seed, binary.LittleEndian.Uint64(h[8:16])))
}

// NewAlert builds the alert of episode e of rule r on an entity.
func NewAlert(r *Rule, e Episode, battery, str, location uuid.UUID, source string, model uuid.UUID, message string, ctx map[string]any) Alert {
	c := map[string]any{
		"rule": map[string]any{"below": r.Below, "warn": num(r.Warn), "critical": num(r.Crit), "clear": num(r.Clear),
			"min_raise_s": r.MinRaise.Seconds(), "min_clear_s": r.MinClear.Seconds(), "unit": r.Unit},
		"value_at_trigger":    round(e.TriggerValue),
		"peak_value":          round(e.Peak),
		"episode_start":       e.Start.UTC().Format(time.RFC3339),
		"severity_at_trigger": e.First.String(),
		"samples":             e.Samples,
	}
	if r.Info != 0 {
		c["rule"].(map[string]any)["info"] = num(r.Info)
	}
	if !e.Escalated.IsZero() {
		c["escalated_at"] = e.Escalated.UTC().Format(time.RFC3339)
	}
	for k, v := range ctx {
		c[k] = v
	}
	if r.Name != "" {
		c["rule"].(map[string]any)["name"] = r.Name
	}
	id := ID("alert", r.Type, r.Name, battery, str, location, e.Start.UnixMicro())
	return Alert{ID: id, BatteryID: battery, StringID: str, LocationID: location, Type: r.Type, Severity: e.Severity, Source: source,
		ModelID: model, Episode: e, Message: message, Context: c, TriggeredAt: e.Triggered, ResolvedAt: e.Resolved}
}

// num renders a threshold for JSON (NaN: null).
func num(v float64) any {
	if v != v {
		return nil
	}
	return round(v)
}

func round(v float64) float64 {
	if v != v {
		return 0
	}
	return float64(int64(v*1e4+sign(v)*0.5)) / 1e4
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

// ContextJSON encodes the alert's context (map keys sorted by encoding/json).
func (a *Alert) ContextJSON() string {
	b, err := json.Marshal(a.Context)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// User is a user row as the lifecycle needs it.
type User struct {
	ID        uuid.UUID
	Role      string // admin, engineer, operator, viewer
	Locations []uuid.UUID
	Active    bool
}

// holds reports whether u may act on location loc.
func (u *User) holds(loc uuid.UUID) bool { return u.Active && slices.Contains(u.Locations, loc) }

// Window is a maintenance window: alerts of its scope triggered inside it
// are suppressed (expected during the work).
type Window struct {
	LocationID uuid.UUID
	StringID   uuid.UUID // zero: the whole location
	From, To   time.Time
	WorkOrder  string
	EventType  string
}

// Suppressible lists the types maintenance windows suppress: conditions of
// the live telemetry that the work itself causes (a capacity test's
// discharge, an open string, a disconnected sensor). Readings taken by the
// work (impedance surveys, capacity tests) and model outputs are the
// work's purpose, never suppressed.
var Suppressible = []Type{VoltageLow, VoltageHigh, TemperatureHigh, CurrentHigh, RippleHigh, DataQuality}

// Acknowledgement delays by severity: an operator answers a critical
// alert within the hour, a warning within a shift, an info within two
// days (uniform in [min, max)).
var ackDelay = map[Severity][2]time.Duration{
	Critical: {5 * time.Minute, 60 * time.Minute},
	Warning:  {30 * time.Minute, 8 * time.Hour},
	Info:     {2 * time.Hour, 48 * time.Hour},
}

// Lifecycle sets status, acknowledgement and suppression of alerts as of
// asOf (the end of the data):
//   - suppressed: a Suppressible type triggered inside a maintenance
//     window of its location (or of its string) — the alert is kept,
//     marked, never acknowledged;
//   - acknowledged by an operator/engineer (else an admin) who holds the
//     location, after a seeded delay by severity, if that falls before the
//     resolution and before asOf (an alert that clears first is resolved
//     unacknowledged);
//   - resolved when the episode ended by asOf, else acknowledged or active.
func Lifecycle(as []Alert, users []User, windows []Window, asOf time.Time, seed uint64) {
	ws := slices.Clone(windows)
	sort.Slice(ws, func(i, j int) bool { return ws[i].From.Before(ws[j].From) })
	for i := range as {
		a := &as[i]
		a.Status, a.AckBy, a.AckAt, a.SuppressedBy = "active", uuid.UUID{}, time.Time{}, ""
		if !a.ResolvedAt.IsZero() && a.ResolvedAt.After(asOf) {
			a.ResolvedAt = time.Time{}
		}
		for _, w := range ws {
			if !slices.Contains(Suppressible, a.Type) {
				break
			}
			if w.From.After(a.TriggeredAt) {
				break
			}
			if w.LocationID == a.LocationID && (w.StringID == uuid.Nil || w.StringID == a.StringID) && a.TriggeredAt.Before(w.To) {
				a.SuppressedBy = w.WorkOrder
				a.Context["suppressed_by"] = map[string]any{"work_order": w.WorkOrder, "event_type": w.EventType,
					"from": w.From.UTC().Format(time.RFC3339), "to": w.To.UTC().Format(time.RFC3339)}
				break
			}
		}
		if a.SuppressedBy != "" {
			a.Status = "suppressed"
			continue
		}
		if u, ok := pickUser(users, a.LocationID, a.ID, seed, "ack"); ok {
			d := ackDelay[a.Severity]
			r := rng(seed, a.ID, "ack-delay")
			at := a.TriggeredAt.Add(d[0] + time.Duration(r.Int64N(int64(d[1]-d[0]))))
			at = at.Truncate(time.Second)
			if !at.After(asOf) && (a.ResolvedAt.IsZero() || !at.After(a.ResolvedAt)) {
				a.AckBy, a.AckAt = u, at
				a.Context["acknowledged_at"] = at.UTC().Format(time.RFC3339)
				a.Status = "acknowledged"
			}
		}
		if !a.ResolvedAt.IsZero() {
			a.Status = "resolved"
		}
	}
}

// pickUser picks a user who holds loc: operators and engineers first,
// admins only when no one else does; viewers never act. The choice is a
// seeded draw from the candidates sorted by id.
func pickUser(users []User, loc, key uuid.UUID, seed uint64, salt string, roles ...string) (uuid.UUID, bool) {
	if len(roles) == 0 {
		roles = []string{"operator", "engineer"}
	}
	var cand []uuid.UUID
	for _, fallback := range [][]string{roles, {"admin"}} {
		for i := range users {
			if u := &users[i]; slices.Contains(fallback, u.Role) && u.holds(loc) {
				cand = append(cand, u.ID)
			}
		}
		if len(cand) > 0 {
			break
		}
	}
	if len(cand) == 0 {
		return uuid.UUID{}, false
	}
	sort.Slice(cand, func(i, j int) bool { return lessUUID(cand[i], cand[j]) })
	return cand[rng(seed, key, salt).IntN(len(cand))], true
}

func lessUUID(a, b uuid.UUID) bool { return string(a[:]) < string(b[:]) }

// SortAlerts orders alerts as the alert table sorts them (location,
// triggered_at, alert_id).
func SortAlerts(as []Alert) {
	sort.Slice(as, func(i, j int) bool {
		a, b := &as[i], &as[j]
		if a.LocationID != b.LocationID {
			return lessUUID(a.LocationID, b.LocationID)
		}
		if !a.TriggeredAt.Equal(b.TriggeredAt) {
			return a.TriggeredAt.Before(b.TriggeredAt)
		}
		return lessUUID(a.ID, b.ID)
	})
}
