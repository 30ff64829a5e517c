package schema

import (
	"errors"
	"flag"
	"math"
	"math/big"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

var seedTables = []string{
	"location", "battery_model", "battery_system", "string", "battery",
	"environmental_sensor", "user", "ml_model",
	"telemetry_jar_raw", "telemetry_string_raw", "telemetry_env", "telemetry_event_window",
	"maintenance_event", "capacity_test_raw", "impedance_measurement_raw", "audit_log",
	"telemetry_jar_calc", "telemetry_string_calc", "capacity_test_calc", "impedance_measurement_calc",
	"feature_store", "digital_twin_state", "rul_prediction",
	"alert", "incident", "work_order",
}

var extensionNames = []string{
	"truth_battery", "truth_battery_daily", "truth_event",
	"event_window_sample", "ripple_capture", "capacity_test_curve", "rul_training_set", "anomaly_score", "rejects",
}

func TestRegistryValidates(t *testing.T) {
	if err := ValidateTables(All()); err != nil {
		t.Fatal(err)
	}
	for _, tb := range All() {
		if err := tb.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func TestRegistryOrderAndNames(t *testing.T) {
	var seed, ext []string
	for _, tb := range All() {
		if tb.Extension {
			ext = append(ext, tb.Name)
		} else {
			seed = append(seed, tb.Name)
		}
	}
	if !reflect.DeepEqual(seed, seedTables) {
		t.Errorf("seed tables\n got %v\nwant %v", seed, seedTables)
	}
	if !reflect.DeepEqual(ext, extensionNames) {
		t.Errorf("extension tables\n got %v\nwant %v", ext, extensionNames)
	}
	// All returns a copy: reordering it must not reorder the registry.
	a := All()
	a[0], a[1] = a[1], a[0]
	if All()[0].Name != "location" {
		t.Error("All exposes the registry's slice")
	}
}

func TestLookup(t *testing.T) {
	if tb, ok := Lookup("battery"); !ok || tb.Name != "battery" {
		t.Fatalf("Lookup(battery) = %v, %v", tb, ok)
	}
	if _, ok := Lookup("batteries"); ok {
		t.Error("Lookup(batteries) found a table")
	}
	defer func() {
		if recover() == nil {
			t.Error("MustLookup(nope) did not panic")
		}
	}()
	MustLookup("nope")
}

func TestSeedTypes(t *testing.T) {
	cases := []struct{ table, column, sql string }{
		{"telemetry_jar_raw", "voltage_v", "DECIMAL(5,3)"},
		{"telemetry_jar_raw", "conductance_s", "DECIMAL(8,5)"},
		{"telemetry_string_raw", "current_a", "DECIMAL(7,3)"},
		{"battery", "initial_resistance_mohm", "DECIMAL(8,3)"},
		{"location", "latitude", "DECIMAL(10,7)"},
		{"location", "created_at", "TIMESTAMP"},
		{"user", "created_at", "TIMESTAMPTZ"},
		{"user", "location_ids", "JSONB"},
		{"user", "email", "VARCHAR(255)"},
		{"audit_log", "ip_address", "VARCHAR(45)"},
		{"digital_twin_state", "c1_f", "DECIMAL(10,4)"},
		{"telemetry_string_calc", "power_w", "DECIMAL(10,2)"},
		{"feature_store", "feature_window_hours", "INT"},
		{"maintenance_event", "work_order_id", "VARCHAR(50)"},
		{"ml_model", "model_type", "ENUM(catboost_rul, anomaly_iforest, anomaly_ae, survival)"},
		{"rejects", "source_row", "BIGINT"},
	}
	for _, c := range cases {
		col := MustLookup(c.table).Column(c.column)
		if col == nil {
			t.Errorf("%s.%s missing", c.table, c.column)
			continue
		}
		if got := col.Type.SQL(); got != c.sql {
			t.Errorf("%s.%s = %s, want %s", c.table, c.column, got, c.sql)
		}
	}

	me := MustLookup("maintenance_event").Column("event_type").Type.Values
	if want := []string{"visual_inspection", "voltage_measurement", "thermal_survey", "torque_check", "capacity_test", "impedance_test", "replacement", "corrective"}; !reflect.DeepEqual(me, want) {
		t.Errorf("maintenance_event.event_type = %v", me)
	}
	at := MustLookup("alert").Column("alert_type").Type.Values
	if want := []string{"voltage_low", "voltage_high", "temperature_high", "current_high", "ripple_high", "resistance_drift", "rul_warning", "rul_critical", "soh_degraded", "anomaly_detected", "data_quality"}; !reflect.DeepEqual(at, want) {
		t.Errorf("alert.alert_type = %v", at)
	}
}

func TestSeedConstraints(t *testing.T) {
	if got := MustLookup("telemetry_jar_raw").PrimaryKey(); !reflect.DeepEqual(got, []string{"ts", "battery_id"}) {
		t.Errorf("telemetry_jar_raw pk = %v", got)
	}
	if got := MustLookup("feature_store").PrimaryKey(); !reflect.DeepEqual(got, []string{"feature_ts", "battery_id", "feature_window_hours"}) {
		t.Errorf("feature_store pk = %v", got)
	}
	fks := map[string]ForeignKey{
		"battery.replacement_of":                    {"battery", "battery_id"},
		"ml_model.created_by":                       {"user", "user_id"},
		"telemetry_jar_raw.battery_id":              {"battery", "battery_id"},
		"impedance_measurement_calc.measurement_id": {"impedance_measurement_raw", "measurement_id"},
		"capacity_test_calc.test_id":                {"capacity_test_raw", "test_id"},
		"alert.incident_id":                         {"incident", "incident_id"},
		"work_order.incident_id":                    {"incident", "incident_id"},
	}
	for ref, want := range fks {
		tn, cn, _ := strings.Cut(ref, ".")
		c := MustLookup(tn).Column(cn)
		if c.FK == nil || *c.FK != want {
			t.Errorf("%s FK = %v, want %v", ref, c.FK, want)
		}
	}
	if c := MustLookup("maintenance_event").Column("work_order_id"); c.FK != nil {
		t.Error("maintenance_event.work_order_id must not be a foreign key")
	}
	if c := MustLookup("maintenance_event").Column("scheduled_date"); c.NotNull {
		t.Error("maintenance_event.scheduled_date is nullable in the seed")
	}
	if c := MustLookup("incident").Column("escalation_level"); c.Default != "1" {
		t.Errorf("incident.escalation_level default = %q", c.Default)
	}
	if c := MustLookup("location").Column("location_code"); !c.Unique || !c.NotNull {
		t.Error("location.location_code must be UNIQUE NOT NULL")
	}
	for _, tb := range All() {
		for _, c := range tb.Columns {
			if c.Type.Kind == KindEnum && c.Encoding != EncDict {
				t.Errorf("%s.%s: enum without dictionary encoding", tb.Name, c.Name)
			}
		}
	}
}

func TestLayout(t *testing.T) {
	cases := []struct {
		table string
		part  Partitioning
		sort  []string
		dir   string
	}{
		{"telemetry_jar_raw", Partitioning{"ts", "battery_id", 8}, []string{"battery_id", "ts"}, "telemetry_jar_raw"},
		{"telemetry_string_calc", Partitioning{"ts", "string_id", 2}, []string{"string_id", "ts"}, "telemetry_string_calc"},
		{"maintenance_event", Partitioning{MonthOf: "scheduled_date"}, nil, "maintenance_event"},
		{"capacity_test_calc", Partitioning{}, nil, "capacity_test_calc"},
		{"location", Partitioning{}, []string{"location_id"}, "location"},
		{"truth_battery_daily", Partitioning{MonthOf: "day"}, []string{"battery_id", "day"}, "_truth/truth_battery_daily"},
		{"event_window_sample", Partitioning{}, nil, "event_window_sample"},
	}
	for _, c := range cases {
		tb := MustLookup(c.table)
		if tb.Partition != c.part {
			t.Errorf("%s partition = %+v, want %+v", c.table, tb.Partition, c.part)
		}
		if c.sort != nil && !reflect.DeepEqual(tb.SortBy, c.sort) {
			t.Errorf("%s sort = %v, want %v", c.table, tb.SortBy, c.sort)
		}
		if tb.Dir() != c.dir {
			t.Errorf("%s dir = %s, want %s", c.table, tb.Dir(), c.dir)
		}
	}
	if b := MustLookup("capacity_test_curve").Blob(); b == nil || *b != (Blob{"capacity_test_raw", "test_id", "raw_data_url"}) {
		t.Errorf("capacity_test_curve blob = %+v", b)
	}
	if MustLookup("ripple_capture").Blob() != nil {
		t.Error("ripple_capture is partitioned, not a blob table")
	}
}

func TestValidateCatchesMistakes(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Table)
		want   string
	}{
		{"pk nullable", func(tb *Table) { tb.Columns[0].NotNull = false }, "table location column location_id: primary key column must be not null"},
		{"duplicate column", func(tb *Table) { tb.Columns[1].Name = "location_id" }, `duplicate column "location_id"`},
		{"decimal precision", func(tb *Table) { tb.Column("latitude").Type = Decimal(19, 2) }, "decimal precision 19 out of range 1..18"},
		{"decimal scale", func(tb *Table) { tb.Column("latitude").Type = Decimal(4, 5) }, "decimal scale 5 out of range 0..4"},
		{"varchar length", func(tb *Table) { tb.Column("city").Type = Varchar(0) }, "varchar length 0 must be positive"},
		{"empty enum", func(tb *Table) { tb.Column("region").Type = Enum() }, "enum has no values"},
		{"repeated enum", func(tb *Table) { tb.Column("region").Type = Enum("a", "a") }, `enum value "a" repeated`},
		{"month kind", func(tb *Table) { tb.Partition.MonthOf = "city" }, "partition month column city is VARCHAR(50)"},
		{"bucket kind", func(tb *Table) { tb.Partition = Partitioning{BucketOf: "city", Buckets: 4} }, "partition bucket column city is VARCHAR(50), want UUID"},
		{"bucket count", func(tb *Table) { tb.Partition = Partitioning{BucketOf: "location_id", Buckets: 1} }, "partition buckets 1 out of range"},
		{"sort column", func(tb *Table) { tb.SortBy = []string{"nope"} }, `sort column "nope" does not exist`},
		{"index column", func(tb *Table) { tb.Indexes = []Index{{Name: "idx_x", Columns: []string{"nope DESC"}}} }, `index idx_x column "nope DESC" does not exist`},
		{"default", func(tb *Table) { tb.Column("is_active").Default = "yes" }, `default "yes" is not a BOOLEAN literal`},
		{"fk table", func(tb *Table) { tb.Column("city").FK = fk("nowhere", "id") }, "table location column city: foreign key to unknown table nowhere"},
		{"fk type", func(tb *Table) { tb.Column("city").FK = fk("battery", "battery_id") }, "foreign key type VARCHAR(50) differs from battery.battery_id type UUID"},
		{"fk not unique", func(tb *Table) {
			tb.Column("location_id").FK = fk("telemetry_jar_raw", "battery_id")
		}, "neither the primary key nor unique"},
		{"extension ref", func(tb *Table) {
			tb.Columns = append(tb.Columns, Column{Name: "x_id", Type: UUID(), FK: fk("rejects", "source_file")})
		}, "table location column x_id: foreign key type UUID differs from rejects.source_file type VARCHAR(500)"},
		{"seed to extension", func(tb *Table) {
			tb.Columns = append(tb.Columns, Column{Name: "truth_id", Type: UUID(), FK: fk("truth_battery", "battery_id")})
		}, "seed table references extension table truth_battery"},
		{"truth leak", func(tb *Table) {
			tb.Columns = append(tb.Columns, Column{Name: "truth_id", Type: UUID(), FK: fk("truth_battery", "battery_id")})
		}, "class raw table references hidden truth table truth_battery"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tables := All()
			target := "location"
			if strings.HasPrefix(c.name, "truth") {
				target = "ripple_capture" // an extension of class raw
			}
			for i, tb := range tables {
				if tb.Name == target {
					tables[i] = tb.Clone()
					c.mutate(tables[i])
				}
			}
			err := ValidateTables(tables)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	// The registry itself is untouched by the clones.
	if err := ValidateTables(All()); err != nil {
		t.Fatal(err)
	}
	if MustLookup("location").Columns[0].NotNull != true {
		t.Fatal("Clone shares columns with the registry")
	}
}

func TestScaleDecimal(t *testing.T) {
	lat := MustLookup("location").Column("latitude")            // DECIMAL(10,7)
	volt := MustLookup("telemetry_jar_raw").Column("voltage_v") // DECIMAL(5,3)
	temp := MustLookup("telemetry_jar_raw").Column("temperature_c")
	cases := []struct {
		col  *Column
		v    float64
		want int64
	}{
		{volt, 13.5, 13500},
		{volt, 13.6504, 13650},
		{volt, 13.6505, 13651}, // tie, away from zero
		{volt, -13.6505, -13651},
		{volt, 1.0005, 1001}, // float64 is 1.000499999...; decimal tie wins
		{volt, 2.675, 2675},
		{volt, 99.999, 99999},
		{volt, 99.9994, 99999},
		{volt, -0.0004, 0},
		{volt, 0, 0},
		{temp, 2.25, 23},
		{temp, -2.25, -23},
		{temp, 2.35, 24},
		{temp, 0.05, 1},
		{temp, 0.04999, 0},
		{lat, 13.7563309, 137563309},
		{lat, -99.99999995, -1000000000}, // tie rounds away to -100.0000000, which fits
		{MustLookup("location").Column("longitude"), 100.5018, 1005018000},
	}
	for _, c := range cases {
		got, err := c.col.ScaleDecimal(c.v)
		if err != nil || got != c.want {
			t.Errorf("%s.ScaleDecimal(%v) = %d, %v; want %d", c.col.Name, c.v, got, err, c.want)
		}
	}
	if m := volt.DecimalBounds(); m != 99999 {
		t.Errorf("voltage_v bounds = %d", m)
	}
	if m := lat.DecimalBounds(); m != 9999999999 {
		t.Errorf("latitude bounds = %d", m)
	}
	if m := MustLookup("location").Column("city").DecimalBounds(); m != 0 {
		t.Errorf("varchar bounds = %d", m)
	}
}

// exactScale rounds the shortest decimal of v half away from zero with
// exact rational arithmetic: the reference ScaleDecimal must match.
func exactScale(v float64, scale int) *big.Int {
	r, _ := new(big.Rat).SetString(strconv.FormatFloat(v, 'g', -1, 64))
	r.Mul(r, new(big.Rat).SetInt64(pow10[scale]))
	neg := r.Sign() < 0
	r.Abs(r).Add(r, big.NewRat(1, 2))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if neg {
		q.Neg(q)
	}
	return q
}

func TestScaleDecimalMatchesExactDecimal(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		p := 1 + rng.Intn(MaxDecimalPrecision)
		s := rng.Intn(p + 1)
		c := &Column{Name: "x", Type: Decimal(p, s)}
		var v float64
		switch i % 3 {
		case 0: // anything, some out of range
			v = (rng.Float64()*2.2 - 1.1) * pow10f[p-s]
		case 1: // exact decimal ties one digit below the scale
			digits := strconv.FormatInt(rng.Int63n(pow10[p]), 10) + "5"
			digits = strings.Repeat("0", max(0, s+2-len(digits))) + digits
			v, _ = strconv.ParseFloat(digits[:len(digits)-s-1]+"."+digits[len(digits)-s-1:], 64)
			if rng.Intn(2) == 0 {
				v = -v
			}
		case 2: // values already on the scale
			v = float64(rng.Int63n(pow10[p])) / pow10f[s]
		}
		got, err := c.ScaleDecimal(v)
		want := exactScale(v, s)
		fits := want.CmpAbs(big.NewInt(pow10[p])) < 0
		if (err == nil) != fits || (fits && got != want.Int64()) {
			t.Fatalf("DECIMAL(%d,%d).ScaleDecimal(%v) = %d, %v; want %v (fits %v)", p, s, v, got, err, want, fits)
		}
	}
}

func TestScaleDecimalErrors(t *testing.T) {
	lat := MustLookup("location").Column("latitude")
	volt := MustLookup("telemetry_jar_raw").Column("voltage_v")
	cases := []struct {
		col  *Column
		v    float64
		want string
	}{
		{lat, 1234.5678912, "table location column latitude: value 1234.5678912 does not fit DECIMAL(10,7)"},
		{lat, -999.99999995, "table location column latitude: value -999.99999995 does not fit DECIMAL(10,7)"}, // after rounding
		{volt, 99.9995, "table telemetry_jar_raw column voltage_v: value 99.9995 does not fit DECIMAL(5,3)"},
		{volt, -100, "table telemetry_jar_raw column voltage_v: value -100 does not fit DECIMAL(5,3)"},
		{volt, 1e300, "value 1e+300 does not fit DECIMAL(5,3)"},
		{volt, math.NaN(), "table telemetry_jar_raw column voltage_v: value NaN is not a finite number"},
		{volt, math.Inf(-1), "value -Inf is not a finite number"},
		{MustLookup("location").Column("city"), 1, "value 1 cannot be checked as DECIMAL: column is VARCHAR(50)"},
	}
	for _, c := range cases {
		_, err := c.col.ScaleDecimal(c.v)
		var ve *ValueError
		if !errors.As(err, &ve) {
			t.Errorf("ScaleDecimal(%v) error %v is not a *ValueError", c.v, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ScaleDecimal(%v) error %q, want %q", c.v, err, c.want)
		}
	}
}

func TestCheckEnumVarchar(t *testing.T) {
	region := MustLookup("location").Column("region")
	if err := region.CheckEnum("central"); err != nil {
		t.Error(err)
	}
	err := region.CheckEnum("Central")
	if want := `table location column region: value "Central" is not one of ENUM(northern, northeastern, central, eastern, southern)`; err == nil || err.Error() != want {
		t.Errorf("CheckEnum(Central) = %v\nwant %s", err, want)
	}
	if err := MustLookup("location").Column("city").CheckEnum("x"); err == nil {
		t.Error("CheckEnum on a VARCHAR column succeeded")
	}

	code := MustLookup("location").Column("location_code") // VARCHAR(20)
	for _, ok := range []string{"", "DC-BKK-01", strings.Repeat("x", 20), strings.Repeat("ก", 20)} {
		if err := code.CheckVarchar(ok); err != nil {
			t.Errorf("CheckVarchar(%q): %v", ok, err)
		}
	}
	err = code.CheckVarchar(strings.Repeat("ก", 21))
	if err == nil || !strings.Contains(err.Error(), "is longer than VARCHAR(20) (21 characters)") ||
		!strings.HasPrefix(err.Error(), "table location column location_code: value ") {
		t.Errorf("CheckVarchar(21 runes) = %v", err)
	}
	if err := code.CheckVarchar("a\xffb"); err == nil || !strings.Contains(err.Error(), "is not valid UTF-8") {
		t.Errorf("CheckVarchar(invalid UTF-8) = %v", err)
	}
	if err := MustLookup("maintenance_event").Column("notes").CheckVarchar(strings.Repeat("n", 10000)); err != nil {
		t.Errorf("TEXT: %v", err)
	}
	long := MustLookup("location").Column("city").CheckVarchar(strings.Repeat("y", 500))
	if long == nil || len(long.Error()) > 200 {
		t.Errorf("long value not shortened in error: %v", long)
	}
}

func TestNoAllocOnSuccess(t *testing.T) {
	volt := MustLookup("telemetry_jar_raw").Column("voltage_v")
	mode := MustLookup("telemetry_string_raw").Column("mode")
	code := MustLookup("battery").Column("battery_code")
	var sink int64
	n := testing.AllocsPerRun(200, func() {
		u, _ := volt.ScaleDecimal(13.6505) // tie: the slow path
		v, _ := volt.ScaleDecimal(13.61)
		sink += u + v
		if mode.CheckEnum("equalize") != nil || code.CheckVarchar("DC-BKK-UPS-01-S1-J12") != nil {
			t.Fatal("unexpected error")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per run", n)
	}
	_ = sink
}

func TestVersion(t *testing.T) {
	jar := MustLookup("telemetry_jar_raw")
	v := jar.Version()
	if len(v) != 12 || strings.Trim(v, "0123456789abcdef") != "" {
		t.Fatalf("version %q is not 12 hex digits", v)
	}
	if jar.Version() != v || jar.Clone().Version() != v {
		t.Fatal("version not stable")
	}
	docOnly := jar.Clone()
	docOnly.Columns[2].Description = "changed"
	docOnly.Columns[2].Encoding = EncPlain
	if docOnly.Version() != v {
		t.Error("description or encoding change moved the version")
	}
	for name, mutate := range map[string]func(*Table){
		"type":      func(tb *Table) { tb.Columns[2].Type = Decimal(6, 3) },
		"nullable":  func(tb *Table) { tb.Columns[2].NotNull = true },
		"rename":    func(tb *Table) { tb.Columns[2].Name = "volts" },
		"partition": func(tb *Table) { tb.Partition.Buckets = 16 },
	} {
		c := jar.Clone()
		mutate(c)
		if c.Version() == v {
			t.Errorf("%s change kept version %s", name, v)
		}
	}
	seen := map[string]string{}
	for _, tb := range All() {
		if other, ok := seen[tb.Version()]; ok {
			t.Errorf("%s and %s share version %s", tb.Name, other, tb.Version())
		}
		seen[tb.Version()] = tb.Name
	}
}

func TestDDLUnknownDialect(t *testing.T) {
	if _, err := DDL("mysql"); err == nil {
		t.Fatal("DDL(mysql) succeeded")
	}
}

func TestDDLOrder(t *testing.T) {
	ordered, err := referenceOrder(registry.tables)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, tb := range ordered {
		pos[tb.Name] = i
	}
	for _, tb := range ordered {
		for _, c := range tb.Columns {
			if c.FK != nil && c.FK.Table != tb.Name && pos[c.FK.Table] > pos[tb.Name] {
				t.Errorf("%s is created before %s, which it references", tb.Name, c.FK.Table)
			}
		}
	}
	if pos["incident"] > pos["alert"] {
		t.Error("incident must precede alert")
	}
}

func TestGolden(t *testing.T) {
	duck, err := DDL(DialectDuckDB)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := DDL(DialectPostgres)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{
		"ddl_duckdb.sql":   duck,
		"ddl_postgres.sql": pg,
		"docs.md":          Docs(),
	} {
		path := filepath.Join("..", "testdata", "schema", name)
		if name == "docs.md" {
			// The table documentation the README links to, kept current.
			path = filepath.Join("..", "docs", "tables.md")
		}
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./schema/ -update)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from the golden file; run go test ./schema/ -update and review the diff", name)
		}
	}
	if strings.Contains(duck, "JSONB") || !strings.Contains(duck, `"location_ids" JSON,`) || !strings.Contains(pg, `"location_ids" JSONB,`) {
		t.Error("JSON is not spelled per dialect")
	}
	for _, want := range []string{
		`CREATE TABLE "user" (`,
		`"battery_id" UUID NOT NULL REFERENCES "battery" ("battery_id"),`,
		`PRIMARY KEY ("ts", "battery_id")`,
		`CREATE INDEX "idx_alert_location_status" ON "alert" ("location_id", "status", "triggered_at" DESC);`,
		`"escalation_level" INTEGER DEFAULT 1,`,
		`CREATE TYPE "alert_alert_type" AS ENUM ('voltage_low', `,
	} {
		if !strings.Contains(pg, want) || !strings.Contains(duck, want) {
			t.Errorf("ddl lacks %s", want)
		}
	}
}
