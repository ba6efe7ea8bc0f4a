// Package state holds the state stores of kstreams: key-value stores kept
// by stream tasks, as Kafka Streams' KeyValueStore, KeyValueBytesStoreSupplier
// and its RocksDB and in-memory stores.
//
// # Layers
//
// A store is built in layers, typed at the top and bytes below, as in Kafka
// Streams (Metered, Caching, ChangeLogging, then RocksDB or InMemory):
//
//	bytes := state.NewMemoryStore("counts")
//	counts := state.NewKeyValueStore(bytes, serde.String(), serde.Int64())
//	err := counts.Put("alice", 3)
//
// [KeyValueStore] and [ReadOnlyKeyValueStore] are the typed API, made by
// [NewKeyValueStore] over a [BytesStore]. Layers such as caching and
// changelogging wrap a BytesStore and are BytesStores themselves, so the
// interface is kept small.
//
// # Backends
//
// [NewMemoryStore] keeps entries in a B-tree; [OpenPebbleStore] keeps them
// on disk in a pebble database, configured by [PebbleOptions]. Both order
// keys bytewise and follow Kafka Streams' rules: a nil value is a tombstone,
// range bounds are inclusive, a nil bound is unbounded. The Pebble store is
// also a [BatchWriter], which restoration uses to write a fetch of changelog
// records at once.
//
// # Window and session stores
//
// [WindowBytesStore] keeps values by key and window start, and
// [SessionBytesStore] by key and session window, as Kafka Streams' window
// and session stores, with Kafka Streams' key layouts ([WindowStoreKey],
// [SessionStoreKey]). Both cut time into segments, each a store of its
// own, and drop a segment whole once it falls out of retention:
//
//	bytes, err := state.NewMemoryWindowStore("counts", state.WindowStoreOptions{
//		Retention:  time.Hour,
//		WindowSize: 5 * time.Minute,
//	})
//	counts := state.NewWindowStore(bytes, serde.String(), serde.Int64())
//	err = counts.Put("alice", 3, windowStart)
//
// [OpenPebbleWindowStore] and [OpenPebbleSessionStore] keep each segment
// in a pebble database of its own. [WindowStore], [SessionStore] and their
// read-only interfaces are the typed API.
//
// # Iterators
//
// Range, ReverseRange, PrefixScan and All return an [Iterator] (a
// [KeyValueIterator] for typed stores) that reads a snapshot taken when it
// is created, so the iterating goroutine may write to the store while it
// iterates. Iterators must be closed; closing a store closes them.
//
// # Concurrency
//
// Stores are safe for concurrent use: a stream thread writes while
// interactive queries read. Iterators are not; each belongs to the
// goroutine that opened it.
//
// # State directories and checkpoints
//
// [LockDir] takes an exclusive lock on a state directory so that two
// instances never share one. [WriteCheckpoint] and [ReadCheckpoint] keep the
// changelog offsets up to which persistent stores are flushed, so that
// restoration resumes from there instead of from the start of the
// changelog.
//
// # Errors
//
// Sentinel errors ([ErrClosed], [ErrNullKey], [ErrInvalidOptions],
// [ErrDirLocked], [ErrCheckpointCorrupt]) are prefixed "state:" and are
// tested with errors.Is. Typed stores return [*StoreError], naming the
// store, the operation and the key concerned.
package state
