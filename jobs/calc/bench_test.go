package calc

import (
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time. The machine the kernels
// are benchmarked on is shared, so next to wall-clock rows/s each
// benchmark reports rows per CPU-second: what one core does uncontended.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Fleet-day sized synthetic input: 81 strings × 24 jars = 1,944 batteries
// at 5 s (17,280 samples a day): 33.6 M jar rows, 1.4 M string rows.
const (
	benchStrings = 81
	benchJars    = 24
	benchDay     = 17280
	benchStep    = int64(5 * microsPerSecond)
	benchBatch   = 1 << 16 // rows per record batch, as a reader would hand them over
)

// benchCurrents: float with sensor noise, and a 10-minute discharge at C/2
// then a boost recharge on every third string.
func benchCurrents(rng *rand.Rand) (*StringCurrents, []StringBatch) {
	cur := NewStringCurrents()
	var batches []StringBatch
	for s := range benchStrings {
		b := StringBatch{TS: make([]int64, benchDay), StringID: make([]UUID, benchDay), VoltageCentiV: make([]int32, benchDay), CurrentMA: make([]int32, benchDay)}
		for i := range benchDay {
			a := 0.07 + 0.05*rng.NormFloat64()
			if s%3 == 0 {
				switch {
				case i >= 6000 && i < 6120:
					a = -50
				case i >= 6120 && i < 6900:
					a = 10
				}
			}
			b.TS[i], b.StringID[i] = int64(i)*benchStep, UUID{0: byte(s), 15: 0xff}
			b.VoltageCentiV[i], b.CurrentMA[i] = 32690, int32(math.Round(a*1000))
		}
		if err := cur.Add(&b); err != nil {
			panic(err)
		}
		batches = append(batches, b)
	}
	return cur, batches
}

func BenchmarkJarCalcFleetDay(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	cur, _ := benchCurrents(rng)
	var bats []JarBattery
	for s := range benchStrings {
		for j := range benchJars {
			bats = append(bats, JarBattery{BatteryID: UUID{0: byte(s), 1: byte(j)}, StringID: UUID{0: byte(s), 15: 0xff}, Model: agm100, InitialResistanceMOhm: 4})
		}
	}
	var tests []CapacityTestCalc
	for s := 0; s < benchStrings; s += 2 {
		tests = append(tests, CapacityTestCalc{StringID: UUID{0: byte(s), 15: 0xff}, KnownAt: -hourUS, Pct: 95})
	}
	k, err := NewJarCalc(DefaultJarParams, bats, cur, tests, nil)
	if err != nil {
		b.Fatal(err)
	}
	// One string's jar rows (24 jars × a day), sorted by (battery_id, ts);
	// the strings differ only in their battery ids, rewritten between
	// strings outside the timer.
	n := benchJars * benchDay
	in := JarBatch{TS: make([]int64, n), BatteryID: make([]UUID, n), VoltageMV: make([]int32, n), TemperatureDeciC: make([]int32, n), ResistanceMicroOhm: make([]int32, n)}
	for j := range benchJars {
		for i := range benchDay {
			r := j*benchDay + i
			in.TS[r] = int64(i) * benchStep
			in.VoltageMV[r] = int32(13620 + rng.IntN(40) - 20)
			in.TemperatureDeciC[r] = int32(250 + rng.IntN(20))
			in.ResistanceMicroOhm[r] = int32(4000 + 10*(i/180)) // held 15 min
		}
	}
	var out JarCalcOut
	rows := 0
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		k.Reset()
		b.StartTimer()
		for s := range benchStrings {
			b.StopTimer()
			for j := range benchJars {
				idj := UUID{0: byte(s), 1: byte(j)}
				for i := j * benchDay; i < (j+1)*benchDay; i++ {
					in.BatteryID[i] = idj
				}
			}
			c0 := cpuTime()
			b.StartTimer()
			for lo := 0; lo < n; lo += benchBatch {
				if err := k.Run(sliceJar(&in, lo, min(n, lo+benchBatch)), &out); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cpu += cpuTime() - c0
			b.StartTimer()
			rows += n
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
}

// BenchmarkJarScanFloor is the floor under BenchmarkJarCalcFleetDay on the
// same machine: the same batches read (ts, ids, voltage, temperature,
// resistance) and two int32 columns written, with no computation. The
// ratio of the two is the kernel's cost in a unit that does not depend on
// how loaded the (shared) machine is.
func BenchmarkJarScanFloor(b *testing.B) {
	n := benchJars * benchDay
	in := JarBatch{TS: make([]int64, n), BatteryID: make([]UUID, n), VoltageMV: make([]int32, n), TemperatureDeciC: make([]int32, n), ResistanceMicroOhm: make([]int32, n)}
	for i := range n {
		in.TS[i], in.BatteryID[i], in.VoltageMV[i] = int64(i%benchDay)*benchStep, UUID{1: byte(i / benchDay)}, 13620
	}
	soc, soh := make([]int32, benchBatch), make([]int32, benchBatch)
	rows := 0
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		c0 := cpuTime()
		for range benchStrings {
			for lo := 0; lo < n; lo += benchBatch {
				bt := sliceJar(&in, lo, min(n, lo+benchBatch))
				var prev UUID
				var last int64
				for i, t := range bt.TS {
					if bt.BatteryID[i] != prev {
						prev = bt.BatteryID[i]
					} else if t < last {
						b.Fatal("unsorted")
					}
					last = t
					soc[i] = bt.VoltageMV[i] + bt.TemperatureDeciC[i]
					soh[i] = bt.ResistanceMicroOhm[i] + int32(t)
				}
			}
			rows += n
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
}

func BenchmarkStringCalcFleetDay(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	_, batches := benchCurrents(rng)
	// Hourly captures: 24 a day per string.
	r := NewRippleTHD(nil)
	shape := []float64{1, 0.8, 0.5, 0.45, 0.3, 0.25}
	for s := range benchStrings {
		var rb RippleBatch
		for h := range 24 {
			rippleRows(&rb, UUID{0: byte(s), 15: 0xff}, int64(h)*hourUS, synth(256, 6400, 300, 0.05, 0.05, shape, 0.003, rng))
		}
		if err := r.Add(&rb); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.Flush(); err != nil {
		b.Fatal(err)
	}
	var out StringCalcOut
	rows := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c := NewStringCalc(r)
		for s := range batches {
			if err := c.Run(&batches[s], &out); err != nil {
				b.Fatal(err)
			}
			rows += batches[s].Len()
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkRippleTHDFleetDay(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	shape := []float64{1, 0.8, 0.5, 0.45, 0.3, 0.25}
	var rb RippleBatch
	for s := range benchStrings {
		for h := range 24 {
			rippleRows(&rb, UUID{0: byte(s), 15: 0xff}, int64(h)*hourUS, synth(256, 6400, 300, 0.05, 0.05, shape, 0.003, rng))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r := NewRippleTHD(nil)
		if err := r.Add(&rb); err != nil {
			b.Fatal(err)
		}
		if err := r.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rb.Len())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(benchStrings*24)*float64(b.N)/b.Elapsed().Seconds(), "captures/s")
}

func BenchmarkCapacityTests(b *testing.B) {
	p := DefaultCapacityParams
	raws := make([]CapacityTestRaw, 10000)
	for i := range raws {
		raws[i] = CapacityTestRaw{TestType: "full_discharge", DischargeRateCentiA: int32(1000 + i%5000), DurationDeciMin: int32(300 + i%3000), AmbientDeciC: int32(200 + i%100)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range raws {
			if _, err := p.Compute(raws[i], 100); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(raws))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkImpedanceCalc(b *testing.B) {
	// A year of quarterly readings for the fleet, 50 years deep to be
	// measurable: 1,944 jars × 200 readings.
	in := make([]ImpedanceRaw, 0, 1944*200)
	for j := range 1944 {
		for q := range 200 {
			in = append(in, ImpedanceRaw{BatteryID: UUID{0: byte(j), 1: byte(j >> 8)}, MeasuredAt: int64(q) * 2190 * hourUS, ResistanceMicroOhm: int32(4000 + q*5), TemperatureDeciC: int32(220 + q%60)})
		}
	}
	out := make([]ImpedanceCalcRow, 0, len(in))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		k := NewImpedanceCalc(DefaultResistanceTemp)
		var err error
		if out, err = k.Run(in, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(in))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
