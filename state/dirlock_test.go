package state

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// lockHelperEnv names the directory the helper process locks.
const lockHelperEnv = "KSTREAMS_STATE_LOCK_HELPER_DIR"

func skipWithoutFlock(t *testing.T) {
	t.Helper()
	switch runtime.GOOS {
	case "darwin", "dragonfly", "freebsd", "linux", "netbsd", "openbsd":
	default:
		t.Skipf("no flock on %s", runtime.GOOS)
	}
}

func mustLock(t *testing.T, dir string) *DirLock {
	t.Helper()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// wantLocked checks that LockDir(dir) fails with ErrDirLocked and a message
// that holds dir and holder.
func wantLocked(t *testing.T, dir, holder string) {
	t.Helper()
	l, err := LockDir(dir)
	if !errors.Is(err, ErrDirLocked) {
		if l != nil {
			l.Unlock()
		}
		t.Fatalf("LockDir of a locked dir: err = %v, want ErrDirLocked", err)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, holder) {
		t.Fatalf("error %q does not name %s and %q", msg, dir, holder)
	}
}

func TestLockDirInProcess(t *testing.T) {
	skipWithoutFlock(t)
	dir := filepath.Join(t.TempDir(), "app", "0_1")
	l := mustLock(t, dir)
	if l.Dir() != dir {
		t.Errorf("Dir = %q, want %q", l.Dir(), dir)
	}
	wantLocked(t, dir, fmt.Sprintf("this process (pid %d)", os.Getpid()))
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatalf("second Unlock: %v", err)
	}
	if err := mustLock(t, dir).Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFileName)); err != nil {
		t.Fatalf("lock file: %v", err)
	}
}

func TestLockDirNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LockDir(file); err == nil || errors.Is(err, ErrDirLocked) {
		t.Fatalf("LockDir(file) = %v, want a plain error", err)
	}
}

func TestLockDirAcrossProcesses(t *testing.T) {
	skipWithoutFlock(t)
	for _, release := range []string{"unlock", "kill"} {
		t.Run(release, func(t *testing.T) {
			dir := t.TempDir()
			cmd, stdin := startLockHolder(t, dir)
			wantLocked(t, dir, fmt.Sprintf("process %d", cmd.Process.Pid))
			if release == "kill" {
				cmd.Process.Kill()
			}
			stdin.Close()
			cmd.Wait()
			if err := mustLock(t, dir).Unlock(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// startLockHolder re-executes the test binary as a helper that locks dir,
// and returns once it holds the lock. Closing stdin makes it unlock and
// exit.
func startLockHolder(t *testing.T, dir string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDirLockHelperProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("helper said %q, %v; want locked", line, err)
	}
	return cmd, stdin
}

// TestDirLockHelperProcess is the helper of startLockHolder, not a test.
func TestDirLockHelperProcess(t *testing.T) {
	dir := os.Getenv(lockHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestLockDirAcrossProcesses")
	}
	l, err := LockDir(dir)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	if err := l.Unlock(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
