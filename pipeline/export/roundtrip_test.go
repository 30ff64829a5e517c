package export_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline/export"
	"github.com/battlake/battlake/pipeline/ingest"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/lakecheck"
	"github.com/battlake/battlake/schema"
)

// roundTripTables are the tables a real fleet's exports would supply, in
// load order (parents before children, so foreign keys resolve): the
// issue's master and raw tables, plus the raw inputs the derived stages
// also read — user (alert acknowledgers), ripple_capture (string THD),
// the event windows with their samples (the twin's R0 fit) and the
// capacity tests' discharge curves (rul's features).
var roundTripTables = []string{
	"location", "battery_model", "battery_system", "string", "battery", "environmental_sensor", "user",
	"telemetry_jar_raw", "telemetry_string_raw", "telemetry_env", "ripple_capture",
	"telemetry_event_window", "event_window_sample",
	"maintenance_event", "capacity_test_raw", "capacity_test_curve", "impedance_measurement_raw",
}

// truthFreeTables are what stages calc, features and twin write.
var truthFreeTables = []string{
	"telemetry_jar_calc", "telemetry_string_calc", "capacity_test_calc", "impedance_measurement_calc",
	"feature_store", "digital_twin_state",
}

// truthLabelledTables are what stages rul (labels from the truth) and
// alerts (which read rul's predictions) write.
var truthLabelledTables = []string{"rul_training_set", "ml_model", "rul_prediction", "anomaly_score", "alert", "incident", "work_order"}

func roundTripScenario() jobs.Scenario {
	sc := jobs.DefaultScenario()
	sc.Sites = []string{"DC-BKK-01"}
	// A historian day (1 h samples) then detail days (5 min), up to a
	// month end (an RUL as-of day): the derived stages read each day's
	// rate from the raw manifests, which ingest infers from the rows. The
	// detail days hold captured event windows (a discharge test on 06-28
	// and 06-29, transfers, a surge) whose samples the twin's R0 fit reads.
	d, _ := jobs.ParseDate("2026-06-27")
	sc.Start, sc.End, sc.DetailFrom = d, jobs.Date{Time: d.AddDate(0, 0, 4)}, jobs.Date{Time: d.AddDate(0, 0, 1)}
	sc.SampleInterval, sc.HistoryInterval = jobs.Duration{Duration: 5 * time.Minute}, jobs.Duration{Duration: time.Hour}
	return sc
}

func runStages(t *testing.T, dir string, stages ...string) {
	t.Helper()
	if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: roundTripScenario(), Seed: 8, Stages: stages, Workers: 2}); err != nil {
		t.Fatalf("stages %v on %s: %v", stages, dir, err)
	}
}

// files maps every committed file of table (data and blobs) to its
// SHA-256, from the manifests.
func files(t *testing.T, lk *lake.Lake, table string) map[string]string {
	t.Helper()
	parts, err := lk.Partitions(context.Background(), schema.MustLookup(table))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range parts {
		for _, f := range c.Manifest.Files {
			out[f.Key] = f.SHA256
		}
	}
	return out
}

// diffFiles describes how two file sets differ ("" when equal).
func diffFiles(want, got map[string]string) string {
	var d []string
	for k, v := range want {
		switch g, ok := got[k]; {
		case !ok:
			d = append(d, "missing "+k)
		case g != v:
			d = append(d, "differs "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d = append(d, "extra "+k)
		}
	}
	slices.Sort(d)
	if len(d) > 8 {
		d = append(d[:8], fmt.Sprintf("... %d more", len(d)-8))
	}
	return strings.Join(d, "; ")
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if _, err := os.Stat(from); os.IsNotExist(err) {
		return
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

// The acceptance: generate a small fleet, export its raw tables to
// CSV, ingest them into an empty lake, run the derived stages there, and
// every derived table's files equal the synthetic lake's, byte for byte
// (the Parquet of a derived segment is a pure function of its input rows;
// manifests differ only in lineage, which names the ingested files).
func TestRoundTripDerivedTablesEqual(t *testing.T) {
	if testing.Short() {
		t.Skip("generates, exports, ingests and derives a small fleet twice")
	}
	ctx := t.Context()
	synth, ing, csvDir := t.TempDir(), t.TempDir(), t.TempDir()
	runStages(t, synth, "master", "telemetry", "transactions", "calc", "features", "twin", "rul", "alerts")
	src := openLake(t, synth)

	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	for _, name := range roundTripTables {
		path := filepath.Join(csvDir, name+".csv")
		st, err := export.CSVFile(ctx, src, schema.MustLookup(name), path, export.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := ingest.Run(ctx, ingest.Config{Lake: ing, Table: name, Source: path, Format: "csv", Strict: true, Now: now})
		if err != nil {
			t.Fatalf("ingest %s (%d rows exported): %v", name, st.Rows, err)
		}
		if sum.Rows != st.Rows || sum.Accepted != st.Rows || sum.Rejected != 0 {
			t.Fatalf("ingest %s: %d rows exported; ingest read %d, accepted %d, rejected %d %v",
				name, st.Rows, sum.Rows, sum.Accepted, sum.Rejected, sum.ByReason)
		}
	}
	// The raw layer itself: not required to be byte-equal (ingest may
	// segment as-of tables its own way), but it explains derived diffs.
	// Blob objects are listed in their parent's manifests.
	dst := openLake(t, ing)
	for _, name := range roundTripTables {
		if schema.MustLookup(name).Blob() != nil {
			continue
		}
		if d := diffFiles(files(t, src, name), files(t, dst, name)); d != "" {
			t.Logf("raw %s: ingested files differ from synthetic: %s", name, d)
		}
	}
	// The samples came back whole: the ingested lake exports the same CSV,
	// byte for byte, and every parent row names an object of its segment.
	for _, name := range []string{"event_window_sample", "capacity_test_curve"} {
		var a, b bytes.Buffer
		tb := schema.MustLookup(name)
		sa, err := export.CSV(ctx, src, tb, &a, export.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := export.CSV(ctx, dst, tb, &b, export.Options{}); err != nil {
			t.Fatal(err)
		}
		if sa.Rows == 0 || !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: the ingested lake exports %d bytes, the synthetic %d (%d rows): want equal and not empty", name, b.Len(), a.Len(), sa.Rows)
		}
	}

	db, err := lakecheck.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rowDiff := func(tb *schema.Table, a, b string) string {
		t.Helper()
		onlySynth := count(t, db, fmt.Sprintf("SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s)", a, b))
		onlyIng := count(t, db, fmt.Sprintf("SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s)", b, a))
		if onlySynth == 0 && onlyIng == 0 {
			return ""
		}
		return fmt.Sprintf("rows only in the synthetic lake %d, only in the ingested lake %d", onlySynth, onlyIng)
	}
	compare := func(tables []string) {
		t.Helper()
		for _, name := range tables {
			want, got := files(t, src, name), files(t, dst, name)
			if len(want) == 0 {
				t.Errorf("%s: the synthetic lake has no files", name)
				continue
			}
			d := diffFiles(want, got)
			if d == "" {
				continue
			}
			tb := schema.MustLookup(name)
			a, b := lakecheck.Scan(synth, tb), lakecheck.Scan(ing, tb)
			if col, ok := modelKeyed[name]; ok {
				// A model's version (and so its id) is a digest of the
				// training set's lineage: the SHA-256 and partition of
				// every capacity-test and impedance file read. An
				// ingested lake holds the same rows in other files
				// (impedance months without readings have no empty
				// file), so the same model gets another id. Compare the
				// rows with the model named instead of identified, and
				// ml_model without its id, version and artifact URL
				// (artifacts are compared by content below).
				a, b = byModelName(synth, tb, col), byModelName(ing, tb, col)
				if rd := rowDiff(tb, a, b); rd != "" {
					t.Errorf("%s: %s (model identity aside)", name, rd)
				}
				continue
			}
			t.Errorf("%s: files differ (%s); %s", name, d, rowDiff(tb, a, b))
		}
	}

	runStages(t, ing, "calc", "features", "twin")
	compare(truthFreeTables)

	// Truth is evaluation data a real fleet does not have; rul reads it
	// for training labels only (its predictions read no truth), so it is
	// copied in for this phase alone.
	copyTree(t, filepath.Join(synth, "_truth"), filepath.Join(ing, "_truth"))
	runStages(t, ing, "rul", "alerts")
	compare(truthLabelledTables)
	if a, b := artifacts(t, src), artifacts(t, dst); !maps.Equal(a, b) || len(a) == 0 {
		t.Errorf("model artifacts by name differ: synthetic %v, ingested %v", a, b)
	}
}

// modelKeyed are the derived tables whose rows name a trained model by
// its id: the column, or "" for ml_model itself.
var modelKeyed = map[string]string{"ml_model": "", "rul_prediction": "model_id", "anomaly_score": "model_id", "alert": "model_id"}

// byModelName is a scan of tb in lake dir with its model column replaced by
// the model's name (ml_model: without model_id, version, artifact_url).
func byModelName(dir string, tb *schema.Table, col string) string {
	var cols []string
	for _, c := range tb.Columns {
		switch {
		case col == "" && (c.Name == "model_id" || c.Name == "version" || c.Name == "artifact_url"):
		case c.Name == col:
			cols = append(cols, "m.model_name AS "+col)
		default:
			cols = append(cols, "t."+c.Name)
		}
	}
	q := fmt.Sprintf("(SELECT %s FROM %s t", strings.Join(cols, ", "), lakecheck.Scan(dir, tb))
	if col != "" {
		q += fmt.Sprintf(" LEFT JOIN %s m ON t.%s = m.model_id", lakecheck.Scan(dir, schema.MustLookup("ml_model")), col)
	}
	return q + ")"
}

// artifacts maps each ml_model artifact blob, named without the lineage
// digest that ends its version (name-1.<cutoff>.<digest>.json), to its
// SHA-256.
func artifacts(t *testing.T, lk *lake.Lake) map[string]string {
	t.Helper()
	version := regexp.MustCompile(`\.[0-9a-f]{8}\.json$`)
	out := map[string]string{}
	for k, v := range files(t, lk, "ml_model") {
		if strings.HasPrefix(k, lake.BlobArea+"/") {
			out[version.ReplaceAllString(k, ".json")] = v
		}
	}
	return out
}
