// Package physics holds battlake's pure, seeded simulators of a VRLA battery
// fleet: the life (degradation) model, the electrical and thermal jar model,
// string operation, and the site environment. It performs no I/O and knows no
// file format; jobs/ turns its output into table rows.
//
// Randomness is always local. Seeds are derived hierarchically from the root
// seed, an entity and a partition (Mix), so any entity-day can be simulated
// alone and equals the same slice of a longer run. Per-sample noise is
// counter-based (Unit, Gauss): sample i of a stream is a pure function of
// (seed, i), which makes random access and resumption free.
package physics

import (
	"math"
	"math/rand/v2"
)

// splitmix64 finaliser: a fast, well-mixed 64-bit bijection.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Mix derives a child seed from a parent seed and any number of labels
// (entity hashes, day numbers, stream tags). Order matters.
func Mix(parent uint64, parts ...uint64) uint64 {
	h := mix64(parent)
	for _, p := range parts {
		h = mix64(h ^ mix64(p+0x632be59bd9b4e019))
	}
	return h
}

// HashString turns a label (an entity code, a stream name) into a seed part
// (FNV-1a 64, then mixed).
func HashString(s string) uint64 {
	var h uint64 = 0xcbf29ce484222325
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return mix64(h)
}

// NewRand returns a local generator for a derived seed.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, mix64(seed^0xda942042e4dd58b5)))
}

// Unit is the counter-based uniform in [0,1) for sample i of stream seed.
func Unit(seed, i uint64) float64 {
	return float64(mix64(seed^(i*0x9e3779b97f4a7c15))>>11) * (1.0 / (1 << 53))
}

// Gauss is the counter-based standard normal for sample i of stream seed
// (Box-Muller on two independent counter draws).
func Gauss(seed, i uint64) float64 {
	u1 := Unit(seed, 2*i)
	u2 := Unit(seed, 2*i+1)
	if u1 < 1e-300 {
		u1 = 1e-300
	}
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// FastGauss is an approximately normal draw (sum of four uniforms, variance
// matched) for per-sample sensor noise in hot loops, where Box-Muller's
// log/cos would dominate; its tails are bounded at ±3.46σ.
func FastGauss(seed, i uint64) float64 {
	x := mix64(seed ^ (i * 0x9e3779b97f4a7c15))
	a := float64(x & 0xffff)
	b := float64((x >> 16) & 0xffff)
	c := float64((x >> 32) & 0xffff)
	d := float64(x >> 48)
	// Sum of 4 U(0,65535): mean 131070, variance 4*(65536^2-1)/12.
	return (a + b + c + d - 131070) * (1.0 / 37837.23)
}
