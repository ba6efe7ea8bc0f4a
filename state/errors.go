package state

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by every operation on a store, or on one of its
// iterators, after the store was closed; a second Close returns it too. Use
// errors.Is.
var ErrClosed = errors.New("state: closed")

// ErrNullKey is returned when a key is nil: as in Kafka Streams, a store
// holds no null key. An empty, non-nil key is a valid key. Use errors.Is.
var ErrNullKey = errors.New("state: null key")

// ErrInvalidOptions is returned, with every problem found, by
// [PebbleOptions.Validate] and so by [OpenPebbleStore]. Use errors.Is.
var ErrInvalidOptions = errors.New("state: invalid options")

// ErrDirLocked is returned by [LockDir] when another process, or another
// lock in this process, holds the directory. Use errors.Is.
var ErrDirLocked = errors.New("state: directory locked")

// ErrCheckpointCorrupt is returned by [ReadCheckpoint] for a checkpoint file
// that is damaged or written by an unknown version of the format. Use
// errors.Is.
var ErrCheckpointCorrupt = errors.New("state: checkpoint corrupt")

// ErrInvalidWindow is returned by window and session stores for a window
// they cannot hold: a negative start, a session ending before it starts,
// or a changelog key too short to hold its window. Use errors.Is.
var ErrInvalidWindow = errors.New("state: invalid window")

// StoreError is the error returned by a typed [KeyValueStore] and its
// iterators. It names the store and the operation and, when the failure
// concerns an entry, that entry's serialized key. Err is the cause: a serde
// error, or an error of the [BytesStore] below such as [ErrClosed]; errors.Is
// and errors.As see through it.
type StoreError struct {
	Store string // name of the store
	Op    string // operation: "get", "put", "put-if-absent", "delete", "range", ...
	Key   []byte // serialized key of the entry concerned, or nil
	Err   error  // cause
}

// Error implements error.
func (e *StoreError) Error() string {
	if e.Key == nil {
		return fmt.Sprintf("state: store %q: %s: %v", e.Store, e.Op, e.Err)
	}
	return fmt.Sprintf("state: store %q: %s: key %q: %v", e.Store, e.Op, e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *StoreError) Unwrap() error { return e.Err }
