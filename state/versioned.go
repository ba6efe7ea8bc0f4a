package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/kstreams-go/kstreams/serde"
)

// Versioned key-value stores keep, per key, the latest value and the
// history of earlier values for a history retention, as Kafka Streams'
// VersionedKeyValueStore (KIP-889): every value is put with the timestamp
// from which it is valid, and a read may ask for the value as of a time.
//
// Layout, over a plain ordered byte store (in memory or Pebble), with a
// one-byte prefix per kind of entry:
//
//	'l' key                     -> ts(8) flag(1) value   the latest version
//	'h' len(4) key ts(8)        -> validTo(8) flag(1) value   an older version
//	'e' validTo(8) len(4) key ts(8) -> 1               expiry index of 'h'
//	'o'                         -> observed stream time(8)
//
// Timestamps are big-endian with the sign bit flipped, so that byte order is
// time order; flag is 1 for a value, 0 for a tombstone (a delete is a
// version too). The history of a key is a contiguous range ordered by time,
// so "the version valid at t" is one reverse seek. Instead of Kafka Streams'
// time segments, expiry uses the 'e' index ordered by the time a version
// stopped being valid: each put that advances the observed stream time
// deletes the versions that stopped being valid at or before stream time
// minus the history retention, which no read can reach any more.

// ErrVersionedNotSupported is returned by the operations of a versioned
// store's byte view that a versioned store does not have (ranges, scans).
var ErrVersionedNotSupported = errors.New("state: operation not supported by a versioned store")

// Results of [VersionedBytesStore.Put] besides a validTo timestamp, as Kafka
// Streams' VersionedKeyValueStore constants.
const (
	// PutValidToUndefined: the put is the latest version of its key.
	PutValidToUndefined int64 = -1
	// PutNotPut: the put was older than the history retention and was
	// dropped.
	PutNotPut int64 = math.MinInt64
)

// VersionedStoreOptions configures a versioned store.
type VersionedStoreOptions struct {
	// HistoryRetention is how long, against the largest timestamp put
	// (stream time), older versions stay readable; puts older than stream
	// time minus HistoryRetention are dropped. Required: not negative,
	// whole milliseconds.
	HistoryRetention time.Duration
}

// Validate reports, in one error wrapping [ErrInvalidOptions], every
// problem of o.
func (o VersionedStoreOptions) Validate() error {
	var p []string
	p = checkDurations(p, map[string]time.Duration{"HistoryRetention": o.HistoryRetention})
	return optionsError(p)
}

// VersionedRecord is a version of a key: its value, the timestamp from
// which it is valid and the one at which the next version replaced it
// (ValidTo, [PutValidToUndefined] for the latest version).
type VersionedRecord[V any] struct {
	Value     V
	Timestamp int64
	ValidTo   int64
}

// VersionedBytesStore is a versioned store of bytes. Every error is a
// [*StoreError].
type VersionedBytesStore interface {
	// Name returns the store's name.
	Name() string
	// Put puts value (nil: a tombstone) as the version of key valid from
	// ts. It returns the version's validTo: the timestamp of the next
	// version, [PutValidToUndefined] if it is the latest, or [PutNotPut]
	// if ts is older than stream time minus the history retention.
	Put(key, value []byte, ts int64) (int64, error)
	// Get returns the latest version of key; false if there is none or it
	// is a tombstone.
	Get(key []byte) (VersionedRecord[[]byte], bool, error)
	// GetAsOf returns the version of key valid at asOf; false if there is
	// none, it is a tombstone, or asOf is older than stream time minus the
	// history retention and before the key's latest version (the latest
	// version never expires, as in Kafka Streams).
	GetAsOf(key []byte, asOf int64) (VersionedRecord[[]byte], bool, error)
	// Flush makes every write durable, for stores that persist.
	Flush() error
	// Close releases the store.
	Close() error
}

// NewMemoryVersionedStore returns an in-memory versioned store.
func NewMemoryVersionedStore(name string, opts VersionedStoreOptions) (VersionedBytesStore, error) {
	return newVersionedStore(NewMemoryStore(name), opts)
}

// OpenPebbleVersionedStore opens (or creates) a versioned store on Pebble
// under dir/name.
func OpenPebbleVersionedStore(name, dir string, opts VersionedStoreOptions, pebbleOpts *PebbleOptions) (VersionedBytesStore, error) {
	kv, err := OpenPebbleStore(name, dir, pebbleOpts)
	if err != nil {
		return nil, err
	}
	s, err := newVersionedStore(kv, opts)
	if err != nil {
		kv.Close()
		return nil, err
	}
	return s, nil
}

func newVersionedStore(kv BytesStore, opts VersionedStoreOptions) (*versionedStore, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("state: store %q: %w", kv.Name(), err)
	}
	s := &versionedStore{kv: kv, retention: opts.HistoryRetention.Milliseconds(), observed: -1, expiredTo: math.MinInt64}
	b, err := kv.Get([]byte{'o'})
	if err != nil {
		return nil, s.fail("open", nil, err)
	}
	if len(b) == 8 {
		s.observed = getTime(b)
	}
	return s, nil
}

// versionedStore is the versioned store over kv, with the layout above.
type versionedStore struct {
	kv        BytesStore
	retention int64
	observed  int64
	// expiredTo is the bound of the last expiry: no expiry index entry
	// below it is left, nor can one be added (a version stops being valid
	// at or after the put that ends it, which is not older than the
	// bound), so the next expiry scans from it.
	expiredTo int64
	// lastPut is the result of the latest Put, for the byte view.
	lastPut int64
}

func (s *versionedStore) Name() string { return s.kv.Name() }
func (s *versionedStore) Flush() error { return s.kv.Flush() }
func (s *versionedStore) Close() error { return s.kv.Close() }

func (s *versionedStore) fail(op string, key []byte, err error) error {
	return &StoreError{Store: s.kv.Name(), Op: op, Key: key, Err: err}
}

func putTime(b []byte, t int64) { binary.BigEndian.PutUint64(b, uint64(t)^(1<<63)) }

func getTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func latestKey(key []byte) []byte { return append([]byte{'l'}, key...) }

// historyPrefix is the prefix of the history entries of key.
func historyPrefix(key []byte) []byte {
	b := make([]byte, 5, 5+len(key)+8)
	b[0] = 'h'
	binary.BigEndian.PutUint32(b[1:], uint32(len(key)))
	return append(b, key...)
}

func historyKey(key []byte, ts int64) []byte {
	b := historyPrefix(key)
	b = append(b, make([]byte, 8)...)
	putTime(b[len(b)-8:], ts)
	return b
}

func expiryKey(validTo int64, hk []byte) []byte {
	b := make([]byte, 9, 9+len(hk)-1)
	b[0] = 'e'
	putTime(b[1:], validTo)
	return append(b, hk[1:]...)
}

// version encodes a version's time (its timestamp for the latest, its
// validTo for the history) and value.
func version(t int64, value []byte) []byte {
	b := make([]byte, 9, 9+len(value))
	putTime(b, t)
	if value != nil {
		b[8] = 1
	}
	return append(b, value...)
}

// decodeVersion splits an encoded version; value is nil for a tombstone.
func decodeVersion(b []byte) (t int64, value []byte, err error) {
	if len(b) < 9 {
		return 0, nil, errors.New("malformed version")
	}
	t = getTime(b)
	if b[8] == 1 {
		value = b[9:]
	}
	return t, value, nil
}

// latest returns the latest version of key: its timestamp and value (nil
// for a tombstone), and whether there is one.
func (s *versionedStore) latest(key []byte) (ts int64, value []byte, exists bool, err error) {
	b, err := s.kv.Get(latestKey(key))
	if err != nil || b == nil {
		return 0, nil, false, err
	}
	ts, value, err = decodeVersion(b)
	if err != nil {
		return 0, nil, false, err
	}
	return ts, clone(value), true, nil
}

func (s *versionedStore) Get(key []byte) (VersionedRecord[[]byte], bool, error) {
	if key == nil {
		return VersionedRecord[[]byte]{}, false, s.fail("get", nil, ErrNullKey)
	}
	ts, v, ok, err := s.latest(key)
	if err != nil {
		return VersionedRecord[[]byte]{}, false, s.fail("get", key, err)
	}
	if !ok || v == nil {
		return VersionedRecord[[]byte]{}, false, nil
	}
	return VersionedRecord[[]byte]{Value: v, Timestamp: ts, ValidTo: PutValidToUndefined}, true, nil
}

func (s *versionedStore) GetAsOf(key []byte, asOf int64) (VersionedRecord[[]byte], bool, error) {
	var none VersionedRecord[[]byte]
	if key == nil {
		return none, false, s.fail("get", nil, ErrNullKey)
	}
	lts, lv, exists, err := s.latest(key)
	if err != nil {
		return none, false, s.fail("get", key, err)
	}
	// The latest version never expires: it answers any time at or after
	// its own, even one beyond the history retention (as Kafka Streams'
	// RocksDBVersionedStore).
	if exists && lts <= asOf {
		if lv == nil {
			return none, false, nil
		}
		return VersionedRecord[[]byte]{Value: lv, Timestamp: lts, ValidTo: PutValidToUndefined}, true, nil
	}
	if asOf < s.observed-s.retention {
		return none, false, nil
	}
	ts, validTo, v, found, err := s.historyAt(key, asOf)
	if err != nil || !found || v == nil {
		return none, false, err
	}
	return VersionedRecord[[]byte]{Value: v, Timestamp: ts, ValidTo: validTo}, true, nil
}

// historyAt returns the history version of key with the largest timestamp
// at or before t.
func (s *versionedStore) historyAt(key []byte, t int64) (ts, validTo int64, value []byte, found bool, err error) {
	it, err := s.kv.ReverseRange(historyPrefix(key), historyKey(key, t))
	if err != nil {
		return 0, 0, nil, false, s.fail("get", key, err)
	}
	defer it.Close()
	prefix := len(historyPrefix(key))
	for it.Next() {
		k := it.Key()
		if len(k) != prefix+8 {
			continue
		}
		ts = getTime(k[prefix:])
		validTo, value, err = decodeVersion(it.Value())
		if err != nil {
			return 0, 0, nil, false, s.fail("get", key, err)
		}
		return ts, validTo, clone(value), true, nil
	}
	return 0, 0, nil, false, it.Err()
}

// nextHistory returns the timestamp of the first history version of key
// after t.
func (s *versionedStore) nextHistory(key []byte, t int64) (int64, bool, error) {
	if t == math.MaxInt64 {
		return 0, false, nil
	}
	hp := historyPrefix(key)
	end := append(append([]byte(nil), hp...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	it, err := s.kv.Range(historyKey(key, t+1), end)
	if err != nil {
		return 0, false, err
	}
	defer it.Close()
	for it.Next() {
		if k := it.Key(); len(k) == len(hp)+8 {
			return getTime(k[len(hp):]), true, nil
		}
	}
	return 0, false, it.Err()
}

func (s *versionedStore) Put(key, value []byte, ts int64) (int64, error) {
	if key == nil {
		return 0, s.fail("put", nil, ErrNullKey)
	}
	if ts < s.observed-s.retention {
		s.lastPut = PutNotPut
		return PutNotPut, nil
	}
	validTo, err := s.put(key, value, ts)
	if err != nil {
		return 0, s.fail("put", key, err)
	}
	if ts > s.observed {
		s.observed = ts
		o := make([]byte, 8)
		putTime(o, ts)
		if err := s.kv.Put([]byte{'o'}, o); err != nil {
			return 0, s.fail("put", key, err)
		}
		if err := s.expire(); err != nil {
			return 0, s.fail("put", key, err)
		}
	}
	s.lastPut = validTo
	return validTo, nil
}

func (s *versionedStore) put(key, value []byte, ts int64) (int64, error) {
	lts, lv, exists, err := s.latest(key)
	if err != nil {
		return 0, err
	}
	if exists {
		if ts < lts {
			return s.putHistory(key, value, ts, lts)
		}
		if ts > lts {
			// The latest version becomes history, valid until ts.
			if err := s.addHistory(key, lts, ts, lv); err != nil {
				return 0, err
			}
		}
	}
	return PutValidToUndefined, s.kv.Put(latestKey(key), version(ts, value))
}

// putHistory puts a version older than the latest one (at latestTs).
func (s *versionedStore) putHistory(key, value []byte, ts, latestTs int64) (int64, error) {
	pts, pValidTo, pv, found, err := s.historyAt(key, ts)
	if err != nil {
		return 0, err
	}
	if found && pts == ts {
		// Same timestamp: replace the value, keep its validity.
		return pValidTo, s.kv.Put(historyKey(key, ts), version(pValidTo, value))
	}
	validTo := latestTs
	next, ok, err := s.nextHistory(key, ts)
	if err != nil {
		return 0, err
	}
	if ok {
		validTo = next
	}
	if found && pValidTo > ts {
		// The previous version now ends at ts.
		hk := historyKey(key, pts)
		if _, err := s.kv.Delete(expiryKey(pValidTo, hk)); err != nil {
			return 0, err
		}
		if err := s.addHistory(key, pts, ts, pv); err != nil {
			return 0, err
		}
	}
	return validTo, s.addHistory(key, ts, validTo, value)
}

func (s *versionedStore) addHistory(key []byte, ts, validTo int64, value []byte) error {
	hk := historyKey(key, ts)
	if err := s.kv.Put(hk, version(validTo, value)); err != nil {
		return err
	}
	return s.kv.Put(expiryKey(validTo, hk), []byte{1})
}

// expire deletes the history versions that stopped being valid at or
// before stream time minus the retention.
func (s *versionedStore) expire() error {
	bound := s.observed - s.retention
	if bound == math.MinInt64 {
		return nil
	}
	hi := make([]byte, 9)
	hi[0] = 'e'
	putTime(hi[1:], bound)
	hi = append(hi, 0xff, 0xff, 0xff, 0xff, 0xff)
	lo := []byte{'e'}
	if s.expiredTo != math.MinInt64 {
		lo = make([]byte, 9)
		lo[0] = 'e'
		putTime(lo[1:], s.expiredTo)
	}
	it, err := s.kv.Range(lo, hi)
	if err != nil {
		return err
	}
	var dead [][]byte
	for it.Next() {
		k := it.Key()
		if len(k) < 9 || getTime(k[1:]) > bound {
			continue
		}
		dead = append(dead, append([]byte(nil), k...))
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, k := range dead {
		if _, err := s.kv.Delete(k); err != nil {
			return err
		}
		if _, err := s.kv.Delete(append([]byte{'h'}, k[9:]...)); err != nil {
			return err
		}
	}
	s.expiredTo = bound
	return nil
}

// VersionedStoreBytes returns the [BytesStore] view of store, a versioned
// store made by this package, for the changelogging and restoring layers:
// Put(key, v) puts the version encoded by [VersionedValue]; Get returns the
// latest version so encoded (a tombstone too). Ranges and scans return
// [ErrVersionedNotSupported].
func VersionedStoreBytes(store VersionedBytesStore) (BytesStore, error) {
	s, ok := store.(*versionedStore)
	if !ok {
		return nil, fmt.Errorf("state: VersionedStoreBytes of a %T, not a versioned store of this package", store)
	}
	return &versionedBytes{s}, nil
}

// VersionedValue encodes a version for the byte view of a versioned store:
// its timestamp (8 bytes big-endian), a flag (1 value, 0 tombstone), the
// value.
func VersionedValue(ts int64, value []byte) []byte {
	b := make([]byte, 9, 9+len(value))
	binary.BigEndian.PutUint64(b, uint64(ts))
	if value != nil {
		b[8] = 1
	}
	return append(b, value...)
}

// SplitVersionedValue decodes what [VersionedValue] encodes; value is nil
// for a tombstone.
func SplitVersionedValue(b []byte) (ts int64, value []byte, err error) {
	if len(b) < 9 {
		return 0, nil, fmt.Errorf("state: versioned value of %d bytes", len(b))
	}
	ts = int64(binary.BigEndian.Uint64(b))
	if b[8] == 1 {
		value = b[9:]
	}
	return ts, value, nil
}

// versionedBytes is the BytesStore view of a versioned store.
type versionedBytes struct{ s *versionedStore }

func (v *versionedBytes) Name() string { return v.s.Name() }

func (v *versionedBytes) Get(key []byte) ([]byte, error) {
	if key == nil {
		return nil, v.s.fail("get", nil, ErrNullKey)
	}
	ts, value, ok, err := v.s.latest(key)
	if err != nil {
		return nil, v.s.fail("get", key, err)
	}
	if !ok {
		return nil, nil
	}
	return VersionedValue(ts, value), nil
}

func (v *versionedBytes) Put(key, value []byte) error {
	if value == nil {
		return v.s.fail("put", key, errors.New("a versioned store's byte view needs a timestamped version, not nil"))
	}
	ts, val, err := SplitVersionedValue(value)
	if err != nil {
		return v.s.fail("put", key, err)
	}
	_, err = v.s.Put(key, val, ts)
	return err
}

func (v *versionedBytes) PutIfAbsent(key, _ []byte) ([]byte, error) {
	return nil, v.s.fail("putIfAbsent", key, ErrVersionedNotSupported)
}

func (v *versionedBytes) Delete(key []byte) ([]byte, error) {
	return nil, v.s.fail("delete", key, ErrVersionedNotSupported)
}

func (v *versionedBytes) Range(_, _ []byte) (Iterator, error) {
	return nil, v.s.fail("range", nil, ErrVersionedNotSupported)
}

func (v *versionedBytes) ReverseRange(_, _ []byte) (Iterator, error) {
	return nil, v.s.fail("reverseRange", nil, ErrVersionedNotSupported)
}

func (v *versionedBytes) PrefixScan(_ []byte) (Iterator, error) {
	return nil, v.s.fail("prefixScan", nil, ErrVersionedNotSupported)
}

func (v *versionedBytes) All() (Iterator, error) {
	return nil, v.s.fail("all", nil, ErrVersionedNotSupported)
}

func (v *versionedBytes) ApproximateNumEntries() (int64, error) {
	return v.s.kv.ApproximateNumEntries()
}
func (v *versionedBytes) Flush() error { return v.s.Flush() }
func (v *versionedBytes) Close() error { return v.s.Close() }

// VersionedStoreWritingTo returns the versioned store under writes (a byte
// view of [VersionedStoreBytes] under layers reached through Unwrap()
// BytesStore methods), whose puts go through writes, so that the layers
// (a changelog) see them. Over a [VersionedTxn] it reads the transaction's
// pending versions over the store's.
func VersionedStoreWritingTo(writes BytesStore) (VersionedBytesStore, error) {
	for s := writes; s != nil; {
		switch v := s.(type) {
		case *versionedBytes:
			return &versionedWriter{versionedStore: v.s, writes: writes}, nil
		case *VersionedTxn:
			return &versionedWriter{versionedStore: v.txn, sync: v.sync, writes: writes}, nil
		}
		u, ok := s.(interface{ Unwrap() BytesStore })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	return nil, errors.New("state: no versioned store under the given byte store")
}

// versionedWriter reads a versioned store and puts through the layers
// above it.
type versionedWriter struct {
	*versionedStore
	// sync, over a transaction layer, takes the committed stream time
	// before a read when nothing is pending.
	sync   func()
	writes BytesStore
}

func (w *versionedWriter) Get(key []byte) (VersionedRecord[[]byte], bool, error) {
	if w.sync != nil {
		w.sync()
	}
	return w.versionedStore.Get(key)
}

func (w *versionedWriter) GetAsOf(key []byte, asOf int64) (VersionedRecord[[]byte], bool, error) {
	if w.sync != nil {
		w.sync()
	}
	return w.versionedStore.GetAsOf(key, asOf)
}

func (w *versionedWriter) Put(key, value []byte, ts int64) (int64, error) {
	if key == nil {
		return 0, w.fail("put", nil, ErrNullKey)
	}
	if err := w.writes.Put(key, VersionedValue(ts, value)); err != nil {
		return 0, err
	}
	return w.lastPut, nil
}

// VersionedKeyValueStore is a typed versioned store, as Kafka Streams'
// VersionedKeyValueStore: keys and values go through serdes to a
// [VersionedBytesStore]. A value that serializes to nil is a tombstone.
type VersionedKeyValueStore[K, V any] interface {
	// Name returns the store's name.
	Name() string
	// Put puts value as the version of key valid from ts and returns its
	// validTo (see [VersionedBytesStore.Put]).
	Put(key K, value V, ts int64) (int64, error)
	// Delete puts a tombstone at ts and returns the version it replaced
	// as of ts, if any.
	Delete(key K, ts int64) (VersionedRecord[V], bool, error)
	// Get returns the latest version of key.
	Get(key K) (VersionedRecord[V], bool, error)
	// GetAsOf returns the version of key valid at asOf.
	GetAsOf(key K, asOf int64) (VersionedRecord[V], bool, error)
}

// NewVersionedKeyValueStore returns a typed versioned store over store.
func NewVersionedKeyValueStore[K, V any](store VersionedBytesStore, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...TypedOption) VersionedKeyValueStore[K, V] {
	return &versionedOf[K, V]{codec: newCodec(store.Name(), keySerde, valueSerde, opts), bytes: store}
}

type versionedOf[K, V any] struct {
	codec[K, V]
	bytes VersionedBytesStore
}

func (s *versionedOf[K, V]) Name() string { return s.name }

func (s *versionedOf[K, V]) Put(key K, value V, ts int64) (int64, error) {
	kb, err := s.rawKey("put", key)
	if err != nil {
		return 0, err
	}
	vb, err := s.values.Serialize(s.topic, value)
	if err != nil {
		return 0, s.fail("put", kb, fmt.Errorf("serialize value: %w", err))
	}
	return s.bytes.Put(kb, vb, ts)
}

func (s *versionedOf[K, V]) Delete(key K, ts int64) (VersionedRecord[V], bool, error) {
	old, ok, err := s.GetAsOf(key, ts)
	if err != nil {
		return old, false, err
	}
	kb, err := s.rawKey("delete", key)
	if err != nil {
		return old, false, err
	}
	if _, err := s.bytes.Put(kb, nil, ts); err != nil {
		return old, false, err
	}
	return old, ok, nil
}

func (s *versionedOf[K, V]) Get(key K) (VersionedRecord[V], bool, error) {
	kb, err := s.rawKey("get", key)
	if err != nil {
		return VersionedRecord[V]{}, false, err
	}
	r, ok, err := s.bytes.Get(kb)
	return s.typed(kb, r, ok, err)
}

func (s *versionedOf[K, V]) GetAsOf(key K, asOf int64) (VersionedRecord[V], bool, error) {
	kb, err := s.rawKey("get", key)
	if err != nil {
		return VersionedRecord[V]{}, false, err
	}
	r, ok, err := s.bytes.GetAsOf(kb, asOf)
	return s.typed(kb, r, ok, err)
}

func (s *versionedOf[K, V]) typed(kb []byte, r VersionedRecord[[]byte], ok bool, err error) (VersionedRecord[V], bool, error) {
	if err != nil || !ok {
		return VersionedRecord[V]{}, false, err
	}
	v, err := s.values.Deserialize(s.topic, r.Value)
	if err != nil {
		return VersionedRecord[V]{}, false, s.fail("get", kb, fmt.Errorf("deserialize value: %w", err))
	}
	return VersionedRecord[V]{Value: v, Timestamp: r.Timestamp, ValidTo: r.ValidTo}, true, nil
}
