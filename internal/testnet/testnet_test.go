package testnet

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/medchain/medchain/internal/ports"
)

func TestTestnetOffsetsAreDistinct(t *testing.T) {
	for nodes := 1; nodes <= 8; nodes++ {
		seen := map[int]bool{}
		for _, off := range testnetOffsets(nodes) {
			if seen[off] {
				t.Fatalf("%d nodes: offset %d used twice", nodes, off)
			}
			seen[off] = true
		}
	}
}

func TestReservedPortsAreFreeAndNotReused(t *testing.T) {
	offsets := testnetOffsets(5)
	a, err := reservePorts(offsets)
	if err != nil {
		t.Fatal(err)
	}
	b, err := reservePorts(offsets)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	for _, base := range []int{a, b} {
		for _, off := range offsets {
			p := base + off
			if got[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			got[p] = true
			if p < ports.Lowest || p >= ports.EphemeralLow() {
				t.Errorf("port %d outside [%d, %d)", p, ports.Lowest, ports.EphemeralLow())
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(p)))
			if err != nil {
				t.Fatalf("reserved port %d is not free: %v", p, err)
			}
			ln.Close()
		}
	}
}

func TestCopyDir(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{"config/genesis.json": "{}", "data/state.db/000001.log": "log", "top": "x"}
	for name, body := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := CopyDir(src, dst); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		b, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(b) != body {
			t.Errorf("%s: got %q, %v; want %q", name, b, err, body)
		}
	}
	if err := CopyDir(src, dst); err == nil {
		t.Error("copying onto an existing folder succeeded")
	}
}
