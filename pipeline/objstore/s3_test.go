package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/battlake/battlake/pipeline/objstore"
	"github.com/battlake/battlake/pipeline/objstore/storetest"
)

func s3Env(t *testing.T) objstore.S3Config { return storetest.S3FromEnv(t) }

var prefixSeq atomic.Int64

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newS3 opens the test bucket under a prefix of its own, with the minimum
// part size so that storetest's large objects take several parts, and
// removes everything under the prefix afterwards.
func newS3(t *testing.T) *objstore.S3 {
	t.Helper()
	cfg := s3Env(t)
	cfg.Prefix = fmt.Sprintf("objstore-test/%d-%d-%s", time.Now().UnixNano(), prefixSeq.Add(1),
		unsafeChars.ReplaceAllString(t.Name(), "_"))
	cfg.PartSize = objstore.MinPartSize
	cfg.MaxAttempts = 2
	s, err := objstore.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background() // t.Context is already cancelled here
		var keys []string
		if err := s.List(ctx, "", func(o objstore.ObjectInfo) error {
			keys = append(keys, o.Key)
			return nil
		}); err != nil {
			t.Errorf("cleanup list: %v", err)
		}
		for _, k := range keys {
			if err := s.Delete(ctx, k); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if _, err := s.SweepStaging(ctx, 0); err != nil {
			t.Errorf("cleanup sweep: %v", err)
		}
	})
	return s
}

func TestS3Conformance(t *testing.T) {
	s3Env(t)
	storetest.Run(t, func(t *testing.T) objstore.Store { return newS3(t) })
}

// Retried ranged GETs, limits, metrics and logging over a real server.
func TestDecoratedS3Conformance(t *testing.T) {
	s3Env(t)
	storetest.Run(t, func(t *testing.T) objstore.Store { return decorate(newS3(t)) })
}

func rawClient(cfg objstore.S3Config) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(cfg.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
	})
}

// The large object really went through multipart: its ETag is the
// multipart form "<md5 of part md5s>-<parts>".
func TestS3MultipartParts(t *testing.T) {
	cfg := s3Env(t)
	s := newS3(t)
	data := make([]byte, storetest.LargeSize)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := objstore.Put(t.Context(), s, "mp/object", data); err != nil {
		t.Fatal(err)
	}
	bucket, prefix, err := objstore.ParseS3URL(s.URL("mp/object"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := rawClient(cfg).HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &bucket, Key: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	if etag := aws.ToString(out.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
		t.Fatalf("etag %s: want a 3-part multipart etag", etag)
	}
	if aws.ToInt64(out.ContentLength) != int64(len(data)) {
		t.Fatalf("size %d, want %d", aws.ToInt64(out.ContentLength), len(data))
	}
}

func TestS3URL(t *testing.T) {
	cfg := s3Env(t)
	cfg.Prefix = "/lake/"
	s, err := objstore.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := "s3://" + cfg.Bucket + "/lake/t/part-0.parquet"
	if got := s.URL("t/part-0.parquet"); got != want {
		t.Fatalf("url = %q, want %q", got, want)
	}
}

// An explicit Endpoint beats AWS_ENDPOINT_URL_S3, and the variable is used
// when no Endpoint is configured.
func TestS3EndpointPrecedence(t *testing.T) {
	cfg := s3Env(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	if _, err := objstore.NewS3(t.Context(), cfg); err != nil {
		t.Fatalf("explicit endpoint lost to AWS_ENDPOINT_URL_S3: %v", err)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", cfg.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	cfg.Endpoint = ""
	if _, err := objstore.NewS3(t.Context(), cfg); err != nil {
		t.Fatalf("AWS_ENDPOINT_URL_S3 not used: %v", err)
	}
}

// newS3Err runs NewS3, which must fail quickly, and returns the message.
func newS3Err(t *testing.T, cfg objstore.S3Config) string {
	t.Helper()
	_, err := objstore.NewS3(t.Context(), cfg)
	if err == nil {
		t.Fatal("NewS3 succeeded")
	}
	t.Logf("NewS3: %v", err)
	return err.Error()
}

func TestS3UnreachableFailsFast(t *testing.T) {
	msg := newS3Err(t, objstore.S3Config{
		Bucket: "b", Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "s",
	})
	if !strings.Contains(msg, "s3 endpoint http://127.0.0.1:1 unreachable") {
		t.Fatalf("message %q does not say the endpoint is unreachable", msg)
	}
}

func TestS3WrongSecret(t *testing.T) {
	cfg := s3Env(t)
	cfg.SecretKey += "-wrong"
	msg := newS3Err(t, cfg)
	if !strings.Contains(msg, "credentials rejected for bucket "+cfg.Bucket) {
		t.Fatalf("message %q does not blame the credentials", msg)
	}
}

func TestS3MissingBucket(t *testing.T) {
	cfg := s3Env(t)
	cfg.Bucket = fmt.Sprintf("battlake-missing-%d", time.Now().UnixNano())
	msg := newS3Err(t, cfg)
	if !strings.Contains(msg, "s3 bucket "+cfg.Bucket+" not found") {
		t.Fatalf("message %q does not say the bucket is missing", msg)
	}
}

func TestParseS3URL(t *testing.T) {
	for _, tc := range []struct {
		in, bucket, prefix string
		ok                 bool
	}{
		{"s3://lake", "lake", "", true},
		{"s3://lake/", "lake", "", true},
		{"s3://lake/battery/v1/", "lake", "battery/v1", true},
		{"s3:///prefix", "", "", false},
		{"https://lake/x", "", "", false},
		{"s3://lake/x?versionId=1", "", "", false},
		{"lake/x", "", "", false},
	} {
		b, p, err := objstore.ParseS3URL(tc.in)
		if (err == nil) != tc.ok || b != tc.bucket || p != tc.prefix {
			t.Errorf("ParseS3URL(%q) = %q, %q, %v; want %q, %q, ok=%v", tc.in, b, p, err, tc.bucket, tc.prefix, tc.ok)
		}
	}
}

func TestS3ConfigValidate(t *testing.T) {
	good := objstore.S3Config{Bucket: "b", Prefix: "lake/v1", Endpoint: "http://localhost:9000", AccessKey: "a", SecretKey: "s"}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for name, mutate := range map[string]func(*objstore.S3Config){
		"no bucket":        func(c *objstore.S3Config) { c.Bucket = "" },
		"slash in bucket":  func(c *objstore.S3Config) { c.Bucket = "b/c" },
		"lone access key":  func(c *objstore.S3Config) { c.SecretKey = "" },
		"small part":       func(c *objstore.S3Config) { c.PartSize = 1 << 20 },
		"huge part":        func(c *objstore.S3Config) { c.PartSize = 6 << 30 },
		"negative retries": func(c *objstore.S3Config) { c.MaxAttempts = -1 },
		"dotdot prefix":    func(c *objstore.S3Config) { c.Prefix = "a/../b" },
		"endpoint scheme":  func(c *objstore.S3Config) { c.Endpoint = "localhost:9000" },
		"both styles":      func(c *objstore.S3Config) { c.PathStyle, c.VirtualHosted = true, true },
	} {
		c := good
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// With no credentials anywhere the error says which variables to set, not
// the SDK's EC2 metadata message alone.
func TestS3NoCredentialsSaysWhatToSet(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	_, err := objstore.NewS3(t.Context(), objstore.S3Config{Bucket: "b", Endpoint: "http://127.0.0.1:1"})
	if !errors.Is(err, objstore.ErrNoCredentials) {
		t.Fatalf("err = %v, want ErrNoCredentials", err)
	}
	for _, want := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "--endpoint"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %s", err, want)
		}
	}
}
