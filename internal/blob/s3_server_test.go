package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/medchain/medchain/internal/ports"
)

// The S3 store against a real S3-compatible server: SeaweedFS's `weed
// server -s3` (master, volume server, filer and S3 gateway in one process),
// started by the test on 127.0.0.1 with an access key, over a data
// directory of the test. The binary is $MEDCHAIN_WEED, else `weed` on the
// PATH; scripts/test.sh builds it once from the module
// github.com/seaweedfs/seaweedfs (a named version). Without it the tests
// skip, saying so.

const (
	weedAccessKey = "medchain-test-access"
	weedSecretKey = "medchain-test-secret-key"
)

type weedServer struct {
	bin, dir string
	ports    [4]int // master, volume, filer, s3 (each also uses port+10000 for gRPC)
	cmd      *exec.Cmd
	exited   chan struct{}
	log      *os.File
}

func weedBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MEDCHAIN_WEED"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		t.Skipf("MEDCHAIN_WEED=%s does not exist: the S3 server tests need SeaweedFS's weed binary (scripts/test.sh installs it)", p)
	}
	p, err := exec.LookPath("weed")
	if err != nil {
		t.Skip("no S3-compatible server: SeaweedFS's weed binary is neither $MEDCHAIN_WEED nor on the PATH " +
			"(scripts/test.sh builds it from github.com/seaweedfs/seaweedfs)")
	}
	return p
}

// freePortPair finds a port p on 127.0.0.1 such that p and p+10000 are
// both free (SeaweedFS serves gRPC at port+10000), below the ephemeral range.
func freePortPair(t *testing.T, taken map[int]bool) int {
	t.Helper()
	for range 20 {
		p, err := ports.Reserve([]int{0, 10000})
		if err != nil {
			t.Fatal(err)
		}
		if taken[p] || taken[p+10000] {
			continue
		}
		taken[p], taken[p+10000] = true, true
		return p
	}
	t.Fatal("no free port pair")
	return 0
}

// startWeed starts a SeaweedFS server over dir (new ports each time) and
// waits until its S3 gateway answers signed requests.
func startWeed(t *testing.T, bin, dir string) *weedServer {
	t.Helper()
	w := &weedServer{bin: bin, dir: dir, exited: make(chan struct{})}
	taken := map[int]bool{}
	for i := range w.ports {
		w.ports[i] = freePortPair(t, taken)
	}
	for _, d := range []string{"data", "master", "filer"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`{"identities":[{"name":"medchain","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","List","Tagging","Write"]}]}`,
		weedAccessKey, weedSecretKey)
	cfgPath := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, fmt.Sprintf("weed-%d.log", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	w.log = log
	w.cmd = exec.Command(bin, "server",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-dir="+filepath.Join(dir, "data"),
		"-master.dir="+filepath.Join(dir, "master"),
		"-master.port="+strconv.Itoa(w.ports[0]),
		"-master.volumeSizeLimitMB=64",
		"-volume.port="+strconv.Itoa(w.ports[1]),
		"-volume.max=32",
		"-filer", "-filer.port="+strconv.Itoa(w.ports[2]),
		"-s3", "-s3.port="+strconv.Itoa(w.ports[3]), "-s3.config="+cfgPath,
	)
	w.cmd.Dir = dir
	w.cmd.Stdout, w.cmd.Stderr = log, log
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { _ = w.cmd.Wait(); close(w.exited) }()
	t.Cleanup(w.stop)

	client := w.client(t)
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := client.ListBuckets(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-w.exited:
			t.Fatalf("weed server exited: %s", w.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("weed's S3 gateway did not answer within 90 s: %v\n%s", err, w.logTail())
		}
		time.Sleep(250 * time.Millisecond)
	}
	return w
}

func (w *weedServer) endpoint() string { return "127.0.0.1:" + strconv.Itoa(w.ports[3]) }

func (w *weedServer) client(t *testing.T) *minio.Client {
	t.Helper()
	c, err := minio.New(w.endpoint(), &minio.Options{Creds: credentials.NewStaticV4(weedAccessKey, weedSecretKey, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *weedServer) config(bucket string) S3Config {
	return S3Config{Endpoint: w.endpoint(), Region: "us-east-1", Bucket: bucket, AccessKey: weedAccessKey, SecretKey: weedSecretKey, Prefix: testPrefix}
}

// makeBucket creates a bucket; the filer may need a moment after start.
func (w *weedServer) makeBucket(t *testing.T, bucket string) {
	t.Helper()
	c := w.client(t)
	var err error
	for range 40 {
		if err = c.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("make bucket %s: %v\n%s", bucket, err, w.logTail())
}

// stop ends the server (SIGTERM, then SIGKILL to its process group).
func (w *weedServer) stop() {
	if w.cmd == nil || w.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
		<-w.exited
	}
	w.cmd = nil
	_ = w.log.Close()
}

func (w *weedServer) logTail() string {
	b, _ := os.ReadFile(w.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// The conformance suite every Store passes, against SeaweedFS.
func TestS3ServerConformance(t *testing.T) {
	bin := weedBinary(t)
	w := startWeed(t, bin, t.TempDir())
	// One bucket, a prefix per store: SeaweedFS gives each bucket its own
	// collection of volumes, and a bucket per subtest would need dozens.
	w.makeBucket(t, testBucket)
	prefixes := map[Store]string{}
	runConformance(t, harness{
		open: func(t *testing.T, opts ...Option) Store {
			cfg := w.config(testBucket)
			cfg.Prefix = fmt.Sprintf("conformance-%d/", bucketSeq.Add(1))
			s, err := NewS3(cfg, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			prefixes[s] = cfg.Prefix
			return s
		},
		corrupt: func(t *testing.T, s Store, h Hash, data []byte) {
			_, err := w.client(t).PutObject(context.Background(), testBucket, prefixes[s]+HashString(h), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
}

// scaleBlob is blob i of the scale test: 1 KiB to 64 KiB of deterministic
// bytes, and a few of 4 MiB.
func scaleBlob(i int) []byte {
	n := 1024 + (i*7919)%(63*1024)
	if i%500 == 499 {
		n = 4 << 20
	}
	out := make([]byte, 0, n+32)
	seed := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	for len(out) < n {
		out = append(out, seed[:]...)
		seed = sha256.Sum256(seed[:])
	}
	return out[:n]
}

// TestS3ServerAtScale: 1,500 blobs (about 50 MB, four of 4 MiB) written
// by 8 writers at once to a real S3 server, listed, read back and checked,
// half of them deleted; then the server is stopped and started again over
// the same directory, and what is left is all there, byte for byte.
// MEDCHAIN_S3_BLOBS sets another count.
func TestS3ServerAtScale(t *testing.T) {
	bin := weedBinary(t)
	count := 1500
	if v, err := strconv.Atoi(os.Getenv("MEDCHAIN_S3_BLOBS")); err == nil && v > 0 {
		count = v
	}
	dir := t.TempDir()
	w := startWeed(t, bin, dir)
	w.makeBucket(t, testBucket)
	s, err := NewS3(w.config(testBucket), WithMaxSize(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hashes := make([]Hash, count)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	var bytesPut atomic.Int64
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				data := scaleBlob(i)
				h, err := s.Put(ctx, data)
				if err != nil {
					errs <- fmt.Errorf("put %d: %w", i, err)
					return
				}
				hashes[i] = h
				bytesPut.Add(int64(len(data)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	took := time.Since(start)
	listed := listAll(t, s)
	if len(listed) != count {
		t.Fatalf("listed %d blobs, put %d", len(listed), count)
	}
	for i, h := range hashes {
		if listed[h] != int64(len(scaleBlob(i))) {
			t.Fatalf("blob %d listed with size %d, want %d", i, listed[h], len(scaleBlob(i)))
		}
	}
	check := func(i int) {
		got, err := s.Get(ctx, hashes[i])
		if err != nil || !bytes.Equal(got, scaleBlob(i)) {
			t.Fatalf("get %d: %d bytes, %v", i, len(got), err)
		}
	}
	for i := 0; i < count; i += 7 {
		check(i)
	}
	check(499)
	for i := 0; i < count; i += 2 {
		if err := s.Delete(ctx, hashes[i]); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	if got := listAll(t, s); len(got) != count/2 {
		t.Fatalf("after deleting half: %d listed, want %d", len(got), count/2)
	}
	t.Logf("%d blobs, %.1f MB put by 8 writers in %v", count, float64(bytesPut.Load())/1e6, took.Round(time.Millisecond))

	// Durable across a restart of the server.
	w.stop()
	w = startWeed(t, bin, dir)
	s, err = NewS3(w.config(testBucket), WithMaxSize(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got := listAll(t, s); len(got) != count/2 {
		t.Fatalf("after restart: %d listed, want %d", len(got), count/2)
	}
	for i := 1; i < count; i += 2 {
		if i%14 == 1 || i == 499 {
			check(i)
		}
	}
	if ok, err := s.Has(ctx, hashes[0]); ok || err != nil {
		t.Fatalf("a deleted blob after restart: %v %v", ok, err)
	}
}
