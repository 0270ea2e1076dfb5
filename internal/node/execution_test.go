package node

import (
	"runtime"
	"testing"

	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/sm/exec"
)

func TestExecutionSetting(t *testing.T) {
	for _, tc := range []struct {
		in   config.Execution
		want exec.Execution
	}{
		{config.Execution{Mode: config.ExecSerial, Workers: 4}, exec.Serial},
		{config.Execution{Mode: config.ExecParallel, Workers: 3}, exec.Execution{Workers: 3}},
		{config.Execution{Mode: config.ExecParallel}, exec.Execution{Workers: runtime.GOMAXPROCS(0)}},
		{config.Default().Execution, exec.Serial},
	} {
		if got := execution(tc.in); got != tc.want {
			t.Errorf("%+v: %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
