package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	// DefaultPartSize is the multipart part size (and the per-upload memory
	// bound) when S3Config.PartSize is 0.
	DefaultPartSize int64 = 16 << 20
	// MinPartSize is S3's minimum size of every part but the last.
	MinPartSize int64 = 5 << 20
	// maxPartSize and maxParts are S3's multipart limits.
	maxPartSize int64 = 5 << 30
	maxParts          = 10000

	defaultRegion      = "us-east-1"
	defaultMaxAttempts = 5
	// probeTimeout bounds NewS3's HeadBucket so a bad endpoint fails in
	// seconds; dialTimeout keeps every later request from hanging on connect.
	probeTimeout = 5 * time.Second
	dialTimeout  = 5 * time.Second
	// abortTimeout bounds best-effort cleanup that runs even when the
	// caller's context is already cancelled.
	abortTimeout = 30 * time.Second
)

// S3Config configures an S3 (or S3-compatible) store.
type S3Config struct {
	Bucket string
	// Prefix is prepended to every key ("lake" stores key k at "lake/k").
	Prefix string
	// Region defaults to the SDK's configured region, then "us-east-1".
	Region string
	// Endpoint overrides the service URL (MinIO, versitygw, R2, ...). When
	// empty, AWS_ENDPOINT_URL_S3 and then AWS_ENDPOINT_URL are used.
	Endpoint string
	// AccessKey and SecretKey select static credentials; when both are
	// empty the SDK's default chain (env, shared config, IMDS, ...) is used.
	AccessKey string
	SecretKey string
	// PathStyle forces path-style addressing (http://host/bucket/key). It is
	// implied whenever an endpoint is set, because most S3-compatible
	// servers lack wildcard DNS; set VirtualHosted to opt out.
	PathStyle     bool
	VirtualHosted bool
	// PartSize is the multipart part size and the memory each open upload
	// may buffer; 0 means DefaultPartSize, otherwise at least MinPartSize.
	PartSize int64
	// MaxAttempts is the SDK retryer's attempt limit per request; 0 means 5.
	MaxAttempts int
	// MaxBackoff caps the SDK retryer's jittered backoff (up to 2^attempt
	// seconds); 0 means 10 s. Tests with injected faults shorten it.
	MaxBackoff time.Duration
}

// Validate checks the configuration without contacting the server.
func (c S3Config) Validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("s3 config: bucket is required")
	case strings.ContainsAny(c.Bucket, "/\\ "):
		return fmt.Errorf("s3 config: invalid bucket name %q", c.Bucket)
	case (c.AccessKey == "") != (c.SecretKey == ""):
		return errors.New("s3 config: access key and secret key must be set together")
	case c.PartSize != 0 && (c.PartSize < MinPartSize || c.PartSize > maxPartSize):
		return fmt.Errorf("s3 config: part size %d outside [%d, %d]", c.PartSize, MinPartSize, maxPartSize)
	case c.MaxAttempts < 0:
		return fmt.Errorf("s3 config: max attempts %d is negative", c.MaxAttempts)
	case c.PathStyle && c.VirtualHosted:
		return errors.New("s3 config: path style and virtual hosted are exclusive")
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		if err := checkKey(p); err != nil {
			return fmt.Errorf("s3 config: prefix %q: %v", c.Prefix, err)
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("s3 config: endpoint %q is not an http(s) URL", c.Endpoint)
		}
	}
	return nil
}

// ParseS3URL splits "s3://bucket/prefix" into bucket and prefix (without
// surrounding slashes; empty when the URL names only the bucket).
func ParseS3URL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("s3 url %q: want s3://bucket/prefix", u)
	}
	if strings.ContainsAny(rest, "?#") {
		return "", "", fmt.Errorf("s3 url %q: query and fragment are not supported", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("s3 url %q: missing bucket", u)
	}
	return bucket, strings.Trim(prefix, "/"), nil
}

// ErrNoCredentials means the SDK's credential chain found nothing to sign
// with (no keys in the environment, no profile, no role).
var ErrNoCredentials = errors.New("no s3 credentials found")

// S3 is a Store on an S3 bucket under an optional key prefix.
type S3 struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or ends with "/"
	partSize int64
}

var _ Store = (*S3)(nil)

// NewS3 connects to the bucket and verifies it is reachable, the
// credentials are accepted and the bucket exists, so a misconfigured lake
// fails at start-up with one clear message instead of at the first write.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	endpoint := cfg.Endpoint
	for _, env := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if endpoint == "" {
			endpoint = os.Getenv(env)
		}
	}
	attempts := cfg.MaxAttempts
	if attempts == 0 {
		attempts = defaultMaxAttempts
	}
	maxBackoff := cfg.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 10 * time.Second
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = maxBackoff
				o.Backoff = retry.NewExponentialJitterBackoff(o.MaxBackoff)
				// The client-wide retry token bucket would fail a bulk
				// lake write after a burst of throttling; per-request
				// attempts are the bound we want.
				o.RateLimiter = ratelimit.None
			})
		}),
		config.WithHTTPClient(awshttp.NewBuildableClient().
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = dialTimeout }).
			WithTransportOptions(func(t *http.Transport) { t.TLSHandshakeTimeout = dialTimeout })),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 config: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if endpoint != "" {
			// Set explicitly: the SDK resolves AWS_ENDPOINT_URL* on its
			// own, and this option must win over that.
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = cfg.PathStyle || (endpoint != "" && !cfg.VirtualHosted)
		// Default "when supported" checksums add CRC32 to every UploadPart;
		// servers such as versitygw reject part checksums unless the upload
		// declared ChecksumAlgorithm at create. ETags suffice here.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	s := &S3{client: client, bucket: cfg.Bucket, prefix: prefix, partSize: partSize}

	shown := endpoint
	if shown == "" {
		shown = "https://s3." + awsCfg.Region + ".amazonaws.com"
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if awsCfg.Credentials != nil {
		if _, err := awsCfg.Credentials.Retrieve(pctx); err != nil {
			// The SDK's chain ends at EC2 instance metadata, so its own
			// message talks about IMDS even on a laptop; say what to set.
			return nil, fmt.Errorf("%w for bucket %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "+
				"(or AWS_PROFILE with a shared credentials file, or a web-identity role such as EKS IRSA); "+
				"for an S3-compatible server also pass --endpoint or set AWS_ENDPOINT_URL_S3 (SDK: %v)",
				ErrNoCredentials, cfg.Bucket, err)
		}
	}
	// One attempt only: retrying a refused connection would just delay the
	// message, and the probe timeout bounds a silent endpoint.
	_, err = client.HeadBucket(pctx, &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)},
		func(o *s3.Options) { o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1) })
	if err != nil {
		return nil, classifyProbe(err, shown, cfg.Bucket)
	}
	return s, nil
}

func classifyProbe(err error, endpoint, bucket string) error {
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("s3 endpoint %s unreachable: %w", endpoint, err)
	}
	switch httpStatus(err) {
	case http.StatusNotFound:
		return fmt.Errorf("s3 bucket %s not found at %s", bucket, endpoint)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("s3 credentials rejected for bucket %s: %w", bucket, err)
	case http.StatusMovedPermanently:
		return fmt.Errorf("s3 bucket %s is in another region (set the region): %w", bucket, err)
	}
	return fmt.Errorf("s3 bucket %s at %s: %w", bucket, endpoint, err)
}

func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound reports a missing object. HEAD responses carry no error code,
// so a bare 404 counts too, except a missing bucket, which is a
// configuration error rather than a missing object.
func isNotFound(err error) bool {
	switch apiCode(err) {
	case "NoSuchKey", "NotFound":
		return true
	case "NoSuchBucket":
		return false
	}
	return httpStatus(err) == http.StatusNotFound
}

func (s *S3) objectKey(key string) string { return s.prefix + key }

// Create implements Store. The object is buffered up to one part; a small
// object becomes one PutObject at Commit, a larger one a multipart upload
// whose parts are sent as the buffer fills, so memory stays at PartSize.
func (s *S3) Create(ctx context.Context, key string) (Upload, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	return &s3Upload{s: s, key: key, ctx: ctx}, nil
}

// PutIfAbsent implements Store with a conditional PutObject (If-None-Match:
// *): S3 answers 412 Precondition Failed when the key exists. A 409
// ConditionalRequestConflict (another conditional write of the key in
// flight) stays a plain, retryable error.
func (s *S3) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.objectKey(key)),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		IfNoneMatch:   aws.String("*"),
	})
	if err != nil {
		if httpStatus(err) == http.StatusPreconditionFailed || apiCode(err) == "PreconditionFailed" {
			if sameContent(ctx, s, key, data) {
				return nil // our own create, answered by a lost response
			}
			return fmt.Errorf("put-if-absent %s: %w", key, ErrExists)
		}
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	return nil
}

type s3Upload struct {
	s        *S3
	key      string
	ctx      context.Context // for part uploads from Write, which has none
	buf      []byte          // pending bytes, never more than partSize
	uploadID string          // set once the multipart upload is created
	parts    []types.CompletedPart
	state    uploadState
}

func (u *s3Upload) Write(p []byte) (int, error) {
	if u.state != uploadOpen {
		return 0, fmt.Errorf("write %s: %w", u.key, errUploadDone)
	}
	written := 0
	for len(p) > 0 {
		if int64(len(u.buf)) == u.s.partSize {
			if err := u.flushPart(u.ctx); err != nil {
				return written, err
			}
		}
		n := min(len(p), int(u.s.partSize)-len(u.buf))
		u.grow(n)
		u.buf = append(u.buf, p[:n]...)
		p = p[n:]
		written += n
	}
	return written, nil
}

// grow makes room for n more bytes, doubling like append but never past
// partSize, so small objects stay small and large ones stay bounded.
func (u *s3Upload) grow(n int) {
	need := len(u.buf) + n
	if need <= cap(u.buf) {
		return
	}
	c := min(max(2*cap(u.buf), need, 64<<10), int(u.s.partSize))
	nb := make([]byte, len(u.buf), c)
	copy(nb, u.buf)
	u.buf = nb
}

// flushPart uploads the buffer as the next part. On failure the buffer is
// kept, so a retried Commit re-sends the same part number.
func (u *s3Upload) flushPart(ctx context.Context) error {
	c := u.s.client
	if u.uploadID == "" {
		out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(u.s.bucket),
			Key:    aws.String(u.s.objectKey(u.key)),
		})
		if err != nil {
			return fmt.Errorf("upload %s: create multipart: %w", u.key, err)
		}
		u.uploadID = aws.ToString(out.UploadId)
	}
	num := int32(len(u.parts) + 1)
	if num > maxParts {
		return fmt.Errorf("upload %s: more than %d parts of %d bytes", u.key, maxParts, u.s.partSize)
	}
	// bytes.Reader is seekable, which SigV4 over plain HTTP needs to hash
	// the payload and the retryer needs to rewind it.
	out, err := c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        aws.String(u.s.bucket),
		Key:           aws.String(u.s.objectKey(u.key)),
		UploadId:      aws.String(u.uploadID),
		PartNumber:    aws.Int32(num),
		Body:          bytes.NewReader(u.buf),
		ContentLength: aws.Int64(int64(len(u.buf))),
	})
	if err != nil {
		return fmt.Errorf("upload %s: part %d: %w", u.key, num, err)
	}
	u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	u.buf = u.buf[:0]
	return nil
}

func (u *s3Upload) Commit(ctx context.Context) error {
	if u.state != uploadOpen {
		return fmt.Errorf("commit %s: %w", u.key, errUploadDone)
	}
	c := u.s.client
	if u.uploadID == "" {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(u.s.bucket),
			Key:           aws.String(u.s.objectKey(u.key)),
			Body:          bytes.NewReader(u.buf),
			ContentLength: aws.Int64(int64(len(u.buf))),
		})
		if err != nil {
			return fmt.Errorf("commit %s: %w", u.key, err)
		}
	} else {
		if len(u.buf) > 0 {
			if err := u.flushPart(ctx); err != nil {
				return fmt.Errorf("commit %s: %w", u.key, err)
			}
		}
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket:          aws.String(u.s.bucket),
			Key:             aws.String(u.s.objectKey(u.key)),
			UploadId:        aws.String(u.uploadID),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
		})
		if err != nil {
			return fmt.Errorf("commit %s: complete multipart: %w", u.key, err)
		}
	}
	u.state = uploadCommitted
	u.buf = nil
	return nil
}

func (u *s3Upload) Abort(ctx context.Context) error {
	if u.state != uploadOpen {
		return nil
	}
	u.state = uploadAborted
	u.buf = nil
	if u.uploadID == "" {
		return nil
	}
	// Abort usually runs deferred, often because ctx was cancelled; the
	// cleanup should still reach the server.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := u.s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(u.s.bucket),
		Key:      aws.String(u.s.objectKey(u.key)),
		UploadId: aws.String(u.uploadID),
	})
	if err != nil && apiCode(err) != "NoSuchUpload" { // already swept
		return fmt.Errorf("abort %s: %w", u.key, err)
	}
	return nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return out.Body, nil
}

// readAhead is the block a small ranged read fetches: Parquet readers read
// the 8-byte footer, then the metadata before it, then small pages; one
// block near the end serves the first two from one request.
const readAhead = 64 << 10

// Open implements Store. The size and ETag come from one HeadObject; every
// ranged GET carries If-Match on that ETag, so a reader never mixes two
// versions of a replaced object (it gets ErrChanged instead).
func (s *S3) Open(ctx context.Context, key string) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("open %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return &s3Object{s: s, ctx: ctx, key: key, size: aws.ToInt64(out.ContentLength), etag: out.ETag}, nil
}

type s3Object struct {
	s      *S3
	ctx    context.Context // ReadAt has none; requests run under Open's
	key    string
	size   int64
	etag   *string
	closed atomic.Bool

	mu       sync.Mutex
	blockOff int64
	block    []byte // the last read-ahead block
}

func (o *s3Object) Size() int64 { return o.size }

func (o *s3Object) Close() error {
	o.closed.Store(true)
	o.mu.Lock()
	o.block = nil
	o.mu.Unlock()
	return nil
}

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	switch {
	case o.closed.Load():
		return 0, fmt.Errorf("read %s: %w", o.key, os.ErrClosed)
	case off < 0:
		return 0, fmt.Errorf("read %s: negative offset %d", o.key, off)
	case len(p) == 0:
		return 0, nil
	case off >= o.size:
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), o.size-off))
	if err := o.read(p[:n], off); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// read fills dst from off; dst lies inside the object.
func (o *s3Object) read(dst []byte, off int64) error {
	end := off + int64(len(dst))
	o.mu.Lock()
	if off >= o.blockOff && end <= o.blockOff+int64(len(o.block)) {
		copy(dst, o.block[off-o.blockOff:])
		o.mu.Unlock()
		return nil
	}
	o.mu.Unlock()
	if len(dst) >= readAhead {
		return o.get(dst, off)
	}
	// Fetch a whole block, shifted back when it would run past the end so
	// that a footer read also brings the metadata before it.
	bs := min(int64(readAhead), o.size)
	start := min(off, o.size-bs)
	block := make([]byte, bs)
	if err := o.get(block, start); err != nil {
		return err
	}
	copy(dst, block[off-start:])
	o.mu.Lock()
	if !o.closed.Load() {
		o.block, o.blockOff = block, start
	}
	o.mu.Unlock()
	return nil
}

// get fetches exactly len(dst) bytes at off with one ranged GET.
func (o *s3Object) get(dst []byte, off int64) error {
	last := off + int64(len(dst)) - 1
	rng := fmt.Sprintf("bytes=%d-%d", off, last)
	out, err := o.s.client.GetObject(o.ctx, &s3.GetObjectInput{
		Bucket:  aws.String(o.s.bucket),
		Key:     aws.String(o.s.objectKey(o.key)),
		Range:   aws.String(rng),
		IfMatch: o.etag,
	})
	if err != nil {
		switch {
		case isNotFound(err):
			return fmt.Errorf("read %s %s: deleted: %w", o.key, rng, ErrChanged)
		case apiCode(err) == "PreconditionFailed" || httpStatus(err) == http.StatusPreconditionFailed:
			return fmt.Errorf("read %s %s: %w", o.key, rng, ErrChanged)
		}
		return fmt.Errorf("read %s %s: %w", o.key, rng, err)
	}
	defer out.Body.Close()
	// A server that ignored Range would answer 200 with the whole object.
	if cr := aws.ToString(out.ContentRange); !strings.HasPrefix(cr, fmt.Sprintf("bytes %d-%d/", off, last)) {
		return fmt.Errorf("read %s %s: server answered range %q", o.key, rng, cr)
	}
	if _, err := io.ReadFull(out.Body, dst); err != nil {
		return fmt.Errorf("read %s %s: %w", o.key, rng, err)
	}
	return nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil {
		if isNotFound(err) {
			return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrNotFound)
		}
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return ObjectInfo{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
	}, nil
}

// List implements Store. S3 returns keys in UTF-8 byte order, which is the
// lexical order the interface promises.
func (s *S3) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		for _, obj := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(obj.Key), s.prefix)
			// Skip directory markers ("a/") some tools and gateways create:
			// they cannot be addressed as objects here.
			if !ok || !strings.HasPrefix(key, prefix) || isStagingKey(key) || strings.HasSuffix(key, "/") {
				continue
			}
			info := ObjectInfo{Key: key, Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)}
			if err := fn(info); err != nil {
				return fmt.Errorf("list %q: %w", prefix, err)
			}
		}
	}
	return nil
}

// Delete implements Store; S3 itself treats a missing key as success.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// URL implements Store.
func (s *S3) URL(key string) string {
	return "s3://" + s.bucket + "/" + s.prefix + key
}

// SweepStaging implements Store: S3 keeps unfinished multipart uploads (and
// bills their parts) until they are aborted. Only uploads under Prefix are
// touched, so with an empty Prefix it sweeps the whole bucket.
func (s *S3) SweepStaging(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix),
	})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("sweep staging: %w", err)
		}
		for _, up := range page.Uploads {
			if olderThan > 0 && !aws.ToTime(up.Initiated).Before(cutoff) {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket:   aws.String(s.bucket),
				Key:      up.Key,
				UploadId: up.UploadId,
			})
			switch {
			case err == nil:
				n++
			case apiCode(err) != "NoSuchUpload": // finished meanwhile
				return n, fmt.Errorf("sweep staging: abort %s: %w", aws.ToString(up.Key), err)
			}
		}
	}
	return n, nil
}

// Close implements Store; the SDK client holds nothing that needs closing.
func (s *S3) Close() error { return nil }
