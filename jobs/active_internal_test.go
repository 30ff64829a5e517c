package jobs

import (
	"testing"
	"time"

	"github.com/battlake/battlake/jobs/fleet"
)

// activeIn agrees with listing the active days, at the edges of an
// installation and a removal within, before and after the window.
func TestActiveInMatchesActiveDays(t *testing.T) {
	d := func(s string) time.Time { x, _ := time.Parse(time.RFC3339, s); return x }
	from, to := d("2026-03-01T00:00:00Z"), d("2026-04-01T00:00:00Z")
	edges := []time.Time{{}, d("2025-01-01T00:00:00Z"), d("2026-02-28T12:00:00Z"), d("2026-03-01T00:00:00Z"), d("2026-03-01T06:00:00Z"),
		d("2026-03-15T00:00:00Z"), d("2026-03-31T00:00:00Z"), d("2026-03-31T23:00:00Z"), d("2026-04-01T00:00:00Z"), d("2027-01-01T00:00:00Z")}
	seen := map[bool]int{}
	for _, in := range edges[1:] {
		for _, out := range edges {
			if !out.IsZero() && !out.After(in) {
				continue
			}
			b := &fleet.Battery{InstalledDate: in, Removed: out}
			want := len(activeDays(b, from, to)) > 0
			if got := activeIn(b, from, to); got != want {
				t.Errorf("installed %s removed %s: activeIn %v, active days %v", in, out, got, want)
			}
			seen[want]++
		}
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Fatalf("cases cover only one answer: %v", seen)
	}
}
