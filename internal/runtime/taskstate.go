package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// checkpointFile is the name of a task directory's checkpoint: for each
// changelog partition, the offset the task's stores are restored up to.
const checkpointFile = ".checkpoint"

// taskStore is one state store of one task: its layers and where its
// changelog stands.
type taskStore struct {
	spec   *StoreSpec
	dir    string
	base   state.BytesStore
	logged *loggedStore
	cache  *cachedStore
	// txn holds the writes of the open transaction under exactly-once
	// (key-value stores; see txnstore.go), segTxn those of a window or
	// session store (state.SegmentedTxn), verTxn those of a versioned
	// store (state.VersionedTxn); nil otherwise.
	txn       *txnStore
	segTxn    *state.SegmentedTxn
	verTxn    *state.VersionedTxn
	top       state.BytesStore
	typed     any
	changelog string
	pebble    *state.PebbleOptions
	// position is the changelog offset the store holds every update
	// before; -1 until known (restore from the start).
	position int64
	// checkpointed is the position the checkpoint file holds for the
	// store; -1 for none.
	checkpointed int64
	// lag is how many changelog records a standby store is behind the
	// end of the changelog it last saw; -1 until known. Written by the
	// thread, read by queries.
	lag atomic.Int64
	// live mirrors position for the join metadata, which the group's
	// goroutine writes (probing.go).
	live atomic.Int64
}

func (t *Task) taskDir() string { return filepath.Join(t.cfg.StateDir, t.id.String()) }

// openStores opens the task's stores. A persistent logged store keeps its
// local data only if the checkpoint says up to where it is complete;
// otherwise it is wiped and restored from its changelog. The checkpoint is
// removed once read: it is written again at each commit, so a crash before
// the next commit leads to a full restore, never to a store ahead of its
// checkpoint by unknown updates.
func (t *Task) openStores() error {
	if len(t.st.Stores) == 0 {
		return nil
	}
	if t.cfg.StateDir == "" {
		return errors.New("stateful task without a state directory")
	}
	cpPath := filepath.Join(t.taskDir(), checkpointFile)
	cp, err := state.ReadCheckpoint(cpPath)
	if err != nil {
		t.cfg.Logger.Warn("kstreams: unreadable checkpoint; restoring from the changelog", "error", err)
		cp = nil
	}
	if err := os.Remove(cpPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing checkpoint: %w", err)
	}
	for _, spec := range t.st.Stores {
		ts, err := t.openStore(spec, cp)
		if err != nil {
			return err
		}
		t.stores = append(t.stores, ts)
	}
	if t.cfg.ExactlyOnce {
		// The crash-consistent stores hold only committed state until
		// the next commit: their checkpoint entries stay true, so a
		// crash before that commit still restores only the tail.
		kept := map[string]map[int32]int64{}
		for _, ts := range t.stores {
			if ts.transactional() && ts.checkpointed >= 0 {
				kept[ts.changelog] = map[int32]int64{t.id.Partition: ts.checkpointed}
			}
		}
		if len(kept) > 0 {
			if err := state.WriteCheckpoint(cpPath, kept); err != nil {
				return fmt.Errorf("kstreams: task %s: %w", t.id, err)
			}
		}
		t.checkpointedAt = time.Now()
	}
	return nil
}

func (t *Task) openStore(spec *StoreSpec, cp map[string]map[int32]int64) (*taskStore, error) {
	ts := &taskStore{spec: spec, changelog: spec.Changelog().Resolve(t.cfg.AppID), pebble: t.cfg.Pebble, position: -1, checkpointed: -1}
	ts.live.Store(-1)
	ts.lag.Store(-1)
	if spec.Persistent {
		ts.dir = filepath.Join(t.taskDir(), spec.Name)
		off, ok := cp[ts.changelog][t.id.Partition]
		same, err := ts.checkFormat()
		if err != nil {
			return nil, err
		}
		if !same {
			t.cfg.Logger.Warn("kstreams: local store written in another format; restoring it from the changelog",
				"task", t.id.String(), "store", spec.Name, "format", ts.format())
			ok = false
		}
		if spec.Logged && ok {
			ts.position, ts.checkpointed = off, off
			ts.live.Store(off)
		}
		if spec.Logged && !ok {
			if err := os.RemoveAll(ts.dir); err != nil {
				return nil, fmt.Errorf("store %q: wiping local state: %w", spec.Name, err)
			}
		}
	}
	if err := ts.openBase(); err != nil {
		return nil, err
	}
	if err := ts.writeFormat(); err != nil {
		return nil, err
	}
	ts.top = ts.base
	if t.cfg.ExactlyOnce && spec.Open == nil {
		ts.txn = newTxnStore(ts.base)
		ts.top = ts.txn
	} else if t.cfg.ExactlyOnce && spec.Versioned {
		x, err := state.NewVersionedTxn(ts.base)
		if err != nil {
			return nil, fmt.Errorf("store %q: %w", spec.Name, err)
		}
		ts.verTxn, ts.top = x, x
	} else if t.cfg.ExactlyOnce {
		// Window and session stores.
		if x, err := state.NewSegmentedTxn(ts.base); err == nil {
			ts.segTxn = x
			ts.top = x
		}
	}
	if spec.Logged {
		ts.logged = &loggedStore{BytesStore: ts.top, topic: ts.changelog, partition: t.id.Partition, out: t.cfg.Collector, ts: t.timestamp, timestamped: spec.Timestamped, versioned: spec.Versioned, headers: spec.ChangelogHeaders}
		ts.top = ts.logged
	}
	if spec.Cached {
		size := t.cfg.CacheMaxBytes
		if spec.WriteThrough {
			size = 0
		}
		ts.cache = newCachedStore(ts.top, size, t.timestamp)
		ts.top = ts.cache
	}
	ts.top = t.meter(ts)
	ts.typed = ts.top
	if spec.Typed != nil {
		ts.typed = spec.Typed(ts.top, ts.changelog)
	}
	return ts, nil
}

// transactional reports whether the store keeps the writes of the open
// transaction apart (exactly-once): it then holds committed state only.
func (ts *taskStore) transactional() bool {
	return ts.txn != nil || ts.segTxn != nil || ts.verTxn != nil
}

// queryView is the store that local queries of an active task read: the
// bottom store, through the record cache when the store has one. Under
// exactly-once a key-value store's queries read committed state only (the
// bottom store), as Kafka Streams' transactional stores (KIP-892) do.
func (ts *taskStore) queryView() state.BytesStore {
	if ts.cache == nil || ts.transactional() {
		return ts.base
	}
	return &cacheView{cache: ts.cache, below: ts.base}
}

func (ts *taskStore) openBase() error {
	if ts.spec.Open != nil {
		b, err := ts.spec.Open(ts.spec.Name, ts.dir, ts.pebble)
		if err != nil {
			return fmt.Errorf("store %q: %w", ts.spec.Name, err)
		}
		ts.base = b
		return nil
	}
	if !ts.spec.Persistent {
		ts.base = state.NewMemoryStore(ts.spec.Name)
		return nil
	}
	b, err := state.OpenPebbleStore(ts.spec.Name, ts.dir, ts.pebble)
	if err != nil {
		return fmt.Errorf("store %q: %w", ts.spec.Name, err)
	}
	ts.base = b
	return nil
}

// wipe empties the store, for a checkpoint the changelog contradicts.
func (ts *taskStore) wipe() error {
	if err := ts.base.Close(); err != nil {
		return err
	}
	if ts.dir != "" {
		if err := os.RemoveAll(ts.dir); err != nil {
			return err
		}
	}
	if err := ts.openBase(); err != nil {
		return err
	}
	if err := ts.writeFormat(); err != nil {
		return err
	}
	ts.position = -1
	ts.live.Store(-1)
	ts.relink()
	return nil
}

// relink points the layer above the base at a new base.
func (ts *taskStore) relink() {
	switch {
	case ts.txn != nil:
		ts.txn.BytesStore = ts.base
	case ts.segTxn != nil:
		// The base is a window or session store view, as before.
		_ = ts.segTxn.Rebind(ts.base)
	case ts.verTxn != nil:
		// The base is a versioned store view, as before.
		_ = ts.verTxn.Rebind(ts.base)
	case ts.logged != nil:
		ts.logged.BytesStore = ts.base
	case ts.cache != nil:
		ts.cache.BytesStore = ts.base
	default:
		ts.top, ts.typed = ts.base, ts.base
		if ts.spec.Typed != nil {
			ts.typed = ts.spec.Typed(ts.top, ts.changelog)
		}
	}
}

// timestamp is the timestamp store updates carry: the record's, or the
// stream time in a punctuator.
func (t *Task) timestamp() int64 {
	if t.raw != nil {
		return t.ts
	}
	return max(t.streamTime, 0)
}

// StateStore returns the store name as processors see it.
func (t *Task) StateStore(node, name string) (any, error) {
	// Every processor reads the global stores, unconnected, as in Kafka
	// Streams.
	if g, ok := t.cfg.Globals[name]; ok && g.spec.Typed != nil {
		return g.spec.Typed(g.bs), nil
	}
	for _, n := range t.st.Nodes {
		if n.Name == node && !slices.Contains(n.Stores, name) {
			return nil, fmt.Errorf("kstreams: processor %q is not connected to state store %q", node, name)
		}
	}
	for _, ts := range t.stores {
		if ts.spec.Name == name {
			return ts.typed, nil
		}
	}
	return nil, fmt.Errorf("kstreams: no state store %q in task %s", name, t.id)
}

// FlushCaches writes the records held in store caches to the stores (and
// so downstream and to changelogs). Errors stop the task.
func (t *Task) FlushCaches() error {
	if len(t.stores) == 0 {
		return nil
	}
	if t.err != nil {
		return t.err
	}
	for _, ts := range t.stores {
		if ts.cache == nil {
			continue
		}
		start := time.Now()
		if err := flushCache(ts); err != nil {
			t.fail("", err)
		}
		ts.flushed(start)
		if t.err != nil {
			return t.err
		}
	}
	return nil
}

// flushCache flushes the cache of ts. Records it forwards are guarded by
// the nodes they reach; a panic here is a serde's, made an error of the task.
func flushCache(ts *taskStore) (err error) {
	defer func() {
		if perr := recovered(recover()); perr != nil {
			err = fmt.Errorf("flushing the cache of store %q: %w", ts.spec.Name, perr)
		}
	}()
	return ts.cache.flushCache()
}

// Checkpoint flushes the stores to disk and writes the task's checkpoint.
// Call it after the producer has flushed, so changelog offsets are known.
// Under exactly-once, call it after the transaction committed and
// CommitStores; it then leaves out the stores that write uncommitted
// updates to disk (stores without a transaction layer: none of the
// runtime's own), which a crash would leave ahead of their changelog, so
// that those are restored in full.
func (t *Task) Checkpoint() error { return t.checkpoint(false) }

// FinalCheckpoint is Checkpoint for the last commit before the task
// closes cleanly: every store then holds exactly the committed state.
func (t *Task) FinalCheckpoint() error { return t.checkpoint(true) }

// CommitStores writes the updates of the committed transaction to the
// crash-consistent stores (exactly-once).
func (t *Task) CommitStores() error {
	for _, ts := range t.stores {
		var err error
		switch {
		case ts.txn != nil:
			err = ts.txn.commit()
		case ts.segTxn != nil:
			err = ts.segTxn.Commit()
		case ts.verTxn != nil:
			err = ts.verTxn.Commit()
		}
		if err != nil {
			return fmt.Errorf("kstreams: task %s: store %q: writing committed updates: %w", t.id, ts.spec.Name, err)
		}
	}
	return nil
}

// Under exactly-once a commit comes every 100ms; flushing Pebble (an
// SSTable and an fsync) at each would cost more than the commit. So a
// commit writes the checkpoint only when a store has none yet, or when a
// store's changelog moved eosCheckpointRecords past its checkpoint (Kafka
// Streams' threshold), or eosCheckpointEvery after the last one. In
// between, the store on disk may hold committed updates past its
// checkpoint (never uncommitted ones), which a restore from the
// checkpoint writes again: a crash restores at most that tail.
const (
	eosCheckpointRecords = 10_000
	eosCheckpointEvery   = time.Second
)

func (t *Task) checkpoint(final bool) error {
	if len(t.stores) == 0 {
		return nil
	}
	offsets := map[string]map[int32]int64{}
	due := final || !t.cfg.ExactlyOnce
	var flush []*taskStore
	for _, ts := range t.stores {
		if t.cfg.ExactlyOnce && !final && !t.standby && !ts.transactional() {
			continue
		}
		flush = append(flush, ts)
		if ts.logged != nil {
			if next := ts.logged.nextOffset(); next > ts.position {
				ts.position = next
			}
		}
		if ts.logged == nil || ts.position < 0 || !ts.spec.Persistent {
			continue
		}
		offsets[ts.changelog] = map[int32]int64{t.id.Partition: ts.position}
		if ts.position != ts.checkpointed && (ts.checkpointed < 0 || ts.position-ts.checkpointed >= eosCheckpointRecords ||
			time.Since(t.checkpointedAt) >= eosCheckpointEvery) {
			due = true
		}
	}
	if !due {
		return nil
	}
	for _, ts := range flush {
		if err := ts.base.Flush(); err != nil {
			return fmt.Errorf("kstreams: task %s: flushing store %q: %w", t.id, ts.spec.Name, err)
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	if err := state.WriteCheckpoint(filepath.Join(t.taskDir(), checkpointFile), offsets); err != nil {
		return fmt.Errorf("kstreams: task %s: %w", t.id, err)
	}
	for _, ts := range flush {
		ts.checkpointed = ts.position
	}
	t.checkpointedAt = time.Now()
	return nil
}

func (t *Task) closeStores() error {
	var first error
	for _, ts := range t.stores {
		if err := ts.base.Close(); err != nil && first == nil {
			first = fmt.Errorf("closing store %q: %w", ts.spec.Name, err)
		}
	}
	t.stores = nil
	return first
}

// Changelog is a changelog partition a task restores from.
type Changelog struct {
	Topic     string
	Partition int32
	// From is the offset to restore from; -1 means the start.
	From  int64
	store *taskStore
	task  *Task
}

// Changelogs lists the changelog partitions of the task's logged stores.
func (t *Task) Changelogs() []*Changelog {
	var out []*Changelog
	for _, ts := range t.stores {
		if ts.logged != nil {
			out = append(out, &Changelog{Topic: ts.changelog, Partition: t.id.Partition, From: ts.position, store: ts, task: t})
		}
	}
	return out
}

// RestoreAll applies changelog records to the store below its logging
// layer, in one batch when the store supports it.
func (c *Changelog) RestoreAll(recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	var err error
	value := func(r *kgo.Record) []byte { return r.Value }
	if c.store.spec.Timestamped {
		value = func(r *kgo.Record) []byte { return state.WithTimestamp(r.Timestamp.UnixMilli(), r.Value) }
	}
	if c.store.spec.Versioned {
		value = func(r *kgo.Record) []byte { return state.VersionedValue(r.Timestamp.UnixMilli(), r.Value) }
	}
	if bw, ok := c.store.base.(state.BatchWriter); ok {
		keys, values := make([][]byte, len(recs)), make([][]byte, len(recs))
		for i, r := range recs {
			keys[i], values[i] = r.Key, value(r)
		}
		err = bw.PutAll(keys, values)
	} else {
		for _, r := range recs {
			if err = c.store.base.Put(r.Key, value(r)); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("kstreams: restoring store %q from %q partition %d: %w", c.store.spec.Name, c.Topic, c.Partition, err)
	}
	return nil
}

// Restored records that the store holds every update before offset end.
func (c *Changelog) Restored(end int64) {
	c.store.position = end
	c.store.live.Store(end)
}

// noteEnd records that the changelog ends at offset end, for a standby's
// lag.
func (c *Changelog) noteEnd(end int64) {
	c.store.lag.Store(max(end-max(c.store.position, 0), 0))
}

// Reset wipes the store, for a checkpoint past the end of the changelog.
func (c *Changelog) Reset() error {
	c.From = -1
	if err := c.store.wipe(); err != nil {
		return err
	}
	if r := c.task.cfg.Registry; r != nil && !c.task.standby && !c.task.hidden {
		r.add(c.store.spec.Name, c.task.id, c.store.queryView())
	} else if r != nil {
		r.addStandby(c.store.spec.Name, c.task.id, c.store.base, &c.store.lag)
	}
	return nil
}

// StoreName returns the name of the store the changelog belongs to.
func (c *Changelog) StoreName() string { return c.store.spec.Name }
