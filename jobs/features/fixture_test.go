package features

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// A small multi-site, multi-string fixture with mixed sample rates, a
// discharge with recharge, surges, gaps, NULLs, out-of-band voltages,
// off-grid jar timestamps, ripple, sparse THD and offset env readings.

type jrow struct {
	ts      int64
	v, t, r int32
}

type srow struct {
	ts       int64
	cur, rip int32
}

type vrow struct {
	ts  int64
	val int32
}

type fxString struct {
	id, system uuid.UUID
}

type fixture struct {
	start   time.Time
	hours   int
	master  Master
	strs    []StringRef
	systems []SystemRef
	sensors []SensorRef
	models  []Model
	bats    []Battery
	jar     map[uuid.UUID][]jrow
	str     map[uuid.UUID][]srow
	thd     map[uuid.UUID][]vrow
	env     map[uuid.UUID][]vrow
	// gap, if set, is each chunk's max gap (Engine.SetMaxGap).
	gap func(from time.Time) time.Duration
}

func fxID(kind string, n int) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%s-%d", kind, n))
}

const sec = int64(time.Second / time.Microsecond)

// newFixture builds the fixture over [start, start+hours).
func newFixture(hours int) *fixture {
	fx := &fixture{
		start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), hours: hours,
		jar: map[uuid.UUID][]jrow{}, str: map[uuid.UUID][]srow{}, thd: map[uuid.UUID][]vrow{}, env: map[uuid.UUID][]vrow{},
	}
	loc1, loc2 := fxID("loc", 1), fxID("loc", 2)
	fx.systems = []SystemRef{{fxID("sys", 1), loc1}, {fxID("sys", 2), loc2}}
	fx.sensors = []SensorRef{
		{ID: fxID("sensor", 1), LocationID: loc1, Code: "L1-ENV-01", Zone: "Battery Room A", SensorType: "combined", IsActive: true},
		{ID: fxID("sensor", 2), LocationID: loc1, Code: "L1-ENV-02", Zone: "UPS Room", SensorType: "temperature", IsActive: true},
		{ID: fxID("sensor", 3), LocationID: loc2, Code: "L2-ENV-01", Zone: "Battery Room A", SensorType: "combined", IsActive: true},
		{ID: fxID("sensor", 4), LocationID: loc2, Code: "L2-ENV-02", Zone: "Battery Room B", SensorType: "humidity", IsActive: true},
	}
	fx.models = []Model{{fxID("model", 1), 13.50, 13.80}, {fxID("model", 2), 13.40, 13.70}}
	// strings A, B at site 1, C at site 2
	fx.strs = []StringRef{{fxID("string", 0), fx.systems[0].ID}, {fxID("string", 1), fx.systems[0].ID}, {fxID("string", 2), fx.systems[1].ID}}
	jarsPer := []int{3, 3, 2}
	modelOf := []int{0, 1, 0}
	n := 0
	for s, k := range jarsPer {
		for j := 0; j < k; j++ {
			b := Battery{ID: fxID("battery", n), StringID: fx.strs[s].ID, ModelID: fx.models[modelOf[s]].ID}
			if n%3 != 1 {
				b.InitialResistanceMOhm = 3.0 + 0.1*float64(n)
			}
			fx.bats = append(fx.bats, b)
			n++
		}
	}
	fx.master = Master{Batteries: fx.bats, Models: fx.models, RoomSensor: RoomSensors(fx.strs, fx.systems, fx.sensors)}

	t0 := fx.start.UnixMicro()
	end := t0 + int64(hours)*hourUS
	H := hourUS
	// String current profile (mA) at absolute time t for string s.
	current := func(s int, t int64) int32 {
		rel := t - t0
		c := int32(300 + (t/sec*7+int64(s)*13)%11*10 - 50)
		switch s {
		case 0:
			switch {
			case rel >= 3*H && rel < 3*H+20*60*sec:
				c = -35000
			case rel >= 3*H+22*60*sec && rel < 3*H+23*60*sec:
				c = -5000 // same cycle: within the episode gap
			case rel >= 3*H+23*60*sec && rel < 4*H+23*60*sec:
				c = 20000
			case rel >= 27*H && rel < 27*H+2*60*sec:
				c = -12000
			}
		case 1:
			if rel == 8*H {
				c = -40000 // a one-sample surge
			}
			if rel >= 8*H+10*60*sec && rel < 8*H+14*60*sec {
				c = -8000
			}
		case 2:
			switch {
			case rel >= 15*H && rel < 15*H+10*60*sec:
				c = -3000
			case rel >= 23*H+59*60*sec+50*sec && rel < 24*H+10*sec:
				c = -25000 // crosses the hour: counted at its start
			}
		}
		return c
	}
	// String sample grids.
	step := func(s int, rel int64) int64 {
		switch s {
		case 0:
			return 5 * sec
		case 1:
			return 60 * sec
		default:
			if rel < 6*H {
				return 10 * sec
			}
			return 5 * sec
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for s, sr := range fx.strs {
		for t := t0; t < end; t += step(s, t-t0) {
			rel := t - t0
			if s == 1 && rel >= 5*H && rel < 5*H+30*60*sec {
				continue // string sensor gap
			}
			row := srow{ts: t, cur: current(s, t), rip: int32(80 + 10*int64(s) + (t/sec/60)%17)}
			if rng.IntN(200) == 0 {
				row.cur = Null
			}
			if rng.IntN(150) == 0 {
				row.rip = Null
			}
			fx.str[sr.ID] = append(fx.str[sr.ID], row)
		}
		// THD: string A every 10 min, B at every sample, C none.
		switch s {
		case 0:
			for t := t0 + 3*60*sec; t < end; t += 10 * 60 * sec {
				fx.thd[sr.ID] = append(fx.thd[sr.ID], vrow{t, int32(250 + (t/sec/600)%40)})
			}
		case 1:
			for _, r := range fx.str[sr.ID] {
				fx.thd[sr.ID] = append(fx.thd[sr.ID], vrow{r.ts, int32(400 + (r.ts/sec/60)%90)})
			}
		}
	}
	// Env: sensor 1 at +30 s offsets, 2 on the minute, 3 from 00:05 with
	// NULL temperatures every 10th reading, 4 humidity only (NULL temp).
	for k, sn := range fx.sensors {
		off, from := int64(0), t0
		if k == 0 {
			off = 30 * sec
		}
		if k == 2 {
			from = t0 + 5*60*sec
		}
		i := 0
		for t := from + off; t < end; t += 60 * sec {
			v := int32(240 + 3*int64(k) + (t/sec/60)%23 - 11)
			if (k == 2 && i%10 == 9) || k == 3 {
				v = Null
			}
			fx.env[sn.ID] = append(fx.env[sn.ID], vrow{t, v})
			i++
		}
	}
	// Jars.
	for bi, b := range fx.bats {
		s := slices.IndexFunc(fx.strs, func(x StringRef) bool { return x.ID == b.StringID })
		for t := t0; t < end; {
			rel := t - t0
			st := step(s, rel)
			if s == 0 && rel >= 12*H {
				st = 30 * sec // jars of A slow down to 30 s while the string stays at 5 s
			}
			tt := t
			if bi == 2 && rel >= 9*H && rel < 10*H {
				tt = t + 2*sec // off-grid timestamps: alone at its ts
			}
			t += st
			switch {
			case bi == 1 && rel >= 2*H+10*60*sec && rel < 2*H+40*60*sec:
				continue // dropout
			case bi == 6 && rel >= 10*H && rel < 14*H:
				continue // whole hours missing
			case bi == 5 && rel >= 20*H:
				continue // battery leaves
			}
			cur := current(s, tt)
			v := int32(13620 + 7*int64(bi) + (tt/sec*31+int64(bi)*17)%41 - 20)
			switch {
			case cur <= -3000:
				v = int32(12200 + 50*int64(bi) + (tt/sec)%30)
			case cur >= 15000:
				v = int32(14150 + 10*int64(bi))
			}
			if s == 1 {
				v += int32(((tt/sec/600)%5)*40) - 60 // wander across model 2's band
			}
			tc := int32(250 + 5*int64(bi) + (tt/H)%6 + (tt/sec)%7)
			// ohmic reading held per 15 min
			row := jrow{ts: tt, v: v, t: tc, r: int32(3000 + 100*int64(bi) + (tt/sec/900)%9)}
			if bi == 0 && rng.IntN(97) == 0 {
				row.t = Null
			}
			if bi == 4 && rng.IntN(50) == 0 {
				row.v = Null
			}
			if bi == 3 && rel < 40*60*sec {
				row.r = Null // no ohmic reading yet
			}
			fx.jar[b.ID] = append(fx.jar[b.ID], row)
		}
	}
	return fx
}

type rowKey struct {
	b uuid.UUID
	t int64
	w int32
}

// run feeds the fixture to a fresh engine in chunks of chunkHours with two
// concurrent jar passes and returns the rows.
func (fx *fixture) run(t testing.TB, cfg Config, chunkHours int) map[rowKey]Row {
	t.Helper()
	e, err := New(cfg, fx.master)
	if err != nil {
		t.Fatal(err)
	}
	out := map[rowKey]Row{}
	var mu sync.Mutex
	sink := func(r *Row) error {
		mu.Lock()
		defer mu.Unlock()
		k := rowKey{r.BatteryID, r.FeatureTS, r.WindowHours}
		if _, dup := out[k]; dup {
			return fmt.Errorf("row %v emitted twice", k)
		}
		out[k] = *r
		return nil
	}
	ids := func(m map[uuid.UUID][]vrow) []uuid.UUID {
		var out []uuid.UUID
		for id := range m {
			out = append(out, id)
		}
		slices.SortFunc(out, compareUUID)
		return out
	}
	for c := 0; c < fx.hours; c += chunkHours {
		from := fx.start.Add(time.Duration(c) * time.Hour)
		to := fx.start.Add(time.Duration(min(c+chunkHours, fx.hours)) * time.Hour)
		f, tt := from.UnixMicro(), to.UnixMicro()
		in := func(ts int64) bool { return ts >= f && ts < tt }
		if err := e.BeginChunk(from, to); err != nil {
			t.Fatal(err)
		}
		if fx.gap != nil {
			if err := e.SetMaxGap(fx.gap(from)); err != nil {
				t.Fatal(err)
			}
		}
		for _, pair := range []struct {
			m   map[uuid.UUID][]vrow
			add func(*SeriesBatch) error
		}{{fx.env, e.AddEnv}, {fx.thd, e.AddTHD}} {
			var b SeriesBatch
			for _, id := range ids(pair.m) {
				for _, r := range pair.m[id] {
					if in(r.ts) {
						b.ID, b.TS, b.Value = append(b.ID, id), append(b.TS, r.ts), append(b.Value, r.val)
					}
				}
			}
			if err := pair.add(&b); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range fx.strs {
			var b StringBatch
			for _, r := range fx.str[s.ID] {
				if in(r.ts) {
					b.StringID, b.TS, b.Current, b.Ripple = append(b.StringID, s.ID), append(b.TS, r.ts), append(b.Current, r.cur), append(b.Ripple, r.rip)
				}
			}
			if err := e.AddString(&b); err != nil {
				t.Fatal(err)
			}
		}
		// Two "buckets": even and odd batteries, each a sorted batch split
		// into small pieces so runs span batches.
		var buckets [2]JarBatch
		for bi, b := range fx.bats {
			jb := &buckets[bi%2]
			for _, r := range fx.jar[b.ID] {
				if in(r.ts) {
					jb.BatteryID, jb.TS = append(jb.BatteryID, b.ID), append(jb.TS, r.ts)
					jb.Voltage, jb.Temp, jb.Resistance = append(jb.Voltage, r.v), append(jb.Temp, r.t), append(jb.Resistance, r.r)
				}
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for k := range buckets { // concurrent pre-passes, one per bucket
			p, err := e.NewPrePass()
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[k] = p.Add(&buckets[k])
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for k := range buckets {
			p, err := e.NewJarPass(sink)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				jb := &buckets[k]
				const piece = 777
				for i := 0; i < len(jb.TS); i += piece {
					j := min(i+piece, len(jb.TS))
					sub := JarBatch{jb.BatteryID[i:j], jb.TS[i:j], jb.Voltage[i:j], jb.Temp[i:j], jb.Resistance[i:j]}
					if errs[k] = p.Add(&sub); errs[k] != nil {
						return
					}
				}
				errs[k] = p.Close()
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := e.EndChunk(sink); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func fmtRow(r Row) string {
	s := fmt.Sprintf("%s w=%d", time.UnixMicro(r.FeatureTS).UTC().Format("01-02T15"), r.WindowHours)
	for c := Col(0); c < NumCols; c++ {
		if r.IsValid(c) {
			s += fmt.Sprintf(" %s=%d", colNames[c], r.Val[c])
		} else {
			s += fmt.Sprintf(" %s=NULL", colNames[c])
		}
	}
	return s
}

var _ = math.Abs
