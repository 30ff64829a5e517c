package jobs_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/schema"
)

// One site, two days at 10 s: every telemetry table written, read back by
// DuckDB and checked against physics that must hold in the raw data.
func TestTelemetryLakeHoldsThePhysics(t *testing.T) {
	dir := t.TempDir()
	sc := smallScenario("2026-04-14", 2, 10*time.Second)
	run(t, dir, sc, 21, "master", "telemetry")
	db := openDuck(t)
	found, have := checkLake(t, db, dir)
	for _, n := range []string{"telemetry_jar_raw", "telemetry_string_raw", "telemetry_env", "ripple_capture", "truth_battery_daily", "truth_event"} {
		if !have[n] {
			t.Fatalf("table %s missing (found %v)", n, found)
		}
	}
	jar := lakecheck.Scan(dir, schema.MustLookup("telemetry_jar_raw"))
	str := lakecheck.Scan(dir, schema.MustLookup("telemetry_string_raw"))
	env := lakecheck.Scan(dir, schema.MustLookup("telemetry_env"))
	bat := lakecheck.Scan(dir, schema.MustLookup("battery"))
	q := func(name, sql string, dst ...any) {
		t.Helper()
		if err := db.QueryRow(sql).Scan(dst...); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, sql)
		}
	}

	// Row count: 216 jars x 2 days x 8640 samples, minus documented dropouts.
	var rows int64
	q("rows", "SELECT count(*) FROM "+jar, &rows)
	full := int64(216 * 2 * 8640)
	if rows > full || rows < full*98/100 {
		t.Fatalf("jar rows = %d, want within 2%% below %d (dropouts only)", rows, full)
	}

	// Conductance is 1/resistance (S vs mΩ) within the last decimal.
	var badG int64
	q("conductance", "SELECT count(*) FROM "+jar+" WHERE abs(conductance_s - 1000.0/resistance_mohm) > 0.00001 + 1000.0/resistance_mohm*0.00002", &badG)
	if badG != 0 {
		t.Fatalf("%d rows where conductance != 1/resistance", badG)
	}

	// String voltage equals the sum of its jars within noise, wherever the
	// jar sensors report cleanly (faulty samples are a documented ~0.1 %).
	var n, within int64
	q("string sum", `WITH j AS (SELECT b.string_id, r.ts, sum(r.voltage_v) v, count(*) c FROM `+jar+` r JOIN `+bat+` b USING (battery_id) GROUP BY ALL)
		SELECT count(*), count(*) FILTER (WHERE abs(s.voltage_v - j.v) < 0.3) FROM `+str+` s JOIN j ON j.string_id = s.string_id AND j.ts = s.ts WHERE j.c = 24`, &n, &within)
	if n == 0 || float64(within) < 0.99*float64(n) {
		t.Fatalf("string voltage = sum of jars within 0.3 V at %d of %d samples", within, n)
	}

	// Healthy float: most float samples sit inside the model's float band
	// (13.50-13.80 V at 25 °C, compensated -18 mV/°C per block).
	var floatN, inBand int64
	q("float band", `SELECT count(*), count(*) FILTER (WHERE r.voltage_v BETWEEN 13.50 - 0.018*(r.temperature_c-25) - 0.08 AND 13.80 - 0.018*(r.temperature_c-25) + 0.08)
		FROM `+jar+` r JOIN `+bat+` b USING (battery_id) JOIN `+str+` s ON s.string_id = b.string_id AND s.ts = r.ts
		JOIN `+lakecheck.Scan(dir, schema.MustLookup("truth_battery"))+` tb ON tb.battery_id = r.battery_id
		WHERE s.mode = 'float' AND tb.profile = 'healthy'`, &floatN, &inBand)
	if floatN == 0 || float64(inBand) < 0.97*float64(floatN) {
		t.Fatalf("healthy float samples in band: %d of %d", inBand, floatN)
	}

	// Jar temperature follows the room plus a small heating: per hour, the
	// mean jar temperature is above the room's and within a few degrees.
	var hours, warmer, close int64
	q("thermal", `WITH j AS (SELECT date_trunc('hour', ts) h, avg(temperature_c) t FROM `+jar+` GROUP BY 1),
		e AS (SELECT date_trunc('hour', ts) h, avg(temperature_c) t FROM `+env+` GROUP BY 1)
		SELECT count(*), count(*) FILTER (WHERE j.t > e.t - 1.0), count(*) FILTER (WHERE abs(j.t - e.t) < 4) FROM j JOIN e USING (h)`, &hours, &warmer, &close)
	if hours < 40 || warmer < hours*9/10 || close < hours*9/10 {
		t.Fatalf("jar vs room temperature by hour: %d hours, %d not colder, %d within 4 °C", hours, warmer, close)
	}

	// Hive-partitioned glob: month and bucket keys as users see them.
	var buckets int64
	q("hive", "SELECT count(DISTINCT bucket) FROM read_parquet('"+filepath.Join(dir, "telemetry_jar_raw", "**", "*.parquet")+"', hive_partitioning=true)", &buckets)
	if buckets != 8 {
		t.Fatalf("jar buckets = %d, want 8", buckets)
	}
}
