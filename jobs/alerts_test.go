package jobs_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs/evaluate"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// plantRows writes rows into one month partition of table name, as a
// stage of its own would (the rul and anomaly stages are not built yet).
func plantRows(t *testing.T, dir, name, month string, rows []map[string]any) {
	t.Helper()
	tb := schema.MustLookup(name)
	fs, err := objstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	start, _ := time.Parse("2006-01", month)
	job := &pipeline.FuncJob{JobName: name, StageName: "plant", Out: []*schema.Table{tb}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		return []pipeline.Task{{Partition: lake.MustPartition(tb, month, -1), Meta: lake.Meta{Job: "plant"}, Segments: []lake.Segment{lake.AsOfSegment(start, start.AddDate(0, 1, 0))},
			Run: func(ctx context.Context, o *lake.Output) error {
				w, err := parquetio.NewRowWriter(o.Data(), tb)
				if err != nil {
					return err
				}
				sink := parquetio.NewRowSink(w, tb)
				for _, r := range rows {
					if err := sink.Add(func(b *parquetio.RowBuilder) {
						for k, v := range r {
							b.Set(k, v)
						}
					}); err != nil {
						return err
					}
				}
				n, err := sink.Close()
				o.SetRows(n)
				return err
			}}}, nil
	}}
	if _, err := (&pipeline.Runner{Lake: lake.New(fs), Workers: 1}).RunJobs(context.Background(), []pipeline.Job{job}); err != nil {
		t.Fatal(err)
	}
}

// The alerts stage on a tiny lake: planted predictions and anomaly scores
// fire their alerts (and near misses do not), lifecycle timestamps are
// ordered, acknowledgers hold the location, every maintenance event's work
// order exists, incidents and work orders link, and a rerun writes nothing.
func TestAlertStageOnTinyLake(t *testing.T) {
	dir := t.TempDir()
	sc := smallScenario("2026-10-25", 3, 10*time.Minute)
	run(t, dir, sc, 8, "master", "telemetry", "transactions", "calc", "features") // derivedRun's seed
	db := openDuck(t)
	scan := func(name string) string { return lakecheck.Scan(dir, schema.MustLookup(name)) }

	// Three jars of the lake and the anomaly and RUL models of ml_model.
	var jars []uuid.UUID
	rows, err := db.Query(fmt.Sprintf(`SELECT battery_id::VARCHAR FROM %s WHERE status <> 'replaced' ORDER BY battery_id LIMIT 3`, scan("battery")))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		jars = append(jars, uuid.MustParse(s))
	}
	rows.Close()
	if len(jars) != 3 {
		t.Fatalf("%d jars", len(jars))
	}
	// A registered model for the planted rows (a lake this small has too
	// few ends of service for stage rul to train one).
	modelID := uuid.NewSHA1(uuid.Nil, []byte("planted model"))
	plantRows(t, dir, "ml_model", "", []map[string]any{{"model_id": modelID, "model_name": "planted", "model_type": "anomaly_iforest", "version": "1.0.0", "status": "production"}})
	day := func(d int) time.Time { return time.Date(2026, 10, 25+d, 6, 0, 0, 0, time.UTC) }
	// jar 0: RUL falls under 180 days (warning); jar 1: under 30 (critical);
	// jar 2: 185-200 days (near miss).
	ruls := [][]float64{{400, 170, 160}, {40, 25, 20}, {200, 190, 185}}
	var preds []map[string]any
	for j, rs := range ruls {
		for d, v := range rs {
			preds = append(preds, map[string]any{"prediction_id": uuid.NewSHA1(uuid.Nil, []byte(fmt.Sprint(j, d))), "battery_id": jars[j], "model_id": modelID,
				"predicted_at": day(d), "rul_days": v, "source": "ml_model"})
		}
	}
	// jar 2 also has twin and fused rows far under both thresholds every
	// day: the rules act on the ML model's rows only, so they stay quiet.
	for d := range ruls[2] {
		preds = append(preds,
			map[string]any{"prediction_id": uuid.NewSHA1(uuid.Nil, []byte(fmt.Sprint("twin", d))), "battery_id": jars[2], "predicted_at": day(d), "rul_days": 10.0, "source": "digital_twin"},
			map[string]any{"prediction_id": uuid.NewSHA1(uuid.Nil, []byte(fmt.Sprint("fused", d))), "battery_id": jars[2], "model_id": modelID, "predicted_at": day(d), "rul_days": 12.0, "source": "fused"})
	}
	sort.Slice(preds, func(i, k int) bool {
		a, b := preds[i]["battery_id"].(uuid.UUID), preds[k]["battery_id"].(uuid.UUID)
		if a != b {
			return a.String() < b.String()
		}
		if ta, tb := preds[i]["predicted_at"].(time.Time), preds[k]["predicted_at"].(time.Time); !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return preds[i]["prediction_id"].(uuid.UUID).String() < preds[k]["prediction_id"].(uuid.UUID).String()
	})
	plantRows(t, dir, "rul_prediction", "2026-10", preds)
	// jar 0: two anomalous scores in a row; jar 2: one isolated (near miss).
	scores := [][]float64{{0.5, 0.8, 0.85}, {0.5, 0.5, 0.5}, {0.5, 0.9, 0.5}}
	var an []map[string]any
	for j, ss := range scores {
		for d, v := range ss {
			an = append(an, map[string]any{"scored_at": day(d), "battery_id": jars[j], "model_id": modelID, "score": v, "threshold": 0.7, "is_anomaly": v > 0.7})
		}
	}
	plantRows(t, dir, "anomaly_score", "2026-10", an)

	written := derivedRun(t, dir, "", sc, "alerts")
	if len(written) == 0 {
		t.Fatal("the alerts stage wrote nothing")
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(fmt.Sprintf(q, args...)).Scan(&n); err != nil {
			t.Fatalf("%v\n%s", err, fmt.Sprintf(q, args...))
		}
		return n
	}
	alert := scan("alert")
	for _, c := range []struct {
		jar  int
		typ  string
		want int
	}{{0, "rul_warning", 1}, {1, "rul_critical", 1}, {1, "rul_warning", 1}, {2, "rul_warning", 0}, {2, "rul_critical", 0}, {0, "rul_critical", 0},
		{0, "anomaly_detected", 1}, {2, "anomaly_detected", 0}, {1, "anomaly_detected", 0}} {
		got := count(`SELECT count(*) FROM %s WHERE battery_id = '%s' AND alert_type = '%s' AND source = 'ml_model' AND model_id = '%s'`, alert, jars[c.jar], c.typ, modelID)
		if got != c.want {
			t.Errorf("jar %d: %d %s alerts, want %d", c.jar, got, c.typ, c.want)
		}
	}
	if n := count(`SELECT count(*) FROM %s WHERE alert_type = 'rul_critical' AND severity <> 'critical'`, alert); n != 0 {
		t.Errorf("%d rul_critical alerts not critical", n)
	}
	// Lifecycle order and coherence.
	if n := count(`SELECT count(*) FROM %s WHERE
		(resolved_at IS NOT NULL AND resolved_at < triggered_at)
		OR (json_extract_string(context_json, '$.acknowledged_at') IS NOT NULL AND (
			json_extract_string(context_json, '$.acknowledged_at')::TIMESTAMPTZ < triggered_at
			OR json_extract_string(context_json, '$.acknowledged_at')::TIMESTAMPTZ > coalesce(resolved_at, TIMESTAMPTZ '2100-01-01')))
		OR (acknowledged_by IS NULL) <> (json_extract_string(context_json, '$.acknowledged_at') IS NULL)
		OR (status = 'resolved') <> (resolved_at IS NOT NULL AND status <> 'suppressed')
		OR (status = 'acknowledged' AND acknowledged_by IS NULL)
		OR (status = 'suppressed' AND acknowledged_by IS NOT NULL)`, alert); n != 0 {
		t.Errorf("%d alerts with lifecycle out of order", n)
	}
	if n := count(`SELECT count(*) FROM %s a JOIN %s u ON u.user_id = a.acknowledged_by
		WHERE NOT contains(u.location_ids::VARCHAR, a.location_id::VARCHAR) OR u.role NOT IN ('operator', 'engineer', 'admin')`, alert, scan("user")); n != 0 {
		t.Errorf("%d alerts acknowledged by a user who does not hold the location", n)
	}
	if n := count(`SELECT count(*) FROM %s WHERE acknowledged_by IS NOT NULL`, alert); n == 0 {
		t.Error("no alert acknowledged: the check above proves nothing")
	}
	// Every CMMS reference of maintenance_event is a work order; incident
	// work orders and alerts point at incidents.
	wo, inc := scan("work_order"), scan("incident")
	if n := count(`SELECT count(DISTINCT work_order_id) FROM %s m WHERE work_order_id IS NOT NULL AND work_order_id NOT IN (SELECT external_id FROM %s)`, scan("maintenance_event"), wo); n != 0 {
		t.Errorf("%d maintenance work orders missing from work_order", n)
	}
	if n := count(`SELECT count(*) FROM %s`, scan("maintenance_event")); n == 0 {
		t.Fatal("no maintenance events: the check above proves nothing")
	}
	if n := count(`SELECT count(*) FROM %s w JOIN %s m ON m.work_order_id = w.external_id
		WHERE m.event_type = 'replacement' AND m.status = 'completed' AND (w.status <> 'closed' OR w.completed_at < m.completed_date)`, wo, scan("maintenance_event")); n != 0 {
		t.Errorf("%d replacements that did not close their work order", n)
	}
	if n := count(`SELECT count(*) FROM %s WHERE incident_id IS NOT NULL AND incident_id NOT IN (SELECT incident_id FROM %s)`, alert, inc); n != 0 {
		t.Errorf("%d alerts point at a missing incident", n)
	}
	if n := count(`SELECT count(*) FROM %s WHERE incident_id IS NOT NULL AND (incident_id NOT IN (SELECT incident_id FROM %s) OR NOT regexp_matches(external_id, '^WO-\d{4}-I\d{6}$'))`, wo, inc); n != 0 {
		t.Errorf("%d incident work orders out of place", n)
	}
	if n := count(`SELECT count(*) FROM %s WHERE NOT regexp_matches(incident_code, '^INC-\d{4}-\d{6}$') OR created_at > coalesce(resolved_at, created_at) OR resolved_at > coalesce(closed_at, resolved_at)`, inc); n != 0 {
		t.Errorf("%d incidents with a bad code or times out of order", n)
	}
	if n := count(`SELECT count(*) FROM %s WHERE completed_at < created_at OR due_date < created_at`, wo); n != 0 {
		t.Errorf("%d work orders with times out of order", n)
	}
	// The critical RUL alert opened an incident with an urgent/high work order.
	if n := count(`SELECT count(*) FROM %s a JOIN %s w USING (incident_id) WHERE a.alert_type = 'rul_critical'`, alert, wo); n == 0 {
		t.Error("the critical RUL alert raised no incident work order")
	}
	// The stage reads the string's mode from its current and flags (the
	// enum is off the fast path): every discharge sample is under -5 A,
	// every boost or equalize sample has the equalize flag, more than 10 A
	// of charge, or a discharge sample within the 4 h before.
	raw := scan("telemetry_string_raw")
	if n := count(`SELECT count(*) FROM %s WHERE (mode = 'discharge') <> coalesce(current_a < -5, false)`, raw); n != 0 {
		t.Errorf("%d samples where mode = discharge and current < -5 A disagree", n)
	}
	if n := count(`SELECT count(*) FROM %[1]s r WHERE mode IN ('boost', 'equalize') AND NOT (coalesce(equalize_flag, false) OR coalesce(current_a > 10, false)
		OR EXISTS (SELECT 1 FROM %[1]s d WHERE d.string_id = r.string_id AND d.current_a < -5 AND d.ts BETWEEN r.ts - INTERVAL 4 HOUR AND r.ts))`, raw); n != 0 {
		t.Errorf("%d boost or equalize samples the stage would read as float", n)
	}
	if n := count(`SELECT count(*) FROM %s WHERE mode IN ('discharge', 'boost', 'equalize')`, raw); n == 0 {
		t.Log("no discharge, boost or equalize in the window: the mode checks above prove nothing here")
	}
	// Counts per site and type in the ranges documented on the stage
	// (jobs/derive/alerts.go): history types per site over its years,
	// telemetry types per string and day of the window.
	strings_, days := count(`SELECT count(*) FROM %s`, scan("string")), 3
	for _, c := range []struct {
		typ    string
		lo, hi int
	}{{"resistance_drift", 5, 600}, {"soh_degraded", 1, 30},
		{"voltage_low", 0, 2 * strings_ * days}, {"voltage_high", 0, 2 * strings_ * days}, {"temperature_high", 0, 2 * strings_ * days},
		{"current_high", 0, strings_ * days}, {"ripple_high", 0, strings_ * days}, {"data_quality", 0, 2 * strings_ * days}} {
		if n := count(`SELECT count(*) FROM %s WHERE alert_type = '%s'`, alert, c.typ); n < c.lo || n > c.hi {
			t.Errorf("%d %s alerts on one site, want %d..%d", n, c.typ, c.lo, c.hi)
		}
	}
	if again := derivedRun(t, dir, "", sc, "alerts"); len(again) != 0 {
		t.Fatalf("rerun wrote %s", strings.Join(again, ", "))
	}

	// evaluate.Alerts against the same definitions in SQL.
	fs, err := objstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := evaluate.Alerts(context.Background(), lake.New(fs))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", rep)
	q := fmt.Sprintf(`WITH
		first_t AS (SELECT least((SELECT min(measured_at) FROM %[1]s), (SELECT min(test_date) FROM %[2]s), (SELECT min(feature_ts) FROM %[3]s)) AS t),
		asof_t AS (SELECT date_trunc('day', max(feature_ts)) + INTERVAL 1 DAY AS t FROM %[3]s),
		pop AS (SELECT tb.battery_id, tb.end_of_service_date::TIMESTAMPTZ eos, b.string_id, b.installed_date::TIMESTAMPTZ inst
			FROM %[4]s tb JOIN %[5]s b USING (battery_id)
			WHERE tb.end_of_service_date::TIMESTAMPTZ >= (SELECT t FROM first_t) + INTERVAL 30 DAY
			AND tb.end_of_service_date::TIMESTAMPTZ < (SELECT t FROM asof_t)
			AND NOT coalesce(tb.replaced_date < tb.end_of_service_date, false)),
		warn AS (SELECT * FROM %[6]s WHERE severity IN ('warning', 'critical') AND status <> 'suppressed'
			AND alert_type IN ('resistance_drift', 'soh_degraded', 'rul_warning', 'rul_critical', 'anomaly_detected', 'temperature_high', 'voltage_low', 'voltage_high'))
		SELECT (SELECT count(*) FROM pop),
			(SELECT count(*) FROM pop p WHERE EXISTS (SELECT 1 FROM warn a WHERE
				(a.battery_id = p.battery_id OR (a.battery_id IS NULL AND a.alert_type = 'soh_degraded' AND a.string_id = p.string_id))
				AND a.triggered_at <= p.eos - INTERVAL 30 DAY AND a.triggered_at >= coalesce(p.inst, a.triggered_at)
				AND (a.resolved_at IS NULL OR a.resolved_at >= p.eos - INTERVAL 365 DAY))),
			(SELECT count(*) FROM %[6]s WHERE severity = 'critical' AND status <> 'suppressed')`,
		scan("impedance_measurement_raw"), scan("capacity_test_raw"), scan("feature_store"), lakecheck.Scan(dir, schema.MustLookup("truth_battery")), scan("battery"), alert)
	var pop, warned, crit int
	if err := db.QueryRow(q).Scan(&pop, &warned, &crit); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	if pop == 0 || crit == 0 {
		t.Fatalf("population %d, critical %d: the comparison proves nothing", pop, crit)
	}
	if rep.EndOfService != pop || rep.Warned30d != warned || rep.Critical != crit {
		t.Errorf("evaluate: %d jars at end of service, %d warned, %d critical; SQL: %d, %d, %d", rep.EndOfService, rep.Warned30d, crit, pop, warned, crit)
	}
	if rep.CriticalMatched > rep.Critical || rep.CriticalPrecision < 0 || rep.CriticalPrecision > 1 || math.IsNaN(rep.MedianLeadDays) != (warned == 0) {
		t.Errorf("report out of bounds: %+v", rep)
	}
}
