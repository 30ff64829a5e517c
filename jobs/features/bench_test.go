package features

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs/features/featuresql"
	"github.com/google/uuid"
)

// A fleet-day at 5 s: 1,944 batteries in 81 strings of 24 at 9 sites,
// 17,280 samples each (33.6 M jar rows). The signal is an integer formula
// that Go and DuckDB evaluate identically, so both sides compute over the
// same values without shipping 33.6 M rows between them.
const (
	benchBats    = 1944
	benchPerStr  = 24
	benchSamples = 17280
)

var benchDay = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func benchUUID(kind string, n int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("00000000-0000-4000-%s-%012d", kind, n))
}

// The formulas, written once for Go and once for SQL (b battery, s string,
// i sample index, j env minute index, k site).
func benchV(b, i int) int32 {
	s := b / benchPerStr
	switch {
	case i >= 2000+s*100 && i < 2120+s*100:
		return int32(12200 + (b+i)%50)
	case i >= 12000 && i < 12100:
		return int32(13900 + b%20)
	}
	return int32(13620 + (b*31+i*7)%41 - 20)
}
func benchT(b, i int) int32 { return int32(250 + (b*3+i/720)%20) }
func benchR(b, i int) int32 { return int32(3000 + b%500 + (i/180)%3) }
func benchI(s, i int) int32 {
	switch {
	case i >= 2000+s*100 && i < 2120+s*100:
		return -30000
	case i == 10000+s*37:
		return -45000
	}
	return int32(500 + (s*7+i*13)%11*10)
}
func benchRip(s, i int) int32 { return int32(100 + (s*5+i)%50) }
func benchTHD(s, i int) int32 { return int32(300 + (s+i/120)%100) }
func benchEnv(k, j int) int32 { return int32(240 + (j+k*3)%10) }

const (
	sqlV   = `(CASE WHEN i >= 2000 + (b//24)*100 AND i < 2120 + (b//24)*100 THEN 12200 + (b+i)%50 WHEN i >= 12000 AND i < 12100 THEN 13900 + b%20 ELSE 13620 + (b*31+i*7)%41 - 20 END)`
	sqlI   = `(CASE WHEN i >= 2000 + s*100 AND i < 2120 + s*100 THEN -30000 WHEN i = 10000 + s*37 THEN -45000 ELSE 500 + (s*7+i*13)%11*10 END)`
	sqlRip = `(100 + (s*5+i)%50)`
	sqlTHD = `(300 + (s + i//120)%100)`
)

type benchData struct {
	ts         []int64
	v, t, r    []int32 // battery-major
	master     Master
	str        StringBatch
	thd, env   SeriesBatch
	dir        string
	db         *sql.DB
	jarRows    int64
	batteryIDs []uuid.UUID
}

func newBenchData(b *testing.B) *benchData {
	d := &benchData{ts: make([]int64, benchSamples), dir: b.TempDir(), jarRows: benchBats * benchSamples}
	t0 := benchDay.UnixMicro()
	for i := range d.ts {
		d.ts[i] = t0 + int64(i)*5*sec
	}
	n := benchBats * benchSamples
	d.v, d.t, d.r = make([]int32, n), make([]int32, n), make([]int32, n)
	model := benchUUID("b000", 0)
	d.master.Models = []Model{{model, 13.5, 13.8}}
	d.master.RoomSensor = map[uuid.UUID]uuid.UUID{}
	for bi := 0; bi < benchBats; bi++ {
		id := benchUUID("8000", bi)
		d.batteryIDs = append(d.batteryIDs, id)
		s := bi / benchPerStr
		d.master.Batteries = append(d.master.Batteries, Battery{ID: id, StringID: benchUUID("9000", s), ModelID: model, InitialResistanceMOhm: 3})
		d.master.RoomSensor[benchUUID("9000", s)] = benchUUID("a000", s/9)
		off := bi * benchSamples
		for i := 0; i < benchSamples; i++ {
			d.v[off+i], d.t[off+i], d.r[off+i] = benchV(bi, i), benchT(bi, i), benchR(bi, i)
		}
	}
	for s := 0; s < benchBats/benchPerStr; s++ {
		id := benchUUID("9000", s)
		for i := 0; i < benchSamples; i++ {
			d.str.StringID, d.str.TS = append(d.str.StringID, id), append(d.str.TS, d.ts[i])
			d.str.Current, d.str.Ripple = append(d.str.Current, benchI(s, i)), append(d.str.Ripple, benchRip(s, i))
			d.thd.ID, d.thd.TS, d.thd.Value = append(d.thd.ID, id), append(d.thd.TS, d.ts[i]), append(d.thd.Value, benchTHD(s, i))
		}
	}
	for k := 0; k < 9; k++ {
		for j := 0; j < 1440; j++ {
			d.env.ID, d.env.TS, d.env.Value = append(d.env.ID, benchUUID("a000", k)), append(d.env.TS, t0+int64(j)*60*sec), append(d.env.Value, benchEnv(k, j))
		}
	}
	return d
}

// duckdb writes the same data to Parquet files with DuckDB COPY (outside
// any timed region).
func (d *benchData) duckdb(b *testing.B) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	d.db = db
	db.SetMaxOpenConns(1)
	t0 := benchDay.UnixMicro()
	f := func(name string) string { return filepath.Join(d.dir, name+".parquet") }
	stmts := []string{
		fmt.Sprintf(`COPY (SELECT ('00000000-0000-4000-8000-' || lpad(b::VARCHAR, 12, '0'))::UUID AS battery_id,
			make_timestamp(%d + i * 5000000) AS ts,
			(%s / 1000)::DECIMAL(5,3) AS voltage_v, ((250 + (b*3 + i//720)%%20) / 10)::DECIMAL(4,1) AS temperature_c,
			((3000 + b%%500 + (i//180)%%3) / 1000)::DECIMAL(8,3) AS resistance_mohm
			FROM (SELECT k // %d AS b, k %% %d AS i FROM range(0, %d) r(k))) TO '%s' (FORMAT parquet, ROW_GROUP_SIZE 1000000)`,
			t0, sqlV, benchSamples, benchSamples, benchBats*benchSamples, f("jar")),
		fmt.Sprintf(`COPY (SELECT ('00000000-0000-4000-9000-' || lpad(s::VARCHAR, 12, '0'))::UUID AS string_id, make_timestamp(%d + i * 5000000) AS ts,
			(%s / 1000)::DECIMAL(7,3) AS current_a, (%s / 1000)::DECIMAL(5,3) AS ripple_voltage_rms_v
			FROM (SELECT k // %d AS s, k %% %d AS i FROM range(0, %d) r(k))) TO '%s' (FORMAT parquet)`,
			t0, sqlI, sqlRip, benchSamples, benchSamples, benchSamples*benchBats/benchPerStr, f("str")),
		fmt.Sprintf(`COPY (SELECT ('00000000-0000-4000-9000-' || lpad(s::VARCHAR, 12, '0'))::UUID AS string_id, make_timestamp(%d + i * 5000000) AS ts,
			(%s / 100)::DECIMAL(5,2) AS thd_pct
			FROM (SELECT k // %d AS s, k %% %d AS i FROM range(0, %d) r(k))) TO '%s' (FORMAT parquet)`,
			t0, sqlTHD, benchSamples, benchSamples, benchSamples*benchBats/benchPerStr, f("thd")),
		fmt.Sprintf(`COPY (SELECT ('00000000-0000-4000-a000-' || lpad(k::VARCHAR, 12, '0'))::UUID AS sensor_id, make_timestamp(%d + j * 60000000) AS ts,
			((240 + (j + k*3)%%10) / 10)::DECIMAL(4,1) AS temperature_c
			FROM range(0, 9) r1(k), range(0, 1440) r2(j) ORDER BY 1, 2) TO '%s' (FORMAT parquet)`, t0, f("env")),
		fmt.Sprintf(`CREATE TABLE bat AS SELECT ('00000000-0000-4000-8000-' || lpad(b::VARCHAR, 12, '0'))::UUID AS battery_id,
			('00000000-0000-4000-9000-' || lpad((b//24)::VARCHAR, 12, '0'))::UUID AS string_id,
			('00000000-0000-4000-a000-' || lpad((b//24//9)::VARCHAR, 12, '0'))::UUID AS sensor_id,
			13.50::DECIMAL(5,2) AS fmin, 13.80::DECIMAL(5,2) AS fmax, 3.000::DECIMAL(8,3) AS r0 FROM range(0, %d) r(b)`, benchBats),
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			b.Fatalf("%v\n%s", err, s)
		}
	}
}

func (d *benchData) files() (jar, env, str, thd string) {
	f := func(name string) string { return filepath.Join(d.dir, name+".parquet") }
	return f("jar"), f("env"), f("str"), f("thd")
}

// benchSums are checksums over a result set that the engine and DuckDB
// must agree on exactly.
type benchSums struct {
	rows, vmax, below, above, dis, sur int64
}

func (d *benchData) duckSums(b *testing.B) benchSums {
	var s benchSums
	err := d.db.QueryRow(`SELECT count(*), sum(round(v_max * 1000))::BIGINT, sum(below_min)::BIGINT, sum(above_min)::BIGINT,
		sum(dis)::BIGINT, sum(sur)::BIGINT FROM res`).Scan(&s.rows, &s.vmax, &s.below, &s.above, &s.dis, &s.sur)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// measures the work done where wall time also measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timing is a wall and a CPU duration.
type timing struct{ wall, cpu time.Duration }

func (t *timing) add(u timing) { t.wall += u.wall; t.cpu += u.cpu }

// runKernel derives features for the day with the given windows and
// workers, and returns checksums of the rows for windows wantW.
func (d *benchData) runKernel(b *testing.B, windows []int, workers int, wantW int32) (benchSums, timing) {
	b.StopTimer()
	e, err := New(Config{Windows: windows}, d.master)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	b.StartTimer()
	start, cpu0 := time.Now(), cpuTime()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(e.BeginChunk(benchDay, benchDay.Add(24*time.Hour)))
	must(e.AddEnv(&d.env))
	must(e.AddTHD(&d.thd))
	must(e.AddString(&d.str))
	// stripe runs each over the batteries split across the workers (as
	// bucket files would be), then last per worker.
	stripe := func(each func(w, bi, off int) error, last func(w int) error) {
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for bi := w; bi < benchBats; bi += workers {
					if errs[w] = each(w, bi, bi*benchSamples); errs[w] != nil {
						return
					}
				}
				errs[w] = last(w)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			must(err)
		}
	}
	pre := make([]*PrePass, workers)
	for w := range pre {
		var err error
		pre[w], err = e.NewPrePass()
		must(err)
	}
	stripe(func(w, bi, off int) error {
		return pre[w].AddRun(d.batteryIDs[bi], d.ts, d.v[off:off+benchSamples])
	}, func(int) error { return nil })
	sums := make([]benchSums, workers)
	passes := make([]*JarPass, workers)
	for w := range passes {
		s := &sums[w]
		var err error
		passes[w], err = e.NewJarPass(func(r *Row) error {
			if r.WindowHours == wantW {
				s.rows++
				s.vmax += r.Val[VMax]
				s.below += r.Val[TimeBelowFloatMin]
				s.above += r.Val[TimeAboveFloatMin]
				s.dis += r.Val[DischargeCyclesCount]
				s.sur += r.Val[SurgeEventsCount]
			}
			return nil
		})
		must(err)
	}
	stripe(func(w, bi, off int) error {
		return passes[w].AddRun(d.batteryIDs[bi], d.ts, d.v[off:off+benchSamples], d.t[off:off+benchSamples], d.r[off:off+benchSamples])
	}, func(w int) error { return passes[w].Close() })
	must(e.EndChunk(func(*Row) error { return nil }))
	el := timing{time.Since(start), cpuTime() - cpu0}
	var tot benchSums
	for _, s := range sums {
		tot.rows += s.rows
		tot.vmax += s.vmax
		tot.below += s.below
		tot.above += s.above
		tot.dis += s.dis
		tot.sur += s.sur
	}
	return tot, el
}

func (d *benchData) timeDuck(b *testing.B, q string) timing {
	start, cpu0 := time.Now(), cpuTime()
	if _, err := d.db.Exec(q); err != nil {
		b.Fatalf("%v\n%s", err, q)
	}
	return timing{time.Since(start), cpuTime() - cpu0}
}

// BenchmarkFleetDay prints the kernel's and DuckDB's times on the same
// fleet-day and their ratio:
//
//	CGO_ENABLED=1 go test ./jobs/features -run '^$' -bench FleetDay -benchtime 1x
func BenchmarkFleetDay(b *testing.B) {
	b.StopTimer()
	d := newBenchData(b)
	d.duckdb(b)
	defer d.db.Close()
	workers := runtime.GOMAXPROCS(0)
	var k1, k1one, kw, q1, qp, qw timing
	for it := 0; it < b.N; it++ {
		sum1, t1 := d.runKernel(b, []int{1}, workers, 1)
		_, t1one := d.runKernel(b, []int{1}, 1, 1)
		sumW, tw := d.runKernel(b, []int{24, 168}, workers, 24)
		b.StopTimer()
		k1.add(t1)
		k1one.add(t1one)
		kw.add(tw)
		q1.add(d.timeDuck(b, featuresql.Hourly(d.files())))
		if got := d.duckSums(b); got != sum1 {
			b.Fatalf("1 h windows: engine checksums %+v, duckdb %+v", sum1, got)
		}
		qp.add(d.timeDuck(b, featuresql.Plain(filepath.Join(d.dir, "jar.parquet"))))
		qw.add(d.timeDuck(b, featuresql.Wide(d.files())))
		if _, err := d.db.Exec(`DELETE FROM res WHERE w <> 24`); err != nil {
			b.Fatal(err)
		}
		if got := d.duckSums(b); got != sumW {
			b.Fatalf("24 h windows: engine checksums %+v, duckdb %+v", sumW, got)
		}
	}
	n := float64(b.N)
	sec := func(x time.Duration) float64 { return x.Seconds() / n }
	rows := float64(d.jarRows)
	b.ReportMetric(rows/sec(k1.wall)/1e6, "Mrows/s_1h")
	b.ReportMetric(rows/sec(k1one.wall)/1e6, "Mrows/s_1h_1core")
	b.ReportMetric(rows/sec(k1one.cpu)/1e6, "Mrows/cpu-s_1h_1core")
	b.ReportMetric(rows/sec(kw.wall)/1e6, "Mrows/s_24h+168h")
	for _, m := range []struct {
		name string
		t    timing
	}{{"kernel_1h", k1}, {"kernel_24h+168h", kw}, {"duckdb_1h", q1}, {"duckdb_plain", qp}, {"duckdb_24h+168h", qw}} {
		b.ReportMetric(sec(m.t.wall), m.name+"_s")
		b.ReportMetric(sec(m.t.cpu), m.name+"_cpu-s")
	}
	b.ReportMetric(sec(k1.wall)/sec(q1.wall), "ratio_1h")
	b.ReportMetric(sec(kw.wall)/sec(qw.wall), "ratio_24h+168h")
	b.ReportMetric(sec(k1.cpu)/sec(q1.cpu), "ratio_1h_cpu")
	b.ReportMetric(sec(kw.cpu)/sec(qw.cpu), "ratio_24h+168h_cpu")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkKernel times the kernel alone on the fleet-day (no DuckDB):
//
//	go test ./jobs/features -run '^$' -bench Kernel -benchtime 3x
func BenchmarkKernel(b *testing.B) {
	b.StopTimer()
	d := newBenchData(b)
	for _, c := range []struct {
		name    string
		windows []int
		workers int
	}{{"1h/1core", []int{1}, 1}, {"1h", []int{1}, runtime.GOMAXPROCS(0)}, {"24h+168h", []int{24, 168}, runtime.GOMAXPROCS(0)}} {
		b.Run(c.name, func(b *testing.B) {
			var tot timing
			for i := 0; i < b.N; i++ {
				_, el := d.runKernel(b, c.windows, c.workers, int32(c.windows[0]))
				tot.add(el)
			}
			b.ReportMetric(float64(d.jarRows)*float64(b.N)/tot.wall.Seconds()/1e6, "Mrows/s")
			b.ReportMetric(float64(d.jarRows)*float64(b.N)/tot.cpu.Seconds()/1e6, "Mrows/cpu-s")
		})
	}
}
