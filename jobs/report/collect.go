package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/jobs/derive"
	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
)

// volume is one table's committed content, summed over its manifests.
type volume struct {
	Table, Class      string
	Partitions, Files int64
	Rows, Bytes       int64
}

type jar struct {
	code, site string
	inService  bool
}

// point is one (time, value) sample of a trajectory.
type point struct {
	t time.Time
	v float64
}

// rulPoint is one prediction with the true remaining life of its jar.
type rulPoint struct {
	pred, lo, hi, truth float64
	hasCI               bool
}

// identity is the lake's _lake.json: the fleet its runs share.
type identity struct {
	RootSeed uint64             `json:"root_seed"`
	Sites    []string           `json:"sites"`
	Mix      map[string]float64 `json:"mix"`
}

// Severity orders of the alert and incident enums (schema order).
var (
	alertSeverities    = []string{"info", "warning", "critical"}
	incidentSeverities = []string{"low", "medium", "high", "critical"}
)

// data is everything the page shows, aggregated while streaming: per-jar
// scalars, a few jars' trajectories, per-day counts. No telemetry is read.
type data struct {
	identity *identity
	inputs   []string  // distinct manifest inputs (versions, rates)
	window   lake.Span // days of telemetry_jar_raw
	volumes  []volume
	have     map[string]bool // tables with a committed partition

	sites   []string // location codes
	strings int
	jars    map[uuid.UUID]*jar

	obsSOH   map[uuid.UUID]float64 // latest digital-twin SOH per jar
	obsAt    time.Time
	truthSOH map[uuid.UUID]float64 // truth SOH on the last truth day
	truthDay time.Time

	worst     []uuid.UUID
	trajTruth map[uuid.UUID][]point
	trajObs   map[uuid.UUID][]point

	predSource string
	predAt     time.Time
	predOther  map[string]int // predictions of other sources at predAt
	preds      []rulPoint
	eos        map[uuid.UUID]time.Time // truth end of service

	alertDays    map[int64][]int // UTC day → count per alertSeverities
	incidentDays map[int64][]int // UTC day → count per incidentSeverities
}

func collect(ctx context.Context, l *lake.Lake, worstN int) (*data, error) {
	d := &data{have: map[string]bool{}, jars: map[uuid.UUID]*jar{}, obsSOH: map[uuid.UUID]float64{}, truthSOH: map[uuid.UUID]float64{},
		trajTruth: map[uuid.UUID][]point{}, trajObs: map[uuid.UUID][]point{}, predOther: map[string]int{}, eos: map[uuid.UUID]time.Time{},
		alertDays: map[int64][]int{}, incidentDays: map[int64][]int{}}
	idx := map[string]*derive.Index{}
	if err := d.readVolumes(ctx, l, idx); err != nil {
		return nil, err
	}
	b, err := objstore.ReadAll(ctx, l.Store, jobs.IdentityKey)
	switch {
	case err == nil:
		var id identity
		if err := json.Unmarshal(b, &id); err != nil {
			return nil, fmt.Errorf("read %s: %w", jobs.IdentityKey, err)
		}
		d.identity = &id
	case !errors.Is(err, objstore.ErrNotFound):
		return nil, fmt.Errorf("read %s: %w", jobs.IdentityKey, err)
	}
	steps := []func(context.Context, *lake.Lake, map[string]*derive.Index) error{
		d.readMaster, d.readObservedSOH, d.readTruthSOH, d.readTruthEOS, d.readPredictions, d.readAlerts, d.readIncidents,
	}
	for _, step := range steps {
		if err := step(ctx, l, idx); err != nil {
			return nil, err
		}
	}
	d.pickWorst(worstN)
	if err := d.readTrajectories(ctx, l, idx); err != nil {
		return nil, err
	}
	return d, nil
}

// readVolumes sums every table's manifests and loads the indexes the
// other readers use. Blob tables are objects listed in their parent's
// manifest and counted there.
func (d *data) readVolumes(ctx context.Context, l *lake.Lake, idx map[string]*derive.Index) error {
	inputs := map[string]bool{}
	for _, t := range schema.All() {
		if t.Blob() != nil {
			continue
		}
		ix, err := derive.Load(ctx, l, t)
		if err != nil {
			return err
		}
		idx[t.Name] = ix
		if len(ix.Parts) == 0 {
			continue
		}
		d.have[t.Name] = true
		v := volume{Table: t.Name, Class: string(t.Class), Partitions: int64(len(ix.Parts))}
		for _, c := range ix.Parts {
			m := c.Manifest
			v.Files += int64(len(m.Files))
			v.Rows += m.Rows
			v.Bytes += m.Bytes
			for _, s := range m.Segments {
				for _, list := range [][]string{m.Inputs, s.Inputs} {
					for _, in := range list {
						// Versions and rates, not digests: a hash says
						// nothing on a page.
						if len(in) <= 40 {
							inputs[in] = true
						}
					}
				}
				if t.Name == "telemetry_jar_raw" && s.Name != lake.AsOfName {
					if d.window.From.IsZero() || s.From.Before(d.window.From) {
						d.window.From = s.From
					}
					if s.To.After(d.window.To) {
						d.window.To = s.To
					}
				}
			}
		}
		d.volumes = append(d.volumes, v)
	}
	for in := range inputs {
		d.inputs = append(d.inputs, in)
	}
	sort.Strings(d.inputs)
	return nil
}

// each streams every committed file of a table through the Arrow reader.
func each(ctx context.Context, l *lake.Lake, ix *derive.Index, cols []string, fn func(rec arrow.RecordBatch) error) error {
	for _, f := range ix.All() {
		if err := derive.EachRecord(ctx, l, f, cols, fn); err != nil {
			return err
		}
	}
	return nil
}

func (d *data) readMaster(ctx context.Context, l *lake.Lake, idx map[string]*derive.Index) error {
	for _, n := range []string{"location", "battery_system", "string", "battery"} {
		if !d.have[n] {
			return nil // the SOH sections say what is missing
		}
	}
	locs := map[uuid.UUID]string{}
	if err := each(ctx, l, idx["location"], []string{"location_id", "location_code"}, func(rec arrow.RecordBatch) error {
		for i := range int(rec.NumRows()) {
			id, _ := derive.UUIDAt(rec.Column(0), i)
			locs[id] = derive.StrAt(rec.Column(1), i)
			d.sites = append(d.sites, locs[id])
		}
		return nil
	}); err != nil {
		return err
	}
	sort.Strings(d.sites)
	sysLoc := map[uuid.UUID]uuid.UUID{}
	if err := each(ctx, l, idx["battery_system"], []string{"system_id", "location_id"}, func(rec arrow.RecordBatch) error {
		for i := range int(rec.NumRows()) {
			s, _ := derive.UUIDAt(rec.Column(0), i)
			sysLoc[s], _ = derive.UUIDAt(rec.Column(1), i)
		}
		return nil
	}); err != nil {
		return err
	}
	strSite := map[uuid.UUID]string{}
	if err := each(ctx, l, idx["string"], []string{"string_id", "system_id"}, func(rec arrow.RecordBatch) error {
		for i := range int(rec.NumRows()) {
			s, _ := derive.UUIDAt(rec.Column(0), i)
			sys, _ := derive.UUIDAt(rec.Column(1), i)
			strSite[s] = locs[sysLoc[sys]]
			d.strings++
		}
		return nil
	}); err != nil {
		return err
	}
	return each(ctx, l, idx["battery"], []string{"battery_id", "string_id", "battery_code", "status", "replaced_date"}, func(rec arrow.RecordBatch) error {
		for i := range int(rec.NumRows()) {
			id, _ := derive.UUIDAt(rec.Column(0), i)
			s, _ := derive.UUIDAt(rec.Column(1), i)
			status := derive.StrAt(rec.Column(3), i)
			d.jars[id] = &jar{code: derive.StrAt(rec.Column(2), i), site: strSite[s],
				inService: rec.Column(4).IsNull(i) && status != "replaced" && status != "retired"}
		}
		return nil
	})
}

// inService counts the jars in their string at the lake's as-of state.
func (d *data) inService() int {
	n := 0
	for _, j := range d.jars {
		if j.inService {
			n++
		}
	}
	return n
}

// readObservedSOH keeps each jar's latest digital-twin SOH estimate.
func (d *data) readObservedSOH(ctx context.Context, l *lake.Lake, idx map[string]*derive.Index) error {
	if !d.have["digital_twin_state"] {
		return nil
	}
	at := map[uuid.UUID]int64{}
	return eachSlice(ctx, l, idx["digital_twin_state"], parquetio.ReadOptions{Columns: []string{"battery_id", "captured_at", "soh_pct"}}, func(b *parquetio.SliceBatch) error {
		c := b.Cols
		for i := range b.Rows {
			if !valid(&c[2], i) || !valid(&c[0], i) {
				continue
			}
			id := uuid.UUID(c[0].UUID[i])
			if ts := c[1].Int64[i]; ts >= at[id] {
				at[id], d.obsSOH[id] = ts, float64(c[2].Int32[i])/100
				if t := time.UnixMicro(ts).UTC(); t.After(d.obsAt) {
					d.obsAt = t
				}
			}
		}
		return nil
	})
}

// readTruthSOH keeps each jar's true SOH on the last day of the truth
// (its last month partition).
func (d *data) readTruthSOH(ctx context.Context, l *lake.Lake, idx map[string]*derive.Index) error {
	ix := idx["truth_battery_daily"]
	if !d.have["truth_battery_daily"] {
		return nil
	}
	last := ix.Parts[len(ix.Parts)-1]
	day := map[uuid.UUID]int32{}
	var maxDay int32
	for _, f := range last.SegmentsOverlapping(time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)) {
		if err := derive.EachSlice(ctx, l, f, parquetio.ReadOptions{Columns: []string{"day", "battery_id", "soh_pct"}}, func(b *parquetio.SliceBatch) error {
			c := b.Cols
			for i := range b.Rows {
				id := uuid.UUID(c[1].UUID[i])
				if dd, ok := day[id]; !ok || c[0].Int32[i] >= dd {
					day[id], d.truthSOH[id] = c[0].Int32[i], float64(c[2].Int32[i])/100
				}
				maxDay = max(maxDay, c[0].Int32[i])
			}
			return nil
		}); err != nil {
			return err
		}
	}
	// Only jars the truth still follows on its last day.
	for id, dd := range day {
		if dd != maxDay {
			delete(d.truthSOH, id)
		}
	}
	d.truthDay = dayTime(maxDay)
	return nil
}

func (d *data) readTruthEOS(ctx context.Context, l *lake.Lake, idx map[string]*derive.Index) error {
	if !d.have["truth_battery"] {
		return nil
	}
	return eachSlice(ctx, l, idx["truth_battery"], parquetio.ReadOptions{Columns: []string{"battery_id", "end_of_service_date"}}, func(b *parquetio.SliceBatch) error {
		for i := range b.Rows {
			d.eos[uuid.UUID(b.Cols[0].UUID[i])] = dayTime(b.Cols[1].Int32[i])
		}
		return nil
	})
}

// sourceRank prefers the model's predictions, which carry the intervals.
var sourceRank = map[string]int{"ml_model": 0, "fused": 1, "digital_twin": 2}

// readPredictions keeps the fleet snapshot of the last prediction day:
// the predictions of the preferred source made on it, with the truth.
func (d *data) readPredictions(ctx context.Context, l *lake.Lake, idx map[string]*derive.Index) error {
	if !d.have["rul_prediction"] {
		return nil
	}
	ix := idx["rul_prediction"]
	// Pass 1: the last prediction day and the sources made on it.
	sources := map[string]int{}
	var last int64
	cols := []string{"battery_id", "predicted_at", "rul_days", "rul_lower_ci_days", "rul_upper_ci_days", "source"}
	if err := each(ctx, l, ix, cols[1:2], func(rec arrow.RecordBatch) error {
		for i := range int(rec.NumRows()) {
			last = max(last, derive.TimeAt(rec.Column(0), i).Unix()/86400)
		}
		return nil
	}); err != nil {
		return err
	}
	d.predAt = dayTime(int32(last))
	from, to := d.predAt, d.predAt.AddDate(0, 0, 1)
	type row struct {
		id           uuid.UUID
		at           time.Time
		rul, lo, hi  float64
		hasLo, hasHi bool
		source       string
	}
	var rows []row
	for _, f := range ix.Overlapping(from, to) {
		if err := derive.EachRecord(ctx, l, f, cols, func(rec arrow.RecordBatch) error {
			for i := range int(rec.NumRows()) {
				at := derive.TimeAt(rec.Column(1), i)
				if at.Before(from) || !at.Before(to) {
					continue
				}
				id, _ := derive.UUIDAt(rec.Column(0), i)
				r := row{id: id, at: at, source: derive.StrAt(rec.Column(5), i)}
				r.rul, _ = derive.NumAt(rec.Column(2), i)
				r.lo, r.hasLo = derive.NumAt(rec.Column(3), i)
				r.hi, r.hasHi = derive.NumAt(rec.Column(4), i)
				sources[r.source]++
				rows = append(rows, r)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for s := range sources {
		if r, ok := sourceRank[s]; d.predSource == "" || ok && r < sourceRank[d.predSource] {
			d.predSource = s
		}
	}
	for s, n := range sources {
		if s != d.predSource {
			d.predOther[s] = n
		}
	}
	// Rows are sorted by battery and time: the order is the lake's.
	for _, r := range rows {
		if r.source != d.predSource {
			continue
		}
		p := rulPoint{pred: r.rul, lo: r.lo, hi: r.hi, hasCI: r.hasLo && r.hasHi, truth: -1}
		if e, ok := d.eos[r.id]; ok {
			// The training labels' rule: days to the end of service from
			// the prediction's day, never negative.
			p.truth = max(0, e.Sub(r.at.Truncate(24*time.Hour)).Hours()/24)
		}
		d.preds = append(d.preds, p)
	}
	return nil
}

func (d *data) readAlerts(ctx context.Context, l *lake.Lake, idx map[string]*derive.Index) error {
	return d.countByDay(ctx, l, idx, "alert", "triggered_at", alertSeverities, d.alertDays)
}

func (d *data) readIncidents(ctx context.Context, l *lake.Lake, idx map[string]*derive.Index) error {
	return d.countByDay(ctx, l, idx, "incident", "created_at", incidentSeverities, d.incidentDays)
}

// countByDay counts a table's rows per UTC day of col and severity.
func (d *data) countByDay(ctx context.Context, l *lake.Lake, idx map[string]*derive.Index, table, col string, sevs []string, out map[int64][]int) error {
	if !d.have[table] {
		return nil
	}
	for _, f := range idx[table].All() {
		row := 0 // of the file, for the error
		if err := derive.EachRecord(ctx, l, f, []string{col, "severity"}, func(rec arrow.RecordBatch) error {
			for i := range int(rec.NumRows()) {
				day := derive.TimeAt(rec.Column(0), i).Unix() / 86400
				sev := derive.StrAt(rec.Column(1), i)
				k := slices.Index(sevs, sev)
				if k < 0 {
					return fmt.Errorf("row %d, column severity: %q is not one of %v", row+i, sev, sevs)
				}
				if out[day] == nil {
					out[day] = make([]int, len(sevs))
				}
				out[day][k]++
			}
			row += int(rec.NumRows())
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// pickWorst chooses the in-service jars of lowest SOH: the truth's where
// the lake has it, else the twin's.
func (d *data) pickWorst(n int) {
	soh := d.truthSOH
	if len(soh) == 0 {
		soh = d.obsSOH
	}
	var ids []uuid.UUID
	for id := range soh {
		if j, ok := d.jars[id]; ok && j.inService {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(a, b int) bool {
		if soh[ids[a]] != soh[ids[b]] {
			return soh[ids[a]] < soh[ids[b]]
		}
		return d.jars[ids[a]].code < d.jars[ids[b]].code
	})
	d.worst = ids[:min(n, len(ids))]
}

// readTrajectories reads the worst jars' whole daily truth and their twin
// estimates, pruned to those jars by row-group statistics.
func (d *data) readTrajectories(ctx context.Context, l *lake.Lake, idx map[string]*derive.Index) error {
	if len(d.worst) == 0 {
		return nil
	}
	want := map[uuid.UUID]bool{}
	for _, id := range d.worst {
		want[id] = true
	}
	for _, x := range []struct {
		table, ts, id string
		out           map[uuid.UUID][]point
	}{{"truth_battery_daily", "day", "battery_id", d.trajTruth}, {"digital_twin_state", "captured_at", "battery_id", d.trajObs}} {
		if !d.have[x.table] {
			continue
		}
		o := parquetio.ReadOptions{Columns: []string{x.ts, x.id, "soh_pct"}, Entities: d.worst, EntityColumn: x.id}
		if err := eachSlice(ctx, l, idx[x.table], o, func(b *parquetio.SliceBatch) error {
			c := b.Cols
			for i := range b.Rows {
				id := uuid.UUID(c[1].UUID[i])
				if !want[id] || !valid(&c[2], i) {
					continue
				}
				var t time.Time
				if c[0].Int32 != nil {
					t = dayTime(c[0].Int32[i])
				} else {
					t = time.UnixMicro(c[0].Int64[i]).UTC()
				}
				x.out[id] = append(x.out[id], point{t, float64(c[2].Int32[i]) / 100})
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for _, m := range []map[uuid.UUID][]point{d.trajTruth, d.trajObs} {
		for _, ps := range m {
			sort.SliceStable(ps, func(a, b int) bool { return ps[a].t.Before(ps[b].t) })
		}
	}
	return nil
}

func eachSlice(ctx context.Context, l *lake.Lake, ix *derive.Index, o parquetio.ReadOptions, fn func(b *parquetio.SliceBatch) error) error {
	for _, f := range ix.All() {
		if err := derive.EachSlice(ctx, l, f, o, fn); err != nil {
			return err
		}
	}
	return nil
}

func valid(c *parquetio.ColumnSlice, i int) bool { return c.Valid == nil || c.Valid[i] }

func dayTime(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// label is a jar's display name.
func (d *data) label(id uuid.UUID) string {
	if j, ok := d.jars[id]; ok && j.code != "" {
		return j.code
	}
	return strings.ToUpper(id.String()[:8])
}
