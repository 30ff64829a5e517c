package ml

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestGroupSplitKeepsGroupsWholeAndStable(t *testing.T) {
	var groups []string
	for i := 0; i < 3000; i++ {
		groups = append(groups, fmt.Sprintf("battery-%03d", i%300))
	}
	train, held, err := GroupSplit(groups, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(train)+len(held) != len(groups) {
		t.Fatalf("%d + %d rows, want %d", len(train), len(held), len(groups))
	}
	inHeld := map[string]bool{}
	for _, i := range held {
		inHeld[groups[i]] = true
	}
	for _, i := range train {
		if inHeld[groups[i]] {
			t.Fatalf("group %q in both sets", groups[i])
		}
	}
	// 300 groups at 0.2: binomial sd ≈ 6.9 groups.
	if n := len(inHeld); n < 60-28 || n > 60+28 {
		t.Errorf("%d held-out groups of 300, want ≈ 60", n)
	}
	// A group's side depends only on key and seed: reversing the rows keeps it.
	rev := make([]string, len(groups))
	for i, g := range groups {
		rev[len(groups)-1-i] = g
	}
	_, held2, _ := GroupSplit(rev, 0.2, 7)
	for _, i := range held2 {
		if !inHeld[rev[i]] {
			t.Fatalf("group %q moved sides with row order", rev[i])
		}
	}
	_, held3, _ := GroupSplit(groups, 0.2, 8)
	if len(held3) == len(held) {
		same := true
		for k := range held {
			same = same && held[k] == held3[k]
		}
		if same {
			t.Error("another seed gave the same split")
		}
	}
}

func TestSelectRowsAndGather(t *testing.T) {
	m, _ := MatrixFrom(3, 2, []float64{1, 2, 3, 4, 5, 6})
	s := m.SelectRows([]int{2, 0})
	if s.Rows != 2 || s.At(0, 1) != 6 || s.At(1, 0) != 1 {
		t.Errorf("select rows = %+v", s)
	}
	if g := Gather([]float64{10, 20, 30}, []int{1, 1, 2}); g[0] != 20 || g[1] != 20 || g[2] != 30 {
		t.Errorf("gather = %v", g)
	}
}

func TestJSONWritesNonFiniteAsNull(t *testing.T) {
	b, err := json.Marshal(Explanation{Expected: 1, Margin: 2, Top: []Contribution{{Feature: "x", Value: math.NaN(), SHAP: 0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"expected_value":1,"margin":2,"top":[{"feature":"x","value":null,"shap":0.5}]}`; string(b) != want {
		t.Errorf("explanation JSON %s, want %s", b, want)
	}
	b, err = json.Marshal(ErrorsByHorizon([]float64{1}, []float64{400}, []float64{0, 30, math.Inf(1)}))
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"lo_days":0,"hi_days":30,"n":0,"mae":null,"rmse":null,"bias":null},{"lo_days":30,"hi_days":null,"n":1,"mae":399,"rmse":399,"bias":-399}]`; string(b) != want {
		t.Errorf("horizon JSON %s, want %s", b, want)
	}
	c := CQR{Coverage: 0.95, Correction: math.Inf(1), N: 3}
	b, _ = json.Marshal(c)
	var back CQR
	if err := json.Unmarshal(b, &back); err != nil || !math.IsInf(back.Correction, 1) || back.N != 3 {
		t.Errorf("cqr round trip %s → %+v, %v", b, back, err)
	}
}

func TestReportsJSON(t *testing.T) {
	r := EvaluateRUL([]float64{10, 100}, nil, nil, []float64{12, 80})
	if r.N != 2 || r.MAE != 11 || r.AlphaLambda != 0.5 || !math.IsNaN(r.IntervalCoverage) {
		t.Errorf("report %+v", r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["interval_coverage"] != nil || back["mae_days"] != 11.0 || back["n"] != 2.0 {
		t.Errorf("report JSON %s", b)
	}
	if strings.Count(string(b), `"mae_days"`) != 1 {
		t.Errorf("duplicate keys in %s", b)
	}
	c := EvaluateClassifier([]float64{0.9, 0.1, 0.8}, []float64{1, 0, 1}, []float64{2, 1, 1})
	if c.AUROC != 1 || c.Positives != 3 || !close(c.Brier, (2*0.01+0.01+0.04)/4, 1e-12) {
		t.Errorf("classifier report %+v", c)
	}
	b, _ = json.Marshal(EvaluateClassifier([]float64{0.5}, []float64{1}, nil))
	if want := `{"n":1,"positives":1,"auroc":null,"brier":0.25}`; string(b) != want {
		t.Errorf("one-class JSON %s, want %s", b, want)
	}
}
