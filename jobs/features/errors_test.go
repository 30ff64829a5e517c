package features

import (
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// oneJar is an engine over one battery in one string with a room sensor,
// in the chunk [day, day+1h).
func oneJar(t *testing.T) (*Engine, uuid.UUID, uuid.UUID, uuid.UUID, int64) {
	t.Helper()
	sid, bid, mid, sen := fxID("s", 0), fxID("b", 0), fxID("m", 0), fxID("sensor", 0)
	e, err := New(Config{Windows: []int{1}}, Master{
		Batteries:  []Battery{{ID: bid, StringID: sid, ModelID: mid, InitialResistanceMOhm: 3}},
		Models:     []Model{{mid, 13.5, 13.8}},
		RoomSensor: map[uuid.UUID]uuid.UUID{sid: sen},
	})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	if err := e.BeginChunk(day, day.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return e, bid, sid, sen, day.UnixMicro()
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestRefusesValueOutsidePrecision(t *testing.T) {
	e, bid, _, sen, t0 := oneJar(t)
	if err := e.AddEnv(&SeriesBatch{ID: []uuid.UUID{sen}, TS: []int64{t0}, Value: []int32{-500}}); err != nil {
		t.Fatal(err)
	}
	p, err := e.NewJarPass(func(*Row) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	// 99.9 °C jar in a -50.0 °C room: a delta of 149.9 does not fit DECIMAL(4,2).
	if err := p.AddRun(bid, []int64{t0 + sec}, []int32{13600}, []int32{999}, []int32{3000}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, p.Close(), "t_delta_ambient_mean", "149.9", "DECIMAL(4,2)", bid.String())
}

func TestRefusesBadInput(t *testing.T) {
	sink := func(*Row) error { return nil }
	t.Run("unsorted", func(t *testing.T) {
		e, bid, _, _, t0 := oneJar(t)
		p, _ := e.NewJarPass(sink)
		wantErr(t, p.AddRun(bid, []int64{t0 + 2*sec, t0 + sec}, []int32{1, 1}, []int32{1, 1}, []int32{1, 1}), "not sorted")
	})
	t.Run("fed twice", func(t *testing.T) {
		e, bid, _, _, t0 := oneJar(t)
		p, _ := e.NewJarPass(sink)
		q, _ := e.NewJarPass(sink)
		if err := p.AddRun(bid, []int64{t0}, []int32{1}, []int32{1}, []int32{1}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, q.AddRun(bid, []int64{t0 + sec}, []int32{1}, []int32{1}, []int32{1}), "fed twice")
	})
	t.Run("unknown battery", func(t *testing.T) {
		e, _, _, _, t0 := oneJar(t)
		p, _ := e.NewJarPass(sink)
		wantErr(t, p.AddRun(fxID("x", 9), []int64{t0}, []int32{1}, []int32{1}, []int32{1}), "not in the master data")
	})
	t.Run("outside chunk", func(t *testing.T) {
		e, bid, _, _, t0 := oneJar(t)
		p, _ := e.NewJarPass(sink)
		wantErr(t, p.AddRun(bid, []int64{t0 + hourUS}, []int32{1}, []int32{1}, []int32{1}), "outside the chunk")
	})
	t.Run("order of inputs", func(t *testing.T) {
		e, _, sid, sen, t0 := oneJar(t)
		if err := e.AddString(&StringBatch{StringID: []uuid.UUID{sid}, TS: []int64{t0}, Current: []int32{0}, Ripple: []int32{0}}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, e.AddEnv(&SeriesBatch{ID: []uuid.UUID{sen}, TS: []int64{t0}, Value: []int32{1}}), "telemetry_env", "order")
	})
	t.Run("open pass", func(t *testing.T) {
		e, _, _, _, _ := oneJar(t)
		if _, err := e.NewJarPass(sink); err != nil {
			t.Fatal(err)
		}
		wantErr(t, e.EndChunk(sink), "not closed")
	})
}

// The registry's feature_store columns are exactly the kernel's.
func TestSpecsFollowRegistry(t *testing.T) {
	want := map[string][2]int{"v_mean": {5, 3}, "v_std": {5, 4}, "v_balance_mean": {6, 4}, "t_mean": {4, 1}, "t_delta_ambient_mean": {4, 2},
		"r_internal_latest": {8, 3}, "r_internal_baseline_pct": {8, 2}, "ah_throughput": {8, 2}, "ripple_rms_mean": {5, 3}, "thd_mean": {5, 2}}
	for _, s := range Specs {
		if p, ok := want[s.Name]; ok && (s.Precision != p[0] || s.Scale != p[1] || s.IsInt) {
			t.Errorf("%s: DECIMAL(%d,%d), want DECIMAL(%d,%d)", s.Name, s.Precision, s.Scale, p[0], p[1])
		}
	}
	for _, n := range []string{"discharge_cycles_count", "time_below_float_min", "time_above_float_min", "surge_events_count"} {
		if s := Specs[colIndex(n)]; !s.IsInt {
			t.Errorf("%s: not INT", n)
		}
	}
}

func colIndex(name string) Col {
	for c, n := range colNames {
		if n == name {
			return Col(c)
		}
	}
	return -1
}

// The kernels read only what they are fed: no simulator, no fleet builder.
func TestImportsNoSynthesizer(t *testing.T) {
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pkgs {
		for name, f := range p.Files {
			n++
			for _, im := range f.Imports {
				if path := strings.Trim(im.Path.Value, `"`); strings.Contains(path, "battlake/physics") || strings.Contains(path, "battlake/jobs/fleet") {
					t.Errorf("%s imports %s", name, path)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no source files parsed")
	}
}
