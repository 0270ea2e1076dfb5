package cond

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
)

// TestTimeZoneFuncsMatchCEL: the cached time-zone accessors give exactly
// what cel-go's own give — value or error text, and runtime cost — for every
// accessor, IANA names, fixed offsets and bad zones, across a year of times
// (daylight-saving changes included), and the second lookup of a zone the
// same as the first.
func TestTimeZoneFuncsMatchCEL(t *testing.T) {
	stock, err := cel.NewEnv(cel.Variable("t", cel.TimestampType))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := cel.NewEnv(append(timeZoneFuncs(), cel.Variable("t", cel.TimestampType))...)
	if err != nil {
		t.Fatal(err)
	}
	prog := func(e *cel.Env, expr string) cel.Program {
		ast, iss := e.Compile(expr)
		if iss != nil && iss.Err() != nil {
			t.Fatalf("%s: %v", expr, iss.Err())
		}
		p, err := e.Program(ast, cel.CostLimit(EvalCostLimit))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fns := []string{"getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds"}
	zonesUnder := []string{"Europe/Paris", "America/Los_Angeles", "Asia/Kolkata", "UTC", "+01:00", "-08:30", "+00:00", "Not/AZone", "+24:00", "+05:75", "x:y"}
	start := time.Date(2026, 1, 1, 0, 30, 15, 123456789, time.UTC)
	for _, fn := range fns {
		for _, z := range zonesUnder {
			expr := fmt.Sprintf("t.%s(%q)", fn, z)
			a, b := prog(stock, expr), prog(ours, expr)
			for i := 0; i < 400; i++ { // every 23 hours for a year and more (cold, then cached)
				at := start.Add(time.Duration(i) * 23 * time.Hour)
				va, da, ea := a.Eval(map[string]any{"t": at})
				vb, db, eb := b.Eval(map[string]any{"t": at})
				if fmt.Sprint(ea) != fmt.Sprint(eb) || fmt.Sprintf("%v %T", va, va) != fmt.Sprintf("%v %T", vb, vb) {
					t.Fatalf("%s at %s: CEL %v %v, ours %v %v", expr, at, va, ea, vb, eb)
				}
				if *da.ActualCost() != *db.ActualCost() {
					t.Fatalf("%s: cost %d, CEL %d", expr, *db.ActualCost(), *da.ActualCost())
				}
			}
		}
	}
}
