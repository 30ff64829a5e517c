package features

import (
	"bufio"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"
	"github.com/google/uuid"
)

// writeCSV writes rows of fields to dir/name.csv; Null int32 cells and ""
// become empty (NULL).
func writeCSV(t testing.TB, dir, name string, rows func(emit func(fields ...any))) string {
	t.Helper()
	path := filepath.Join(dir, name+".csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	var sb []byte
	rows(func(fields ...any) {
		sb = sb[:0]
		for i, x := range fields {
			if i > 0 {
				sb = append(sb, ',')
			}
			switch v := x.(type) {
			case int32:
				if v != Null {
					sb = strconv.AppendInt(sb, int64(v), 10)
				}
			case int64:
				sb = strconv.AppendInt(sb, v, 10)
			case uuid.UUID:
				sb = append(sb, v.String()...)
			case float64:
				if v != 0 {
					sb = strconv.AppendFloat(sb, v, 'f', -1, 64)
				}
			case string:
				sb = append(sb, v...)
			case bool:
				sb = strconv.AppendBool(sb, v)
			default:
				panic(fmt.Sprintf("csv: %T", x))
			}
		}
		sb = append(sb, '\n')
		w.Write(sb)
	})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadDuckDB puts the fixture into DuckDB tables with the registry's
// decimal types (CSV holds the unscaled integers).
func (fx *fixture) loadDuckDB(t testing.TB, db *sql.DB) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	files["jar"] = writeCSV(t, dir, "jar", func(emit func(...any)) {
		for _, b := range fx.bats {
			for _, r := range fx.jar[b.ID] {
				emit(b.ID, r.ts, r.v, r.t, r.r)
			}
		}
	})
	files["str"] = writeCSV(t, dir, "str", func(emit func(...any)) {
		for id, rows := range fx.str {
			for _, r := range rows {
				emit(id, r.ts, r.cur, r.rip)
			}
		}
	})
	files["thd"] = writeCSV(t, dir, "thd", func(emit func(...any)) {
		for id, rows := range fx.thd {
			for _, r := range rows {
				emit(id, r.ts, r.val)
			}
		}
	})
	files["env"] = writeCSV(t, dir, "env", func(emit func(...any)) {
		for id, rows := range fx.env {
			for _, r := range rows {
				emit(id, r.ts, r.val)
			}
		}
	})
	files["battery"] = writeCSV(t, dir, "battery", func(emit func(...any)) {
		for _, b := range fx.bats {
			emit(b.ID, b.StringID, b.ModelID, b.InitialResistanceMOhm)
		}
	})
	files["model"] = writeCSV(t, dir, "model", func(emit func(...any)) {
		for _, m := range fx.models {
			emit(m.ID, m.FloatMinV, m.FloatMaxV)
		}
	})
	files["string"] = writeCSV(t, dir, "string", func(emit func(...any)) {
		for _, s := range fx.strs {
			emit(s.ID, s.SystemID)
		}
	})
	files["system"] = writeCSV(t, dir, "system", func(emit func(...any)) {
		for _, s := range fx.systems {
			emit(s.ID, s.LocationID)
		}
	})
	files["sensor"] = writeCSV(t, dir, "sensor", func(emit func(...any)) {
		for _, s := range fx.sensors {
			emit(s.ID, s.LocationID, s.Code, s.Zone, s.SensorType, s.IsActive)
		}
	})
	rd := func(name, cols string) string {
		return fmt.Sprintf("read_csv('%s', header=false, nullstr='', columns={%s})", files[name], cols)
	}
	stmts := []string{
		`CREATE TABLE jar AS SELECT battery_id, ts, (v/1000)::DECIMAL(5,3) AS v, (tc/10)::DECIMAL(4,1) AS tc, (r/1000)::DECIMAL(8,3) AS r FROM ` +
			rd("jar", `'battery_id':'UUID','ts':'BIGINT','v':'INT','tc':'INT','r':'INT'`),
		`CREATE TABLE str AS SELECT string_id, ts, (i/1000)::DECIMAL(7,3) AS i, (ripple/1000)::DECIMAL(5,3) AS ripple FROM ` +
			rd("str", `'string_id':'UUID','ts':'BIGINT','i':'INT','ripple':'INT'`),
		`CREATE TABLE thd AS SELECT string_id, ts, (thd/100)::DECIMAL(5,2) AS thd FROM ` + rd("thd", `'string_id':'UUID','ts':'BIGINT','thd':'INT'`),
		`CREATE TABLE env AS SELECT sensor_id, ts, (temp/10)::DECIMAL(4,1) AS temp FROM ` + rd("env", `'sensor_id':'UUID','ts':'BIGINT','temp':'INT'`),
		`CREATE TABLE battery AS SELECT * FROM ` + rd("battery", `'battery_id':'UUID','string_id':'UUID','model_id':'UUID','r0':'DECIMAL(8,3)'`),
		`CREATE TABLE model AS SELECT * FROM ` + rd("model", `'model_id':'UUID','fmin':'DECIMAL(5,2)','fmax':'DECIMAL(5,2)'`),
		`CREATE TABLE string AS SELECT * FROM ` + rd("string", `'string_id':'UUID','system_id':'UUID'`),
		`CREATE TABLE system AS SELECT * FROM ` + rd("system", `'system_id':'UUID','location_id':'UUID'`),
		`CREATE TABLE sensor AS SELECT * FROM ` + rd("sensor", `'sensor_id':'UUID','location_id':'UUID','code':'VARCHAR','zone':'VARCHAR','type':'VARCHAR','active':'BOOLEAN'`),
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}
}

// referenceSQL computes every feature for the windows in SQL, independently
// of the engine: window functions and ASOF joins over the raw rows.
func referenceSQL(cfg Config, fromHour, toHour int64, windows []int) []string {
	ws := make([]string, len(windows))
	for i, w := range windows {
		ws[i] = strconv.Itoa(w)
	}
	H := hourUS
	maxGap, egap := cfg.MaxGap.Microseconds(), cfg.EpisodeGap.Microseconds()
	return []string{
		`CREATE OR REPLACE TABLE room AS SELECT st.string_id, (SELECT s.sensor_id FROM sensor s WHERE s.location_id = sy.location_id AND s.active
			AND s.type <> 'humidity' AND lower(s.zone) LIKE 'battery room%' ORDER BY s.zone, s.code LIMIT 1) AS sensor_id
		 FROM string st JOIN system sy USING (system_id)`,
		fmt.Sprintf(`CREATE OR REPLACE TABLE jx AS
		 WITH j AS (
		   SELECT j.*, b.string_id, m.fmin, m.fmax, rm.sensor_id,
		     AVG(j.v) OVER (PARTITION BY b.string_id, j.ts) AS smean,
		     LEAST(COALESCE(j.ts - LAG(j.ts) OVER (PARTITION BY j.battery_id ORDER BY j.ts), 0), %d) AS dt
		   FROM jar j JOIN battery b USING (battery_id) JOIN model m USING (model_id) LEFT JOIN room rm USING (string_id)),
		 e AS (SELECT * FROM env WHERE temp IS NOT NULL)
		 SELECT j.*, e.temp AS amb FROM j ASOF LEFT JOIN e ON j.sensor_id = e.sensor_id AND j.ts >= e.ts`, maxGap),
		fmt.Sprintf(`CREATE OR REPLACE TABLE sx AS
		 WITH s AS (SELECT s.*, LEAST(COALESCE(s.ts - LAG(s.ts) OVER (PARTITION BY s.string_id ORDER BY s.ts), 0), %d) AS dt FROM str s)
		 SELECT s.*, t.thd FROM s ASOF LEFT JOIN thd t ON s.string_id = t.string_id AND s.ts >= t.ts`, maxGap),
		fmt.Sprintf(`CREATE OR REPLACE TABLE starts AS
		 WITH q AS (SELECT string_id, ts, 'd' AS kind FROM str WHERE i <= -%g UNION ALL SELECT string_id, ts, 's' FROM str WHERE i <= -%g),
		 p AS (SELECT *, LAG(ts) OVER (PARTITION BY string_id, kind ORDER BY ts) AS prev FROM q)
		 SELECT string_id, ts, kind FROM p WHERE prev IS NULL OR ts - prev > %d`, cfg.DischargeA, cfg.SurgeA, egap),
		fmt.Sprintf(`CREATE OR REPLACE TABLE g AS SELECT h * %d AS t, w FROM range(%d, %d) r(h), (SELECT unnest([%s]) AS w)`, H, fromHour, toHour, strings.Join(ws, ",")),
		fmt.Sprintf(`CREATE OR REPLACE TABLE jw AS
		 SELECT j.battery_id, g.t, g.w,
		   AVG(v) AS v_mean, STDDEV_SAMP(v) AS v_std, MIN(v) AS v_min, MAX(v) AS v_max, AVG(ABS(v - smean)) AS v_bal,
		   AVG(tc) AS t_mean, MAX(tc) AS t_max, AVG(tc - amb) AS t_delta,
		   arg_max(r, j.ts) FILTER (WHERE r IS NOT NULL) AS r_latest,
		   SUM(dt) FILTER (WHERE v < fmin) AS below_us, SUM(dt) FILTER (WHERE v > fmax) AS above_us
		 FROM jx j JOIN g ON j.ts >= g.t - g.w * %[1]d AND j.ts < g.t GROUP BY ALL`, H),
		fmt.Sprintf(`CREATE OR REPLACE TABLE sw AS
		 SELECT s.string_id, g.t, g.w, COUNT(*) AS sn, SUM(ABS(i::DOUBLE) * dt) / 3.6e9 AS ah, AVG(ripple) AS ripple, AVG(thd) AS thd
		 FROM sx s JOIN g ON s.ts >= g.t - g.w * %[1]d AND s.ts < g.t GROUP BY ALL`, H),
		fmt.Sprintf(`CREATE OR REPLACE TABLE ew AS
		 SELECT e.string_id, g.t, g.w, COUNT(*) FILTER (WHERE kind = 'd') AS dis, COUNT(*) FILTER (WHERE kind = 's') AS sur
		 FROM starts e JOIN g ON e.ts >= g.t - g.w * %[1]d AND e.ts < g.t GROUP BY ALL`, H),
		`CREATE OR REPLACE TABLE ref AS
		 SELECT jw.battery_id::VARCHAR AS battery_id, jw.t, jw.w,
		   ROUND(v_mean, 3)::DOUBLE, ROUND(v_std, 4)::DOUBLE, v_min::DOUBLE, v_max::DOUBLE, ROUND(v_bal, 4)::DOUBLE,
		   ROUND(t_mean, 1)::DOUBLE, t_max::DOUBLE, ROUND(t_delta, 2)::DOUBLE, r_latest::DOUBLE,
		   ROUND(r_latest::DOUBLE / COALESCE(NULLIF(b.r0, 0), fr.first_r)::DOUBLE * 100, 2),
		   CASE WHEN sw.sn > 0 THEN COALESCE(ew.dis, 0) END::DOUBLE, ROUND(sw.ah, 2),
		   ROUND(COALESCE(below_us, 0) / 60e6)::DOUBLE, ROUND(COALESCE(above_us, 0) / 60e6)::DOUBLE,
		   CASE WHEN sw.sn > 0 THEN COALESCE(ew.sur, 0) END::DOUBLE,
		   ROUND(sw.ripple, 3)::DOUBLE, ROUND(sw.thd, 2)::DOUBLE
		 FROM jw JOIN battery b USING (battery_id)
		 LEFT JOIN sw ON sw.string_id = b.string_id AND sw.t = jw.t AND sw.w = jw.w
		 LEFT JOIN ew ON ew.string_id = b.string_id AND ew.t = jw.t AND ew.w = jw.w
		 LEFT JOIN (SELECT battery_id, arg_min(r, ts) AS first_r FROM jar WHERE r IS NOT NULL GROUP BY 1) fr USING (battery_id)`,
	}
}

// exactCols must match exactly; the others may differ by one unit of the
// last decimal (the engine and DuckDB round differently computed doubles).
var exactCols = map[Col]bool{VMin: true, VMax: true, TMax: true, RInternalLatest: true, DischargeCyclesCount: true,
	SurgeEventsCount: true, TimeBelowFloatMin: true, TimeAboveFloatMin: true}

func TestFeaturesMatchDuckDB(t *testing.T) {
	fx := newFixture(30)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fx.loadDuckDB(t, db)
	h0 := fx.start.UnixMicro() / hourUS
	for _, c := range []struct {
		name   string
		cfg    Config
		chunks []int
	}{
		{"1h+24h", Config{Windows: []int{1, 24}}, []int{30, 6, 1}},
		// Small rings (8 battery-hours, 16 string-hours) wrap many times in 30 h.
		{"2h+5h-wrapping", Config{Windows: []int{2, 5}, MaxChunk: 6 * time.Hour}, []int{6, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			if err := cfg.defaults(); err != nil {
				t.Fatal(err)
			}
			for _, s := range referenceSQL(cfg, h0+1, h0+int64(fx.hours)+1, cfg.Windows) {
				if _, err := db.Exec(s); err != nil {
					t.Fatalf("%v\n%s", err, s)
				}
			}
			want := readRef(t, db)
			for _, chunk := range c.chunks {
				t.Run(fmt.Sprintf("chunk=%dh", chunk), func(t *testing.T) {
					compareRows(t, fx.run(t, c.cfg, chunk), want)
				})
			}
		})
	}
}

func readRef(t testing.TB, db *sql.DB) map[rowKey]Row {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM ref`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[rowKey]Row{}
	for rows.Next() {
		var id string
		var ts int64
		var w int32
		var vals [NumCols]sql.NullFloat64
		dst := []any{&id, &ts, &w}
		for i := range vals {
			dst = append(dst, &vals[i])
		}
		if err := rows.Scan(dst...); err != nil {
			t.Fatal(err)
		}
		r := Row{FeatureTS: ts, BatteryID: uuid.MustParse(id), WindowHours: w}
		for c, v := range vals {
			if v.Valid {
				r.Val[c] = int64(math.Round(v.Float64 * Specs[c].pow))
				r.Valid |= 1 << c
			}
		}
		want[rowKey{r.BatteryID, ts, w}] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("reference is empty")
	}
	return want
}

func compareRows(t *testing.T, got, want map[rowKey]Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("engine emitted %d rows, reference has %d", len(got), len(want))
	}
	bad := 0
	seen := [NumCols]int{}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			if bad++; bad < 10 {
				t.Errorf("missing row %s %s", k.b, fmtRow(w))
			}
			continue
		}
		for c := Col(0); c < NumCols; c++ {
			gv, wv := g.IsValid(c), w.IsValid(c)
			d := g.Val[c] - w.Val[c]
			tol := int64(1)
			if exactCols[c] {
				tol = 0
			}
			if gv != wv || (gv && (d > tol || d < -tol)) {
				if bad++; bad < 20 {
					t.Errorf("battery %s ts %s w=%d %s: engine %v (valid %v), duckdb %v (valid %v)", k.b, time.UnixMicro(k.t).UTC().Format("01-02T15"),
						k.w, colNames[c], g.Val[c], gv, w.Val[c], wv)
				}
			}
			if wv && w.Val[c] != 0 {
				seen[c]++
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad < 30 {
				t.Errorf("extra row %s %s", k.b, fmtRow(got[k]))
			}
		}
	}
	// The fixture must exercise every column with non-zero values.
	for c := Col(0); c < NumCols; c++ {
		if seen[c] == 0 {
			t.Errorf("column %s is never non-zero in the reference: fixture too weak", colNames[c])
		}
	}
}
