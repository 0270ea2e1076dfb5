package audit

import (
	"testing"

	"github.com/medchain/medchain/crypto"
)

func TestMaxPatientsInWindow(t *testing.T) {
	p := func(i byte) crypto.Address { return crypto.Address{i} }
	served := func(patient byte, at int64) Event { return Event{Patient: p(patient), Time: at, Served: true} }
	refused := func(patient byte, at int64) Event {
		return Event{Patient: p(patient), Time: at, Reason: "consent/17: no consent covers this access"}
	}
	tests := []struct {
		name   string
		evs    []Event
		window int64
		n      int
		at     int64
	}{
		{"no events", nil, 3600, 0, 0},
		{"one read", []Event{served(1, 100)}, 3600, 1, 100},
		{"refusals do not count", []Event{refused(1, 100), refused(2, 101), refused(3, 102)}, 3600, 0, 0},
		{"one patient many times", []Event{served(1, 100), served(1, 200), served(1, 300)}, 3600, 1, 100},
		{"three patients in a window", []Event{served(1, 100), served(2, 200), served(3, 300)}, 3600, 3, 300},
		{"a patient read twice counts once", []Event{served(1, 100), served(2, 200), served(1, 300)}, 3600, 2, 200},
		// The first time the maximum is reached is reported.
		{"the first read left the window", []Event{served(1, 0), served(2, 3000), served(3, 3600)}, 3600, 2, 3000},
		{"exactly one window apart is two windows", []Event{served(1, 0), served(2, 3600)}, 3600, 1, 0},
		{"one second less is one window", []Event{served(1, 0), served(2, 3599)}, 3600, 2, 3599},
		{"the busiest window wins", []Event{
			served(1, 0), served(2, 10),
			served(3, 10000), served(4, 10001), served(5, 10002), served(3, 10003),
			served(6, 20000),
		}, 3600, 3, 10002},
		{"out of time order", []Event{served(3, 300), served(1, 100), served(2, 200)}, 3600, 3, 300},
		{"a patient leaving and coming back", []Event{served(1, 0), served(2, 50), served(1, 100), served(3, 120)}, 100, 3, 120},
		// A window of zero (the zero SignalOptions) or less counts each
		// read alone; it must not panic.
		{"zero window", []Event{served(1, 100), served(2, 100), served(3, 101)}, 0, 1, 100},
		{"negative window", []Event{served(1, 100), served(2, 101)}, -5, 1, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, at := maxPatientsInWindow(tt.evs, tt.window)
			if n != tt.n || at != tt.at {
				t.Fatalf("maxPatientsInWindow = %d at %d, want %d at %d", n, at, tt.n, tt.at)
			}
		})
	}
}
