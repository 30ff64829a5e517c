package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/objstore/storetest"
)

// TestS3SourceAndLake: master exports and the bad-row fixture read from an
// s3:// prefix into a lake on S3 (the versitygw test server): the same
// counts as on a folder, and a second ingest writes nothing.
func TestS3SourceAndLake(t *testing.T) {
	cfg := storetest.S3FromEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", cfg.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", cfg.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	run := fmt.Sprintf("ingest-%d", time.Now().UnixNano())
	st, err := objstore.NewS3(t.Context(), objstore.S3Config{Bucket: cfg.Bucket, Endpoint: cfg.Endpoint, AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := synthLake(t)
	csvDir := t.TempDir()
	opts := pipeline.LakeOptions{Endpoint: cfg.Endpoint}
	lakeURL := "s3://" + cfg.Bucket + "/" + run + "/lake"
	for _, table := range []string{"location", "battery_model", "battery_system", "string", "battery"} {
		path := filepath.Join(csvDir, table+".csv")
		exportCSV(t, src, table, path)
		b, _ := os.ReadFile(path)
		if err := objstore.Put(t.Context(), st, run+"/master/"+table+".csv", b); err != nil {
			t.Fatal(err)
		}
		s := ingestOK(t, Config{Lake: lakeURL, LakeOptions: opts, Table: table, Source: "s3://" + cfg.Bucket + "/" + run + "/master/" + table + ".csv"})
		if s.Rejected != 0 || s.Accepted == 0 {
			t.Fatalf("%s from S3: %+v", table, s)
		}
	}
	// Event windows and their samples: the objects land on S3 and a
	// corrected file replaces one window's object, keeping the others.
	ewsPath := filepath.Join(csvDir, "event_window_sample.csv")
	for _, table := range []string{"telemetry_event_window", "event_window_sample"} {
		path := filepath.Join(csvDir, table+".csv")
		if table == "event_window_sample" {
			exportBlobCSV(t, src, table, path)
		} else {
			exportCSV(t, src, table, path)
		}
		if s := ingestOK(t, Config{Lake: lakeURL, LakeOptions: opts, Table: table, Source: path}); s.Rejected != 0 || s.Accepted == 0 {
			t.Fatalf("%s into S3: %+v", table, s)
		}
	}
	blobs := s3Objects(t, st, run+"/lake/_blobs/")
	if s := ingestOK(t, Config{Lake: lakeURL, LakeOptions: opts, Table: "event_window_sample", Source: ewsPath}); !s.Unchanged || len(blobs) == 0 {
		t.Errorf("samples again on S3: %+v (%d objects), want unchanged", s, len(blobs))
	}
	if s := ingestOK(t, Config{Lake: lakeURL, LakeOptions: opts, Table: "event_window_sample", Source: fixtures + "event_window_sample_bad.csv", Now: pinnedNow}); s.Accepted != 2 {
		t.Errorf("blob fixture into S3: %+v", s)
	}
	changed := 0
	for k, v := range s3Objects(t, st, run+"/lake/_blobs/") {
		if old, ok := blobs[k]; !ok {
			t.Errorf("new object %s", k)
		} else if !bytes.Equal(old, v) {
			changed++
		}
	}
	if n := len(s3Objects(t, st, run+"/lake/_blobs/")); changed != 1 || n != len(blobs) {
		t.Errorf("blob fixture on S3: %d objects changed, %d of %d left; want 1 changed, all kept", changed, n, len(blobs))
	}

	fix, _ := os.ReadFile(fixtures + "telemetry_jar_raw_bad.csv")
	if err := objstore.Put(t.Context(), st, run+"/bms/part-1.csv", fix); err != nil {
		t.Fatal(err)
	}
	prefix := "s3://" + cfg.Bucket + "/" + run + "/bms/"
	s := ingestOK(t, Config{Lake: lakeURL, LakeOptions: opts, Table: "telemetry_jar_raw", Source: prefix, Now: pinnedNow})
	if s.Files != 1 || s.Accepted != 5 || s.Rejected != 10 || len(s.Partitions) != 2 {
		t.Fatalf("fixture from S3: %+v", s)
	}
	before := s3Objects(t, st, run+"/lake/")
	s = ingestOK(t, Config{Lake: lakeURL, LakeOptions: opts, Table: "telemetry_jar_raw", Source: prefix, Now: pinnedNow})
	if !s.Unchanged {
		t.Errorf("second ingest on S3: %+v, want unchanged", s)
	}
	after := s3Objects(t, st, run+"/lake/")
	if len(before) != len(after) {
		t.Errorf("second ingest changed the object count: %d -> %d", len(before), len(after))
	}
	for k, v := range before {
		if !bytes.Equal(after[k], v) {
			t.Errorf("second ingest rewrote %s", k)
		}
	}
}

func s3Objects(t *testing.T, st objstore.Store, prefix string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var keys []string
	if err := st.List(context.Background(), prefix, func(o objstore.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		b, err := objstore.ReadAll(context.Background(), st, k)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}
