package export_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/battlake/battlake/jobs"
	"github.com/battlake/battlake/pipeline"
	"github.com/battlake/battlake/pipeline/export"
	"github.com/battlake/battlake/pipeline/objstore/storetest"
	"github.com/battlake/battlake/schema"
)

// An export from an S3 lake (ranged reads of each file) equals the export
// of the same run on the filesystem, byte for byte.
func TestExportFromS3(t *testing.T) {
	cfg := storetest.S3FromEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", cfg.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", cfg.SecretKey)
	local := tinyLake(t)
	url := "s3://" + cfg.Bucket + "/export-" + time.Now().Format("150405.000000")
	if _, err := jobs.Run(context.Background(), jobs.RunConfig{Lake: url, Endpoint: cfg.Endpoint, Scenario: tinyScenario(), Seed: 8,
		Stages: []string{"master", "telemetry"}, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	remote, err := pipeline.OpenLake(t.Context(), url, pipeline.LakeOptions{Endpoint: cfg.Endpoint, Retries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Store.Close()
	for _, name := range []string{"battery", "telemetry_jar_raw", "telemetry_string_raw"} {
		tb := schema.MustLookup(name)
		var a, b bytes.Buffer
		sa, err := export.CSV(t.Context(), openLake(t, local), tb, &a, export.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sb, err := export.CSV(t.Context(), remote, tb, &b, export.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if sa.Rows == 0 || sa != sb || !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: local %+v, S3 %+v; CSV equal %v (%d lines)", name, sa, sb, bytes.Equal(a.Bytes(), b.Bytes()), strings.Count(a.String(), "\n"))
		}
	}
}
