package cond

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCompileRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		max        uint64
		want       error
	}{
		{"syntax", `resource_type ==`, 10000, ErrSyntax},
		{"undeclared variable", `diagnosis == "x"`, 10000, ErrType},
		{"not a bool", `resource_type`, 10000, ErrType},
		{"wrong operand type", `role == 3`, 10000, ErrType},
		{"float literal", `1.5 < 2.0`, 10000, ErrFloat},
		{"float conversion", `double(size(codes)) > 0.0`, 10000, ErrFloat},
		{"map comprehension", `{"a": 1, "b": 2}.all(k, k != "")`, 10000, ErrMapIter},
		{"too long", strings.Repeat("true && ", 300) + "true", 10000, ErrTooLong},
		{"over cost", `codes.all(c, codes.all(d, c + d != ""))`, 1000, ErrCost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(KindAccess, tc.expr, tc.max)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Compile(%q) = %v, want %v", tc.expr, err, tc.want)
			}
		})
	}
}

func TestEventVariablesAreNotAccessVariables(t *testing.T) {
	if _, err := Compile(KindEvent, `resource_type == "Observation"`, 10000); !errors.Is(err, ErrType) {
		t.Fatalf("got %v, want ErrType", err)
	}
	p, err := Compile(KindEvent, `event == "record_added" && attrs["type"] == "Observation"`, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if o := p.EvalEvent(&Event{Name: "record_added", Attrs: map[string]string{"type": "Observation"}}); !o.Allowed {
		t.Fatalf("got %+v", o)
	}
	if o := p.EvalEvent(&Event{Name: "record_added"}); o.Allowed || o.Err == nil {
		t.Fatalf("missing attribute: got %+v, want an error outcome", o)
	}
}

// at returns a unix time in UTC.
func at(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

func TestExamples(t *testing.T) {
	admitted := `"org-x" in encounter_orgs`
	loinc := `resource_type == "Observation" && codes.all(c, c in ["http://loinc.org|8867-4", "http://loinc.org|8480-6"]) && size(codes) > 0`
	before18 := `block_time.getHours("Europe/Paris") < 18`
	for _, tc := range []struct {
		name, expr string
		in         Access
		want       bool
	}{
		{"admitted at org-x", admitted, Access{EncounterOrgs: []string{"org-a", "org-x"}}, true},
		{"not admitted", admitted, Access{EncounterOrgs: []string{"org-a"}}, false},
		{"no encounter", admitted, Access{}, false},
		{"loinc in set", loinc, Access{ResourceType: "Observation", Codes: []string{"http://loinc.org|8867-4"}}, true},
		{"loinc outside set", loinc, Access{ResourceType: "Observation", Codes: []string{"http://loinc.org|8867-4", "http://loinc.org|2345-7"}}, false},
		{"codes unknown", loinc, Access{ResourceType: "Observation"}, false},
		{"not an observation", loinc, Access{ResourceType: "Condition", Codes: []string{"http://loinc.org|8867-4"}}, false},
		{"17:59 Paris (winter, UTC+1)", before18, Access{BlockTime: at("2026-01-15T16:59:00Z")}, true},
		{"18:00 Paris (winter)", before18, Access{BlockTime: at("2026-01-15T17:00:00Z")}, false},
		{"17:30 Paris (summer, UTC+2)", before18, Access{BlockTime: at("2026-07-15T15:30:00Z")}, true},
		{"18:30 Paris (summer)", before18, Access{BlockTime: at("2026-07-15T16:30:00Z")}, false},
		{"fixed offset", `block_time.getHours("+05:30") >= 9`, Access{BlockTime: at("2026-07-15T04:00:00Z")}, true},
		{"emergency only", `emergency_active && accessor_org_type == "hospital"`, Access{EmergencyActive: true, AccessorOrgType: "hospital"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(KindAccess, tc.expr, 10000)
			if err != nil {
				t.Fatal(err)
			}
			o := p.EvalAccess(&tc.in)
			if o.Allowed != tc.want {
				t.Fatalf("got %+v, want allowed=%v", o, tc.want)
			}
			if !o.Allowed && !errors.Is(o.Err, ErrFalse) {
				t.Fatalf("refusal %v, want ErrFalse", o.Err)
			}
		})
	}
}

func TestRuntimeCostLimit(t *testing.T) {
	// A condition estimated within the bound (lists are assumed to hold at
	// most MaxListLen items) meets a much longer list at run time.
	p, err := Compile(KindAccess, `codes.all(c, codes.all(d, c != d + "x"))`, MaxRegisteredCost*100)
	if err != nil {
		t.Fatal(err)
	}
	long := make([]string, 2000)
	for i := range long {
		long[i] = strings.Repeat("a", i%7)
	}
	o := p.EvalAccess(&Access{Codes: long})
	if o.Allowed || !errors.Is(o.Err, ErrEval) || !strings.Contains(o.Err.Error(), "cost") {
		t.Fatalf("got %+v, want a cost-limit failure", o)
	}
}

func TestEvalIsRepeatable(t *testing.T) {
	p, err := Compile(KindAccess, `codes.exists(c, c.startsWith("http://loinc.org|")) && role == "practitioner"`, 10000)
	if err != nil {
		t.Fatal(err)
	}
	in := &Access{Role: "practitioner", Codes: []string{"x", "http://loinc.org|1"}}
	first := p.EvalAccess(in)
	for i := 0; i < 100; i++ {
		if o := p.EvalAccess(in); o != first {
			t.Fatalf("evaluation %d = %+v, first %+v", i, o, first)
		}
	}
	if !first.Allowed || first.Cost == 0 {
		t.Fatalf("got %+v", first)
	}
}

func BenchmarkEvalAccess(b *testing.B) {
	for _, tc := range []struct{ name, zone string }{{"offset", `"+01:00"`}, {"iana", `"Europe/Paris"`}} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := Compile(KindAccess, `resource_type == "Observation" && "org-x" in encounter_orgs && block_time.getHours(`+tc.zone+`) < 18`, 10000)
			if err != nil {
				b.Fatal(err)
			}
			in := &Access{ResourceType: "Observation", EncounterOrgs: []string{"org-x"}, BlockTime: at("2026-01-15T10:00:00Z")}
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if !p.EvalAccess(in).Allowed {
					b.Fatal("refused")
				}
			}
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "evals/cpu-s")
			}
		})
	}
}
