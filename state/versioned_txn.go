package state

import (
	"fmt"

	"github.com/tidwall/btree"
)

// VersionedTxn keeps the writes of an open transaction of a versioned
// store apart from the store, as [SegmentedTxn] does for window and session
// stores and Kafka Streams' transactional stores (KIP-892) do: it is a
// layer over the store's [BytesStore] view ([VersionedStoreBytes]) whose
// puts run the versioned store's logic (new latest version, history,
// expiry, stream time) over an overlay of the store's entries: the
// entries it writes or deletes are kept in memory, the others are read
// from the store. The versioned store made over it (or over a layer above
// it, such as changelogging) by [VersionedStoreWritingTo] reads through
// the overlay; one made over the view below reads the store only.
// [VersionedTxn.Commit] writes the overlay's entries into the store in
// one batch, [VersionedTxn.Abort] drops them. So the store on disk holds
// only committed versions and the committed stream time.
//
// Only one goroutine may use the layer (the store's task).
type VersionedTxn struct {
	view *versionedBytes
	// over is the store's byte store with the pending entries over it.
	over *overlay
	// txn is the versioned store over over: what the task reads and
	// writes. Its observed stream time runs ahead of the store's while
	// writes are pending.
	txn *versionedStore
}

// NewVersionedTxn returns a transaction layer over below, the BytesStore
// view of a versioned store of this package.
func NewVersionedTxn(below BytesStore) (*VersionedTxn, error) {
	v, ok := below.(*versionedBytes)
	if !ok {
		return nil, fmt.Errorf("state: a versioned transaction layer needs a versioned store view, not a %T", below)
	}
	x := &VersionedTxn{over: &overlay{pendingOver{pending: new(btree.Map[string, []byte])}}, txn: &versionedStore{}}
	x.bind(v)
	return x, nil
}

// bind points the layer at v and drops the pending writes.
func (x *VersionedTxn) bind(v *versionedBytes) {
	x.view = v
	x.over.BytesStore = v.s.kv
	x.txn.kv, x.txn.retention = x.over, v.s.retention
	x.Abort()
}

// Rebind points the layer at a new view below (a store wiped and opened
// anew), dropping the pending writes. Versioned stores made over the layer
// keep working, on the new store.
func (x *VersionedTxn) Rebind(below BytesStore) error {
	v, ok := below.(*versionedBytes)
	if !ok {
		return fmt.Errorf("state: a versioned transaction layer needs a versioned store view, not a %T", below)
	}
	x.bind(v)
	return nil
}

// Unwrap returns the view below.
func (x *VersionedTxn) Unwrap() BytesStore { return x.view }

// Pending returns the number of store entries the open transaction wrote
// or deleted (a put writes up to a few: the latest version, history, the
// expiry index, stream time).
func (x *VersionedTxn) Pending() int { return x.over.pending.Len() }

// Abort drops the uncommitted writes; the task reads the store's
// committed versions and stream time again.
func (x *VersionedTxn) Abort() {
	x.over.pending.Clear()
	x.txn.observed, x.txn.expiredTo = x.view.s.observed, x.view.s.expiredTo
}

// Commit writes the uncommitted entries into the store in one batch (when
// the store can) and moves the store's stream time to the transaction's.
func (x *VersionedTxn) Commit() error {
	p := x.over.pending
	if p.Len() == 0 {
		return nil
	}
	keys, values := make([][]byte, 0, p.Len()), make([][]byte, 0, p.Len())
	p.Scan(func(k string, v []byte) bool {
		keys, values = append(keys, []byte(k)), append(values, v)
		return true
	})
	if err := writeAll(x.view.s.kv, keys, values); err != nil {
		return x.view.s.fail("commit", nil, err)
	}
	x.view.s.observed, x.view.s.expiredTo = x.txn.observed, x.txn.expiredTo
	p.Clear()
	return nil
}

// sync takes the store's stream time (and expiry bound) when no write is
// pending: a restore writes to the store below the layer.
func (x *VersionedTxn) sync() {
	if x.over.pending.Len() == 0 {
		x.txn.observed, x.txn.expiredTo = x.view.s.observed, x.view.s.expiredTo
	}
}

func (x *VersionedTxn) Name() string { return x.view.Name() }

// Get returns the latest version of key, pending or committed, as the
// view's Get encodes it.
func (x *VersionedTxn) Get(key []byte) ([]byte, error) {
	x.sync()
	return (&versionedBytes{x.txn}).Get(key)
}

// Put puts the version value encodes ([VersionedValue]) in the open
// transaction.
func (x *VersionedTxn) Put(key, value []byte) error {
	x.sync()
	return (&versionedBytes{x.txn}).Put(key, value)
}

func (x *VersionedTxn) PutIfAbsent(key, _ []byte) ([]byte, error) {
	return nil, x.view.s.fail("putIfAbsent", key, ErrVersionedNotSupported)
}

func (x *VersionedTxn) Delete(key []byte) ([]byte, error) {
	return nil, x.view.s.fail("delete", key, ErrVersionedNotSupported)
}

func (x *VersionedTxn) Range(_, _ []byte) (Iterator, error) {
	return nil, x.view.s.fail("range", nil, ErrVersionedNotSupported)
}

func (x *VersionedTxn) ReverseRange(_, _ []byte) (Iterator, error) {
	return nil, x.view.s.fail("reverseRange", nil, ErrVersionedNotSupported)
}

func (x *VersionedTxn) PrefixScan(_ []byte) (Iterator, error) {
	return nil, x.view.s.fail("prefixScan", nil, ErrVersionedNotSupported)
}

func (x *VersionedTxn) All() (Iterator, error) {
	return nil, x.view.s.fail("all", nil, ErrVersionedNotSupported)
}

// ApproximateNumEntries counts the store's entries and the pending ones.
func (x *VersionedTxn) ApproximateNumEntries() (int64, error) {
	n, err := x.view.ApproximateNumEntries()
	return n + int64(x.Pending()), err
}

// Flush writes nothing: pending writes reach the store only with Commit.
func (x *VersionedTxn) Flush() error { return nil }

// Close drops the pending writes and closes the store.
func (x *VersionedTxn) Close() error {
	x.over.pending.Clear()
	return x.view.Close()
}

// overlay is a byte store with pending writes over it: reads see them
// (a nil value is a deletion), writes go to them.
type overlay struct{ pendingOver }

func (o *overlay) Get(key []byte) ([]byte, error) {
	if v, ok := o.pending.Get(string(key)); ok {
		return v, nil
	}
	return o.BytesStore.Get(key)
}

func (o *overlay) Put(key, value []byte) error {
	if key == nil {
		return ErrNullKey
	}
	o.pending.Set(string(key), clone(value))
	return nil
}

func (o *overlay) PutIfAbsent(key, value []byte) ([]byte, error) {
	old, err := o.Get(key)
	if err != nil || old != nil {
		return old, err
	}
	return nil, o.Put(key, value)
}

// Delete deletes key and, unlike other byte stores, returns no old value:
// the versioned store deletes expired entries it found by a scan and never
// uses it, and reading it would cost a store read per deletion.
func (o *overlay) Delete(key []byte) ([]byte, error) {
	return nil, o.Put(key, nil)
}

// Flush writes nothing: the pending writes are the transaction's.
func (o *overlay) Flush() error { return nil }
