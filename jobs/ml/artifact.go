package ml

import (
	"encoding/json"
	"fmt"
	"math"
)

// gbmFormat names the artifact layout; bump it on incompatible changes.
const gbmFormat = "battlake-gbm/1"

type gbmArtifact struct {
	Format    string         `json:"format"`
	Params    Params         `json:"params"`
	Features  []string       `json:"features"`
	BaseScore float64        `json:"base_score"`
	ValidLoss *float64       `json:"validation_loss,omitempty"`
	Trees     []treeArtifact `json:"trees"`
}

// treeArtifact stores a tree column-wise (one array per node field), which
// is about half the size of an array of node objects.
type treeArtifact struct {
	Feature     []int32   `json:"feature"`
	Threshold   []float64 `json:"threshold"`
	DefaultLeft []bool    `json:"default_left"`
	Left        []int32   `json:"left"`
	Right       []int32   `json:"right"`
	Value       []float64 `json:"value"`
	Cover       []float64 `json:"cover"`
	Gain        []float64 `json:"gain"`
}

// MarshalJSON writes the model as a self-contained JSON artifact. The bytes
// depend only on the fitted model: same seed and data give the same bytes.
func (m *GBM) MarshalJSON() ([]byte, error) {
	a := gbmArtifact{Format: gbmFormat, Params: m.params, Features: m.names, BaseScore: m.base}
	if !math.IsNaN(m.bestLoss) {
		l := m.bestLoss
		a.ValidLoss = &l
	}
	a.Trees = make([]treeArtifact, len(m.trees))
	for i, t := range m.trees {
		n := len(t.nodes)
		ta := treeArtifact{
			Feature: make([]int32, n), Threshold: make([]float64, n), DefaultLeft: make([]bool, n),
			Left: make([]int32, n), Right: make([]int32, n), Value: make([]float64, n),
			Cover: make([]float64, n), Gain: make([]float64, n),
		}
		for j, nd := range t.nodes {
			ta.Feature[j], ta.Threshold[j], ta.DefaultLeft[j] = nd.Feature, nd.Threshold, nd.DefaultLeft
			ta.Left[j], ta.Right[j], ta.Value[j] = nd.Left, nd.Right, nd.Value
			ta.Cover[j], ta.Gain[j] = nd.Cover, nd.Gain
		}
		a.Trees[i] = ta
	}
	return json.Marshal(a)
}

// UnmarshalJSON loads an artifact written by MarshalJSON, checking its
// structure (errors wrap ErrArtifact).
func (m *GBM) UnmarshalJSON(data []byte) error {
	var a gbmArtifact
	if err := json.Unmarshal(data, &a); err != nil {
		return fmt.Errorf("ml: load gbm: %w: %w", ErrArtifact, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("ml: load gbm: "+format+": %w", append(args, ErrArtifact)...)
	}
	if a.Format != gbmFormat {
		return bad("format %q, want %q", a.Format, gbmFormat)
	}
	if err := a.Params.Validate(); err != nil {
		return bad("%v", err)
	}
	if len(a.Features) == 0 {
		return bad("no features")
	}
	nf := int32(len(a.Features))
	trees := make([]tree, len(a.Trees))
	for i, ta := range a.Trees {
		n := len(ta.Feature)
		if n == 0 || len(ta.Threshold) != n || len(ta.DefaultLeft) != n || len(ta.Left) != n ||
			len(ta.Right) != n || len(ta.Value) != n || len(ta.Cover) != n || len(ta.Gain) != n {
			return bad("tree %d: ragged or empty node arrays", i)
		}
		nodes := make([]node, n)
		for j := range nodes {
			nd := node{Feature: ta.Feature[j], Threshold: ta.Threshold[j], DefaultLeft: ta.DefaultLeft[j],
				Left: ta.Left[j], Right: ta.Right[j], Value: ta.Value[j], Cover: ta.Cover[j], Gain: ta.Gain[j]}
			if nd.Feature >= nf {
				return bad("tree %d node %d: feature %d of %d", i, j, nd.Feature, nf)
			}
			// Children after their parent (no cycles, every walk ends) and
			// adjacent, as prediction assumes.
			if nd.Feature >= 0 && (nd.Left <= int32(j) || nd.Right != nd.Left+1 || int(nd.Right) >= n) {
				return bad("tree %d node %d: children %d,%d", i, j, nd.Left, nd.Right)
			}
			nodes[j] = nd
		}
		trees[i] = tree{nodes: nodes}
		trees[i].compile()
	}
	*m = GBM{params: a.Params, names: a.Features, base: a.BaseScore, trees: trees, bestIter: len(trees), bestLoss: math.NaN()}
	if a.ValidLoss != nil {
		m.bestLoss = *a.ValidLoss
	}
	m.prepare()
	return nil
}

// LoadGBM parses a JSON artifact.
func LoadGBM(data []byte) (*GBM, error) {
	m := new(GBM)
	if err := m.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return m, nil
}
