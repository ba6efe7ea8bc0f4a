package state

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// PebbleOptions configures a store opened with [OpenPebbleStore]. The zero
// value, or nil, takes every default. A process holds one store per task and
// state store, often hundreds, so the defaults bound what an idle store
// costs: memtables grow with the writes, and an application shares one block
// cache among its stores (Kafka Streams' RocksDB stores have a private 50 MiB
// block cache each, which most deployments replace with a shared one through
// a RocksDBConfigSetter).
type PebbleOptions struct {
	// MemTableSize is the largest size in bytes of one memtable, the
	// in-memory buffer of writes not yet flushed to an sstable. Default:
	// 8 MiB (RocksDB's write_buffer_size is 16 MiB in Kafka Streams; on the
	// get-and-put benchmark 8 MiB is as fast and takes a quarter less
	// memory, 4 MiB is a quarter slower, see bench/README.md). Allowed: 64
	// KiB to 1 GiB. Pebble starts a store with a 256 KiB memtable and
	// doubles it at each flush up to this size, so a store that is written
	// little costs little.
	MemTableSize uint64

	// MemTableStopWritesThreshold is how many memtables may be queued for
	// flushing before writes stall. Default: 4. Allowed: at least 2. This
	// corresponds to RocksDB's max_write_buffer_number (3 in Kafka Streams).
	MemTableStopWritesThreshold int

	// Cache is a block cache to share between stores, made with
	// pebble.NewCache; a store adds its own reference to it. Default: nil,
	// meaning a private cache of CacheSize bytes. Kafka Streams users share
	// one cache the same way through a RocksDBConfigSetter.
	Cache *pebble.Cache

	// CacheSize is the size in bytes of the private block cache, unused when
	// Cache is set. Default: 32 MiB. Allowed: at least 0 after defaults. A
	// kstreams application shares one block cache of this size among all
	// its stores unless Cache is set (see kstreams.StoreOptions).
	CacheSize int64

	// MaxOpenFiles bounds the sstable files the store keeps open. Default:
	// 64. Allowed: at least 16. This corresponds to RocksDB's
	// max_open_files (-1, unbounded, in Kafka Streams).
	MaxOpenFiles int

	// WAL turns on pebble's write-ahead log. Default: false. Without it,
	// writes reach the disk only through Flush (or a memtable filling up),
	// and a crash loses what was written since: that is the intended setup,
	// since the changelog topic is the source of truth and restoration
	// replays it from the last checkpoint. Either way a write is durable
	// once Flush returns.
	WAL bool

	// Logger receives pebble's log messages. Default: a logger that drops
	// informational messages, which pebble writes on every open, and sends
	// errors to pebble.DefaultLogger (the standard log package).
	Logger pebble.Logger
}

// EnsureDefaults sets every unset field to its default and returns o. A nil
// o gets a new PebbleOptions.
func (o *PebbleOptions) EnsureDefaults() *PebbleOptions {
	if o == nil {
		o = &PebbleOptions{}
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 8 << 20
	}
	if o.MemTableStopWritesThreshold == 0 {
		o.MemTableStopWritesThreshold = 4
	}
	if o.CacheSize == 0 {
		o.CacheSize = 32 << 20
	}
	if o.MaxOpenFiles == 0 {
		o.MaxOpenFiles = 64
	}
	if o.Logger == nil {
		o.Logger = errorLogger{}
	}
	return o
}

// Validate reports every field out of its allowed range in one error
// wrapping [ErrInvalidOptions]. Call it after EnsureDefaults: zero fields
// are invalid.
func (o *PebbleOptions) Validate() error {
	var problems []string
	if o.MemTableSize < 64<<10 || o.MemTableSize > 1<<30 {
		problems = append(problems, fmt.Sprintf("MemTableSize %d not in [64 KiB, 1 GiB]", o.MemTableSize))
	}
	if o.MemTableStopWritesThreshold < 2 {
		problems = append(problems, fmt.Sprintf("MemTableStopWritesThreshold %d below 2", o.MemTableStopWritesThreshold))
	}
	if o.CacheSize < 0 {
		problems = append(problems, fmt.Sprintf("CacheSize %d negative", o.CacheSize))
	}
	if o.MaxOpenFiles < 16 {
		problems = append(problems, fmt.Sprintf("MaxOpenFiles %d below 16", o.MaxOpenFiles))
	}
	if problems == nil {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(problems, "; "))
}

// OpenPebbleStore opens, creating it if needed, a persistent [BytesStore]
// in directory dir, backed by a pebble database (an LSM tree like the
// RocksDB of Kafka Streams' persistent stores). A nil opts takes every
// default; see [PebbleOptions], and its WAL field for durability: with the
// default, only Flush makes writes durable.
//
// Pebble locks dir, so a second store opened on the same directory fails
// while the first is open. Iterators read a consistent point-in-time view
// and copy each entry, so their slices survive Next.
//
// ApproximateNumEntries is estimated the way RocksDB's
// rocksdb.estimate-num-keys is (Kafka Streams' RocksDB store reports that
// property): entries minus twice the deletions of the sstables, plus the
// writes not yet flushed. Until compaction merges them, an overwrite counts
// twice and a key both written and deleted between two flushes counts as
// minus one; writes made during a background flush can be missed. The
// estimate is never negative.
func OpenPebbleStore(name, dir string, opts *PebbleOptions) (BytesStore, error) {
	var o PebbleOptions
	if opts != nil {
		o = *opts
	}
	if err := o.EnsureDefaults().Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: store %q: %w", name, err)
	}
	s := &pebbleStore{name: name}
	s.mu.iters = make(map[*pebbleIterator]struct{})
	db, err := pebble.Open(dir, s.pebbleOptions(&o))
	if err != nil {
		return nil, fmt.Errorf("state: store %q: open %s: %w", name, dir, err)
	}
	s.mu.db = db
	return s, nil
}

// pebbleOptions translates o into pebble's options.
func (s *pebbleStore) pebbleOptions(o *PebbleOptions) *pebble.Options {
	po := &pebble.Options{
		MemTableSize:                o.MemTableSize,
		MemTableStopWritesThreshold: o.MemTableStopWritesThreshold,
		MaxOpenFiles:                o.MaxOpenFiles,
		DisableWAL:                  !o.WAL,
		Cache:                       o.Cache,
		Logger:                      o.Logger,
		EventListener: &pebble.EventListener{
			FlushEnd: func(info pebble.FlushInfo) {
				if info.Err == nil {
					s.unflushed.Store(0)
				}
			},
		},
	}
	if o.Cache == nil {
		po.CacheSize = o.CacheSize
	}
	// Bloom filters (10 bits per key, as Kafka Streams' RocksDB stores):
	// a Get skips the sstables that do not hold its key instead of reading
	// their index and data blocks, which matters because flushes and
	// compactions keep writing new sstables whose blocks are not cached.
	// Lower levels inherit L0's policy.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	return po
}

// errorLogger is the default PebbleOptions.Logger.
type errorLogger struct{}

func (errorLogger) Infof(string, ...any) {}

func (errorLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}

func (errorLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

type pebbleStore struct {
	name string

	// unflushed counts entries added minus entries deleted since the last
	// flush, for ApproximateNumEntries.
	unflushed atomic.Int64

	// writeMu serializes writes, so that the read-modify-write of
	// PutIfAbsent and Delete is atomic. Lock order: mu, then writeMu.
	writeMu sync.Mutex

	// mu is held for reading by every operation, and by iterators while
	// they move, and for writing by Close.
	mu struct {
		sync.RWMutex
		db      *pebble.DB // nil once closed
		itersMu sync.Mutex // guards iters under mu held for reading
		iters   map[*pebbleIterator]struct{}
	}
}

func (s *pebbleStore) Name() string { return s.name }

// withKey checks key and runs withDB(fn).
func (s *pebbleStore) withKey(key []byte, fn func(db *pebble.DB) error) error {
	if key == nil {
		return ErrNullKey
	}
	return s.withDB(fn)
}

// withDB runs fn with the store open and s.mu held for reading.
func (s *pebbleStore) withDB(fn func(db *pebble.DB) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.db == nil {
		return ErrClosed
	}
	return fn(s.mu.db)
}

func (s *pebbleStore) Get(key []byte) (value []byte, err error) {
	err = s.withKey(key, func(db *pebble.DB) error {
		value, err = get(db, key)
		return err
	})
	return value, err
}

// get returns a copy of key's value in db, nil if absent.
func get(db *pebble.DB, key []byte) ([]byte, error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append(make([]byte, 0, len(v)), v...), nil
}

func (s *pebbleStore) Put(key, value []byte) error {
	if value == nil {
		_, err := s.Delete(key)
		return err
	}
	return s.withKey(key, func(db *pebble.DB) error {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		return s.setLocked(db, key, value)
	})
}

// setLocked writes key. s.writeMu must be held.
func (s *pebbleStore) setLocked(db *pebble.DB, key, value []byte) error {
	if err := db.Set(key, value, pebble.NoSync); err != nil {
		return err
	}
	s.unflushed.Add(1)
	return nil
}

func (s *pebbleStore) PutIfAbsent(key, value []byte) (old []byte, err error) {
	err = s.withKey(key, func(db *pebble.DB) error {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		old, err = get(db, key)
		if err != nil || old != nil || value == nil {
			return err
		}
		return s.setLocked(db, key, value)
	})
	return old, err
}

func (s *pebbleStore) Delete(key []byte) (old []byte, err error) {
	err = s.withKey(key, func(db *pebble.DB) error {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		old, err = get(db, key)
		if err != nil || old == nil {
			return err
		}
		if err := db.Delete(key, pebble.NoSync); err != nil {
			return err
		}
		s.unflushed.Add(-1)
		return nil
	})
	return old, err
}

// PutAll implements [BatchWriter].
func (s *pebbleStore) PutAll(keys, values [][]byte) error {
	if len(keys) != len(values) {
		return fmt.Errorf("state: store %q: PutAll of %d keys and %d values", s.name, len(keys), len(values))
	}
	for _, k := range keys {
		if k == nil {
			return ErrNullKey
		}
	}
	return s.withDB(func(db *pebble.DB) error {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		b := db.NewBatch()
		defer b.Close()
		var added int64
		for i, k := range keys {
			var err error
			if values[i] == nil {
				err = b.Delete(k, nil)
				added--
			} else {
				err = b.Set(k, values[i], nil)
				added++
			}
			if err != nil {
				return err
			}
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		s.unflushed.Add(added)
		return nil
	})
}

func (s *pebbleStore) Range(from, to []byte) (Iterator, error) {
	return s.iterate(rangeSpan(from, to), false)
}

func (s *pebbleStore) ReverseRange(from, to []byte) (Iterator, error) {
	return s.iterate(rangeSpan(from, to), true)
}

func (s *pebbleStore) PrefixScan(prefix []byte) (Iterator, error) {
	return s.iterate(prefixSpan(prefix), false)
}

func (s *pebbleStore) All() (Iterator, error) { return s.iterate(span{}, false) }

func (s *pebbleStore) iterate(sp span, reverse bool) (Iterator, error) {
	it := &pebbleIterator{store: s, reverse: reverse}
	err := s.withDB(func(db *pebble.DB) error {
		if !sp.empty {
			var err error
			it.iter, err = db.NewIter(&pebble.IterOptions{LowerBound: sp.lo, UpperBound: sp.hi})
			if err != nil {
				return err
			}
		}
		s.mu.itersMu.Lock()
		s.mu.iters[it] = struct{}{}
		s.mu.itersMu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return it, nil
}

func (s *pebbleStore) ApproximateNumEntries() (n int64, err error) {
	err = s.withDB(func(db *pebble.DB) error {
		levels, err := db.SSTables(pebble.WithProperties())
		if err != nil {
			return err
		}
		for _, tables := range levels {
			for _, t := range tables {
				n += int64(t.Properties.NumEntries) - 2*int64(t.Properties.NumDeletions)
			}
		}
		n += s.unflushed.Load()
		return nil
	})
	return max(n, 0), err
}

func (s *pebbleStore) Flush() error {
	return s.withDB(func(db *pebble.DB) error { return db.Flush() })
}

func (s *pebbleStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.db == nil {
		return ErrClosed
	}
	var errs []error
	for it := range s.mu.iters {
		errs = append(errs, it.closeLocked())
	}
	errs = append(errs, s.mu.db.Close())
	s.mu.db = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("state: store %q: close: %w", s.name, err)
	}
	return nil
}

// pebbleIterator adapts a pebble iterator, copying each entry.
type pebbleIterator struct {
	store   *pebbleStore
	iter    *pebble.Iterator // nil for an empty span, or once closed
	reverse bool
	started bool
	closed  bool
	key     []byte
	value   []byte
	err     error
}

func (it *pebbleIterator) Next() bool {
	it.store.mu.RLock()
	defer it.store.mu.RUnlock()
	it.key, it.value = nil, nil
	switch {
	case it.err != nil:
		return false
	case it.store.mu.db == nil:
		it.err = ErrClosed
		return false
	case it.iter == nil:
		return false
	}
	if !it.step() {
		it.err = it.iter.Error()
		return false
	}
	return it.copyEntry()
}

// step moves the pebble iterator to the next entry.
func (it *pebbleIterator) step() bool {
	switch {
	case it.started && it.reverse:
		return it.iter.Prev()
	case it.started:
		return it.iter.Next()
	}
	it.started = true
	if it.reverse {
		return it.iter.Last()
	}
	return it.iter.First()
}

// copyEntry copies the current entry into one new allocation.
func (it *pebbleIterator) copyEntry() bool {
	k := it.iter.Key()
	v, err := it.iter.ValueAndErr()
	if err != nil {
		it.err = err
		return false
	}
	buf := make([]byte, len(k)+len(v))
	n := copy(buf, k)
	copy(buf[n:], v)
	it.key, it.value = buf[:n:n], buf[n:]
	return true
}

func (it *pebbleIterator) Key() []byte   { return it.key }
func (it *pebbleIterator) Value() []byte { return it.value }
func (it *pebbleIterator) Err() error    { return it.err }

func (it *pebbleIterator) Close() error {
	it.store.mu.RLock()
	defer it.store.mu.RUnlock()
	if it.closed || it.store.mu.db == nil {
		return nil
	}
	it.store.mu.itersMu.Lock()
	delete(it.store.mu.iters, it)
	it.store.mu.itersMu.Unlock()
	return it.closeLocked()
}

// closeLocked closes the pebble iterator. The store's mu must be held.
func (it *pebbleIterator) closeLocked() error {
	it.closed = true
	if it.iter == nil {
		return nil
	}
	err := it.iter.Close()
	it.iter = nil
	return err
}
