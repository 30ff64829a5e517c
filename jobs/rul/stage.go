package rul

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/jobs/ml"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Stage rul (phase 6, after twin) runs three steps in order, each a job of
// its own sub-stage so the runner finishes one before planning the next:
//
//  1. rul/set: rul_training_set (features + truth labels);
//  2. rul/train: ml_model, the model registry, with one artifact blob per
//     model (its JSON), trained on the set's train strings; metrics_json
//     holds the test-split evaluation (Evaluate);
//  3. rul/predict: rul_prediction and anomaly_score from the registered
//     artifacts and the point-in-time features: every battery in service
//     at every month end of the telemetry and at the horizon (the run
//     date). This step reads no truth (a test runs it over a store that
//     refuses `_truth/`).

// CodeVersion enters the fingerprint of every rul segment: bump it when
// the set, the training or the predictions change for the same inputs.
const CodeVersion = "rul-2026.11.30-12"

func meta(table string) lake.Meta {
	m := derive.Meta(table)
	m.Inputs = append(m.Inputs, "rul="+CodeVersion)
	return m
}

// Jobs are the jobs of stage rul over lake l for root seed seed.
func Jobs(l *lake.Lake, seed uint64) []pipeline.Job {
	sh := &shared{l: l, hyper: DefaultHyper(seed)}
	return []pipeline.Job{TrainingSetJob(l, sh), sh.trainJob(), PredictJob(l)}
}

// shared builds the training set once per run for the set and train steps.
type shared struct {
	l     *lake.Lake
	hyper Hyper
	once  sync.Once
	set   *Set
	src   *derive.RULSources
	truth *Truth
	err   error
}

func (sh *shared) build(ctx context.Context) (*Set, error) {
	sh.once.Do(func() {
		if sh.src, sh.err = derive.LoadRULSources(ctx, sh.l); sh.err != nil || sh.src == nil {
			return
		}
		if sh.truth, sh.err = LoadTruth(ctx, sh.l); sh.err != nil {
			return
		}
		sh.set, sh.err = BuildSet(ctx, sh.src, sh.truth)
	})
	return sh.set, sh.err
}

// Registry names: honest about what each model is.
const (
	NameRUL     = "rul-gbt-quantile-cqr"
	NameFail30  = "failure-30d-gbt-logistic"
	NameFail90  = "failure-90d-gbt-logistic"
	NameAnomaly = "anomaly-isolation-forest"
	NameSensor  = "soh-soft-sensor-gbt"
)

// ModelID is the registry id of a model version.
func ModelID(name, version string) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("battlake/ml_model/"+name+"/"+version))
}

func (sh *shared) trainJob() pipeline.Job {
	t := schema.MustLookup("ml_model")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "rul/train", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		s, err := sh.build(ctx)
		if err != nil || s == nil {
			return nil, err
		}
		if n := s.observedTrain(); n < MinObserved {
			// A lake of a few young strings has too few ends of service
			// to learn from: no model, so no predictions, rather than a
			// failed run (the training set is still written).
			return nil, nil
		}
		hp, _ := json.Marshal(sh.hyper)
		meta := meta(t.Name)
		meta.Inputs = append(meta.Inputs, "hyper="+derive.Digest(string(hp)))
		seg := lake.AsOfSegment(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), s.Horizon.AddDate(0, 0, 1))
		seg.Lineage = s.Lineage
		return []pipeline.Task{{Pinned: true, Partition: lake.MustPartition(t, "", -1), Meta: meta, Segments: []lake.Segment{seg}, Weight: int64(len(s.Labels)),
			Run: func(ctx context.Context, o *lake.Output) error { return sh.train(ctx, o, t, s) }}}, nil
	}}
}

// registryRow is one ml_model row.
type registryRow struct {
	name, typ, version, status string
	artifact                   []byte
	hyper, metrics             any
	features                   []string
}

func (sh *shared) train(ctx context.Context, o *lake.Output, t *schema.Table, s *Set) error {
	ms, err := TrainRolling(ctx, s, sh.hyper)
	if err != nil {
		return err
	}
	ev, per, err := Evaluate(ctx, sh.l, s, ms, sh.hyper)
	if err != nil {
		return err
	}
	status := lifecycle(per)
	// A version is the cutoff and a digest of the training data and
	// hyperparameters: the same lake and seed give the same versions and
	// the same bytes.
	hp, _ := json.Marshal(sh.hyper)
	digest := derive.Digest(fmt.Sprint(s.Lineage), string(hp))[:8] // version is VARCHAR(20)
	mj := func(g *ml.GBM) json.RawMessage { b, _ := g.MarshalJSON(); return b }
	type versioned struct {
		registryRow
		cutoff time.Time
	}
	var rows []versioned
	for k, m := range ms {
		version := "1." + m.Cutoff.Format("20060102") + "." + digest
		cut := m.Cutoff.Format(time.DateOnly)
		fuse := m.Fuse
		rulArt, _ := json.Marshal(Bundle{Cutoff: cut, Fuse: &fuse, Point: mj(m.Point), Lo: mj(m.Lo), Hi: mj(m.Hi), CQR: m.CQR, TrainMean: m.TrainMean})
		sohs, fades, err := m.Sensor.marshal()
		if err != nil {
			return err
		}
		sensorArt, _ := json.Marshal(Bundle{Cutoff: cut, SOH: sohs, Fade: fades})
		f30, _ := json.Marshal(Bundle{Cutoff: cut, P30: mj(m.P30)})
		f90, _ := json.Marshal(Bundle{Cutoff: cut, P90: mj(m.P90)})
		rm := per[k].RULMetrics()
		rm["cutoff"], rm["evaluated_on"] = cut, "the test strings on the as-of days this model set served"
		if k == len(ms)-1 {
			// The newest set also carries the rolling evaluation: every
			// prediction day by its own cutoff's set (battlake evaluate).
			rm["rolling"] = ev.RULMetrics()
		}
		fm := func(days int) map[string]any {
			x := per[k].FailureMetrics(days)
			x["cutoff"] = cut
			if k == len(ms)-1 {
				x["rolling"] = ev.FailureMetrics(days)
			}
			return x
		}
		sm := per[k].SensorMetrics()
		sm["cutoff"] = cut
		if k == len(ms)-1 {
			sm["rolling"] = ev.SensorMetrics()
		}
		rows = append(rows,
			versioned{registryRow{NameRUL, "catboost_rul", version, status[k], rulArt, map[string]any{"point": m.Point.Hyperparameters(), "quantile": m.Lo.Hyperparameters(), "quantiles": []float64{loQ, hiQ}, "cqr_days": m.CQR, "ipcw_cap": maxIPCW, "fuse": fuse}, rm, RULFeatures}, m.Cutoff},
			// model_type has no value for a regressor of the state: the
			// sensor is part of the RUL stack (catboost_rul); its name
			// says what it is.
			versioned{registryRow{NameSensor, "catboost_rul", version, status[k], sensorArt, map[string]any{"soh": m.Sensor.SOH[0].Hyperparameters(), "fade": m.Sensor.Fade[0].Hyperparameters(),
				"folds": len(m.Sensor.SOH), "outputs": SensorNames, "estimate": "mean of the fold models (the train strings: out-of-fold by string)",
				"labels": "the true SOH on the as-of day and its change over the previous 90 days (% per year), from the hidden truth, train strings as of the cutoff or earlier"}, sm, derive.RULFeatureNames}, m.Cutoff},
			versioned{registryRow{NameFail30, "survival", version, status[k], f30, m.P30.Hyperparameters(), fm(30), derive.RULFeatureNames}, m.Cutoff},
			versioned{registryRow{NameFail90, "survival", version, status[k], f90, m.P90.Hyperparameters(), fm(90), derive.RULFeatureNames}, m.Cutoff})
		if m.Forest != nil {
			fj, err := m.Forest.MarshalJSON()
			if err != nil {
				return err
			}
			art, _ := json.Marshal(Bundle{Cutoff: cut, Forest: fj, AnomalyThreshold: m.AnomalyThreshold})
			rows = append(rows, versioned{registryRow{NameAnomaly, "anomaly_iforest", version, "production", art,
				map[string]any{"forest": sh.hyper.Forest, "contamination": sh.hyper.Contamination, "threshold": m.AnomalyThreshold},
				map[string]any{"train_rows": m.ForestRows}, derive.RULFeatureNames}, m.Cutoff})
		}
	}
	first := s.Days[0]
	return writeSink(o, t, func(sink *parquetio.RowSink) error {
		for _, r := range rows {
			key := o.Partition().BlobPrefix() + "/" + r.name + "-" + r.version + ".json"
			art := r.artifact
			if err := o.WriteBlob(key, func(w io.Writer) (int64, error) { _, err := w.Write(art); return 0, err }); err != nil {
				return err
			}
			hyper, _ := json.Marshal(r.hyper)
			metrics, err := json.Marshal(r.metrics)
			if err != nil {
				return fmt.Errorf("metrics of %s: %w", r.name, err)
			}
			feats, _ := json.Marshal(r.features)
			// Trained at the end of its cutoff day (the data's time, not
			// the wall clock: same bytes).
			trained := r.cutoff.AddDate(0, 0, 1)
			if err := sink.Add(func(b *parquetio.RowBuilder) {
				b.Set("model_id", ModelID(r.name, r.version)).Set("model_name", r.name).Set("model_type", r.typ).Set("version", r.version).
					Set("status", r.status).Set("trained_at", trained).Set("artifact_url", key).
					Set("hyperparameters_json", string(hyper)).Set("metrics_json", string(metrics)).Set("feature_list", string(feats)).
					Set("training_data_start", first).Set("training_data_end", trained)
				if r.status == "production" || r.status == "retired" {
					b.Set("promoted_at", trained)
				}
			}); err != nil {
				return fmt.Errorf("ml_model row %s %s: %w", r.name, r.version, err)
			}
		}
		return nil
	})
}

// --- predictions -------------------------------------------------------------

// registered is a model of the registry, with its artifact.
type registered struct {
	id            uuid.UUID
	name, version string
	artifact      Bundle
}

// loadRegistry reads ml_model's artifacts, in key order.
func loadRegistry(ctx context.Context, l *lake.Lake) ([]registered, []lake.Input, error) {
	parts, err := l.Partitions(ctx, schema.MustLookup("ml_model"))
	if err != nil || len(parts) == 0 {
		return nil, nil, err
	}
	var out []registered
	var lineage []lake.Input
	for _, c := range parts {
		for _, f := range c.SegmentsOverlapping(time.Time{}, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) {
			lineage = append(lineage, f.Input())
		}
		for _, fe := range c.Manifest.Files {
			if fe.Role != "blob" {
				continue
			}
			// Artifacts are not segments: their digests enter as a
			// lineage record of their own.
			lineage = append(lineage, lake.Input{Table: "ml_model_artifact", Segment: path.Base(fe.Key), SHA256: fe.SHA256})
			obj, err := l.Store.Open(ctx, fe.Key)
			if err != nil {
				return nil, nil, fmt.Errorf("model artifact %s: %w", fe.Key, err)
			}
			b, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
			obj.Close()
			if err != nil {
				return nil, nil, fmt.Errorf("model artifact %s: %w", fe.Key, err)
			}
			var bu Bundle
			if err := json.Unmarshal(b, &bu); err != nil {
				return nil, nil, fmt.Errorf("model artifact %s: %w", fe.Key, err)
			}
			base := strings.TrimSuffix(fe.Key[strings.LastIndex(fe.Key, "/")+1:], ".json")
			k := strings.LastIndex(base, "-1.")
			if k < 0 {
				return nil, nil, fmt.Errorf("model artifact %s: no version in the name", fe.Key)
			}
			name, version := base[:k], base[k+1:]
			out = append(out, registered{id: ModelID(name, version), name: name, version: version, artifact: bu})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].version != out[j].version {
			return out[i].version < out[j].version
		}
		return out[i].name < out[j].name
	})
	return out, lineage, nil
}

// loaded rebuilds the model sets of the registry artifacts, in cutoff
// order, with each set's registry ids by model name. The anomaly forest
// comes with the newest set.
func loaded(reg []registered) ([]*Models, []map[string]uuid.UUID, error) {
	byVersion := map[string]map[string]registered{}
	var versions []string
	for _, r := range reg {
		if byVersion[r.version] == nil {
			byVersion[r.version] = map[string]registered{}
			versions = append(versions, r.version)
		}
		byVersion[r.version][r.name] = r
	}
	var ms []*Models
	var ids []map[string]uuid.UUID
	for _, v := range versions {
		m, id, err := loadedSet(byVersion[v])
		if err != nil {
			return nil, nil, fmt.Errorf("ml_model version %s: %w", v, err)
		}
		ms, ids = append(ms, m), append(ids, id)
	}
	order := make([]int, len(ms))
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool { return ms[order[a]].Cutoff.Before(ms[order[b]].Cutoff) })
	sm, sid := make([]*Models, len(ms)), make([]map[string]uuid.UUID, len(ms))
	for k, o := range order {
		sm[k], sid[k] = ms[o], ids[o]
	}
	if len(sm) == 0 {
		return nil, nil, fmt.Errorf("ml_model: no %s artifact", NameRUL)
	}
	return sm, sid, nil
}

// loadedSet rebuilds one version's model set.
func loadedSet(reg map[string]registered) (*Models, map[string]uuid.UUID, error) {
	m := &Models{}
	ids := map[string]uuid.UUID{}
	r, ok := reg[NameRUL]
	if !ok {
		return nil, nil, fmt.Errorf("no %s artifact", NameRUL)
	}
	var err error
	if m.Cutoff, err = time.Parse(time.DateOnly, r.artifact.Cutoff); err != nil {
		return nil, nil, fmt.Errorf("%s artifact: cutoff %q: %w", NameRUL, r.artifact.Cutoff, err)
	}
	load := func(raw json.RawMessage) *ml.GBM {
		if err != nil {
			return nil
		}
		var g *ml.GBM
		g, err = ml.LoadGBM(raw)
		return g
	}
	m.Point, m.Lo, m.Hi, m.CQR, m.TrainMean = load(r.artifact.Point), load(r.artifact.Lo), load(r.artifact.Hi), r.artifact.CQR, r.artifact.TrainMean
	if r.artifact.Fuse != nil {
		m.Fuse = *r.artifact.Fuse
	}
	ids[NameRUL] = r.id
	if sr, ok := reg[NameSensor]; !ok {
		if err == nil {
			err = fmt.Errorf("no %s artifact", NameSensor)
		}
	} else if err == nil {
		m.Sensor, err = loadSensor(sr.artifact.SOH, sr.artifact.Fade)
		ids[NameSensor] = sr.id
	}
	m.P30, ids[NameFail30] = load(reg[NameFail30].artifact.P30), reg[NameFail30].id
	m.P90, ids[NameFail90] = load(reg[NameFail90].artifact.P90), reg[NameFail90].id
	if a, ok := reg[NameAnomaly]; ok && err == nil {
		m.Forest, err = ml.LoadIsolationForest(a.artifact.Forest)
		m.AnomalyThreshold, ids[NameAnomaly] = a.artifact.AnomalyThreshold, a.id
	}
	return m, ids, err
}

// PredictDays are the days predictions are made as of: every month end of
// the telemetry, and the horizon (the run date).
func PredictDays(src *derive.RULSources) []time.Time {
	var out []time.Time
	for _, d := range src.MonthEnds(src.Telemetry, src.Telemetry) {
		if !d.Before(src.Telemetry) {
			out = append(out, d)
		}
	}
	return out
}

// PredictJob writes rul_prediction and anomaly_score: month partitions of
// predicted_at (the end of the as-of day), a day segment per prediction
// day. It reads no truth.
func PredictJob(l *lake.Lake) pipeline.Job {
	pt, at := schema.MustLookup("rul_prediction"), schema.MustLookup("anomaly_score")
	return &pipeline.FuncJob{JobName: pt.Name, StageName: "rul/predict", Out: []*schema.Table{pt, at}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		reg, regLineage, err := loadRegistry(ctx, l)
		if err != nil || reg == nil {
			return nil, err
		}
		src, err := derive.LoadRULSources(ctx, l)
		if err != nil || src == nil {
			return nil, err
		}
		var (
			once  sync.Once
			ms    []*Models
			ids   []map[string]uuid.UUID
			frame *derive.RULFrame
			lerr  error
		)
		days := PredictDays(src)
		prepare := func(ctx context.Context) error {
			once.Do(func() {
				if ms, ids, lerr = loaded(reg); lerr != nil {
					return
				}
				frame, lerr = src.Frame(ctx, days, nil)
			})
			return lerr
		}
		// A prediction as of day d is made at the end of d: its segment is
		// day d+1, in the month of d+1.
		ends := make([]time.Time, len(days))
		for k, d := range days {
			ends[k] = d.AddDate(0, 0, 1)
		}
		months, byMonth := derive.DaySegmentsByMonth(ends, func(day time.Time) []lake.Input {
			return append(append(append([]lake.Input{}, regLineage...), src.Lineage...), src.DayLineage(day.AddDate(0, 0, -1))...)
		})
		var tasks []pipeline.Task
		for _, tb := range []*schema.Table{pt, at} {
			tb := tb
			if tb == at && !slices.ContainsFunc(reg, func(r registered) bool { return r.name == NameAnomaly }) {
				continue
			}
			for _, mo := range months {
				tasks = append(tasks, pipeline.Task{Pinned: true, Partition: lake.MustPartition(tb, mo, -1), Meta: meta(tb.Name), Segments: byMonth[mo], Weight: 2000,
					Run: func(ctx context.Context, o *lake.Output) error {
						if err := prepare(ctx); err != nil {
							return err
						}
						day := o.Segment().From.AddDate(0, 0, -1)
						if tb == pt {
							return writePredictions(o, tb, frame, ms, ids, day)
						}
						// The forest is fitted at the horizon only (it
						// learns no label): the newest set's.
						last := len(ms) - 1
						return writeAnomalies(o, tb, frame, ms[last], ids[last][NameAnomaly], day)
					}})
			}
		}
		return tasks, nil
	}}
}

func frameRows(f *derive.RULFrame, day time.Time) []int {
	var out []int
	for i, r := range f.Rows {
		if r.AsOf.Equal(day) {
			out = append(out, i)
		}
	}
	return out
}

// predictionID is deterministic: battery, time and source.
func predictionID(b uuid.UUID, at time.Time, source string) uuid.UUID {
	return uuid.NewSHA1(b, []byte("rul_prediction/"+at.Format(time.RFC3339)+"/"+source))
}

// snapshot is the feature snapshot: the features x and the RUL inputs v
// that are not features (the soft sensor's estimates).
func snapshot(x, v []float64) string {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	add := func(name string, val float64) {
		if math.IsNaN(val) || math.IsInf(val, 0) {
			return
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&buf, "%q:%s", name, jsonNum(val))
	}
	for j, name := range derive.RULFeatureNames {
		add(name, x[j])
	}
	for k, j := range rulCols {
		if j < 0 {
			add(RULFeatures[k], v[k])
		}
	}
	buf.WriteByte('}')
	return buf.String()
}

func jsonNum(v float64) string {
	b, _ := json.Marshal(math.Round(v*1e4) / 1e4)
	return string(b)
}

// writePredictions writes day's predictions by the model set of its
// cutoff (the latest on or before it): per battery an ml_model row, a
// digital_twin row when the twin has an estimate, and a fused row. A day
// before the first cutoff gets none.
func writePredictions(o *lake.Output, t *schema.Table, f *derive.RULFrame, ms []*Models, ids []map[string]uuid.UUID, day time.Time) error {
	at := day.AddDate(0, 0, 1)
	k := sort.Search(len(ms), func(i int) bool { return ms[i].Cutoff.After(day) }) - 1
	return writeSink(o, t, func(sink *parquetio.RowSink) error {
		if k < 0 {
			return nil
		}
		m, rulID := ms[k], ids[k][NameRUL]
		cut := m.Cutoff.Format(time.DateOnly)
		rows := frameRows(f, day)
		X := ml.NewMatrix(len(rows), len(derive.RULFeatureNames))
		for k, i := range rows {
			copy(X.Row(k), f.Row(i))
		}
		V, err := m.inputBatch(X)
		if err != nil {
			return fmt.Errorf("soh sensor as of %s: %w", day.Format(time.DateOnly), err)
		}
		ps, err := m.predictBatch(X, V)
		if err != nil {
			return fmt.Errorf("predictions as of %s: %w", day.Format(time.DateOnly), err)
		}
		exs, err := m.Point.ExplainBatch(V, 8)
		if err != nil {
			return fmt.Errorf("explain predictions as of %s: %w", day.Format(time.DateOnly), err)
		}
		for k, i := range rows {
			r, x := f.Rows[i], f.Row(i)
			p := ps[k]
			ex := exs[k]
			for k := range ex.Top {
				if math.IsNaN(ex.Top[k].Value) {
					ex.Top[k].Value = -1 // JSON has no NaN: missing inputs read -1 with "missing"
				}
			}
			expl, _ := json.Marshal(map[string]any{"method": "TreeSHAP (path-dependent, exact) of the point model, days", "training_cutoff": cut,
				"expected_value": ex.Expected, "prediction": ex.Margin, "top": ex.Top})
			snap := snapshot(x, V.Row(k))
			if err := sink.Add(func(b *parquetio.RowBuilder) {
				b.Set("prediction_id", predictionID(r.Battery, at, "ml_model")).Set("battery_id", r.Battery).Set("model_id", rulID).
					Set("predicted_at", at).Set("rul_days", clampDays(p.RUL)).Set("rul_lower_ci_days", clampDays(p.Lo)).Set("rul_upper_ci_days", clampDays(p.Hi)).
					Set("failure_probability_30d", p.P30).Set("failure_probability_90d", p.P90).Set("confidence_score", p.Confidence).
					Set("source", "ml_model").Set("feature_snapshot_json", snap).Set("explanation_json", string(expl))
			}); err != nil {
				return fmt.Errorf("rul_prediction battery %s at %s: %w", r.Battery, at.Format(time.DateOnly), err)
			}
			// The twin's physics view: its capacity fade so far, extrapolated
			// at the jar's mean rate to 20 % fade (80 % SOH).
			if tw := twinRUL(x); !math.IsNaN(tw) {
				if err := sink.Add(func(b *parquetio.RowBuilder) {
					b.Set("prediction_id", predictionID(r.Battery, at, "digital_twin")).Set("battery_id", r.Battery).
						Set("predicted_at", at).Set("rul_days", clampDays(tw)).Set("source", "digital_twin").Set("feature_snapshot_json", snap).
						Set("explanation_json", `{"method":"linear extrapolation of the twin's capacity fade since installation to 20 % fade"}`)
				}); err != nil {
					return err
				}
			}
			fu := m.fused(p, x)
			fex := map[string]any{"method": "stacked: weight_ml × ML estimate + weight_twin × twin extrapolation (capped at 20 years), weights fitted on the validation strings " +
				"by stratum of the twin estimate (twin_stratum; -1: no twin estimate, the ML estimate) with a censoring-aware squared error; " +
				"interval: the hull of the ML model's conformalized 95 % interval and the fused estimate",
				"training_cutoff": cut, "weight_ml": jsonRound(fu.WeightML), "weight_twin": jsonRound(1 - fu.WeightML), "twin_stratum": fu.Stratum,
				"ml_rul_days": jsonRound(p.RUL)}
			if !math.IsNaN(fu.Twin) {
				fex["twin_rul_days"] = jsonRound(fu.Twin)
			}
			fexJSON, _ := json.Marshal(fex)
			if err := sink.Add(func(b *parquetio.RowBuilder) {
				b.Set("prediction_id", predictionID(r.Battery, at, "fused")).Set("battery_id", r.Battery).Set("model_id", rulID).
					Set("predicted_at", at).Set("rul_days", clampDays(fu.RUL)).Set("rul_lower_ci_days", clampDays(fu.Lo)).Set("rul_upper_ci_days", clampDays(fu.Hi)).
					Set("failure_probability_30d", p.P30).Set("failure_probability_90d", p.P90).Set("confidence_score", 1/(1+(fu.Hi-fu.Lo)/(fu.RUL+30))).
					Set("source", "fused").Set("feature_snapshot_json", snap).Set("explanation_json", string(fexJSON))
			}); err != nil {
				return fmt.Errorf("rul_prediction (fused) battery %s at %s: %w", r.Battery, at.Format(time.DateOnly), err)
			}
		}
		return nil
	})
}

// jsonRound rounds to 4 decimals (stable, short JSON).
func jsonRound(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// twinRUL extrapolates the twin's capacity fade at its mean rate since
// installation to 20 %: NaN without a twin state.
func twinRUL(x []float64) float64 {
	fade, age := x[derive.RULFeatureIndex("twin_capacity_fade_pct")], x[derive.RULFeatureIndex("age_days")]
	if math.IsNaN(fade) || math.IsNaN(age) || age <= 0 {
		return math.NaN()
	}
	if fade >= 20 {
		return 0
	}
	if fade <= 0.1 {
		return math.NaN()
	}
	return age * (20 - fade) / fade
}

// clampDays fits DECIMAL(6,1).
func clampDays(v float64) float64 { return math.Min(99999, math.Max(0, math.Round(v*10)/10)) }

func writeAnomalies(o *lake.Output, t *schema.Table, f *derive.RULFrame, m *Models, id uuid.UUID, day time.Time) error {
	at := day.AddDate(0, 0, 1)
	return writeSink(o, t, func(sink *parquetio.RowSink) error {
		fs := derive.RULFeatureIndex("fs_v_mean")
		for _, i := range frameRows(f, day) {
			r, x := f.Rows[i], f.Row(i)
			// The forest's score alone (Predict would also run the five
			// tree ensembles for nothing).
			if m.Forest == nil || math.IsNaN(x[fs]) {
				continue
			}
			score := m.Forest.Score(x)
			top, _ := json.Marshal(m.Forest.TopFeatures(x, 3))
			if err := sink.Add(func(b *parquetio.RowBuilder) {
				b.Set("scored_at", at).Set("battery_id", r.Battery).Set("model_id", id).Set("score", score).
					Set("threshold", m.AnomalyThreshold).Set("is_anomaly", score > m.AnomalyThreshold).Set("top_features_json", string(top))
			}); err != nil {
				return fmt.Errorf("anomaly_score battery %s at %s: %w", r.Battery, at.Format(time.DateOnly), err)
			}
		}
		return nil
	})
}
