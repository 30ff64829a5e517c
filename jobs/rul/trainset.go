// Package rul builds the labelled RUL training set, trains the RUL,
// failure-probability and anomaly models in Go, and evaluates them against
// the hidden truth.
//
// It is the one place outside the synthesizer that reads `_truth/`, and
// only for labels (the RUL labels, and the true SOH the soft sensor learns)
// and evaluation: the features come from package derive
// (raw and calculated data only), and predictions (derive.PredictJobs) read
// no truth at all: the trained models and the same features.
package rul

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// Split assigns a string to train (60 %), validation (20 %) or test
// (20 %) by a hash of its id: every jar of a string, at every as-of day,
// lands in the same split, so no battery is in two splits and a model is
// scored on strings it never saw.
func Split(stringID uuid.UUID) string {
	h := sha256.Sum256(append([]byte("battlake/rul-split/"), stringID[:]...))
	u := float64(binary.BigEndian.Uint64(h[:8])) / math.Exp2(64)
	switch {
	case u < 0.6:
		return "train"
	case u < 0.8:
		return "validation"
	}
	return "test"
}

// Label is one row's labels.
type Label struct {
	RULDays        float64 // to the end of service, or to the horizon when censored
	Observed       bool
	TrueRULDays    float64 // uncensored: evaluation only
	Fail30, Fail90 int8    // 1 true, 0 false, -1 unknown (censored)
}

// Truth is the label source: each battery's true end of service.
type Truth struct {
	EOS   map[uuid.UUID]time.Time
	Input lake.Input
	// l reads truth_battery_daily, the soft sensor's labels (nil: none).
	l *lake.Lake
}

// LoadTruth reads truth_battery's end_of_service_date.
func LoadTruth(ctx context.Context, l *lake.Lake) (*Truth, error) {
	ix, err := derive.Load(ctx, l, schema.MustLookup("truth_battery"))
	if err != nil {
		return nil, err
	}
	files := ix.All()
	if len(files) != 1 {
		return nil, fmt.Errorf("truth_battery: %d committed files, want 1 (run the master stage)", len(files))
	}
	t := &Truth{EOS: map[uuid.UUID]time.Time{}, Input: files[0].Input(), l: l}
	err = derive.EachSlice(ctx, l, files[0], parquetio.ReadOptions{Columns: []string{"battery_id", "end_of_service_date"}}, func(b *parquetio.SliceBatch) error {
		for i := 0; i < b.Rows; i++ {
			t.EOS[b.Cols[0].UUID[i]] = time.Unix(int64(b.Cols[1].Int32[i])*86400, 0).UTC()
		}
		return nil
	})
	return t, err
}

// LabelOf is the label of battery id as of day d, censored at horizon h.
// A jar past its end of service but still in place has 0 days left.
func (t *Truth) LabelOf(id uuid.UUID, d, h time.Time) (Label, bool) {
	e, ok := t.EOS[id]
	if !ok {
		return Label{}, false
	}
	days := func(a, b time.Time) float64 { return math.Max(0, b.Sub(a).Hours()/24) }
	lb := Label{TrueRULDays: days(d, e), Observed: !e.After(h)}
	if lb.Observed {
		lb.RULDays = lb.TrueRULDays
	} else {
		lb.RULDays = days(d, h)
	}
	known := func(n float64) int8 {
		switch {
		case lb.Observed && lb.RULDays <= n:
			return 1
		case lb.RULDays >= n: // ends later, or censored after n days
			return 0
		}
		return -1
	}
	lb.Fail30, lb.Fail90 = known(30), known(90)
	return lb, true
}

// Set is the in-memory training set: features, labels and splits.
type Set struct {
	Frame   *derive.RULFrame
	Labels  []Label
	Splits  []string
	Horizon time.Time
	Days    []time.Time
	Lineage []lake.Input
	// telemetry is the first day of jar telemetry: the evaluation's
	// as-of days start there.
	telemetry time.Time
	truth     *Truth // labels at other cutoffs (At)
	// soh and soh90 are each row's true SOH on its as-of day and
	// truthWindow days before (NaN unknown; nil without truth_battery_daily):
	// the soft sensor's labels and the truth-informed reference's features.
	soh, soh90 []float64
}

// BuildSet computes the training set over the as-of days: every month end
// of the telemetry and the horizon, and before the telemetry every quarter
// end since the first installation (jars change slowly, and more rows
// would only cost training time). The rule does not depend on the
// horizon, so a later run adds as-of days and never drops one: no month
// partition is left behind with rows a newer set no longer has.
func BuildSet(ctx context.Context, src *derive.RULSources, truth *Truth) (*Set, error) {
	days := src.MonthEnds(src.FirstInstall(), src.Telemetry)
	f, err := src.Frame(ctx, days, nil)
	if err != nil {
		return nil, err
	}
	s := &Set{Frame: &derive.RULFrame{}, Horizon: src.Horizon, Days: days, telemetry: src.Telemetry, truth: truth}
	nf := len(derive.RULFeatureNames)
	for i, r := range f.Rows {
		lb, ok := truth.LabelOf(r.Battery, r.AsOf, src.Horizon)
		if !ok {
			return nil, fmt.Errorf("battery %s: not in truth_battery", r.Battery)
		}
		s.Frame.Rows = append(s.Frame.Rows, r)
		s.Frame.X = append(s.Frame.X, f.X[i*nf:(i+1)*nf]...)
		s.Labels = append(s.Labels, lb)
		s.Splits = append(s.Splits, Split(r.String))
	}
	s.Lineage = append(append([]lake.Input{}, src.Lineage...), truth.Input)
	for _, d := range days {
		s.Lineage = append(s.Lineage, src.DayLineage(d)...)
	}
	if truth.l != nil {
		if s.soh, s.soh90, err = loadSOH(ctx, truth.l, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// TrainingSetJob writes rul_training_set: a month partition per month of
// as-of days, one as-of segment each, known up to the horizon (a rerun
// with an earlier horizon does not roll labels back).
func TrainingSetJob(l *lake.Lake, sh *shared) pipeline.Job {
	t := schema.MustLookup("rul_training_set")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "rul/set", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		s, err := sh.build(ctx)
		if err != nil || s == nil {
			return nil, err
		}
		byMonth := map[string][]int{}
		var months []string
		for i, r := range s.Frame.Rows {
			m := lake.Month(r.AsOf)
			if _, ok := byMonth[m]; !ok {
				months = append(months, m)
			}
			byMonth[m] = append(byMonth[m], i)
		}
		sort.Strings(months)
		meta := meta(t.Name)
		var tasks []pipeline.Task
		for _, m := range months {
			rows := byMonth[m]
			from, _ := time.Parse("2006-01", m)
			seg := lake.AsOfSegment(from, s.Horizon.AddDate(0, 0, 1))
			seg.Lineage = s.Lineage
			tasks = append(tasks, pipeline.Task{Pinned: true, Partition: lake.MustPartition(t, m, -1), Meta: meta, Segments: []lake.Segment{seg},
				Weight: int64(len(rows)), Run: func(ctx context.Context, o *lake.Output) error { return writeSet(o, t, s, rows) }})
		}
		return tasks, nil
	}}
}

func writeSet(o *lake.Output, t *schema.Table, s *Set, rows []int) error {
	return writeSink(o, t, func(sink *parquetio.RowSink) error {
		for _, i := range rows {
			r, lb, x := s.Frame.Rows[i], s.Labels[i], s.Frame.Row(i)
			if err := sink.Add(func(b *parquetio.RowBuilder) {
				b.Set("as_of_date", r.AsOf).Set("battery_id", r.Battery).Set("string_id", r.String).Set("split", s.Splits[i])
				if r.Location != (uuid.UUID{}) {
					b.Set("location_id", r.Location)
				}
				if r.Model != (uuid.UUID{}) {
					b.Set("model_id", r.Model)
				}
				for j, name := range derive.RULFeatureNames {
					if !math.IsNaN(x[j]) && !math.IsInf(x[j], 0) {
						b.Set(name, x[j])
					}
				}
				b.Set("rul_days", lb.RULDays).Set("event_observed", lb.Observed).Set("true_rul_days_uncensored", lb.TrueRULDays).Set("horizon_date", s.Horizon)
				if lb.Fail30 >= 0 {
					b.Set("fail_within_30d", lb.Fail30 == 1)
				}
				if lb.Fail90 >= 0 {
					b.Set("fail_within_90d", lb.Fail90 == 1)
				}
			}); err != nil {
				return fmt.Errorf("rul_training_set row %d (battery %s, as of %s): %w", i, r.Battery, r.AsOf.Format(time.DateOnly), err)
			}
		}
		return nil
	})
}

// writeSink writes the rows fill adds as the segment's data file.
func writeSink(o *lake.Output, t *schema.Table, fill func(sink *parquetio.RowSink) error) error {
	w, err := parquetio.NewRowWriter(o.Data(), t)
	if err != nil {
		return err
	}
	sink := parquetio.NewRowSink(w, t)
	if err := fill(sink); err != nil {
		return err
	}
	n, err := sink.Close()
	o.SetRows(n)
	return err
}
