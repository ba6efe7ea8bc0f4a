package integration

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// child is a helper instance running in a child process: this test
// binary running one TestHelper... function.
type child struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

// startChild runs the test function helper (a TestHelper... that does
// nothing unless its environment says so) in a child process, with the
// brokers of this run and env (NAME=value entries) in its environment, its
// output collected in out. The test's cleanup kills it (continuing it
// first, should the test have stopped it) and, if the test failed, logs
// its output.
func startChild(t testing.TB, helper string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), brokersEnv+"="+strings.Join(brokers, ",")), env...)
	c := &child{cmd: cmd, out: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the helper instance %s: %v", helper, err)
	}
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		<-c.exited
		if t.Failed() {
			t.Logf("helper output:\n%s", c.out)
		}
	})
	return c
}

// alive reports whether the child has not exited.
func (c *child) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL: no commit, no checkpoint, no leaving the group.
func (c *child) kill(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the helper: %v", err)
	}
	<-c.exited
}

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
