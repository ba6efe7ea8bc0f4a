package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// countStore is the store countTopology counts into; its changelog is
// "<application id>-counts-changelog".
const countStore = "counts"

// countTopology counts the records of each key of in (string keys and
// values) into countStore. peek, if set, sees every record first.
func countTopology(t testing.TB, in string, peek func(k, v string)) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	if peek != nil {
		s = s.Peek(peek)
	}
	s.GroupByKey().Count(kstreams.Materialized[string, int64]{Name: countStore, Value: serde.Int64()})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// changelogOf returns the changelog topic of store in application app.
func changelogOf(app, store string) string { return app + "-" + store + "-changelog" }

// clientID names an instance in the group (through kgo.ClientID), so that
// a test can tell from the group's description which partitions it holds.
func clientID(name string) kstreams.Option {
	return kstreams.ClientOptions(kgo.ClientID(name))
}

// storeContents reads every entry of store on the instance a.
func storeContents[K comparable, V any](a *kstreams.App, store string) (map[K]V, error) {
	s, err := kstreams.LocalStore[K, V](a, store)
	if err != nil {
		return nil, err
	}
	it, err := s.All()
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[K]V{}
	for it.Next() {
		out[it.Key()] = it.Value()
	}
	return out, it.Err()
}

// waitStore polls store on a until check accepts its contents, and returns
// them; it fails the test with check's last note after timeout, or at once
// if a has failed.
func waitStore[K comparable, V any](t testing.TB, a *kstreams.App, store string, timeout time.Duration, check func(map[K]V) (bool, string)) map[K]V {
	t.Helper()
	var got map[K]V
	poll(t, timeout, fmt.Sprintf("the contents of store %q", store), func() (bool, string) {
		if s := a.State(); s == kstreams.Error {
			t.Fatalf("the instance failed (state %v) while waiting for the contents of store %q", s, store)
		}
		m, err := storeContents[K, V](a, store)
		if err != nil {
			return false, err.Error()
		}
		got = m
		return check(m)
	})
	return got
}

// allCountsOne is a waitStore check: the store holds exactly the keys ids,
// each counted once.
func allCountsOne(ids []string) func(map[string]int64) (bool, string) {
	return func(m map[string]int64) (bool, string) {
		var missing, wrong []string
		for _, id := range ids {
			if n, ok := m[id]; !ok {
				missing = append(missing, id)
			} else if n != 1 {
				wrong = append(wrong, fmt.Sprintf("%s=%d", id, n))
			}
		}
		if len(missing)+len(wrong) == 0 && len(m) == len(ids) {
			return true, ""
		}
		return false, fmt.Sprintf("%d entries, want %d; %d missing %q; %d not 1: %q",
			len(m), len(ids), len(missing), first(missing, 20), len(wrong), first(wrong, 20))
	}
}

// assignment returns, by client id, the partitions of topic that each
// member of group holds, or nil unless the group is stable.
func assignment(t testing.TB, group, topic string) map[string][]int32 {
	t.Helper()
	ctx, cancel := ctxFor(t, 5*time.Second)
	defer cancel()
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil
	}
	g, ok := described[group]
	if !ok || g.Err != nil || g.State != "Stable" {
		return nil
	}
	out := map[string][]int32{}
	for _, m := range g.Members {
		if _, ok := out[m.ClientID]; !ok {
			out[m.ClientID] = []int32{}
		}
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, tp := range c.Topics {
			if tp.Topic == topic {
				out[m.ClientID] = append(out[m.ClientID], tp.Partitions...)
			}
		}
		slices.Sort(out[m.ClientID])
	}
	return out
}

// waitAssignment waits until group is stable with exactly the members
// named in want (client ids), each holding want[name] partitions of topic,
// and also (if set) returns true, and returns the assignment.
func waitAssignment(t testing.TB, group, topic string, want map[string]int, also func() (bool, string)) map[string][]int32 {
	t.Helper()
	var got map[string][]int32
	poll(t, 60*time.Second, fmt.Sprintf("group %q to assign %v partitions of %q", group, want, topic), func() (bool, string) {
		got = assignment(t, group, topic)
		if len(got) != len(want) {
			return false, fmt.Sprintf("assignment %v", got)
		}
		for name, n := range want {
			if ps, ok := got[name]; !ok || len(ps) != n {
				return false, fmt.Sprintf("assignment %v", got)
			}
		}
		if also != nil {
			return also()
		}
		return true, ""
	})
	return got
}

// waitShared waits until group is stable with exactly the members named
// (client ids), each holding some of the partitions of topic and all of
// them assigned, and also (if set) returns true; it returns the assignment.
func waitShared(t testing.TB, group, topic string, partitions int32, names []string, also func() (bool, string)) map[string][]int32 {
	t.Helper()
	var got map[string][]int32
	poll(t, 60*time.Second, fmt.Sprintf("group %q to share the %d partitions of %q among %q", group, partitions, topic, names), func() (bool, string) {
		got = assignment(t, group, topic)
		n := 0
		for _, name := range names {
			if len(got[name]) == 0 {
				return false, fmt.Sprintf("assignment %v", got)
			}
			n += len(got[name])
		}
		if len(got) != len(names) || n != int(partitions) {
			return false, fmt.Sprintf("assignment %v", got)
		}
		if also != nil {
			return also()
		}
		return true, ""
	})
	return got
}

// waitRunning waits until every instance is RUNNING.
func waitRunning(t testing.TB, rs ...*running) {
	t.Helper()
	poll(t, 60*time.Second, "the instances to run", func() (bool, string) {
		return isRunning(rs...)
	})
}

func isRunning(rs ...*running) (bool, string) {
	var states []string
	ok := true
	for _, r := range rs {
		s := r.app.State()
		states = append(states, s.String())
		ok = ok && s == kstreams.Running
	}
	return ok, fmt.Sprintf("states %v", states)
}

// The environment of TestHelperStatefulInstance, set by
// startStatefulInstance.
const (
	statefulHelperEnv = "KSTREAMS_IT_STATEFUL_HELPER"
	statefulAppEnv    = "KSTREAMS_IT_STATEFUL_APP"
	statefulInEnv     = "KSTREAMS_IT_STATEFUL_IN"
	statefulDirEnv    = "KSTREAMS_IT_STATEFUL_DIR"
)

// slowCount is how long the stateful helper spends on each record, so that
// a kill lands in the middle of the stream.
const slowCount = 5 * time.Millisecond

// childID is the client id of the stateful helper instance.
const childID = "child"

// TestHelperStatefulInstance is not a test: it is the instance that
// TestKillStatefulInstance runs in a child process and kills. It counts
// $KSTREAMS_IT_STATEFUL_IN with countTopology, slowly, with its stores in
// $KSTREAMS_IT_STATEFUL_DIR, committing every 300ms, and with the record
// cache off, so that every update reaches the changelog at once, ahead of
// the next offset commit: a kill then leaves changelog updates of records
// whose offsets are not committed, which is the at-least-once over-count
// the test bounds.
func TestHelperStatefulInstance(t *testing.T) {
	if os.Getenv(statefulHelperEnv) != "1" {
		t.Skip("helper process for TestKillStatefulInstance")
	}
	topo := countTopology(t, os.Getenv(statefulInEnv), func(string, string) { time.Sleep(slowCount) })
	opts := append(defaultAppOpts(),
		kstreams.ApplicationID(os.Getenv(statefulAppEnv)),
		kstreams.StateDir(os.Getenv(statefulDirEnv)),
		kstreams.CommitInterval(300*time.Millisecond),
		kstreams.MaxPollRecords(20),
		kstreams.CacheMaxBytes(0),
		clientID(childID))
	app, err := kstreams.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := app.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// startStatefulInstance runs TestHelperStatefulInstance in a child process.
func startStatefulInstance(t *testing.T, app, in, dir string) *child {
	t.Helper()
	return startChild(t, "TestHelperStatefulInstance",
		statefulHelperEnv+"=1",
		statefulAppEnv+"="+app,
		statefulInEnv+"="+in,
		statefulDirEnv+"="+dir,
	)
}

// stableCommitted returns the group's committed offsets of partitions of
// topic once two reads 300ms apart agree, so that a commit the killed
// instance sent just before it died has landed. Nobody else commits these
// partitions meanwhile: the survivor gets them only once the group notices
// the death, a session timeout (6s) later.
func stableCommitted(t testing.TB, group, topic string, partitions []int32) map[int32]int64 {
	t.Helper()
	read := func() map[int32]int64 {
		all := committed(t, group, topic)
		out := map[int32]int64{}
		for _, p := range partitions {
			out[p] = all[p]
		}
		return out
	}
	prev := read()
	for deadline := time.Now().Add(3 * time.Second); ; {
		time.Sleep(300 * time.Millisecond)
		cur := read()
		if maps.Equal(prev, cur) {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("the committed offsets of %q partitions %v kept changing after the kill: %v, then %v", topic, partitions, prev, cur)
		}
		prev = cur
	}
}

// TestKillStatefulInstance kills (SIGKILL) one of two instances of a
// counting application in the middle of the stream. The survivor takes over
// the dead instance's tasks, restores their counts from the changelog, and
// counts the rest of the input.
//
// The input has 20 keys, each always on the same one of 4 partitions, so
// the exact count of every key is known. Under at-least-once the killed
// instance may have written changelog updates for records whose offsets it
// had not committed (its cache is off, so it writes every update at once,
// and commits every 300ms): the survivor restores those updates and then
// processes the records again. So a key may be over-counted, but only by
// the number of its records in the uncommitted tail of the killed
// instance's partitions (from the offsets committed when it died to the
// end), and never under-counted. A survivor that ignored the changelog
// would under-count; one that started the input over would over-count by
// far more than the tail.
func TestKillStatefulInstance(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 4, in)
	changelog := changelogOf(app, countStore)

	survivor := runApp(t, countTopology(t, in, nil), kstreams.ApplicationID(app),
		kstreams.StateDir(t.TempDir()), kstreams.CommitInterval(300*time.Millisecond), clientID("survivor"))
	waitRunning(t, survivor)
	c := startStatefulInstance(t, app, in, t.TempDir())
	// Produce only once each instance holds two partitions, so that the
	// child's tasks start from empty stores and the survivor restores
	// nothing before the kill.
	asg := waitAssignment(t, app, in, map[string]int{"survivor": 2, childID: 2}, func() (bool, string) {
		if !c.alive() {
			t.Fatalf("the helper exited early:\n%s", c.out)
		}
		return isRunning(survivor)
	})
	childParts := asg[childID]
	t.Logf("assignment %v", asg)

	// 2000 records, key k%02d on partition k%4: the child holds 1000,
	// which take it 5s.
	const keys, n = 20, 2000
	var recs []*kgo.Record
	now := time.Now().UnixMilli()
	for i := range n {
		k := i % keys
		recs = append(recs, rec(in, int32(k%4), fmt.Appendf(nil, "k%02d", k), fmt.Appendf(nil, "id-%06d", i), now))
	}
	produce(t, recs...)
	exact := map[string]int64{}
	for _, r := range recs {
		exact[string(r.Key)]++
	}
	inEnd := endOffsets(t, in)
	childTotal := int64(0)
	for _, p := range childParts {
		childTotal += inEnd[p]
	}

	// Kill the child once it has committed a fifth of its records.
	poll(t, 60*time.Second, "the helper to commit part of its input", func() (bool, string) {
		if !c.alive() {
			t.Fatalf("the helper exited early:\n%s", c.out)
		}
		com := committed(t, app, in)
		done := int64(0)
		for _, p := range childParts {
			done += com[p]
		}
		return done >= childTotal/5, fmt.Sprintf("committed %v of the child's partitions %v", com, childParts)
	})
	c.kill(t)
	com := stableCommitted(t, app, in, childParts)
	clEnd := endOffsets(t, changelog)

	// allowed[key] is how many of key's records lie past the committed
	// offsets of the child's partitions: the most the key may be
	// over-counted.
	allowed := map[string]int64{}
	var tail, childDone, childChangelog int64
	for _, r := range recs {
		if slices.Contains(childParts, r.Partition) && r.Offset >= com[r.Partition] {
			allowed[string(r.Key)]++
			tail++
		}
	}
	for _, p := range childParts {
		childDone += com[p]
		childChangelog += clEnd[p]
	}
	t.Logf("killed the helper with %d of its %d records committed (partitions %v at %v); uncommitted tail %d; its changelog partitions hold %d updates",
		childDone, childTotal, childParts, com, tail, childChangelog)
	if childDone >= childTotal {
		t.Fatalf("the helper committed all its input before it was killed; the test needs it killed mid-stream")
	}

	waitCaughtUp(t, app, 60*time.Second, in)
	got := waitStore(t, survivor.app, countStore, 30*time.Second, func(m map[string]int64) (bool, string) {
		return len(m) == keys, fmt.Sprintf("%d keys, want %d", len(m), keys)
	})
	m := survivor.app.Metrics()
	t.Logf("survivor: restored %d, processed %d, rebalances %d", m.Restored, m.Processed, m.Rebalances)
	// Its own tasks come back from their checkpoints, so what it restores
	// is the child's changelog partitions (less what compaction removed).
	if m.Restored <= 0 || m.Restored > childChangelog {
		t.Errorf("the survivor restored %d records, want between 1 and %d (the child's changelog partitions)", m.Restored, childChangelog)
	}
	var excess int64
	for _, k := range slices.Sorted(maps.Keys(exact)) {
		g, want := got[k], exact[k]
		if g < want || g > want+allowed[k] {
			t.Errorf("count of %s: got %d, want %d (+ up to %d records past the committed offsets)", k, g, want, allowed[k])
		}
		excess += g - want
	}
	t.Logf("total over-count %d (uncommitted tail %d)", excess, tail)
	if excess >= tail {
		t.Errorf("total over-count %d, want less than the uncommitted tail of %d records", excess, tail)
	}
}

// TestChangelogWrongPartitionCount: a changelog that exists with another
// partition count than the store's sub-topology has tasks stops Run with
// ErrInternalTopicMismatch naming the topic, and leaves the topic alone.
func TestChangelogWrongPartitionCount(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 4, in)
	changelog := changelogOf(app, countStore)
	createTopicsWithConfigs(t, 2, map[string]string{"cleanup.policy": "compact"}, changelog)

	r := runApp(t, countTopology(t, in, nil), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
	err := r.waitErr(t, 30*time.Second)
	if !errors.Is(err, kstreams.ErrInternalTopicMismatch) {
		t.Errorf("Run returned %v, want an error matching ErrInternalTopicMismatch", err)
	}
	for _, want := range []string{fmt.Sprintf("%q", changelog), "has 2 partitions", "needs 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Run returned %q, want it to mention %s", err, want)
		}
	}
	if n := len(endOffsets(t, changelog)); n != 2 {
		t.Errorf("the changelog has %d partitions after Run, want the 2 it was created with", n)
	}
	if s := r.app.State(); s != kstreams.Error {
		t.Errorf("state %v after the failed Run, want %v", s, kstreams.Error)
	}
}

// TestStateDirLocked: a second instance pointed at the state directory of
// a running one fails with an error naming the directory, and the first
// keeps running; once the first stops, the directory can be used again.
func TestStateDirLocked(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 1, in)
	dir := t.TempDir()
	topo := countTopology(t, in, nil)

	a := runApp(t, topo, kstreams.ApplicationID(app), kstreams.StateDir(dir))
	waitRunning(t, a)
	b := runApp(t, topo, kstreams.ApplicationID(app), kstreams.StateDir(dir))
	err := b.waitErr(t, 30*time.Second)
	appDir := filepath.Join(dir, app)
	if !errors.Is(err, state.ErrDirLocked) || !strings.Contains(err.Error(), appDir) {
		t.Errorf("the second instance's Run returned %v, want an error matching state.ErrDirLocked naming %s", err, appDir)
	}

	ids := &idProducer{topic: in, partitions: 1}
	recs := ids.produce(t, 20)
	waitCaughtUp(t, app, 30*time.Second, in)
	waitStore(t, a.app, countStore, 10*time.Second, allCountsOne(ids.ids))
	a.stopOK(t)

	c := runApp(t, topo, kstreams.ApplicationID(app), kstreams.StateDir(dir))
	waitRunning(t, c)
	waitStore(t, c.app, countStore, 10*time.Second, allCountsOne(ids.ids))
	// The count store is timestamped: after the restart each count still
	// carries the timestamp of the record counted.
	ts, err := kstreams.LocalTimestampedStore[string, int64](c.app, countStore)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		vt, ok, err := ts.Get(string(r.Key))
		if err != nil || !ok || vt.Value != 1 || vt.Timestamp != r.Timestamp.UnixMilli() {
			t.Errorf("LocalTimestampedStore.Get(%s) = %+v, %v, %v; want 1 at %d", r.Key, vt, ok, err, r.Timestamp.UnixMilli())
		}
	}
}

// TestTableGroupByAdderSubtractor keeps, from a compacted topic of user ->
// stock rows, the set of holders of each stock (Kafka Streams'
// shareholders example): rows move between stocks and are deleted, the
// adder is a set union, the subtractor a set difference, and an empty set
// deletes the stock. The final store holds exactly the groups of the last
// row of each user.
//
// The updates come in batches, each processed and committed before the
// next is produced: with the record cache on, the updates of a user within
// one commit interval merge into one, so only updates across commits make
// the subtractor run. The test runs with the cache on and off.
func TestTableGroupByAdderSubtractor(t *testing.T) {
	t.Run("cache", func(t *testing.T) { tableGroupBy(t) })
	t.Run("no-cache", func(t *testing.T) { tableGroupBy(t, kstreams.CacheMaxBytes(0)) })
}

func tableGroupBy(t *testing.T, opts ...kstreams.Option) {
	app := newAppID(t)
	in := uniqueName(t, "holdings")
	createTopicsWithConfigs(t, 4, map[string]string{"cleanup.policy": "compact"}, in)
	repartition := app + "-by-stock-repartition"

	b := kstreams.NewBuilder()
	holdings := kstreams.TableFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	byStock := kstreams.GroupTableBy(holdings,
		func(user, stock string) kstreams.KeyValue[string, []string] {
			return kstreams.KV(stock, []string{user})
		},
		kstreams.Grouped[string, []string]{Name: "by-stock", Key: serde.String(), Value: serde.JSON[[]string]()})
	byStock.Reduce(setUnion, setDifference, kstreams.Materialized[string, []string]{Name: "holders"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	r := runApp(t, topo, append([]kstreams.Option{kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir())}, opts...)...)

	// A fixed sequence of updates: 40 users, each always on partition
	// user%4, move between 6 stocks; about one update in seven deletes
	// the user's row. Then users 0-4 all move to ZZZ and user 5 alone
	// holds ONCE; then they all leave again: neither stock may be left in
	// the store.
	stocks := []string{"AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA"}
	last := map[int]string{} // user -> stock; absent: deleted
	now := time.Now().UnixMilli()
	var batch []*kgo.Record
	set := func(u int, stock string) {
		var v []byte
		if stock != "" {
			v = []byte(stock)
			last[u] = stock
		} else {
			delete(last, u)
		}
		batch = append(batch, rec(in, int32(u%4), fmt.Appendf(nil, "user-%02d", u), v, now))
	}
	total := 0
	flush := func() {
		produce(t, batch...)
		total += len(batch)
		batch = nil
		waitCaughtUp(t, app, 60*time.Second, in, repartition)
	}
	x := uint32(12345)
	next := func(n int) int { // a fixed pseudo-random sequence
		x = x*1664525 + 1013904223
		return int(x>>16) % n
	}
	for range 3 {
		for range 300 {
			u := next(40)
			if next(7) == 0 {
				set(u, "")
			} else {
				set(u, stocks[next(len(stocks))])
			}
		}
		flush()
	}
	for u := range 5 {
		set(u, "ZZZ")
	}
	set(5, "ONCE")
	flush()
	for u := range 5 {
		if u%2 == 0 {
			set(u, "AAPL")
		} else {
			set(u, "")
		}
	}
	set(5, "")
	flush()

	want := map[string][]string{}
	for u, stock := range last {
		want[stock] = append(want[stock], fmt.Sprintf("user-%02d", u))
	}
	for _, users := range want {
		sort.Strings(users)
	}
	waitStore(t, r.app, "holders", 30*time.Second, func(got map[string][]string) (bool, string) {
		var diffs []string
		for _, s := range slices.Sorted(maps.Keys(want)) {
			if g := got[s]; !slices.Equal(g, want[s]) {
				diffs = append(diffs, fmt.Sprintf("%s: got %q, want %q", s, g, want[s]))
			}
		}
		for _, s := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[s]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: got %q, want no entry", s, got[s]))
			}
		}
		return len(diffs) == 0, strings.Join(diffs, "; ")
	})
	t.Logf("%d updates, %d through the repartition topic; %d stocks held by %d users",
		total, sum(endOffsets(t, repartition)), len(want), len(last))
}

// setUnion adds the users of v to the sorted set agg.
func setUnion(agg, v []string) []string {
	out := slices.Clone(agg)
	for _, u := range v {
		if i, found := slices.BinarySearch(out, u); !found {
			out = slices.Insert(out, i, u)
		}
	}
	return out
}

// setDifference removes the users of v from agg; an empty set is nil, which
// serde.JSON writes as null, deleting the group.
func setDifference(agg, v []string) []string {
	var out []string
	for _, u := range agg {
		if !slices.Contains(v, u) {
			out = append(out, u)
		}
	}
	return out
}
