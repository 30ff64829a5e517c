package features

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// clone deep-copies the fixture's series.
func (fx *fixture) clone() *fixture {
	c := *fx
	c.jar, c.str, c.thd, c.env = map[uuid.UUID][]jrow{}, map[uuid.UUID][]srow{}, map[uuid.UUID][]vrow{}, map[uuid.UUID][]vrow{}
	for k, v := range fx.jar {
		c.jar[k] = slices.Clone(v)
	}
	for k, v := range fx.str {
		c.str[k] = slices.Clone(v)
	}
	for k, v := range fx.thd {
		c.thd[k] = slices.Clone(v)
	}
	for k, v := range fx.env {
		c.env[k] = slices.Clone(v)
	}
	return &c
}

// A spike planted in every input from t on must not change any feature at
// feature_ts <= t, and must change some feature after t.
func TestPointInTime(t *testing.T) {
	fx := newFixture(30)
	t0 := fx.start.Add(10 * time.Hour).UnixMicro()
	spiked := fx.clone()
	in := func(ts int64) bool { return ts >= t0 && ts < t0+2*60*sec }
	for id, rows := range spiked.jar {
		if i := slices.IndexFunc(rows, func(r jrow) bool { return r.ts >= t0 }); i >= 0 && rows[i].ts != t0 {
			rows = slices.Insert(rows, i, jrow{ts: t0})
		}
		for i := range rows {
			if in(rows[i].ts) {
				rows[i].v, rows[i].t, rows[i].r = 30000, 600, 9999
			}
		}
		spiked.jar[id] = rows
	}
	for id, rows := range spiked.str {
		for i := range rows {
			if in(rows[i].ts) {
				rows[i].cur, rows[i].rip = -150000, 9999
			}
		}
		spiked.str[id] = rows
	}
	for id, rows := range spiked.thd {
		i := slices.IndexFunc(rows, func(r vrow) bool { return r.ts >= t0 })
		if rows[i].ts != t0 {
			rows = slices.Insert(rows, i, vrow{ts: t0})
		}
		rows[i].val = 9999
		spiked.thd[id] = rows
	}
	for _, rows := range spiked.env {
		for i := range rows {
			if in(rows[i].ts) && rows[i].val != Null {
				rows[i].val = 100
			}
		}
	}
	cfg := Config{Windows: []int{1, 24}}
	for _, chunk := range []int{30, 1} {
		base, got := fx.run(t, cfg, chunk), spiked.run(t, cfg, chunk)
		changedAfter := 0
		for k, r := range got {
			b, ok := base[k]
			switch {
			case k.t <= t0 && (!ok || b != r):
				t.Errorf("chunk %dh: row at feature_ts %s <= spike differs:\n base %s\n got  %s", chunk,
					time.UnixMicro(k.t).UTC(), fmtRow(b), fmtRow(r))
			case k.t > t0 && ok && b != r:
				changedAfter++
			}
		}
		if changedAfter == 0 {
			t.Errorf("chunk %dh: the spike changed no feature after it: the test sees nothing", chunk)
		}
	}
}

// Feeding only the look-back before EmitFrom gives the same rows as the
// full history, from EmitFrom on.
func TestLookBackThenEmitFrom(t *testing.T) {
	fx := newFixture(30)
	cfg := Config{Windows: []int{1, 24}}
	full := fx.run(t, cfg, 6)
	e, err := New(cfg, fx.master)
	if err != nil {
		t.Fatal(err)
	}
	emitFrom := fx.start.Add(27 * time.Hour)
	cut := fx.clone()
	cut.start = emitFrom.Add(-e.LookBack())
	cut.hours = fx.hours - int(cut.start.Sub(fx.start)/time.Hour)
	c := cfg
	c.EmitFrom = emitFrom
	part := cut.run(t, c, 2)
	n := 0
	for k, w := range full {
		if k.t < emitFrom.UnixMicro() {
			continue
		}
		n++
		g, ok := part[k]
		if !ok {
			t.Errorf("missing %s", fmtRow(w))
			continue
		}
		if !hasBaseline(fx, k.b) { // the first-reading fallback depends on the range fed
			g.Val[RInternalBaselinePct], w.Val[RInternalBaselinePct] = 0, 0
		}
		if g != w {
			t.Errorf("look-back run differs:\n full %s\n part %s", fmtRow(w), fmtRow(g))
		}
	}
	if n == 0 || len(part) != n {
		t.Errorf("look-back run emitted %d rows, the full run %d from %s", len(part), n, emitFrom)
	}
}

func hasBaseline(fx *fixture, id uuid.UUID) bool {
	i := slices.IndexFunc(fx.bats, func(b Battery) bool { return b.ID == id })
	return fx.bats[i].InitialResistanceMOhm > 0
}

// The same physical signal sampled at 5 s on day 1 and at 1 min on day 2
// gives the same Ah throughput, float-band minutes and episode counts,
// close to the true values.
func TestMixedSampleRates(t *testing.T) {
	day0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	sid, bid, mid := fxID("s", 0), fxID("b", 0), fxID("m", 0)
	m := Master{Batteries: []Battery{{ID: bid, StringID: sid, ModelID: mid, InitialResistanceMOhm: 3}}, Models: []Model{{mid, 13.5, 13.8}}}
	// Profile by time of day: a 47 min discharge at 30 A from 03:00, a
	// 90 min recharge at 15 A, float at 0.5 A otherwise.
	profile := func(ts int64) (mA, mV int32) {
		tod := ts % (24 * hourUS)
		switch {
		case tod >= 3*hourUS && tod < 3*hourUS+47*60*sec:
			return -30000, 12300
		case tod >= 3*hourUS+47*60*sec && tod < 5*hourUS+17*60*sec:
			return 15000, 14100
		}
		return 500, 13620
	}
	var fx fixture
	fx.start, fx.hours, fx.master = day0, 48, m
	fx.bats, fx.strs = m.Batteries, []StringRef{{ID: sid}}
	fx.jar, fx.str, fx.thd, fx.env = map[uuid.UUID][]jrow{}, map[uuid.UUID][]srow{}, map[uuid.UUID][]vrow{}, map[uuid.UUID][]vrow{}
	for ts := day0.UnixMicro(); ts < day0.Add(48*time.Hour).UnixMicro(); {
		c, v := profile(ts)
		fx.str[sid] = append(fx.str[sid], srow{ts: ts, cur: c, rip: 100})
		fx.jar[bid] = append(fx.jar[bid], jrow{ts: ts, v: v, t: 250, r: 3000})
		if ts < day0.Add(24*time.Hour).UnixMicro() {
			ts += 5 * sec
		} else {
			ts += 60 * sec
		}
	}
	rows := fx.run(t, Config{Windows: []int{1, 24}}, 24)
	get := func(h int, w int32) Row {
		r, ok := rows[rowKey{bid, day0.Add(time.Duration(h) * time.Hour).UnixMicro(), w}]
		if !ok {
			t.Fatalf("no row at hour %d window %d", h, w)
		}
		return r
	}
	d1, d2 := get(24, 24), get(48, 24)
	trueAh := 30*47/60.0 + 15*90/60.0 + 0.5*(1440-137)/60.0
	for _, c := range []struct {
		col        Col
		truth, tol float64
	}{
		{AhThroughput, trueAh, 1.0}, // one 1 min sample at each current step
		{TimeBelowFloatMin, 47, 1},
		{TimeAboveFloatMin, 90, 1},
		{DischargeCyclesCount, 1, 0},
		{SurgeEventsCount, 1, 0},
	} {
		a, b := d1.Float(c.col), d2.Float(c.col)
		if math.Abs(a-c.truth) > c.tol || math.Abs(b-c.truth) > c.tol || math.Abs(a-b) > c.tol {
			t.Errorf("%s: 5 s day %g, 1 min day %g, truth %g (tolerance %g)", colNames[c.col], a, b, c.truth, c.tol)
		}
	}
	// Hour by hour too.
	for h := 1; h <= 24; h++ {
		a, b := get(h, 1), get(h+24, 1)
		if d := math.Abs(a.Float(AhThroughput) - b.Float(AhThroughput)); d > 0.55 {
			t.Errorf("hour %d: ah_throughput 5 s %g vs 1 min %g", h, a.Float(AhThroughput), b.Float(AhThroughput))
		}
		if d := math.Abs(a.Float(TimeBelowFloatMin) - b.Float(TimeBelowFloatMin)); d > 1 {
			t.Errorf("hour %d: time_below_float_min 5 s %g vs 1 min %g", h, a.Float(TimeBelowFloatMin), b.Float(TimeBelowFloatMin))
		}
	}
}

// Historian days: two days of 1 h snapshots, then a day at 5 s. With the
// dt cap stretched to the interval, each snapshot counts for its hour, so
// the integrals of a 1 h day match the 5 s day's; the cadence emits one
// row a historian day (00:00, windows of 24 h and more) and hourly rows on
// the detail day.
func TestHistorianDays(t *testing.T) {
	day0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	sid, bid, mid := fxID("s", 0), fxID("b", 0), fxID("m", 0)
	m := Master{Batteries: []Battery{{ID: bid, StringID: sid, ModelID: mid, InitialResistanceMOhm: 3}}, Models: []Model{{mid, 13.5, 13.8}}}
	// A 3 h discharge at 30 A from 03:00 (below the float band), float at
	// 0.5 A otherwise: 90 + 10.5 Ah and 180 min below float a day.
	profile := func(ts int64) (mA, mV int32) {
		if tod := ts % (24 * hourUS); tod >= 3*hourUS && tod < 6*hourUS {
			return -30000, 12300
		}
		return 500, 13620
	}
	detail := day0.Add(48 * time.Hour).UnixMicro()
	var fx fixture
	fx.start, fx.hours, fx.master = day0, 72, m
	fx.bats, fx.strs = m.Batteries, []StringRef{{ID: sid}}
	fx.jar, fx.str, fx.thd, fx.env = map[uuid.UUID][]jrow{}, map[uuid.UUID][]srow{}, map[uuid.UUID][]vrow{}, map[uuid.UUID][]vrow{}
	for ts := day0.UnixMicro(); ts < day0.Add(72*time.Hour).UnixMicro(); {
		c, v := profile(ts)
		fx.str[sid] = append(fx.str[sid], srow{ts: ts, cur: c, rip: 100})
		fx.jar[bid] = append(fx.jar[bid], jrow{ts: ts, v: v, t: 250, r: 3000})
		if ts < detail {
			ts += hourUS
		} else {
			ts += 5 * sec
		}
	}
	historian := func(h int64) bool { return h*hourUS < detail }
	fx.gap = func(from time.Time) time.Duration {
		if from.UnixMicro() <= detail { // the detail day's first sample follows a 1 h one
			return time.Hour
		}
		return 10 * time.Minute
	}
	cadence := func(h int64) int64 {
		switch {
		case !historian(h):
			return 0
		case h%24 == 0:
			return 24
		}
		return math.MaxInt64
	}
	rows := fx.run(t, Config{Windows: []int{1, 24}, EmitHour: cadence}, 24)
	base := day0.Unix() / 3600
	for k := range rows {
		h := k.t/hourUS - base
		if historian(base+h) && (h%24 != 0 || k.w < 24) {
			t.Errorf("historian hour %d window %d emitted", h, k.w)
		}
	}
	for h := 49; h <= 72; h++ {
		for _, w := range []int32{1, 24} {
			if _, ok := rows[rowKey{bid, day0.Add(time.Duration(h) * time.Hour).UnixMicro(), w}]; !ok {
				t.Errorf("detail hour %d window %d missing", h, w)
			}
		}
	}
	for _, c := range []struct {
		hour       int
		ah, below  float64
		what       string
		tolAh, tol float64
	}{
		{24, 100, 180, "first historian day (its first sample has no dt)", 1, 1},
		{48, 100.5, 180, "second historian day", 0.5, 1},
		{72, 101, 180, "detail day (its first sample stands for the hour before)", 0.5, 1},
	} {
		r, ok := rows[rowKey{bid, day0.Add(time.Duration(c.hour) * time.Hour).UnixMicro(), 24}]
		if !ok {
			t.Fatalf("no 24 h row at hour %d", c.hour)
		}
		if a, b := r.Float(AhThroughput), r.Float(TimeBelowFloatMin); math.Abs(a-c.ah) > c.tolAh || math.Abs(b-c.below) > c.tol {
			t.Errorf("%s: ah_throughput %g (want %g), time_below_float_min %g (want %g)", c.what, a, c.ah, b, c.below)
		}
	}
}
