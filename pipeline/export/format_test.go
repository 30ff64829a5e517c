package export

import (
	"encoding/csv"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The hand-rolled formatters agree with the standard library on random
// and edge values (pre-1970, leap days, year 9999, int64 extremes).
func TestFormattersAgreeWithStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lo, hi := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
	us := []int64{0, -1, 1, lo, hi, time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC).UnixMicro(), time.Date(1900, 3, 1, 0, 0, 0, 500000000, time.UTC).UnixMicro()}
	for range 100000 {
		us = append(us, lo+r.Int64N(hi-lo))
	}
	for _, v := range us {
		want := time.UnixMicro(v).UTC().Format(time.RFC3339Nano)
		if got := string(appendTimestamp(nil, v)); got != want {
			t.Fatalf("appendTimestamp(%d) = %s, want %s", v, got, want)
		}
		if got, want := string(appendWallClock(nil, v)), strings.TrimSuffix(want, "Z"); got != want {
			t.Fatalf("appendWallClock(%d) = %s, want %s", v, got, want)
		}
		days := v / 86400e6
		if v%86400e6 < 0 {
			days--
		}
		if got, want := string(appendDate(nil, days)), time.UnixMicro(v).UTC().Format(time.DateOnly); got != want {
			t.Fatalf("appendDate(%v) = %s, want %s", days, got, want)
		}
	}
	vals := []int64{0, 1, -1, 9, -9, 10, math.MaxInt64, math.MinInt64, 999999999, -1000000000}
	for range 100000 {
		vals = append(vals, r.Int64()>>r.IntN(63)*int64(1-2*r.IntN(2)))
	}
	for _, v := range vals {
		for scale := range 19 {
			want := new(big.Rat).SetFrac(big.NewInt(v), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)).FloatString(scale)
			if got := string(appendDecimal(nil, v, scale)); got != want {
				t.Fatalf("appendDecimal(%d, %d) = %s, want %s", v, scale, got, want)
			}
		}
	}
	for range 1000 {
		id := uuid.New()
		if got := string(appendUUID(nil, id[:])); got != id.String() {
			t.Fatalf("appendUUID = %s, want %s", got, id)
		}
	}
}

// appendText quotes exactly when encoding/csv would (plus the empty
// string), and encoding/csv reads every field back unchanged.
func TestAppendTextRoundTrips(t *testing.T) {
	for _, s := range []string{"", "a", "a,b", `"`, `say "x"`, "a\nb", "a\rb", " x", "\tx", `\.`, "x ", "ünï", "\u00a0nbsp"} {
		var sb strings.Builder
		w := csv.NewWriter(&sb)
		w.Write([]string{s, "end"})
		w.Flush()
		want := sb.String()
		if s == "" {
			want = `""` + want
		}
		got := string(appendText(nil, []byte(s))) + ",end\n"
		if got != want {
			t.Errorf("appendText(%q) = %q, encoding/csv writes %q", s, got, want)
		}
		rec, err := csv.NewReader(strings.NewReader(got)).Read()
		if err != nil || rec[0] != s {
			t.Errorf("read back %q: %q, %v", s, rec, err)
		}
	}
}
