package config

import "testing"

func TestExecutionValidate(t *testing.T) {
	for _, tc := range []struct {
		e    Execution
		fail bool
	}{
		{Execution{Mode: ExecSerial}, false},
		{Execution{Mode: ExecParallel}, false},
		{Execution{Mode: ExecParallel, Workers: 8}, false},
		{Execution{Mode: ""}, true},
		{Execution{Mode: "fast"}, true},
		{Execution{Mode: ExecParallel, Workers: -1}, true},
		{Execution{Mode: ExecParallel, Workers: 257}, true},
	} {
		if err := tc.e.validate(); (err != nil) != tc.fail {
			t.Errorf("%+v: %v", tc.e, err)
		}
	}
	if d := Default(); d.Execution.Mode != DefaultExecMode || d.Validate() != nil {
		t.Fatalf("default execution %+v: %v", d.Execution, d.Validate())
	}
}
