package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3-compatible store is.
type S3Config struct {
	Endpoint  string // host[:port], without a scheme
	Region    string // may be empty for servers that ignore it
	Bucket    string
	AccessKey string
	SecretKey string
	Prefix    string // prepended to every object name, e.g. "blobs/"
	UseTLS    bool
}

// S3 is a Store in an S3-compatible bucket, one object per blob.
type S3 struct {
	client  *minio.Client
	bucket  string
	prefix  string
	maxSize int64
}

var _ Store = (*S3)(nil)

// NewS3 returns a store in the configured bucket. It does no I/O; use
// Check to see that the bucket is reachable.
func NewS3(cfg S3Config, opts ...Option) (*S3, error) {
	switch {
	case cfg.Endpoint == "":
		return nil, errors.New("blob: S3 endpoint is empty")
	case strings.Contains(cfg.Endpoint, "://"):
		return nil, fmt.Errorf("blob: S3 endpoint %q: want host[:port] without a scheme (set UseTLS instead)", cfg.Endpoint)
	case cfg.Bucket == "":
		return nil, errors.New("blob: S3 bucket is empty")
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseTLS,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: S3 client: %w", err)
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix, maxSize: buildOptions(opts).maxSize}, nil
}

// Check reports an error unless the bucket exists and the credentials work.
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("blob: S3 bucket %q: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("blob: S3 bucket %q does not exist", s.bucket)
	}
	return nil
}

func (s *S3) key(h Hash) string { return s.prefix + HashString(h) }

// Put stores data and returns its hash.
func (s *S3) Put(ctx context.Context, data []byte) (Hash, error) {
	h := Sum(data)
	return h, s.put(ctx, h, data)
}

// PutExpect stores data if it hashes to want.
func (s *S3) PutExpect(ctx context.Context, want Hash, data []byte) error {
	if err := checkExpected(want, data); err != nil {
		return err
	}
	return s.put(ctx, want, data)
}

// put uploads data in one PUT, which S3 applies atomically: a reader sees
// the old object or the new one, never a mix, and concurrent puts of the
// same bytes leave one intact object.
func (s *S3) put(ctx context.Context, h Hash, data []byte) error {
	if err := checkSize(data, s.maxSize); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.key(h), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType:      "application/octet-stream",
		DisableMultipart: true,
		// A plain PUT with Content-Length and a signed Content-MD5 that the
		// server checks, rather than minio-go's aws-chunked streaming
		// signature: fewer S3-compatible servers reject it, and the streaming
		// form sends an empty body without a Content-Length. Get checks the
		// SHA-256 in any case.
		SendContentMd5:       true,
		DisableContentSha256: true,
	})
	if err != nil {
		return fmt.Errorf("blob: S3 put %s: %w", HashString(h), err)
	}
	return nil
}

// Get downloads the blob and checks its hash.
func (s *S3) Get(ctx context.Context, h Hash) ([]byte, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, s.key(h), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.mapErr("get", h, err)
	}
	defer obj.Close()
	// The first Read sends the GET. (obj.Stat before it would send a HEAD
	// too, and a HEAD's 404 cannot tell a missing bucket from a missing key.)
	data, err := io.ReadAll(io.LimitReader(obj, s.maxSize+1))
	if err != nil {
		return nil, s.mapErr("get", h, err)
	}
	if err := checkSize(data, s.maxSize); err != nil {
		return nil, err
	}
	if err := verify(h, data); err != nil {
		return nil, err
	}
	return data, nil
}

// Has asks for the object's metadata. A HEAD response has no body, so a
// missing bucket reads as a missing blob here; Check tells them apart.
func (s *S3) Has(ctx context.Context, h Hash) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, s.key(h), minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if err := s.mapErr("stat", h, err); !errors.Is(err, ErrNotFound) {
		return false, err
	}
	return false, nil
}

// Delete removes the object; S3 reports success for a missing one too.
func (s *S3) Delete(ctx context.Context, h Hash) error {
	err := s.client.RemoveObject(ctx, s.bucket, s.key(h), minio.RemoveObjectOptions{})
	if err == nil {
		return nil
	}
	if err := s.mapErr("delete", h, err); !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// List pages through the objects under the prefix, in key (hash) order.
// Objects whose names are not hashes are skipped.
func (s *S3) List(ctx context.Context, fn func(h Hash, size int64, mod time.Time) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing if fn ends it early
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("blob: S3 list: %w", obj.Err)
		}
		h, err := ParseHash(strings.TrimPrefix(obj.Key, s.prefix))
		if err != nil {
			continue
		}
		if !fn(h, obj.Size, obj.LastModified) {
			return nil
		}
	}
	return ctx.Err()
}

func (s *S3) mapErr(op string, h Hash, err error) error {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey:
		return notFound(h)
	case minio.NoSuchBucket:
		return fmt.Errorf("blob: S3 %s %s: bucket %q does not exist: %w", op, HashString(h), s.bucket, err)
	}
	return fmt.Errorf("blob: S3 %s %s: %w", op, HashString(h), err)
}
