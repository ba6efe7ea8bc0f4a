package integration

import (
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// eosWindowStore is the window store of eosWindowTopology.
const eosWindowStore = "eos-wcounts"

// eosWindowTopology counts the records of in per key in tumbling windows
// of a day (grace a day: no record is late) into eosWindowStore, and
// writes every count to out keyed by the plain key, as eosTopology does.
// each, if set, runs on every input record.
func eosWindowTopology(t testing.TB, in, out string, each func(string, string)) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	if each != nil {
		s = s.Peek(each)
	}
	counts := kstreams.WindowedBy(s.GroupByKey(), kstreams.TimeWindowsOfSizeAndGrace(24*time.Hour, 24*time.Hour)).
		Count(kstreams.WindowedMaterialized[string, int64]{Materialized: kstreams.Materialized[string, int64]{Name: eosWindowStore, Value: serde.Int64()}})
	kstreams.SelectKey(counts.ToStream(), func(w kstreams.Windowed[string], _ int64) string { return w.Key }).
		To(out, kstreams.ProducedWith(serde.String(), serde.Int64()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestExactlyOnceWindowRestoreAfterKill is TestExactlyOnceRestoreAfterKill
// for a windowed aggregation: under exactly-once a window store keeps its
// uncommitted updates apart, as a key-value store does, so the instance
// restarted after SIGKILL keeps its local store and restores only what was
// committed after its checkpoint, far less than the store holds, and the
// windowed counts stay exact (no duplicate, no gap). A fresh state
// directory restores the store in full, for comparison.
func TestExactlyOnceWindowRestoreAfterKill(t *testing.T) {
	t.Setenv(eosTopoEnv, "windowed")
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 2, in, out)
	const keys, total = 10000, 12000
	input := newKeyedInput(in, 2, keys)
	input.produce(t, total)
	dir := t.TempDir()
	com := killMidStream(t, app, in, out, dir, keys+200, total, keys, 5*time.Millisecond, 1500*time.Millisecond)

	r := runApp(t, eosWindowTopology(t, in, out, nil), eosOpts(app, dir)...)
	waitCaughtUp(t, app, 60*time.Second, in)
	// The killed member leaves the group when its session expires: stop
	// once the group has settled without it (stopping inside that
	// rebalance aborts the last transaction: ErrCloseIncomplete).
	waitSettled(t, app, in, r)
	r.stopOK(t)
	afterKill := r.app.Metrics().Restored
	dups := checkExactCounts(t, out, input.truth(), false)
	if dups > 0 {
		t.Errorf("%d duplicates in the read-committed output", dups)
	}

	full := runApp(t, eosWindowTopology(t, in, out, nil), eosOpts(app, t.TempDir())...)
	poll(t, 60*time.Second, "the fresh instance to restore", func() (bool, string) {
		return full.app.State() == kstreams.Running, full.app.State().String()
	})
	full.stopOK(t)
	fresh := full.app.Metrics().Restored
	storeKeys := int64(len(input.truth()))
	t.Logf("window store: %d keys (%d changelog records); killed with %d of %d inputs committed; restored after SIGKILL: %d records; full restore (fresh state directory): %d records",
		storeKeys, sum(endOffsets(t, app+"-"+eosWindowStore+"-changelog")), sum(com), total, afterKill, fresh)
	if afterKill*10 > storeKeys {
		t.Errorf("after SIGKILL the instance restored %d records, want far below the store's %d keys", afterKill, storeKeys)
	}
	if fresh < storeKeys {
		t.Errorf("a fresh state directory restored %d records, want at least the store's %d keys", fresh, storeKeys)
	}
}
