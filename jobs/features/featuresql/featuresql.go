// Package featuresql is feature_store written in DuckDB SQL: the reference
// the engine's benchmarks race against and the fastest query shapes found
// for DuckDB. Each query reads Parquet files or globs of raw data
// (telemetry_jar_raw, telemetry_env, telemetry_string_raw,
// telemetry_string_calc) and expects a table bat(battery_id, string_id,
// sensor_id, fmin, fmax, r0) of master data in the session; it writes its
// result into the temp table res.
package featuresql

import "fmt"

// ctes are the per-sample enrichments both DuckDB queries share,
// in the fastest shape found for DuckDB: the string mean per (string, ts)
// by GROUP BY (a window partitioned by (string, ts) is ~8x slower), the
// as-of ambient joined on those 1.4 M (string, ts) keys instead of on the
// 33.6 M jar rows, then one hash join back; dt by LAG over the battery;
// string-side THD as-of and episode starts.
func ctes(jar, env, str, thd string) string {
	return fmt.Sprintf(`WITH jb AS (
		  SELECT j.battery_id, j.ts, j.voltage_v AS v, j.temperature_c AS tc, j.resistance_mohm AS r, b.string_id, b.sensor_id, b.fmin, b.fmax
		  FROM read_parquet('%[1]s') j JOIN bat b USING (battery_id)),
		st AS (SELECT string_id, any_value(sensor_id) AS sensor_id, ts, AVG(v) AS smean FROM jb GROUP BY string_id, ts),
		stx AS (SELECT st.string_id, st.ts, st.smean, e.temperature_c AS amb FROM st ASOF LEFT JOIN read_parquet('%[2]s') e ON st.sensor_id = e.sensor_id AND st.ts >= e.ts),
		jd AS (SELECT jb.*, LEAST(COALESCE(epoch_us(ts) - epoch_us(LAG(ts) OVER (PARTITION BY battery_id ORDER BY ts)), 0), 600000000) AS dt FROM jb),
		jx AS (SELECT jd.*, stx.smean, stx.amb FROM jd JOIN stx USING (string_id, ts)),
		s AS (SELECT s.string_id, s.ts, s.current_a AS i, s.ripple_voltage_rms_v AS rip,
		    LEAST(COALESCE(epoch_us(s.ts) - epoch_us(LAG(s.ts) OVER (PARTITION BY s.string_id ORDER BY s.ts)), 0), 600000000) AS dt
		  FROM read_parquet('%[3]s') s),
		sx AS (SELECT s.*, t.thd_pct AS thd FROM s ASOF LEFT JOIN read_parquet('%[4]s') t ON s.string_id = t.string_id AND s.ts >= t.ts),
		q AS (SELECT string_id, ts, kind, LAG(ts) OVER (PARTITION BY string_id, kind ORDER BY ts) AS prev
		  FROM (SELECT string_id, ts, 'd' AS kind FROM s WHERE i <= -1 UNION ALL SELECT string_id, ts, 's' FROM s WHERE i <= -20)),
		ep AS (SELECT string_id, date_trunc('hour', ts) AS h, COUNT(*) FILTER (WHERE kind = 'd') AS dis, COUNT(*) FILTER (WHERE kind = 's') AS sur
		  FROM q WHERE prev IS NULL OR epoch_us(ts) - epoch_us(prev) > 300000000 GROUP BY ALL)`,
		jar, env, str, thd)
}

// Hourly computes the 1 h windows of every feature into table res.
func Hourly(jar, env, str, thd string) string {
	return `CREATE OR REPLACE TEMP TABLE res AS ` + ctes(jar, env, str, thd) + `,
		jh AS (SELECT battery_id, string_id, date_trunc('hour', ts) AS h, AVG(v) AS v_mean, STDDEV_SAMP(v) AS v_std, MIN(v) AS v_min, MAX(v) AS v_max,
		    AVG(ABS(v - smean)) AS v_bal, AVG(tc) AS t_mean, MAX(tc) AS t_max, AVG(tc - amb) AS t_delta, arg_max(r, ts) AS r_latest,
		    SUM(dt) FILTER (WHERE v < fmin) AS below, SUM(dt) FILTER (WHERE v > fmax) AS above FROM jx GROUP BY ALL),
		sh AS (SELECT string_id, date_trunc('hour', ts) AS h, SUM(ABS(i::DOUBLE) * dt) / 3.6e9 AS ah, AVG(rip) AS rip, AVG(thd) AS thd FROM sx GROUP BY ALL)
		SELECT jh.battery_id, jh.h + INTERVAL 1 HOUR AS feature_ts, 1 AS w, ROUND(v_mean, 3) AS v_mean, ROUND(v_std, 4) AS v_std, v_min, v_max,
		  ROUND(v_bal, 4) AS v_bal, ROUND(t_mean, 1) AS t_mean, t_max, ROUND(t_delta, 2) AS t_delta, r_latest, ROUND(r_latest / b.r0 * 100, 2) AS r_pct,
		  COALESCE(ep.dis, 0) AS dis, ROUND(ah, 2) AS ah, ROUND(COALESCE(below, 0) / 60e6) AS below_min, ROUND(COALESCE(above, 0) / 60e6) AS above_min,
		  COALESCE(ep.sur, 0) AS sur, ROUND(rip, 3) AS rip, ROUND(thd, 2) AS thd
		FROM jh JOIN bat b USING (battery_id) LEFT JOIN sh ON sh.string_id = jh.string_id AND sh.h = jh.h
		LEFT JOIN ep ON ep.string_id = jh.string_id AND ep.h = jh.h`
}

// Plain computes plain hourly mean/std/min/max/last voltage and resistance into res.
func Plain(jar string) string {
	return fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE res AS SELECT battery_id, date_trunc('hour', ts) AS h, AVG(voltage_v), STDDEV_SAMP(voltage_v),
		MIN(voltage_v), MAX(voltage_v), arg_max(resistance_mohm, ts) FROM read_parquet('%s') GROUP BY ALL`, jar)
}

// duckWide builds 24 h and 168 h windows from hourly partials, as the
// engine does: a range join of each (battery, feature_ts, window) onto the
// partials of its hours (window frames over ~20 aggregates were 3x slower).
// Wide computes the 24 h and 168 h windows into res.
func Wide(jar, env, str, thd string) string {
	return `CREATE OR REPLACE TEMP TABLE res AS ` + ctes(jar, env, str, thd) + `,
		jh AS (SELECT battery_id, string_id, date_trunc('hour', ts) AS h, COUNT(v) AS n, SUM(v::DOUBLE) AS s1, SUM(v::DOUBLE * v::DOUBLE) AS s2,
		    MIN(v) AS vmin, MAX(v) AS vmax, SUM(ABS(v - smean)) AS bsum, SUM(tc) AS tsum, COUNT(tc) AS tn, MAX(tc) AS tmax,
		    SUM(tc - amb) AS dsum, COUNT(tc - amb) AS dn, arg_max(r, ts) AS rl,
		    COALESCE(SUM(dt) FILTER (WHERE v < fmin), 0) AS below, COALESCE(SUM(dt) FILTER (WHERE v > fmax), 0) AS above FROM jx GROUP BY ALL),
		sh AS (SELECT string_id, date_trunc('hour', ts) AS h, SUM(ABS(i::DOUBLE) * dt) / 3.6e9 AS ah, SUM(rip) AS rsum, COUNT(rip) AS rn,
		    SUM(thd) AS thsum, COUNT(thd) AS thn FROM sx GROUP BY ALL),
		hp AS MATERIALIZED (SELECT jh.*, sh.ah, sh.rsum, sh.rn, sh.thsum, sh.thn, COALESCE(ep.dis, 0) AS dis, COALESCE(ep.sur, 0) AS sur
		  FROM jh LEFT JOIN sh USING (string_id, h) LEFT JOIN ep USING (string_id, h)),
		g AS (SELECT DISTINCT battery_id, h + INTERVAL 1 HOUR AS t FROM hp)
		SELECT g.battery_id, g.t AS feature_ts, w.w,
		  ROUND(SUM(s1) / SUM(n), 3) AS v_mean, ROUND(sqrt(greatest(SUM(s2) - SUM(s1) ^ 2 / SUM(n), 0) / (SUM(n) - 1)), 4) AS v_std,
		  MIN(vmin) AS v_min, MAX(vmax) AS v_max, ROUND(SUM(bsum) / SUM(n), 4) AS v_bal,
		  ROUND(SUM(tsum) / SUM(tn), 1) AS t_mean, MAX(tmax) AS t_max, ROUND(SUM(dsum) / SUM(dn), 2) AS t_delta, arg_max(rl, h) AS r_latest,
		  SUM(dis) AS dis, ROUND(SUM(ah), 2) AS ah, ROUND(SUM(below) / 60e6) AS below_min, ROUND(SUM(above) / 60e6) AS above_min, SUM(sur) AS sur,
		  ROUND(SUM(rsum) / SUM(rn), 3) AS rip, ROUND(SUM(thsum) / SUM(thn), 2) AS thd
		FROM g CROSS JOIN (VALUES (24), (168)) w(w)
		JOIN hp ON hp.battery_id = g.battery_id AND hp.h >= g.t - w.w * INTERVAL 1 HOUR AND hp.h < g.t
		GROUP BY ALL`
}
