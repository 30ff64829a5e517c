package ingest

import (
	"os"
	"testing"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/schema"
)

func TestDebugRows(t *testing.T) {
	a, b := os.Getenv("A"), os.Getenv("B")
	if a == "" {
		t.Skip()
	}
	tb := schema.MustLookup(os.Getenv("T"))
	var ra, rb []string
	readTable(t.Context(), openLake(t, a), tb, func(_ lake.Partition, _ string, v []val) error { ra = append(ra, formatRecord(tb, v)); return nil })
	readTable(t.Context(), openLake(t, b), tb, func(_ lake.Partition, _ string, v []val) error { rb = append(rb, formatRecord(tb, v)); return nil })
	for i := range ra {
		if i >= len(rb) || ra[i] != rb[i] {
			t.Logf("row %d\n%s\n%s", i, ra[i], rb[min(i, len(rb)-1)])
			return
		}
	}
}
