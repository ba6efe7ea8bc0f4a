package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrStoreFormat is the cause of the error of a persistent store whose local
// data is in another layout than the topology needs (a plain key-value
// store where a timestamped one is needed, or the reverse) and that has no
// changelog to be rebuilt from (use errors.Is).
var ErrStoreFormat = errors.New("kstreams: local state store in another format")

// formatFile names the file, in a persistent store's directory, that says
// how the store lays out its values. A store directory without one was
// written before kstreams had timestamped stores: its values are plain.
const formatFile = "KSTREAMS-FORMAT"

// The layouts a persistent store may have.
const (
	formatPlain       = "key-value"
	formatTimestamped = "timestamped-key-value"
	formatVersioned   = "versioned-key-value"
)

// format returns the layout the store's spec needs.
func (ts *taskStore) format() string {
	if ts.spec.Timestamped {
		return formatTimestamped
	}
	if ts.spec.Versioned {
		return formatVersioned
	}
	return formatPlain
}

// checkFormat reports whether the local data of a persistent store, if any,
// has the layout its spec needs. A logged store in another layout is to be
// wiped and restored from its changelog (whose records are the same in
// both layouts); an unlogged one cannot be, and is refused with
// ErrStoreFormat rather than read wrongly.
func (ts *taskStore) checkFormat() (bool, error) {
	entries, err := os.ReadDir(ts.dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("store %q: %w", ts.spec.Name, err)
	}
	have := formatPlain
	b, err := os.ReadFile(filepath.Join(ts.dir, formatFile))
	switch {
	case err == nil:
		have = strings.TrimSpace(string(b))
	case !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("store %q: reading its format: %w", ts.spec.Name, err)
	}
	if have == ts.format() {
		return true, nil
	}
	if !ts.spec.Logged {
		return false, fmt.Errorf("%w: store %q in %s holds %s values, the topology needs %s values, and without a changelog it cannot be rebuilt; delete the directory to start the store empty",
			ErrStoreFormat, ts.spec.Name, ts.dir, have, ts.format())
	}
	return false, nil
}

// writeFormat records the store's layout in its directory, once.
func (ts *taskStore) writeFormat() error {
	if ts.dir == "" {
		return nil
	}
	path := filepath.Join(ts.dir, formatFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.WriteFile(path, []byte(ts.format()+"\n"), 0o644); err != nil {
		return fmt.Errorf("store %q: recording its format: %w", ts.spec.Name, err)
	}
	return nil
}
