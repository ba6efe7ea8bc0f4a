package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// streamJoinTopology left-joins left and right within 10 s (grace 0) into
// out, with stores named "sj".
func streamJoinTopology(t *testing.T, left, right, out string) *kstreams.Topology {
	str := serde.String()
	b := kstreams.NewBuilder()
	l := kstreams.StreamFrom(b, left, kstreams.ConsumedWith(str, str))
	r := kstreams.StreamFrom(b, right, kstreams.ConsumedWith(str, str))
	kstreams.StreamStreamLeftJoin(l, r, func(k, lv, rv string) string { return lv + "/" + rv },
		kstreams.JoinWindowsOfTimeDifferenceWithNoGrace(10*time.Second),
		kstreams.StreamJoined[string, string, string]{StoreName: "sj"},
	).To(out, kstreams.ProducedWith(str, str))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// A stream-stream left join's stores are restored from their changelogs:
// an instance with a fresh state directory joins right records with left
// records the first instance stored, and emits the left record that waited
// in the outer store once its window closes. The join window stores'
// changelogs are delete-only, as Kafka Streams configures them.
func TestStreamStreamJoinRestore(t *testing.T) {
	app := newAppID(t)
	left, right, out := uniqueName(t, "left"), uniqueName(t, "right"), uniqueName(t, "out")
	createTopics(t, 2, left, right, out)
	base := time.Now().Add(-time.Hour).UnixMilli()
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, rec(left, int32(i%2), []byte(fmt.Sprint("k", i)), []byte(fmt.Sprint("L", i)), base+int64(i)))
	}
	produce(t, recs...)
	r := runApp(t, streamJoinTopology(t, left, right, out), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
	waitRunning(t, r)
	waitCaughtUp(t, app, time.Minute, left)
	r.stopOK(t)
	if got := consumeUntil(t, out, 0, time.Second); len(got) != 0 {
		t.Fatalf("output before any right record: %s", describeRecords(got))
	}

	// A fresh instance: k0..k8 find their left records (restored), k9's
	// waits in the restored outer store until stream time passes its
	// window (10 s) on its partition, on the first record after a second of
	// wall-clock time.
	r = runApp(t, streamJoinTopology(t, left, right, out), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
	waitRunning(t, r)
	recs = nil
	for i := range 9 {
		recs = append(recs, rec(right, int32(i%2), []byte(fmt.Sprint("k", i)), []byte(fmt.Sprint("R", i)), base+100+int64(i)))
	}
	produce(t, recs...)
	consumeUntil(t, out, 9, time.Minute)
	// Closed windows are looked for at most once a second of wall-clock
	// time: the first right record of k9's partition looked already.
	time.Sleep(1200 * time.Millisecond)
	produce(t, rec(right, 1, []byte("late"), []byte("x"), base+60_000))
	got := consumeUntil(t, out, 10, time.Minute)
	r.stopOK(t)
	want := []string{}
	for i := range 9 {
		want = append(want, fmt.Sprintf("k%d=L%d/R%d", i, i, i))
	}
	want = append(want, "k9=L9/")
	var have []string
	for _, g := range got {
		have = append(have, fmt.Sprintf("%s=%s", g.Key, g.Value))
	}
	diffMultisets(t, "join results", have, want)
	for _, store := range []string{"sj-this-join-store", "sj-outer-other-join-store", "sj-left-shared-join-store"} {
		changelog := changelogOf(app, store)
		ctx, cancel := ctxFor(t, 30*time.Second)
		configs, err := adm.DescribeTopicConfigs(ctx, changelog)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := configs.On(changelog, nil)
		if err != nil {
			t.Fatalf("%s: %v", changelog, err)
		}
		want := "delete"
		if store == "sj-left-shared-join-store" {
			want = "compact"
		}
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != want) {
				t.Errorf("%s: cleanup.policy %v, want %s", changelog, c.Value, want)
			}
		}
	}
	if m := r.app.Metrics(); m.Restored < 10 {
		t.Errorf("fresh instance restored %d records, want at least the 10 left records", m.Restored)
	}
}

// A versioned table is restored from its changelog with its history: a
// fresh instance joins stream records with the version valid at their
// timestamps, tombstones included.
func TestVersionedTableRestore(t *testing.T) {
	app := newAppID(t)
	tab, in, out := uniqueName(t, "tab"), uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 1, tab, in, out)
	str := serde.String()
	topo := func() *kstreams.Topology {
		b := kstreams.NewBuilder()
		tb := kstreams.TableFrom(b, tab, kstreams.ConsumedWith(str, str),
			kstreams.Materialized[string, string]{Name: "vt", Versioned: &kstreams.Versioning{HistoryRetention: time.Hour}})
		kstreams.StreamTableLeftJoin(kstreams.StreamFrom(b, in, kstreams.ConsumedWith(str, str)), tb,
			func(k, v, row string) string { return v + "/" + row }).To(out, kstreams.ProducedWith(str, str))
		built, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return built
	}
	base := time.Now().Add(-10 * time.Minute).UnixMilli()
	produce(t, rec(tab, 0, []byte("k"), []byte("v1"), base+10), rec(tab, 0, []byte("k"), []byte("v3"), base+30),
		rec(tab, 0, []byte("k"), []byte("v2"), base+20), rec(tab, 0, []byte("k"), nil, base+40))
	r := runApp(t, topo(), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
	waitRunning(t, r)
	waitCaughtUp(t, app, time.Minute, tab)
	r.stopOK(t)

	r = runApp(t, topo(), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
	waitRunning(t, r)
	produce(t, rec(in, 0, []byte("k"), []byte("a"), base+15), rec(in, 0, []byte("k"), []byte("b"), base+25),
		rec(in, 0, []byte("k"), []byte("c"), base+35), rec(in, 0, []byte("k"), []byte("d"), base+45))
	got := consumeUntil(t, out, 4, time.Minute)
	r.stopOK(t)
	var have []string
	for _, g := range got {
		have = append(have, string(g.Value))
	}
	diffMultisets(t, "join results", have, []string{"a/v1", "b/v2", "c/v3", "d/"})
	if m := r.app.Metrics(); m.Restored != 4 {
		t.Errorf("fresh instance restored %d records, want the 4 versions", m.Restored)
	}
}
