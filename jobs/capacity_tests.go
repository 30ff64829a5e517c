package jobs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
	"github.com/battlake/battlake/physics"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// capacity_test_raw + capacity_test_curve blobs

// testID is the capacity_test_raw key of a scheduled test.
func (tx *transactions) testID(s *fleet.String, ct CapacityTest) uuid.UUID {
	return fleet.ID(tx.RootSeed, "capacity_test", fmt.Sprintf("%s/%d", s.Code, ct.Seq))
}

func (tx *transactions) capacityTestJob() pipeline.Job {
	t := schema.MustLookup("capacity_test_raw")
	ct := schema.MustLookup("capacity_test_curve")
	return &pipeline.FuncJob{JobName: t.Name, StageName: "transactions", Out: []*schema.Table{t}, PlanFn: func(ctx context.Context) ([]pipeline.Task, error) {
		var tasks []pipeline.Task
		for _, ms := range tx.historyMonths() {
			p := lake.MustPartition(t, ms.Month, -1)
			month := ms.Month
			tasks = append(tasks, pipeline.Task{Partition: p, Meta: tx.meta(t.Name, p), Segments: []lake.Segment{tx.historySegment(ms, historySettle)}, Weight: int64(len(tx.Fleet.Strings)) * 100,
				Run: func(ctx context.Context, o *lake.Output) error { return tx.writeCapacityTests(ctx, o, t, ct, month) }})
		}
		return tasks, nil
	}}
}

func (tx *transactions) writeCapacityTests(ctx context.Context, o *lake.Output, t, curveT *schema.Table, month string) error {
	d := tx.plan()
	rw, err := parquetio.NewRowWriter(o.Data(), t)
	if err != nil {
		return err
	}
	sink := parquetio.NewRowSink(rw, t)
	for _, s := range stringsByID(tx.Fleet) {
		tests := s.Tests
		for i := range tests {
			ct := tests[i]
			if ct.Cancelled || lake.Month(ct.Start) != month {
				continue
			}
			ev := d.testEvent[s][ct.Seq]
			if ev == nil {
				return fmt.Errorf("capacity test %s/%d has no maintenance event", s.Code, ct.Seq)
			}
			id := tx.testID(s, ct)
			key := o.BlobKey(id.String())
			if err := o.WriteBlob(key, func(w io.Writer) (int64, error) { return tx.writeCapacityCurve(w, curveT, s, ct, id) }); err != nil {
				return err
			}
			spec := tx.Fleet.ModelByID[s.ModelID].Spec
			notes := fmt.Sprintf("Constant-current discharge, C/%.0f. Weakest jar %s (%s); all other jars above cutoff at end of test.",
				spec.CapacityAh/ct.CurrentA, jarLabel(ct.Weakest), ct.Weakest.Code)
			if err := sink.Add(func(b *parquetio.RowBuilder) {
				b.Set("test_id", id).Set("string_id", s.ID).Set("maintenance_event_id", ev.ID).
					Set("test_date", ct.Start).Set("test_type", "full_discharge").
					Set("discharge_rate_a", round(ct.MeasuredA, 2)).Set("discharge_duration_min", ev.testMin).
					Set("cutoff_voltage_v", round(CutoffV*float64(s.BatteriesCount), 2)).
					Set("ambient_temp_c", round(ct.AmbientC, 1)).Set("raw_data_url", key).Set("notes", notes)
			}); err != nil {
				return fmt.Errorf("capacity test %s/%d: %w", s.Code, ct.Seq, err)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	n, err := sink.Close()
	o.SetRows(n)
	return err
}

// writeCapacityCurve writes a test's per-jar discharge curves: each jar's
// constant-current discharge from the schedule's simulation
// (physics.CCDischarge: the I·R drop at the start, the coup de fouet, the
// slowly falling plateau and the end knee; jars spread by capacity, R0 and
// polarisation), from the string's true SOC at the start, at the room
// model's ambient, as the test logger records it: the measured current,
// and per channel a voltage offset and noise. The first jar to reach the
// cutoff (the weakest) ends the test at its Duration; the others end above.
func (tx *transactions) writeCapacityCurve(w io.Writer, t *schema.Table, s *fleet.String, ct CapacityTest, id uuid.UUID) (int64, error) {
	rw, err := parquetio.NewRowWriter(w, t)
	if err != nil {
		return 0, err
	}
	sink := parquetio.NewRowSink(rw, t)
	spec := tx.Fleet.ModelByID[s.ModelID].Spec
	var jars []*fleet.Battery
	for _, b := range tx.Fleet.StringJars(s.ID) {
		if b.ActiveOn(ct.Start) {
			jars = append(jars, b)
		}
	}
	slices.SortFunc(jars, func(a, b *fleet.Battery) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	total := int64(ct.Duration / time.Second)
	stepS := int64(curveStep / time.Second)
	seed := tx.Seed("capacity-curve", s.Code, fmt.Sprint(ct.Seq))
	for _, b := range jars {
		d := fleet.TestDischarge(tx.RootSeed, b, spec, ct.Start, ct.CurrentA, ct.AmbientC, ct.StartSOC)
		js := physics.Mix(seed, IDSeed(b.ID))
		off := curveOffsetV * physics.Gauss(js, 1<<40)
		for el, i := int64(0), uint64(0); ; i++ {
			v := d.VoltageAt(float64(el))
			if b == ct.Weakest && el == total {
				v = CutoffV // the logger's stop condition
			}
			v += off + curveNoiseV*physics.FastGauss(js, i)
			cur := ct.MeasuredA + 0.02*physics.FastGauss(js^0x5bd1e995, i)
			if err := sink.Add(func(rb *parquetio.RowBuilder) {
				rb.Set("test_id", id).Set("elapsed_s", int(el)).Set("battery_id", b.ID).
					Set("voltage_v", round(v, 3)).Set("current_a", round(cur, 3))
			}); err != nil {
				return 0, err
			}
			if el == total {
				break
			}
			el = min(el+stepS, total)
		}
	}
	return sink.Close()
}
