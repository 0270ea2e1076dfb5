package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
)

// Node is one medchain node run as a child process. Its methods may be
// called from any goroutine.
type Node struct {
	Name  string
	Home  string
	Ports nodePorts
	// Log is the file that receives the output of every run of the node.
	Log string

	bin  string
	args []string
	api  *client.Client

	mu   sync.Mutex
	proc *process // the current run, or nil before the first Start
	runs int

	// roundAtFailure is where the node's consensus stood when the test was
	// found failed (noteRoundState), printed with its log.
	roundAtFailure string
}

// noteRoundState records where the running node's consensus stands, once:
// a stalled network shows which step and which votes each node waits on.
func (n *Node) noteRoundState() {
	if n.roundAtFailure != "" || !n.Running() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.roundAtFailure = n.RoundState(ctx)
}

// process is one run of a node.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// newNode prepares a node that runs `medchain args...`; nothing starts until
// Start. The node is killed when the test ends, and its log tail printed if
// the test failed.
func newNode(tb testing.TB, name, home string, ports nodePorts, args []string) *Node {
	tb.Helper()
	if !procSupported {
		tb.Skip("testnet needs a Unix system")
	}
	n := &Node{
		Name: name, Home: home, Ports: ports,
		Log:  filepath.Join(tb.TempDir(), name+".log"),
		bin:  Binary(tb),
		args: args,
		api:  client.New(fmt.Sprintf("http://%s:%d", Host, ports.API)),
	}
	n.api.HTTP.Timeout = 30 * time.Second
	tb.Cleanup(func() {
		if tb.Failed() {
			n.noteRoundState()
		}
		n.Kill()
		if tb.Failed() {
			keepLog(tb, n)
			round := n.roundAtFailure
			if round != "" {
				round = "consensus: " + round + "\n"
			}
			tb.Logf("---- %s (%s) ----\n%slast lines:\n%s", n.Name, n.Log, round, n.LogTail(30))
		}
	})
	return n
}

// API is the base URL of the node's HTTP API.
func (n *Node) API() string { return n.api.Base }

// RPC is the base URL of the node's CometBFT RPC.
func (n *Node) RPC() string { return fmt.Sprintf("http://%s:%d", Host, n.Ports.RPC) }

// Client is a client of the node's API.
func (n *Node) Client() *client.Client { return n.api }

// Start runs the node. It returns once the process has started; see
// WaitReady.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && !n.proc.exited() {
		return fmt.Errorf("%s is already running", n.Name)
	}
	f, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close() // the child has its own copy
	n.runs++
	fmt.Fprintf(f, "==== %s run %d at %s: medchain %s\n", n.Name, n.runs, time.Now().Format(time.RFC3339Nano), strings.Join(n.args, " "))
	cmd := exec.Command(n.bin, n.args...)
	cmd.Stdout, cmd.Stderr = f, f
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.proc = p
	return nil
}

func (n *Node) current() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// Running reports whether the node's process is alive.
func (n *Node) Running() bool {
	p := n.current()
	return p != nil && !p.exited()
}

// Kill ends the node at once with SIGKILL to its process group, as a power
// cut would, and waits for it to exit. It does nothing if the node is not
// running.
func (n *Node) Kill() {
	p := n.current()
	if p == nil || p.exited() {
		return
	}
	_ = killGroup(p.cmd.Process.Pid)
	<-p.done
}

// Stop asks the node to shut down cleanly (SIGTERM) and waits for it. It is
// an error if the node does not exit within the timeout (it is then killed)
// or exits with a failure.
func (n *Node) Stop(timeout time.Duration) error {
	p := n.current()
	if p == nil || p.exited() {
		return fmt.Errorf("%s is not running", n.Name)
	}
	if err := terminate(p.cmd.Process.Pid); err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		n.Kill()
		return fmt.Errorf("%s did not stop within %v", n.Name, timeout)
	}
	if p.err != nil {
		return fmt.Errorf("%s stopped with %v", n.Name, p.err)
	}
	return nil
}

// errPortTaken means the node could not bind one of its ports.
var errPortTaken = errors.New("port taken")

// WaitReady waits until the node's API answers. It fails early when the
// process exits; errors.Is(err, errPortTaken) when that was because a port
// was in use.
func (n *Node) WaitReady(ctx context.Context) error {
	p := n.current()
	if p == nil {
		return fmt.Errorf("%s was never started", n.Name)
	}
	for {
		if _, err := n.api.Status(ctx); err == nil {
			return nil
		}
		select {
		case <-p.done:
			err := fmt.Errorf("%s exited while starting (%v); log tail:\n%s", n.Name, p.err, n.LogTail(20))
			if strings.Contains(n.LogTail(50), "address already in use") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", n.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LogTail returns the last lines of the node's log.
func (n *Node) LogTail(lines int) string {
	b, err := os.ReadFile(n.Log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			lines--
			if lines == 0 {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

// Status is the node's GET /v1/status.
func (n *Node) Status(ctx context.Context) (*api.Status, error) { return n.api.Status(ctx) }

// Height is the node's latest block height.
func (n *Node) Height(ctx context.Context) (int64, error) {
	st, err := n.api.Status(ctx)
	if err != nil {
		return 0, err
	}
	return st.Height, nil
}

// Block is the node's GET /v1/blocks/{h}.
func (n *Node) Block(ctx context.Context, h int64) (*api.Block, error) {
	var b api.Block
	return &b, n.api.Get(ctx, "/v1/blocks/"+strconv.FormatInt(h, 10), &b)
}

// keepLog copies the node's log into $MEDCHAIN_TESTNET_LOGS/<test>/, when
// that is set, so that a failure's whole logs outlive the test's temporary
// directory.
func keepLog(tb testing.TB, n *Node) {
	dir := os.Getenv("MEDCHAIN_TESTNET_LOGS")
	if dir == "" {
		return
	}
	dir = filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name()))
	b, err := os.ReadFile(n.Log)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, n.Name+".log"), b, 0o644)
	}
	if err != nil {
		tb.Logf("keeping %s's log: %v", n.Name, err)
	}
}
