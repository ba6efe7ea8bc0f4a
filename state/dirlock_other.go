//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package state

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// lockFile reports that this platform has no flock.
func lockFile(*os.File) error {
	return fmt.Errorf("directory locking on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
