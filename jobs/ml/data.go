package ml

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
)

// SelectRows copies the rows idx of m (in that order) into a new matrix,
// e.g. the rows HorizonLabels kept.
func (m Matrix) SelectRows(idx []int) Matrix {
	out := NewMatrix(len(idx), m.Cols)
	for k, i := range idx {
		copy(out.Data[k*m.Cols:(k+1)*m.Cols], m.Row(i))
	}
	return out
}

// Gather returns vals[idx[k]] for every k.
func Gather(vals []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for k, i := range idx {
		out[k] = vals[i]
	}
	return out
}

// GroupSplit assigns whole groups (e.g. battery ids: rows of one battery
// are strongly correlated, so they must not straddle train and held-out
// sets) to a held-out set with probability frac, by a seeded hash of the
// group key. The assignment of a group depends only on (key, seed), never
// on row order or on the other groups. Returns ascending row indices.
func GroupSplit(groups []string, frac float64, seed uint64) (train, held []int, err error) {
	if !(frac >= 0 && frac <= 1) {
		return nil, nil, fmt.Errorf("ml: group split: fraction %v not in [0,1]: %w", frac, ErrParams)
	}
	memo := make(map[string]bool)
	var sb [8]byte
	binary.LittleEndian.PutUint64(sb[:], seed)
	for i, g := range groups {
		h, ok := memo[g]
		if !ok {
			f := fnv.New64a()
			f.Write(sb[:])
			f.Write([]byte(g))
			// FNV's high bits barely depend on the last bytes: mix them
			// (splitmix64 finalizer), then take 53 bits as a uniform in [0,1).
			h = float64(mix64(f.Sum64())>>11)/(1<<53) < frac
			memo[g] = h
		}
		if h {
			held = append(held, i)
		} else {
			train = append(train, i)
		}
	}
	return train, held, nil
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// jsonNum marshals NaN and ±Inf, which JSON cannot hold, as null.
type jsonNum float64

func (v jsonNum) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// MarshalJSON writes a missing input value (NaN) as null.
func (c Contribution) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Feature string  `json:"feature"`
		Value   jsonNum `json:"value"`
		SHAP    float64 `json:"shap"`
	}{c.Feature, jsonNum(c.Value), c.SHAP})
}

// MarshalJSON writes the open upper edge (+Inf) and the errors of an empty
// bucket (NaN) as null.
func (h HorizonError) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Lo   jsonNum `json:"lo_days"`
		Hi   jsonNum `json:"hi_days"`
		N    int     `json:"n"`
		MAE  jsonNum `json:"mae"`
		RMSE jsonNum `json:"rmse"`
		Bias jsonNum `json:"bias"`
	}{jsonNum(h.Lo), jsonNum(h.Hi), h.N, jsonNum(h.MAE), jsonNum(h.RMSE), jsonNum(h.Bias)})
}

// MarshalJSON writes an infinite correction (calibration set too small for
// the coverage) as null.
func (c CQR) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Coverage   float64 `json:"coverage"`
		Correction jsonNum `json:"correction"`
		N          int     `json:"n"`
	}{c.Coverage, jsonNum(c.Correction), c.N})
}

// UnmarshalJSON reads what MarshalJSON wrote (null correction = +Inf).
func (c *CQR) UnmarshalJSON(b []byte) error {
	var a struct {
		Coverage   float64  `json:"coverage"`
		Correction *float64 `json:"correction"`
		N          int      `json:"n"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("ml: load cqr: %w: %w", ErrArtifact, err)
	}
	*c = CQR{Coverage: a.Coverage, N: a.N, Correction: math.Inf(1)}
	if a.Correction != nil {
		c.Correction = *a.Correction
	}
	return nil
}
