package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config locates a bucket on S3 or MinIO.
type S3Config struct {
	Endpoint  string // host:port
	Bucket    string
	AccessKey string
	SecretKey string
	Secure    bool // https
	Region    string
}

// ParseS3URL reads s3://ACCESS:SECRET@host:port/bucket?secure=false&region=R.
// Credentials missing from the URL come from HLSD_S3_ACCESS_KEY and
// HLSD_S3_SECRET_KEY, so they need not appear in process listings.
func ParseS3URL(u *url.URL) (S3Config, error) {
	cfg := S3Config{Endpoint: u.Host, Bucket: strings.Trim(u.Path, "/"), Secure: true, Region: u.Query().Get("region")}
	if u.User != nil {
		cfg.AccessKey = u.User.Username()
		cfg.SecretKey, _ = u.User.Password()
	}
	if cfg.AccessKey == "" {
		cfg.AccessKey = os.Getenv("HLSD_S3_ACCESS_KEY")
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = os.Getenv("HLSD_S3_SECRET_KEY")
	}
	if v := u.Query().Get("secure"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("store: s3 url: secure=%q is not true or false", v)
		}
		cfg.Secure = b
	}
	if cfg.Endpoint == "" || cfg.Bucket == "" || strings.Contains(cfg.Bucket, "/") {
		return cfg, fmt.Errorf("store: s3 url %q must look like s3://host:port/bucket", u.Redacted())
	}
	return cfg, nil
}

// S3Store keeps objects in one bucket through minio-go. S3 PUTs are atomic,
// which gives the all-or-nothing visibility the pipeline needs.
type S3Store struct {
	client *minio.Client
	bucket string
}

// s3PartSize bounds memory for uploads of unknown length: minio-go buffers one
// part at a time, and its default for unknown sizes is ~512 MiB per upload.
// 16 MiB parts still allow 160 GiB objects (10,000 parts).
const s3PartSize = 16 << 20

// NewS3Store connects and creates the bucket if it does not exist yet.
func NewS3Store(ctx context.Context, cfg S3Config) (*S3Store, error) {
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("store: s3 %s: %w", cfg.Endpoint, err)
	}
	s := &S3Store{client: client, bucket: cfg.Bucket}
	// MinIO may still be starting (as in a fresh `docker compose up`): retry
	// for a while before giving up.
	deadline := time.Now().Add(s3StartupWait)
	for {
		err := s.ensureBucket(ctx, cfg.Region)
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// s3StartupWait is how long NewS3Store waits for an unreachable or starting server.
var s3StartupWait = 60 * time.Second

func (s *S3Store) ensureBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("store: s3 bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	if err != nil {
		// Another service may have created it first.
		code := minio.ToErrorResponse(err).Code
		if code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		return fmt.Errorf("store: s3 create bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Ping checks the bucket is reachable (for readiness probes).
func (s *S3Store) Ping(ctx context.Context) error {
	_, err := s.client.BucketExists(ctx, s.bucket)
	return err
}

func (s *S3Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		PartSize:    s3PartSize,
		NumThreads:  1,
		ContentType: "application/octet-stream",
	})
	if err != nil {
		return fmt.Errorf("store: put %s: %w", key, err)
	}
	return nil
}

func (s *S3Store) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	opts := minio.GetObjectOptions{}
	if off > 0 || length >= 0 {
		if length == 0 {
			// S3 cannot express an empty range; check existence and read nothing.
			if _, err := s.Stat(ctx, key); err != nil {
				return nil, err
			}
			return io.NopCloser(strings.NewReader("")), nil
		}
		end := int64(0) // 0 with off > 0 means "to the end" in minio-go
		if length > 0 {
			end = off + length - 1
		}
		if err := opts.SetRange(off, end); err != nil {
			return nil, fmt.Errorf("store: get %s: %w", key, err)
		}
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	// GetObject is lazy; Stat makes the request so a missing key fails here.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.wrap("get", key, err)
	}
	return obj, nil
}

func (s *S3Store) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.wrap("stat", key, err)
	}
	return s3Info(oi), nil
}

func s3Info(oi minio.ObjectInfo) Info {
	return Info{Key: oi.Key, Size: oi.Size, ModTime: oi.LastModified, ETag: `"` + strings.Trim(oi.ETag, `"`) + `"`}
}

func (s *S3Store) List(ctx context.Context, prefix string, fn func(Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine if fn returns early
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("store: list %s: %w", prefix, oi.Err)
		}
		if err := fn(s3Info(oi)); err != nil {
			return err
		}
	}
	return nil
}

func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

func (s *S3Store) wrap(op, key string, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && (resp.Code == "NoSuchKey" || resp.StatusCode == 404) {
		return fmt.Errorf("store: %s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("store: %s %s: %w", op, key, err)
}
