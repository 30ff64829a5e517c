// Package evaluate scores what the derived stages produced against the
// hidden truth (_truth/ tables). It is the only reader of the truth
// outside the synthesizer; nothing derived depends on it.
package evaluate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// ErrNoAlerts says the lake holds no alert table to evaluate.
var ErrNoAlerts = errors.New("no alerts in the lake: run the alerts stage first")

// Warning horizon: a warning counts for a jar's end of service when it
// was raised at least LeadMin and at most Horizon before it (an alert ten
// years earlier is not a warning of this failure).
const (
	LeadMin = 30 * 24 * time.Hour
	Horizon = 365 * 24 * time.Hour
	// MatchSlack widens a critical alert's span when matching truth
	// events (a condition seen on hourly data lags the event).
	MatchSlack = 2 * time.Hour
	// NearEndDays: a jar whose true remaining life is under this many
	// days, or whose true SOH is under 80 %, is in a real critical state
	// (a critical alert asks for a replacement, which takes months to
	// plan and deliver).
	NearEndDays = 180
)

// warningTypes are the alert types that warn of a jar's end of life.
var warningTypes = map[string]bool{"resistance_drift": true, "soh_degraded": true, "rul_warning": true, "rul_critical": true,
	"anomaly_detected": true, "temperature_high": true, "voltage_low": true, "voltage_high": true}

// AlertReport is the usefulness of the alerts against the truth.
//
//   - Population: jars whose true end of service (the earlier of end of
//     life, SOH < 80 %, and a sudden failure) falls between the first
//     observation in the lake plus LeadMin and the lake's as-of time, and
//     that were still in service then (not replaced before).
//   - Warned: such a jar had a warning or critical alert of a warning type
//     on itself, or a soh_degraded alert on its string, raised at least
//     LeadMin before its end of service and still open within Horizon of
//     it (suppressed alerts excluded).
//   - Lead time: end of service minus the raise of the earliest such
//     alert (any lead), median over the jars that had one.
//   - A critical alert matched a real condition when, on the day it
//     became critical (trigger or escalated_at),
//     its jar (or for a string alert any jar of its string; for a site
//     alert any jar of the site) was truly under 80 % SOH or within
//     NearEndDays of its end of service, or a truth_event of its jar,
//     string or site overlapped the alert's span widened by MatchSlack.
type AlertReport struct {
	AsOf              time.Time
	Alerts            int
	AlertsByType      map[string]int
	EndOfService      int     // jars in the population
	Warned30d         int     // of them, warned at least 30 days ahead
	WarnedShare       float64 // Warned30d / EndOfService
	MedianLeadDays    float64 // NaN when no jar was warned
	Critical          int     // critical alerts (not suppressed)
	CriticalMatched   int
	CriticalPrecision float64 // CriticalMatched / Critical
	UnmatchedByType   map[string]int
}

func (r AlertReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "alerts as of %s: %d\n", r.AsOf.Format(time.DateOnly), r.Alerts)
	types := make([]string, 0, len(r.AlertsByType))
	for t := range r.AlertsByType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Fprintf(&b, "  %-18s %7d\n", t, r.AlertsByType[t])
	}
	fmt.Fprintf(&b, "%-44s %6d of %6d  %5.1f %%\n", "jars at end of service warned >= 30 days ahead", r.Warned30d, r.EndOfService, 100*r.WarnedShare)
	fmt.Fprintf(&b, "%-44s %6.0f days\n", "median lead time", r.MedianLeadDays)
	fmt.Fprintf(&b, "%-44s %6d of %6d  %5.1f %%\n", "critical alerts matching a real condition", r.CriticalMatched, r.Critical, 100*r.CriticalPrecision)
	if len(r.UnmatchedByType) > 0 {
		types = types[:0]
		for t := range r.UnmatchedByType {
			types = append(types, t)
		}
		sort.Strings(types)
		for _, t := range types {
			fmt.Fprintf(&b, "  unmatched %-18s %5d\n", t, r.UnmatchedByType[t])
		}
	}
	return b.String()
}

type alertRow struct {
	battery, str, loc uuid.UUID
	typ, sev, status  string
	trig, res         time.Time
	critAt            time.Time // when it became critical: trigger, or escalated_at
}

type truthJar struct {
	eos       time.Time
	replaced  time.Time
	str, loc  uuid.UUID
	installed time.Time
}

type truthEvent struct {
	battery, str, loc uuid.UUID
	from, to          time.Time
}

// Alerts computes the report for lake l.
func Alerts(ctx context.Context, l *lake.Lake) (AlertReport, error) {
	var rep AlertReport
	as, err := readAlerts(ctx, l)
	if err != nil {
		return rep, err
	}
	if len(as) == 0 {
		return rep, ErrNoAlerts
	}
	m, err := derive.LoadMaster(ctx, l)
	if err != nil {
		return rep, err
	}
	locOf := func(s uuid.UUID) uuid.UUID {
		if st, ok := m.Strings[s]; ok {
			if sy, ok := m.Systems[st.SystemID]; ok {
				return sy.LocationID
			}
		}
		return uuid.UUID{}
	}
	rep.AlertsByType, rep.UnmatchedByType = map[string]int{}, map[string]int{}
	rep.Alerts = len(as)
	for _, a := range as {
		rep.AlertsByType[a.typ]++
	}
	// As-of: the end of the telemetry, as the alerts stage uses it.
	for _, name := range []string{"feature_store", "telemetry_string_raw"} {
		ix, err := derive.Load(ctx, l, schema.MustLookup(name))
		if err != nil {
			return rep, err
		}
		for _, d := range ix.Days() {
			if e := d.AddDate(0, 0, 1); e.After(rep.AsOf) {
				rep.AsOf = e
			}
		}
	}
	first, err := firstObservation(ctx, l)
	if err != nil {
		return rep, err
	}
	jars := map[uuid.UUID]*truthJar{}
	if err := eachTable(ctx, l, "truth_battery", []string{"battery_id", "end_of_service_date", "replaced_date"}, func(rec arrow.RecordBatch) error {
		for i := 0; i < int(rec.NumRows()); i++ {
			id := uuidAt(rec.Column(0), i)
			b, ok := m.Battery(id)
			if !ok {
				continue
			}
			jars[id] = &truthJar{eos: dateAt(rec.Column(1), i), replaced: dateAt(rec.Column(2), i), str: b.StringID, loc: locOf(b.StringID), installed: b.Installed}
		}
		return nil
	}); err != nil {
		return rep, err
	}

	// Warning episodes per jar, and string soh episodes per string.
	type span struct{ from, to time.Time } // to zero: still open
	byJar := map[uuid.UUID][]span{}
	byString := map[uuid.UUID][]span{}
	for _, a := range as {
		if a.status == "suppressed" || (a.sev != "warning" && a.sev != "critical") || !warningTypes[a.typ] {
			continue
		}
		if a.battery != uuid.Nil {
			byJar[a.battery] = append(byJar[a.battery], span{a.trig, a.res})
		} else if a.typ == "soh_degraded" && a.str != uuid.Nil {
			byString[a.str] = append(byString[a.str], span{a.trig, a.res})
		}
	}
	var leads []float64
	ids := make([]uuid.UUID, 0, len(jars))
	for id := range jars {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	for _, id := range ids {
		j := jars[id]
		if j.eos.Before(first.Add(LeadMin)) || !j.eos.Before(rep.AsOf) || (!j.replaced.IsZero() && j.replaced.Before(j.eos)) {
			continue // not observable, not yet, or replaced before its end
		}
		rep.EndOfService++
		earliest := time.Time{}
		warned := false
		for _, sp := range append(append([]span(nil), byJar[id]...), byString[j.str]...) {
			// An episode counts when it was raised before the end of
			// service and still open within Horizon of it.
			if sp.from.After(j.eos) || sp.from.Before(j.installed) || (!sp.to.IsZero() && j.eos.Sub(sp.to) > Horizon) {
				continue
			}
			if earliest.IsZero() || sp.from.Before(earliest) {
				earliest = sp.from
			}
			if j.eos.Sub(sp.from) >= LeadMin {
				warned = true
			}
		}
		if warned {
			rep.Warned30d++
		}
		if !earliest.IsZero() {
			leads = append(leads, j.eos.Sub(earliest).Hours()/24)
		}
	}
	if rep.EndOfService > 0 {
		rep.WarnedShare = float64(rep.Warned30d) / float64(rep.EndOfService)
	}
	rep.MedianLeadDays = median(leads)

	// Critical alerts against the truth.
	var crit []alertRow
	for _, a := range as {
		if a.sev == "critical" && a.status != "suppressed" {
			crit = append(crit, a)
		}
	}
	rep.Critical = len(crit)
	if len(crit) == 0 {
		return rep, nil
	}
	events, err := readEvents(ctx, l)
	if err != nil {
		return rep, err
	}
	// Jars in a real critical state on a day (only the days critical
	// alerts need).
	type key struct {
		jar uuid.UUID
		day int32
	}
	need := map[int32]bool{}
	for _, a := range crit {
		need[int32(a.critAt.Unix()/86400)] = true
	}
	bad := map[key]bool{}
	daily, err := derive.Load(ctx, l, schema.MustLookup("truth_battery_daily"))
	if err != nil {
		return rep, err
	}
	for _, f := range daily.All() {
		relevant := false
		for d := range need {
			t := time.Unix(int64(d)*86400, 0).UTC()
			if !t.Before(f.Segment.From) && t.Before(f.Segment.To) || lake.Month(t) == f.Partition.Month {
				relevant = true
				break
			}
		}
		if !relevant {
			continue
		}
		if err := derive.EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: []string{"day", "battery_id", "soh_pct", "rul_days"}}, func(b *parquetio.SliceBatch) error {
			c := b.Cols
			for i := 0; i < b.Rows; i++ {
				d := c[0].Int32[i]
				if !need[d] {
					continue
				}
				if float64(c[2].Int32[i])/100 < 80 || float64(c[3].Int32[i])/10 < NearEndDays {
					bad[key{c[1].UUID[i], d}] = true
				}
			}
			return nil
		}); err != nil {
			return rep, err
		}
	}
	jarsOf := map[uuid.UUID][]uuid.UUID{} // string or location → jars
	for i := range m.Batteries {
		b := &m.Batteries[i]
		jarsOf[b.StringID] = append(jarsOf[b.StringID], b.ID)
		loc := locOf(b.StringID)
		jarsOf[loc] = append(jarsOf[loc], b.ID)
	}
	for _, a := range crit {
		d := int32(a.critAt.Unix() / 86400)
		scope := []uuid.UUID{a.battery}
		switch {
		case a.battery != uuid.Nil:
		case a.str != uuid.Nil:
			scope = jarsOf[a.str]
		default:
			scope = jarsOf[a.loc]
		}
		ok := false
		for _, j := range scope {
			if bad[key{j, d}] {
				ok = true
				break
			}
		}
		if !ok {
			end := a.res
			if end.IsZero() {
				end = a.trig
			}
			from, to := a.critAt.Add(-MatchSlack), end.Add(MatchSlack)
			for _, e := range events {
				inScope := (e.battery != uuid.Nil && e.battery == a.battery) ||
					(e.battery == uuid.Nil && e.str != uuid.Nil && e.str == a.str) ||
					(e.str == uuid.Nil && e.loc == a.loc) ||
					(a.battery == uuid.Nil && a.str != uuid.Nil && e.str == a.str) ||
					(a.battery == uuid.Nil && a.str == uuid.Nil && e.loc == a.loc)
				if inScope && e.from.Before(to) && (e.to.IsZero() || e.to.After(from)) {
					ok = true
					break
				}
			}
		}
		if ok {
			rep.CriticalMatched++
		} else {
			rep.UnmatchedByType[a.typ]++
		}
	}
	rep.CriticalPrecision = float64(rep.CriticalMatched) / float64(rep.Critical)
	return rep, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// firstObservation is the earliest impedance survey or capacity test: no
// warning of a jar's end can come earlier.
func firstObservation(ctx context.Context, l *lake.Lake) (time.Time, error) {
	var first time.Time
	for _, x := range []struct{ table, col string }{{"impedance_measurement_raw", "measured_at"}, {"capacity_test_raw", "test_date"}, {"feature_store", "feature_ts"}} {
		ix, err := derive.Load(ctx, l, schema.MustLookup(x.table))
		if err != nil {
			return first, err
		}
		for _, f := range ix.All() {
			if err := derive.EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: []string{x.col}}, func(b *parquetio.SliceBatch) error {
				for _, v := range b.Cols[0].Int64 {
					if t := time.UnixMicro(v).UTC(); first.IsZero() || t.Before(first) {
						first = t
					}
				}
				return nil
			}); err != nil {
				return first, err
			}
		}
	}
	return first, nil
}

func eachTable(ctx context.Context, l *lake.Lake, table string, cols []string, fn func(rec arrow.RecordBatch) error) error {
	ix, err := derive.Load(ctx, l, schema.MustLookup(table))
	if err != nil {
		return err
	}
	for _, f := range ix.All() {
		if err := derive.EachRecord(ctx, l, f, cols, fn); err != nil {
			return err
		}
	}
	return nil
}

func readAlerts(ctx context.Context, l *lake.Lake) ([]alertRow, error) {
	var out []alertRow
	err := eachTable(ctx, l, "alert", []string{"battery_id", "string_id", "location_id", "alert_type", "severity", "status", "triggered_at", "resolved_at", "context_json"}, func(rec arrow.RecordBatch) error {
		for i := 0; i < int(rec.NumRows()); i++ {
			a := alertRow{battery: uuidAt(rec.Column(0), i), str: uuidAt(rec.Column(1), i), loc: uuidAt(rec.Column(2), i),
				typ: strAt(rec.Column(3), i), sev: strAt(rec.Column(4), i), status: strAt(rec.Column(5), i),
				trig: tsAt(rec.Column(6), i), res: tsAt(rec.Column(7), i)}
			a.critAt = a.trig
			var c struct {
				Escalated time.Time `json:"escalated_at"`
			}
			if js := jsonAt(rec.Column(8), i); js != "" && json.Unmarshal([]byte(js), &c) == nil && !c.Escalated.IsZero() {
				a.critAt = c.Escalated
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

func readEvents(ctx context.Context, l *lake.Lake) ([]truthEvent, error) {
	var out []truthEvent
	err := eachTable(ctx, l, "truth_event", []string{"battery_id", "string_id", "location_id", "start_ts", "end_ts"}, func(rec arrow.RecordBatch) error {
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, truthEvent{battery: uuidAt(rec.Column(0), i), str: uuidAt(rec.Column(1), i), loc: uuidAt(rec.Column(2), i),
				from: tsAt(rec.Column(3), i), to: tsAt(rec.Column(4), i)})
		}
		return nil
	})
	return out, err
}

func uuidAt(a arrow.Array, i int) uuid.UUID {
	if ext, ok := a.(array.ExtensionArray); ok {
		a = ext.Storage()
	}
	fb, ok := a.(*array.FixedSizeBinary)
	if !ok || fb.IsNull(i) {
		return uuid.UUID{}
	}
	return uuid.UUID(fb.Value(i))
}

// jsonAt reads a JSON column (binary or string in Arrow).
func jsonAt(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return ""
	}
	switch x := a.(type) {
	case *array.String:
		return x.Value(i)
	case *array.Binary:
		return string(x.Value(i))
	}
	return a.ValueStr(i)
}

func strAt(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return ""
	}
	return a.ValueStr(i)
}

func tsAt(a arrow.Array, i int) time.Time {
	t, ok := a.(*array.Timestamp)
	if !ok || t.IsNull(i) {
		return time.Time{}
	}
	return time.UnixMicro(int64(t.Value(i))).UTC()
}

func dateAt(a arrow.Array, i int) time.Time {
	d, ok := a.(*array.Date32)
	if !ok || d.IsNull(i) {
		return time.Time{}
	}
	return time.Unix(int64(d.Value(i))*86400, 0).UTC()
}
