package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// LockFileName is the name of the file, inside a state directory, that
// [LockDir] locks and writes the holder's process id to.
const LockFileName = ".lock"

// errWouldBlock is what lockFile returns when another holder has the lock.
var errWouldBlock = errors.New("lock held")

// DirLock is an exclusive lock on a state directory, taken by [LockDir].
// It is safe for concurrent use.
type DirLock struct {
	dir string

	mu struct {
		sync.Mutex
		f *os.File // the locked file; nil once unlocked
	}
}

// LockDir creates dir if needed and takes an exclusive lock on it, as Kafka
// Streams' StateDirectory does, so that two instances never share a state
// directory. It never waits: if another process, or another DirLock of this
// process, holds the lock, it returns an error wrapping [ErrDirLocked] that
// names dir and, when the holder recorded it, the holder's process id.
//
// The lock is an OS file lock (flock) on the file [LockFileName] in dir,
// so the OS releases it when the holding process dies. The file is left in
// place on Unlock, as removing it would let two processes lock two
// different files.
func LockDir(dir string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: lock %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state: lock %s: %w", dir, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, lockedError(dir, path)
		}
		return nil, fmt.Errorf("state: lock %s: %w", dir, err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("state: lock %s: %w", dir, err)
	}
	l := &DirLock{dir: dir}
	l.mu.f = f
	return l, nil
}

// writePID replaces the content of f with this process's id.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// lockedError returns the ErrDirLocked error for dir, naming the process
// whose id the lock file at path holds, if any.
func lockedError(dir, path string) error {
	data, _ := os.ReadFile(path)
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data)))
	switch {
	case err != nil || pid <= 0:
		return fmt.Errorf("%w: %s is held by another process or lock", ErrDirLocked, dir)
	case pid == os.Getpid():
		return fmt.Errorf("%w: %s is held by another lock in this process (pid %d)", ErrDirLocked, dir, pid)
	}
	return fmt.Errorf("%w: %s is held by process %d", ErrDirLocked, dir, pid)
}

// Dir returns the locked directory.
func (l *DirLock) Dir() string { return l.dir }

// Unlock releases the lock. Unlocking again does nothing and returns nil.
func (l *DirLock) Unlock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.f == nil {
		return nil
	}
	f := l.mu.f
	l.mu.f = nil
	truncErr := f.Truncate(0)
	if err := errors.Join(truncErr, f.Close()); err != nil {
		return fmt.Errorf("state: unlock %s: %w", l.dir, err)
	}
	return nil
}
