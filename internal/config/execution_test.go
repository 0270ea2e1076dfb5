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
		{Execution{Mode: ExecSerial, ConsensusNice: -20}, false},
		{Execution{Mode: ExecSerial, ConsensusNice: 0}, false},
		{Execution{Mode: ExecSerial, ConsensusNice: -21}, true},
		{Execution{Mode: ExecSerial, ConsensusNice: 5}, true},
	} {
		if err := tc.e.validate(); (err != nil) != tc.fail {
			t.Errorf("%+v: %v", tc.e, err)
		}
	}
	if d := Default(); d.Execution.Mode != DefaultExecMode || d.Execution.ConsensusNice != DefaultConsensusNice || d.Validate() != nil {
		t.Fatalf("default execution %+v: %v", d.Execution, d.Validate())
	}
}
