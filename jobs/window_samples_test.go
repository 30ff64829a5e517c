package jobs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline/parquetio"
	"github.com/battlake/battlake/schema"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
)

// A long capture (15 min at 100 ms, 24 jars: 216 K rows, past a page)
// written by the synthesizer has the bytes of the same rows written in
// ingest's 1024-row batches: parquet-go cuts pages only at the end of a
// write call's 64-row chunks, so the synthesizer must not hand it one
// jar's 9,000 rows at a time.
func TestWindowSamplesWriteLikeIngest(t *testing.T) {
	e := txTestEnv(t)
	tel := &telemetry{Env: e}
	st := schema.MustLookup("event_window_sample")
	s := e.Fleet.Strings[0]
	day := e.Scenario.End.Time.AddDate(0, 0, -2)
	from, step := day.Add(10*time.Hour), 100*time.Millisecond
	to := from.Add(15 * time.Minute)
	var synth bytes.Buffer
	n, err := tel.writeWindowSamples(context.Background(), &synth, st, &daySim{tel: tel}, s, uuid.New(), day, from, to, step)
	if err != nil {
		t.Fatal(err)
	}
	jars := int64(len(e.Fleet.StringJarsOn(s.ID, day)))
	if want := jars * int64(to.Sub(from)/step); n != want || want/jars%64 == 0 {
		t.Fatalf("%d rows, want %d (a jar's count not a multiple of 64)", n, want)
	}
	f, err := parquet.OpenFile(bytes.NewReader(synth.Bytes()), int64(synth.Len()))
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	for _, c := range f.RowGroups()[0].ColumnChunks() {
		if oi, err := c.OffsetIndex(); err == nil {
			pages = max(pages, oi.NumPages())
		}
	}
	if pages < 2 {
		t.Fatalf("largest column has %d pages: the capture is too short to test page cuts", pages)
	}
	rd := parquet.NewGenericReader[windowSampleRow](bytes.NewReader(synth.Bytes()))
	rows := make([]windowSampleRow, n)
	if got, err := rd.Read(rows); int64(got) != n || err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read back %d of %d rows: %v", got, n, err)
	}
	var batched bytes.Buffer
	tw, err := parquetio.NewTypedWriter[windowSampleRow](&batched, st, parquetio.SizedFor(st, n))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(rows); i += 1024 {
		if err := tw.Write(rows[i:min(i+1024, len(rows))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(synth.Bytes(), batched.Bytes()) {
		t.Fatalf("synthesized capture (%d bytes) differs from the same rows in 1024-row batches (%d bytes)", synth.Len(), batched.Len())
	}
}
