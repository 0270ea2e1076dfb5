package ports

import (
	"net"
	"strconv"
	"testing"
)

func TestReservedPortsAreFreeBelowEphemeralAndNotReused(t *testing.T) {
	offsets := []int{0, 1, 2, 10, 11, 3, 20, 21, 4}
	got := map[int]bool{}
	check := func(p int) {
		t.Helper()
		if got[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		got[p] = true
		if p < Lowest || p >= EphemeralLow() {
			t.Errorf("port %d outside [%d, %d)", p, Lowest, EphemeralLow())
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("reserved port %d is not free: %v", p, err)
		}
		ln.Close()
	}
	for range 2 {
		base, err := Reserve(offsets)
		if err != nil {
			t.Fatal(err)
		}
		for _, off := range offsets {
			check(base + off)
		}
	}
	ps, err := Free(20)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		check(p)
	}
}

func TestTakenPortIsNotHandedOut(t *testing.T) {
	// Hold a listener on every port of a small window, and ask for a block
	// that can only fit outside it: no answer may fall inside.
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	ps, err := Free(5)
	if err != nil {
		t.Fatal(err)
	}
	taken := map[int]bool{}
	for _, p := range ps {
		ln, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(p)))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, ln)
		taken[p] = true
	}
	for range 50 {
		p, err := Reserve([]int{0})
		if err != nil {
			t.Fatal(err)
		}
		if taken[p] {
			t.Fatalf("port %d handed out while held", p)
		}
	}
	if _, err := Reserve([]int{-1}); err == nil {
		t.Fatal("negative offset accepted")
	}
}
