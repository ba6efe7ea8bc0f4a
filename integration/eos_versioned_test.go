package integration

import (
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// eosVersionedStore is the versioned store of eosVersionedTopology.
const eosVersionedStore = "eos-vcounts"

// eosVersionedTopology counts the records of in per key in a versioned
// store (Processor API): each record reads its key's latest version and
// puts that plus one at the record's timestamp, then writes the count to
// out. A count that reached the store without being committed would be
// counted again after a crash and show as a gap. each, if set, runs on
// every input record.
func eosVersionedTopology(t testing.TB, in, out string, each func(string, string)) *kstreams.Topology {
	t.Helper()
	topo := kstreams.NewTopology()
	kstreams.AddSource(topo, "src", kstreams.ConsumedWith(serde.String(), serde.String()), in)
	kstreams.AddProcessor(topo, "count", func() processor.Processor[string, string, string, int64] {
		return &versionedCounter{each: each}
	}, "src")
	kstreams.AddVersionedStore(topo, kstreams.VersionedStoreBuilder[string, int64]{
		Name: eosVersionedStore, Key: serde.String(), Value: serde.Int64(), HistoryRetention: time.Hour,
	}, "count")
	kstreams.AddSink(topo, "sink", out, kstreams.ProducedWith(serde.String(), serde.Int64()), "count")
	return topo
}

// versionedCounter is the processor of eosVersionedTopology.
type versionedCounter struct {
	each  func(string, string)
	ctx   processor.Context[string, int64]
	store state.VersionedKeyValueStore[string, int64]
}

func (c *versionedCounter) Init(ctx processor.Context[string, int64]) (err error) {
	c.ctx = ctx
	c.store, err = processor.Store[state.VersionedKeyValueStore[string, int64]](ctx, eosVersionedStore)
	return err
}

func (c *versionedCounter) Process(r processor.Record[string, string]) error {
	if c.each != nil {
		c.each(r.Key, r.Value)
	}
	last, _, err := c.store.Get(r.Key)
	if err != nil {
		return err
	}
	n := last.Value + 1
	if _, err := c.store.Put(r.Key, n, r.Timestamp); err != nil {
		return err
	}
	c.ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: n, Timestamp: r.Timestamp})
	return nil
}

func (c *versionedCounter) Close() error { return nil }

// versionedInput writes total records over keys keys (record n has key
// n mod keys and timestamp base + n, base the time now, so that each of a
// key's counts is a version of its own) to in, partitioned as keyedInput
// does, and returns each key's record numbers in order, and base.
func versionedInput(t *testing.T, in string, partitions int32, keys, total int) (seq map[string][]int, base int64) {
	t.Helper()
	base = time.Now().UnixMilli()
	recs := make([]*kgo.Record, total)
	seq = map[string][]int{}
	for n := range recs {
		k := fmt.Sprintf("k%05d", n%keys)
		h := fnv.New32a()
		h.Write([]byte(k))
		recs[n] = rec(in, int32(h.Sum32()%uint32(partitions)), []byte(k), []byte(strconv.Itoa(n)), base+int64(n))
		seq[k] = append(seq[k], n)
	}
	produce(t, recs...)
	return seq, base
}

// checkVersionedStore opens the versioned store of every task under the
// state directory dir of app (the application stopped) and checks that
// each key's latest version is its final count at the timestamp of its
// last record, and that as of each earlier record of the key the store
// answers the count then: the store holds exactly the committed history.
// Record n has timestamp base + n. Without history, only the latest
// versions are checked.
func checkVersionedStore(t *testing.T, dir, app string, seq map[string][]int, base int64, history bool) {
	t.Helper()
	taskDirs, err := filepath.Glob(filepath.Join(dir, app, "0_*"))
	if err != nil || len(taskDirs) == 0 {
		t.Fatalf("no task directories under %s (%v)", filepath.Join(dir, app), err)
	}
	var stores []state.VersionedKeyValueStore[string, int64]
	for _, d := range taskDirs {
		s, err := state.OpenPebbleVersionedStore(eosVersionedStore, filepath.Join(d, eosVersionedStore), state.VersionedStoreOptions{HistoryRetention: time.Hour}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, state.NewVersionedKeyValueStore(s, serde.String(), serde.Int64()))
	}
	bad := 0
	for k, ns := range seq {
		var found bool
		for _, s := range stores {
			last, ok, err := s.Get(k)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				continue
			}
			found = true
			if want := int64(len(ns)); last.Value != want || last.Timestamp != base+int64(ns[len(ns)-1]) {
				bad++
				t.Errorf("key %s: latest version %d@%d, want %d@%d", k, last.Value, last.Timestamp, want, base+int64(ns[len(ns)-1]))
			}
			if !history {
				continue
			}
			for i, n := range ns[:len(ns)-1] {
				v, ok, err := s.GetAsOf(k, base+int64(n))
				if err != nil || !ok || v.Value != int64(i+1) {
					bad++
					t.Errorf("%s: key %s as of record %d: %d (%v, %v), want %d", dir, k, n, v.Value, ok, err, i+1)
				}
			}
		}
		if !found {
			bad++
			t.Errorf("key %s: not in any task's store", k)
		}
		if bad > 20 {
			t.Fatal("too many differences")
		}
	}
}

// TestExactlyOnceVersionedRestoreAfterKill is TestExactlyOnceRestoreAfterKill
// for a versioned store: under exactly-once a versioned store keeps its
// uncommitted versions apart, so the instance restarted after SIGKILL
// keeps its local store and restores only what was committed after its
// checkpoint, far less than the store holds; the counts (each read from
// the store's latest version) stay exact, and the stores on disk hold
// exactly the committed versions. A fresh state directory restores the
// store in full, for comparison.
func TestExactlyOnceVersionedRestoreAfterKill(t *testing.T) {
	t.Setenv(eosTopoEnv, "versioned")
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 2, in, out)
	const keys, total = 10000, 12000
	seq, base := versionedInput(t, in, 2, keys, total)
	truth := map[string]int64{}
	for k, ns := range seq {
		truth[k] = int64(len(ns))
	}
	dir := t.TempDir()
	com := killMidStream(t, app, in, out, dir, keys+200, total, keys, 5*time.Millisecond, 1500*time.Millisecond)

	r := runApp(t, eosVersionedTopology(t, in, out, nil), eosOpts(app, dir)...)
	waitCaughtUp(t, app, 60*time.Second, in)
	r.stopOK(t)
	afterKill := r.app.Metrics().Restored
	if dups := checkExactCounts(t, out, truth, false); dups > 0 {
		t.Errorf("%d duplicates in the read-committed output", dups)
	}
	checkVersionedStore(t, dir, app, seq, base, true)

	fresh := t.TempDir()
	full := runApp(t, eosVersionedTopology(t, in, out, nil), eosOpts(app, fresh)...)
	poll(t, 60*time.Second, "the fresh instance to restore", func() (bool, string) {
		return full.app.State() == kstreams.Running, full.app.State().String()
	})
	full.stopOK(t)
	fullRestored := full.app.Metrics().Restored
	// A full restore reads the compacted changelog: a real broker keeps
	// superseded versions for min.compaction.lag.ms (the history retention
	// plus a day, as Kafka Streams sets it), kfake compacts them away at
	// once, so on kfake only the latest versions are there to check.
	checkVersionedStore(t, fresh, app, seq, base, realBroker)
	t.Logf("versioned store: %d keys (%d changelog records); killed with %d of %d inputs committed; restored after SIGKILL: %d records; full restore (fresh state directory): %d records",
		keys, sum(endOffsets(t, app+"-"+eosVersionedStore+"-changelog")), sum(com), total, afterKill, fullRestored)
	if afterKill*10 > keys {
		t.Errorf("after SIGKILL the instance restored %d records, want far below the store's %d keys", afterKill, keys)
	}
	if fullRestored < keys {
		t.Errorf("a fresh state directory restored %d records, want at least the store's %d keys", fullRestored, keys)
	}
}
