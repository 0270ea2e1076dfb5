package blob

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const (
	testBucket = "medchain-blobs"
	testPrefix = "blobs/"
)

// fakeS3 serves an in-memory S3 on 127.0.0.1 for the length of the test.
type fakeS3 struct {
	backend *s3mem.Backend
	srv     *httptest.Server
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()), gofakes3.WithIntegrityCheck(true))
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	return &fakeS3{backend: backend, srv: srv}
}

func (f *fakeS3) config(bucket string) S3Config {
	return S3Config{
		Endpoint:  strings.TrimPrefix(f.srv.URL, "http://"),
		Region:    "us-east-1",
		Bucket:    bucket,
		AccessKey: "test-access",
		SecretKey: "test-secret",
		Prefix:    testPrefix,
	}
}

// putRaw writes an object behind the store's back.
func (f *fakeS3) putRaw(t *testing.T, bucket, key string, data []byte) {
	t.Helper()
	if _, err := f.backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
}

var bucketSeq atomic.Int64

func TestS3Conformance(t *testing.T) {
	f := newFakeS3(t)
	buckets := map[Store]string{}
	runConformance(t, harness{
		open: func(t *testing.T, opts ...Option) Store {
			// A bucket per test keeps the tests apart on one server.
			bucket := fmt.Sprintf("%s-%d", testBucket, bucketSeq.Add(1))
			if err := f.backend.CreateBucket(bucket); err != nil {
				t.Fatal(err)
			}
			s, err := NewS3(f.config(bucket), opts...)
			if err != nil {
				t.Fatal(err)
			}
			buckets[s] = bucket
			return s
		},
		corrupt: func(t *testing.T, s Store, h Hash, data []byte) {
			f.putRaw(t, buckets[s], testPrefix+HashString(h), data)
		},
	})
}

func TestS3ListSkipsStrays(t *testing.T) {
	f := newFakeS3(t)
	if err := f.backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	s, err := NewS3(f.config(testBucket))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := s.Put(ctx, []byte("real"))
	if err != nil {
		t.Fatal(err)
	}
	other := HashString(Sum([]byte("other")))
	for _, key := range []string{
		testPrefix + "README",
		testPrefix + strings.ToUpper(other),
		testPrefix + other + ".bak",
		testPrefix + "sub/" + other,
		"elsewhere/" + other, // outside the prefix
		other,                // outside the prefix
	} {
		f.putRaw(t, testBucket, key, []byte("x"))
	}
	got := listAll(t, s)
	if len(got) != 1 || got[h] != 4 {
		t.Fatalf("List = %v, want only %s", got, HashString(h))
	}
	if ok, err := s.Has(ctx, Sum([]byte("other"))); ok || err != nil {
		t.Fatalf("Has of an object outside the prefix = %v, %v", ok, err)
	}
}

func TestS3Check(t *testing.T) {
	f := newFakeS3(t)
	if err := f.backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := NewS3(f.config(testBucket))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	missing, err := NewS3(f.config("no-such-bucket"))
	if err != nil {
		t.Fatal(err)
	}
	if err := missing.Check(ctx); err == nil {
		t.Fatal("Check of a missing bucket succeeded")
	}
	if _, err := missing.Get(ctx, Sum(nil)); err == nil || strings.Contains(err.Error(), ErrNotFound.Error()) {
		t.Fatalf("Get from a missing bucket: %v, want a bucket error, not ErrNotFound", err)
	}
}

func TestNewS3RejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]S3Config{
		"no endpoint":   {Bucket: "b"},
		"scheme in url": {Endpoint: "http://127.0.0.1:9000", Bucket: "b"},
		"no bucket":     {Endpoint: "127.0.0.1:9000"},
	} {
		if _, err := NewS3(cfg); err == nil {
			t.Errorf("%s: NewS3 accepted %+v", name, cfg)
		}
	}
}
