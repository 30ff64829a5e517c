package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/battlake/battlake/pipeline/lake"
	"github.com/battlake/battlake/pipeline/objstore"
)

// LakeOptions configure how a lake URL is opened.
type LakeOptions struct {
	// S3 endpoint override (else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL).
	Endpoint string
	Region   string
	// Retries of transient store errors (decorator, on top of the SDK's).
	Retries int
	// Concurrency caps simultaneous store operations (0 = unlimited).
	Concurrency int
	Log         *slog.Logger
	Metrics     *objstore.Metrics
	// S3MaxBackoff caps the S3 SDK's retry backoff (0: its default, 10 s).
	S3MaxBackoff time.Duration
}

// OpenLake opens a lake at a local directory or an s3://bucket/prefix URL,
// wrapping the store in the standard decorators (retry, limit, metrics,
// logging). It fails fast on an unusable location and creates nothing but
// the root directory of a local lake.
func OpenLake(ctx context.Context, url string, o LakeOptions) (*lake.Lake, error) {
	var s objstore.Store
	if strings.HasPrefix(url, "s3://") {
		bucket, prefix, err := objstore.ParseS3URL(url)
		if err != nil {
			return nil, fmt.Errorf("open lake %s: %w", url, err)
		}
		s3, err := objstore.NewS3(ctx, objstore.S3Config{Bucket: bucket, Prefix: prefix, Endpoint: o.Endpoint, Region: o.Region, MaxBackoff: o.S3MaxBackoff})
		if err != nil {
			return nil, fmt.Errorf("open lake %s: %w", url, err)
		}
		s = s3
	} else {
		if strings.Contains(url, "://") {
			return nil, fmt.Errorf("open lake %s: unsupported scheme (use a directory or s3://bucket/prefix)", url)
		}
		if fi, err := os.Stat(url); err == nil && !fi.IsDir() {
			return nil, fmt.Errorf("open lake %s: path is a file, not a directory", url)
		}
		fs, err := objstore.NewFS(url)
		if err != nil {
			return nil, fmt.Errorf("open lake %s: %w", url, err)
		}
		s = fs
	}
	if o.Retries > 0 {
		s = objstore.WithRetry(s, o.Retries, 200*time.Millisecond)
	}
	if o.Concurrency > 0 {
		s = objstore.WithLimit(s, o.Concurrency)
	}
	if o.Metrics != nil {
		s = objstore.WithMetrics(s, o.Metrics)
	}
	if o.Log != nil {
		s = objstore.WithLogging(s, o.Log)
	}
	return lake.New(s), nil
}
