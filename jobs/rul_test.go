package jobs_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/jobs/rul"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/objstore"
)

// rulScenario is one site commissioned in 2014 with two months of hourly
// telemetry: years of capacity tests and replacements to learn from, two
// month ends (the second is the horizon) to predict at, and at seed 8 its
// nine strings fall in all three splits.
func rulScenario() jobs.Scenario {
	sc := window("2026-09-01", "2026-11-01")
	sc.Sites = []string{"DC-NTB-01"}
	sc.SampleInterval = jobs.Duration{Duration: time.Hour}
	return sc
}

func q1(t *testing.T, db *sql.DB, query string, args ...any) float64 {
	t.Helper()
	var v sql.NullFloat64
	if err := db.QueryRow(query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}

func TestRULStage(t *testing.T) {
	dir := t.TempDir()
	sc := rulScenario()
	runOn(t, dir, "", sc, append(append([]string{}, rawStages...), "calc", "features", "rul")...)
	db := openDuck(t)
	checkLake(t, db, dir)
	ts := fmt.Sprintf("read_parquet('%s')", filepath.Join(dir, "rul_training_set", "**", "*.parquet"))
	pred := fmt.Sprintf("read_parquet('%s')", filepath.Join(dir, "rul_prediction", "**", "*.parquet"))
	truth := fmt.Sprintf("read_parquet('%s')", filepath.Join(dir, "_truth", "truth_battery", "**", "*.parquet"))

	// Splits are by string: no battery and no string in two splits, and
	// every split is used.
	if n := q1(t, db, "SELECT count(*) FROM (SELECT battery_id FROM "+ts+" GROUP BY 1 HAVING count(DISTINCT split) > 1)"); n != 0 {
		t.Errorf("%v batteries in two splits", n)
	}
	if n := q1(t, db, "SELECT count(*) FROM (SELECT string_id FROM "+ts+" GROUP BY 1 HAVING count(DISTINCT split) > 1)"); n != 0 {
		t.Errorf("%v strings in two splits", n)
	}
	if n := q1(t, db, "SELECT count(DISTINCT split) FROM "+ts); n != 3 {
		t.Errorf("%v splits used, want 3", n)
	}
	// Labels agree with the truth and censor at the horizon.
	if n := q1(t, db, `SELECT count(*) FROM `+ts+` s JOIN `+truth+` tb USING (battery_id)
		WHERE s.true_rul_days_uncensored <> greatest(0, tb.end_of_service_date - s.as_of_date)
		   OR (s.event_observed <> (tb.end_of_service_date <= s.horizon_date))
		   OR (s.event_observed AND s.rul_days <> s.true_rul_days_uncensored)
		   OR (NOT s.event_observed AND s.rul_days <> greatest(0, s.horizon_date - s.as_of_date))
		   OR (s.fail_within_90d IS NULL AND (s.event_observed OR s.rul_days >= 90))`); n != 0 {
		t.Errorf("%v training rows whose labels disagree with truth_battery", n)
	}
	if n := q1(t, db, "SELECT count(*) FILTER (WHERE event_observed) FROM "+ts); n < 50 {
		t.Errorf("only %v observed ends of service in the training set", n)
	}
	// Point in time: no capacity test from after the as-of day, and
	// telemetry features only on days the telemetry covers.
	if n := q1(t, db, "SELECT count(*) FROM "+ts+" WHERE captest_days_since < 0 OR ohmic_days_since < 0 OR age_days <= 0"); n != 0 {
		t.Errorf("%v rows with features from after their as-of day", n)
	}
	if n := q1(t, db, "SELECT count(*) FROM "+ts+" WHERE fs_v_mean IS NOT NULL AND as_of_date < DATE '2026-09-01'"); n != 0 {
		t.Errorf("%v rows with feature-store values before the telemetry", n)
	}
	if n := q1(t, db, "SELECT count(*) FROM "+ts+" WHERE fs_v_mean IS NULL AND as_of_date >= DATE '2026-09-07'"); n != 0 {
		t.Errorf("%v telemetry-era rows without feature-store values", n)
	}
	// The resistance trend as documented, recomputed from the feature
	// store: the OLS slope of the daily 24 h rows' r_internal_latest over
	// the 60 days ending with the as-of day (a row at 00:00 covers the day
	// before it), % of the mean per year; none over 365 days (two months of
	// telemetry, fewer than half the window).
	fs := fmt.Sprintf("read_parquet('%s')", filepath.Join(dir, "feature_store", "**", "*.parquet"))
	trend := `SELECT battery_id, regr_slope(r, x) / avg(r) * 100 AS tr, count(*) AS n FROM (
		SELECT battery_id, r_internal_latest::DOUBLE AS r, (epoch(feature_ts) / 86400 - 1) / 365.25 AS x FROM ` + fs + `
		WHERE feature_window_hours = 24 AND feature_ts = date_trunc('day', feature_ts) AND r_internal_latest > 0
		  AND feature_ts > TIMESTAMPTZ '2026-11-01 00:00:00+00' - INTERVAL 60 DAY AND feature_ts <= TIMESTAMPTZ '2026-11-01 00:00:00+00') GROUP BY 1`
	if n := q1(t, db, `SELECT count(*) FROM `+ts+` s LEFT JOIN (`+trend+`) f USING (battery_id) WHERE s.as_of_date = DATE '2026-10-31'
		AND CASE WHEN coalesce(f.n, 0) >= 30 THEN s.r_trend60_pct_per_year IS NULL OR abs(s.r_trend60_pct_per_year - f.tr) > 1e-3 * (1 + abs(f.tr))
		    ELSE s.r_trend60_pct_per_year IS NOT NULL END`); n != 0 {
		t.Errorf("%v rows as of 2026-10-31 whose 60-day resistance trend is not the documented one", n)
	}
	if n := q1(t, db, "SELECT count(*) FROM "+ts+" WHERE as_of_date = DATE '2026-10-31' AND r_trend60_pct_per_year IS NOT NULL"); n < 100 {
		t.Errorf("only %v rows as of 2026-10-31 with a 60-day resistance trend", n)
	}
	if n := q1(t, db, "SELECT count(*) FROM "+ts+" WHERE r_trend365_pct_per_year IS NOT NULL"); n != 0 {
		t.Errorf("%v rows with a 365-day trend from two months of telemetry", n)
	}
	// Predictions: every battery in service at each prediction day, a
	// sane interval and monotone failure probabilities.
	if n := q1(t, db, `SELECT count(*) FROM `+ts+` s WHERE s.as_of_date IN (DATE '2026-09-30', DATE '2026-10-31')
		AND NOT EXISTS (SELECT 1 FROM `+pred+` p WHERE p.battery_id = s.battery_id AND p.source = 'ml_model'
		AND p.predicted_at = (s.as_of_date + INTERVAL 1 DAY)::TIMESTAMPTZ)`); n != 0 {
		t.Errorf("%v batteries in service without a prediction", n)
	}
	if n := q1(t, db, "SELECT count(*) FROM "+pred+` WHERE source = 'ml_model' AND (rul_lower_ci_days > rul_days OR rul_days > rul_upper_ci_days
		OR failure_probability_30d > failure_probability_90d OR confidence_score <= 0 OR confidence_score > 1
		OR json_extract(explanation_json, '$.top[0].feature') IS NULL)`); n != 0 {
		t.Errorf("%v predictions with an inconsistent interval, probabilities or explanation", n)
	}
	// Rolling retraining: cutoffs 2026-09-30 (the quarter end) and the
	// horizon 2026-10-31; each day is predicted by the model trained at
	// the latest cutoff on or before it, so never with later labels.
	models := fmt.Sprintf("read_parquet('%s')", filepath.Join(dir, "ml_model", "**", "*.parquet"))
	if n := q1(t, db, "SELECT count(DISTINCT model_id) FROM "+pred+" WHERE source = 'ml_model'"); n != 2 {
		t.Errorf("predictions from %v models, want 2 (one per cutoff)", n)
	}
	if n := q1(t, db, `SELECT count(*) FROM `+pred+` p JOIN `+models+` m USING (model_id) WHERE p.source IN ('ml_model', 'fused')
		AND (m.training_data_end > p.predicted_at OR EXISTS (SELECT 1 FROM `+models+` m2 WHERE m2.model_name = m.model_name
			AND m2.training_data_end <= p.predicted_at AND m2.training_data_end > m.training_data_end))`); n != 0 {
		t.Errorf("%v predictions not made by the latest model trained by their day", n)
	}
	if n := q1(t, db, "SELECT count(*) FROM "+models+" WHERE model_name = 'rul-gbt-quantile-cqr' AND training_data_end IN (DATE '2026-10-01', DATE '2026-11-01')"); n != 2 {
		t.Errorf("%v RUL models at the cutoffs 2026-09-30 and 2026-10-31, want 2", n)
	}
	if n := q1(t, db, "SELECT max(c) FROM (SELECT model_name, count(*) FILTER (WHERE status = 'production') c FROM "+models+" GROUP BY 1)"); n > 1 {
		t.Errorf("%v production versions of one model", n)
	}
	if n := q1(t, db, `SELECT count(*) FROM `+models+` m WHERE status = 'production' AND EXISTS (SELECT 1 FROM `+models+` m2
		WHERE m2.model_name = m.model_name AND m2.trained_at > m.trained_at AND m2.status <> 'staging')`); n != 0 {
		t.Errorf("%v production models with a newer promoted version", n)
	}
	// The fused estimate: beside every ML prediction, inside its interval,
	// with the weights it used.
	if n := q1(t, db, `SELECT count(*) FROM `+pred+` p WHERE p.source = 'ml_model' AND NOT EXISTS (SELECT 1 FROM `+pred+` f
		WHERE f.source = 'fused' AND f.battery_id = p.battery_id AND f.predicted_at = p.predicted_at AND f.model_id = p.model_id
		AND f.rul_lower_ci_days <= f.rul_days AND f.rul_days <= f.rul_upper_ci_days
		AND abs(json_extract(f.explanation_json, '$.weight_ml')::DOUBLE + json_extract(f.explanation_json, '$.weight_twin')::DOUBLE - 1) < 1e-6
		AND json_extract(f.explanation_json, '$.weight_ml')::DOUBLE BETWEEN 0 AND 1)`); n != 0 {
		t.Errorf("%v ML predictions without a consistent fused one", n)
	}
	// The registry: every model with metrics on the test split.
	if n := q1(t, db, "SELECT count(*) FROM "+models+" WHERE json_extract_string(metrics_json, '$.split') = 'test'"); n < 3 {
		t.Errorf("%v models with test metrics, want the RUL and both failure models", n)
	}

	// The SOH soft sensor: registered at every cutoff, scored on the test
	// strings well below the true SOH's spread, and its estimates in every
	// ML prediction's feature snapshot.
	if n := q1(t, db, "SELECT count(*) FROM "+models+" WHERE model_name = 'soh-soft-sensor-gbt' AND training_data_end IN (DATE '2026-10-01', DATE '2026-11-01')"); n != 2 {
		t.Errorf("%v soh sensors at the cutoffs 2026-09-30 and 2026-10-31, want 2", n)
	}
	if n := q1(t, db, "SELECT count(*) FROM "+models+" WHERE model_name = 'soh-soft-sensor-gbt' AND NOT (json_extract(metrics_json, '$.rows')::INT > 0 AND json_extract(metrics_json, '$.soh_rmse_pct')::DOUBLE < 0.7 * json_extract(metrics_json, '$.soh_sd_pct')::DOUBLE)"); n != 0 {
		t.Errorf("%v soh sensors without test rows or no better than a constant", n)
	}
	if n := q1(t, db, "SELECT count(*) FROM "+pred+" WHERE source = 'ml_model' AND (json_extract(feature_snapshot_json, '$.soh_est_pct') IS NULL OR json_extract(feature_snapshot_json, '$.soh_fade_est_pct_per_year') IS NULL)"); n != 0 {
		t.Errorf("%v ML predictions without the sensor's estimates in their feature snapshot", n)
	}

	if n := q1(t, db, "SELECT min(json_extract(metrics_json, '$.train_rows')::INT) FROM "+models+" WHERE model_type = 'anomaly_iforest'"); !(n > 0) {
		t.Errorf("anomaly model registered with %v training rows", n)
	}

	// A rerun writes nothing; a forced one (training again from the same
	// lake and seed) writes the same bytes.
	if again := runOn(t, dir, "", sc, "rul"); len(again) != 0 {
		t.Errorf("rerun wrote %v", again)
	}
	rulTables := []string{"rul_training_set", "ml_model", filepath.Join("_blobs", "ml_model"), "rul_prediction", "anomaly_score"}
	hashes := map[string]map[string]string{}
	for _, tb := range rulTables {
		if hashes[tb] = fileHashes(t, filepath.Join(dir, tb)); len(hashes[tb]) == 0 {
			t.Errorf("%s: nothing written", tb)
		}
	}
	if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: dir, Scenario: sc, Seed: 8, Stages: []string{"rul"}, Workers: 2, Force: true}); err != nil {
		t.Fatal(err)
	}
	for _, tb := range rulTables {
		sameFiles(t, hashes[tb], fileHashes(t, filepath.Join(dir, tb)))
	}

	// Predictions read no truth: rewritten through a store that refuses
	// _truth/, they are the same bytes.
	before := fileHashes(t, filepath.Join(dir, "rul_prediction"))
	guard := newNoTruth()
	lk, err := pipeline.OpenLake(context.Background(), dir, pipeline.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	guard.Store = lk.Store
	lk.Store = objstore.Store(guard)
	r := &pipeline.Runner{Lake: lk, Workers: 2, Force: true}
	if _, err := r.RunJobs(context.Background(), []pipeline.Job{rul.PredictJob(lk)}); err != nil {
		t.Fatalf("predictions through a truth-refusing store: %v", err)
	}
	if len(guard.hits) > 0 {
		t.Fatalf("predictions read the hidden truth: %v", guard.hits)
	}
	sameFiles(t, before, fileHashes(t, filepath.Join(dir, "rul_prediction")))

	// Evaluation runs on the test strings and gives finite scores.
	plain, err := pipeline.OpenLake(context.Background(), dir, pipeline.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := rul.EvaluateLake(context.Background(), plain, 8)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Rows == 0 || math.IsNaN(ev.Coverage95) || math.IsNaN(ev.FusedCov95) || len(ev.Methods) != 7 || ev.Methods[1].Name != "fused" || ev.Methods[5].Name != "truth-reference" || math.IsNaN(ev.AUROC90) && ev.Positives90 > 0 {
		t.Fatalf("evaluation: %d rows, coverage %v, fused coverage %v, %d methods", ev.Rows, ev.Coverage95, ev.FusedCov95, len(ev.Methods))
	}
	if ev.Cutoffs["2026-09-30"] != "2026-09-30" || ev.Cutoffs["2026-10-31"] != "2026-10-31" {
		t.Fatalf("evaluation cutoffs %v, want each month end by its own cutoff", ev.Cutoffs)
	}
	t.Logf("\n%s", ev)
}
