package ml

import (
	"math"
	"sort"
	"testing"
)

func TestBinMatchesLowerBound(t *testing.T) {
	rng := testRNG(60)
	for trial := 0; trial < 300; trial++ {
		n := rng.IntN(40)
		up := make([]float64, n)
		v := 0.0
		for i := range up {
			v += 0.1 + rng.Float64()
			up[i] = v
		}
		bm := &binMapper{upper: [][]float64{up}, lut: make([]binLUT, 1)}
		if n > 0 {
			bm.lut[0] = newBinLUT(up)
		}
		for k := 0; k < 50; k++ {
			x := rng.Float64() * (v + 2)
			if k%5 == 0 && n > 0 {
				x = up[rng.IntN(n)] // exactly on an edge: goes left (x <= edge)
			}
			if got, want := bm.bin(0, x), uint8(sort.SearchFloat64s(up, x)); got != want {
				t.Fatalf("edges %v x %v: bin %d, want %d", up, x, got, want)
			}
		}
		if got := bm.bin(0, math.NaN()); int(got) != n+1 {
			t.Fatalf("NaN bin %d, want %d", got, n+1)
		}
	}
}

func TestBinEdges(t *testing.T) {
	// Few distinct values: one bin each, edges at midpoints.
	e := binEdges([]float64{1, 1, 2, 4, 4, 4}, 255)
	if len(e) != 2 || e[0] != 1.5 || e[1] != 3 {
		t.Errorf("edges %v, want [1.5 3]", e)
	}
	// Many values, 4 bins: 3 edges at the quartiles, strictly increasing.
	var v []float64
	for i := 0; i < 1000; i++ {
		v = append(v, float64(i))
	}
	e = binEdges(v, 4)
	if len(e) != 3 || e[0] != 250.5 || e[1] != 500.5 || e[2] != 750.5 {
		t.Errorf("quartile edges %v", e)
	}
}

func TestBinMapperMatchesLowerBoundOnSkewedData(t *testing.T) {
	// Heavy tails crowd most edges into few lookup cells; tiny and huge
	// spans stress the cell arithmetic. bin must still equal the lower bound.
	rng := testRNG(61)
	gens := map[string]func() float64{
		"lognormal": func() float64 { return math.Exp(3 * rng.NormFloat64()) },
		"pareto":    func() float64 { return 1 / math.Pow(rng.Float64()+1e-300, 2) },
		"discrete":  func() float64 { return float64(rng.IntN(7)) },
		"tiny":      func() float64 { return 1 + 1e-12*rng.Float64() },
		"huge":      func() float64 { return 1e307 * (2*rng.Float64() - 1) },
	}
	for name, g := range gens {
		X := NewMatrix(5000, 1)
		for i := range X.Data {
			X.Data[i] = g()
		}
		bm := newBinMapper(X, 255, 5000, testRNG(1))
		up := bm.upper[0]
		probe := append([]float64(nil), X.Data...)
		probe = append(probe, up...)
		for _, e := range up {
			probe = append(probe, math.Nextafter(e, math.Inf(1)), math.Nextafter(e, math.Inf(-1)))
		}
		for _, x := range probe {
			if got, want := bm.bin(0, x), uint8(sort.SearchFloat64s(up, x)); got != want {
				t.Fatalf("%s: x=%v bin %d, want %d", name, x, got, want)
			}
		}
	}
}
