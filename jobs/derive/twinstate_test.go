package derive

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs/twin"
	"github.com/google/uuid"
)

// A state file round-trips every jar's filter state bit for bit (NaN,
// -0 and subnormals included), encodes the same map to the same bytes,
// and is refused when computed for another day, chain or code, or when
// damaged.
func TestTwinStateFileRoundTrip(t *testing.T) {
	d := time.Date(2026, 10, 29, 0, 0, 0, 0, time.UTC)
	a, b := uuid.MustParse("00000000-0000-0000-0000-000000000002"), uuid.MustParse("ffffffff-0000-0000-0000-000000000001")
	states := map[uuid.UUID]twin.EKFState{
		a: {X: [3]float64{0.97, -0.0012, math.Copysign(0, -1)}, P: [3][3]float64{{1e-4, 2e-7, 0}, {2e-7, 5e-310, 0}, {0, 0, math.NaN()}}, LastT: 86340, Started: true},
		b: {X: [3]float64{math.Inf(1), 1, 2}, LastT: -1},
	}
	enc := encodeTwinState(d, "chain", states)
	if again := encodeTwinState(d, "chain", map[uuid.UUID]twin.EKFState{b: states[b], a: states[a]}); string(again) != string(enc) {
		t.Fatal("the same states encode to other bytes")
	}
	got, err := decodeTwinState("k", enc, d, "chain")
	if err != nil {
		t.Fatal(err)
	}
	bits := func(s twin.EKFState) []uint64 {
		var out []uint64
		for _, x := range s.X {
			out = append(out, math.Float64bits(x))
		}
		for _, r := range s.P {
			for _, x := range r {
				out = append(out, math.Float64bits(x))
			}
		}
		return append(out, math.Float64bits(s.LastT))
	}
	if len(got) != 2 {
		t.Fatalf("%d jars decoded, want 2", len(got))
	}
	for id, want := range states {
		g := got[id]
		if g.Started != want.Started || !slices.Equal(bits(g), bits(want)) {
			t.Fatalf("jar %s: %+v, want %+v", id, g, want)
		}
	}
	for name, c := range map[string]struct {
		b     []byte
		d     time.Time
		chain string
		want  error
	}{
		"other chain":  {enc, d, "other", errStateStale},
		"other day":    {enc, d.AddDate(0, 0, 1), "chain", errStateStale},
		"other code":   {[]byte(strings.Replace(string(enc), CodeVersion, strings.Repeat("x", len(CodeVersion)), 1)), d, "chain", errStateStale},
		"truncated":    {enc[:len(enc)-1], d, "chain", errStateCorrupt},
		"no header":    {enc[3:], d, "chain", errStateCorrupt},
		"bad flag":     {append(append([]byte{}, enc[:len(enc)-1]...), 7), d, "chain", errStateCorrupt},
		"empty header": {enc[:len(twinStateMagic)+6], d, "chain", errStateCorrupt},
	} {
		if _, err := decodeTwinState("_state/x.bin", c.b, c.d, c.chain); !errors.Is(err, c.want) || !strings.Contains(err.Error(), "_state/x.bin") {
			t.Errorf("%s: %v, want %v naming the file", name, err, c.want)
		}
	}
}
