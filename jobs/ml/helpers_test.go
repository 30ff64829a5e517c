package ml

import (
	"math"
	"math/rand/v2"
)

func testRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }

// uniformMatrix is rows×cols of U(0,1) values.
func uniformMatrix(rng *rand.Rand, rows, cols int) Matrix {
	m := NewMatrix(rows, cols)
	for i := range m.Data {
		m.Data[i] = rng.Float64()
	}
	return m
}

func close(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
