package trials

import (
	"fmt"
	"slices"
	"strings"

	"github.com/medchain/medchain/codec"
)

// Switching compares reported outcomes with pre-registered ones (the
// COMPare project's categories): an outcome is identified by its measure;
// Dropped were pre-registered and not reported, Added reported and not
// pre-registered, Changed both but with a different time frame or type.
// Each list is sorted by measure.
type Switching struct {
	Added   []Outcome
	Dropped []Outcome
	Changed []Change
}

// Change is one outcome reported differently from its pre-registration.
type Change struct {
	Registered Outcome
	Reported   Outcome
}

// None reports whether the reported outcomes match the registered ones.
func (s Switching) None() bool { return len(s.Added)+len(s.Dropped)+len(s.Changed) == 0 }

// Compare computes the outcome switching between the registered and the
// reported outcomes. It is deterministic: its lists are sorted by measure.
func Compare(registered, reported []Outcome) Switching {
	byMeasure := func(os []Outcome) []Outcome {
		s := slices.Clone(os)
		slices.SortFunc(s, func(a, b Outcome) int { return strings.Compare(a.Measure, b.Measure) })
		return s
	}
	reg, rep := byMeasure(registered), byMeasure(reported)
	var s Switching
	i, j := 0, 0
	for i < len(reg) || j < len(rep) {
		switch {
		case j == len(rep) || i < len(reg) && reg[i].Measure < rep[j].Measure:
			s.Dropped = append(s.Dropped, reg[i])
			i++
		case i == len(reg) || rep[j].Measure < reg[i].Measure:
			s.Added = append(s.Added, rep[j])
			j++
		default:
			if reg[i] != rep[j] {
				s.Changed = append(s.Changed, Change{Registered: reg[i], Reported: rep[j]})
			}
			i++
			j++
		}
	}
	return s
}

func (s Switching) encode(w *codec.Writer) {
	writeOutcomes(w, s.Added)
	writeOutcomes(w, s.Dropped)
	w.Uint(uint64(len(s.Changed)))
	for _, c := range s.Changed {
		c.Registered.Encode(w)
		c.Reported.Encode(w)
	}
}

func readSwitching(r *codec.Reader) Switching {
	s := Switching{Added: readOutcomes(r), Dropped: readOutcomes(r)}
	n := r.Count("changed", MaxOutcomes)
	for range n {
		a := readOutcomes1(r)
		b := readOutcomes1(r)
		s.Changed = append(s.Changed, Change{Registered: a, Reported: b})
	}
	return s
}

func readOutcomes1(r *codec.Reader) Outcome {
	t := r.Uint("outcome.type")
	if t > 255 {
		r.Fixed(fmt.Sprintf("outcome type %d (wider than 8 bits)", t), -1) // forces an error
		return Outcome{}
	}
	return Outcome{Type: uint8(t), Measure: r.String("outcome.measure", MaxMeasureLen), TimeFrame: r.String("outcome.time_frame", MaxTimeFrameLen)}
}
