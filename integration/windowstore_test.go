package integration

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// windowStore is the window store of windowCountTopology.
const windowStore = "window-counts"

// windowCounter counts the records of each key in tumbling windows of one
// second kept in windowStore.
type windowCounter struct {
	counts state.WindowStore[string, int64]
}

func (c *windowCounter) Init(ctx processor.Context[string, string]) (err error) {
	c.counts, err = processor.Store[state.WindowStore[string, int64]](ctx, windowStore)
	return err
}

func (c *windowCounter) Process(r processor.Record[string, string]) error {
	for _, w := range kstreams.TimeWindowsOfSizeWithNoGrace(time.Second).WindowsFor(r.Timestamp) {
		n, _, err := c.counts.Fetch(r.Key, w.Start)
		if err != nil {
			return err
		}
		if err := c.counts.Put(r.Key, n+1, w.Start); err != nil {
			return err
		}
	}
	return nil
}

func (c *windowCounter) Close() error { return nil }

// windowCountTopology counts the records of in by key and second in a
// persistent window store retained 10 minutes.
func windowCountTopology(in string) *kstreams.Topology {
	topo := kstreams.NewTopology()
	kstreams.AddSource(topo, "src", kstreams.ConsumedWith(serde.String(), serde.String()), in)
	kstreams.AddProcessor(topo, "count", func() processor.Processor[string, string, string, string] { return &windowCounter{} }, "src")
	kstreams.AddWindowStore(topo, kstreams.WindowStoreBuilder[string, int64]{
		Name: windowStore, Key: serde.String(), Value: serde.Int64(), Retention: 10 * time.Minute, WindowSize: time.Second,
	}, "count")
	return topo
}

// windowContents reads every window of windowStore on the instance a as
// "key@start" -> count.
func windowContents(a *kstreams.App) (map[string]int64, error) {
	s, err := kstreams.LocalWindowStore[string, int64](a, windowStore)
	if err != nil {
		return nil, err
	}
	it, err := s.All()
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[string]int64{}
	for it.Next() {
		out[fmt.Sprintf("%s@%d", it.Key().Key, it.Key().Window.Start)] = it.Value()
	}
	return out, it.Err()
}

// waitWindows polls windowStore on a until it holds want.
func waitWindows(t *testing.T, a *kstreams.App, want map[string]int64) {
	t.Helper()
	poll(t, 60*time.Second, "the window store's contents", func() (bool, string) {
		got, err := windowContents(a)
		if err != nil {
			return false, err.Error()
		}
		return maps.Equal(got, want), fmt.Sprintf("%d windows, want %d", len(got), len(want))
	})
}

// TestWindowStoreChangelogAndRestore runs a Processor API window count:
// its changelog topic gets Kafka Streams' windowed changelog configs, and
// an instance on a fresh state directory restores every window from it.
func TestWindowStoreChangelogAndRestore(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 2, in)
	base := time.Now().Add(-time.Minute).UnixMilli() / 1000 * 1000
	want := map[string]int64{}
	var recs []*kgo.Record
	for i := range 300 {
		key := fmt.Sprint("k", i%10)
		ts := base + int64(i)*50 // 15 s of records, 20 a second
		recs = append(recs, rec(in, int32(i%10%2), []byte(key), []byte("x"), ts))
		want[fmt.Sprintf("%s@%d", key, ts/1000*1000)]++
	}
	produce(t, recs...)

	r := runApp(t, windowCountTopology(in), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
	waitRunning(t, r)
	waitWindows(t, r.app, want)
	r.stopOK(t)

	changelog := changelogOf(app, windowStore)
	ctx, cancel := ctxFor(t, 30*time.Second)
	defer cancel()
	configs, err := adm.DescribeTopicConfigs(ctx, changelog)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := configs.On(changelog, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value != nil {
			got[c.Key] = *c.Value
		}
	}
	if got["cleanup.policy"] != "compact,delete" || got["retention.ms"] != "87000000" {
		t.Errorf("changelog configs cleanup.policy=%q retention.ms=%q, want compact,delete and 87000000 (10 min + 1 day)",
			got["cleanup.policy"], got["retention.ms"])
	}
	logged := sum(endOffsets(t, changelog))
	if logged != 300 {
		t.Errorf("changelog holds %d records, want one per record counted: 300", logged)
	}

	r = runApp(t, windowCountTopology(in), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()))
	waitRunning(t, r)
	waitWindows(t, r.app, want)
	r.stopOK(t)
	if m := r.app.Metrics(); m.Restored != logged {
		t.Errorf("fresh instance restored %d records, want all %d of the changelog", m.Restored, logged)
	}
}

// TestWindowStoreBoundedOnDisk counts two hours of event time in windows
// retained 10 minutes: each task's store keeps at most 3 segment
// directories (segments of 5 minutes, max(retention/2, 1 min)), the older
// ones deleted as stream time passes them.
func TestWindowStoreBoundedOnDisk(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 2, in)
	base := time.Now().Add(-3*time.Hour).UnixMilli() / 1000 * 1000
	var recs []*kgo.Record
	last := map[string]int64{}
	for i := range 2000 {
		key := fmt.Sprint("k", i%10)
		ts := base + int64(i)*3600 // 2 hours
		recs = append(recs, rec(in, int32(i%10%2), []byte(key), []byte("x"), ts))
		last[key] = ts / 1000 * 1000
	}
	produce(t, recs...)
	dir := t.TempDir()
	r := runApp(t, windowCountTopology(in), kstreams.ApplicationID(app), kstreams.StateDir(dir))
	waitRunning(t, r)
	poll(t, 60*time.Second, "the last window of every key", func() (bool, string) {
		got, err := windowContents(r.app)
		if err != nil {
			return false, err.Error()
		}
		for k, start := range last {
			if got[fmt.Sprintf("%s@%d", k, start)] != 1 {
				return false, fmt.Sprintf("%d windows, not yet %s@%d", len(got), k, start)
			}
		}
		return true, ""
	})
	for _, task := range []string{"0_0", "0_1"} {
		segs, err := os.ReadDir(filepath.Join(dir, app, task, windowStore))
		if err != nil {
			t.Fatal(err)
		}
		var names []string // segment directories, "<store>.<first ms>"
		for _, s := range segs {
			if s.IsDir() && strings.HasPrefix(s.Name(), windowStore+".") {
				names = append(names, s.Name())
			}
		}
		t.Logf("task %s: segments %q", task, names)
		if len(names) > 3 {
			t.Errorf("task %s keeps %d segments %q, want at most 3", task, len(names), names)
		}
	}
	got, err := windowContents(r.app)
	if err != nil {
		t.Fatal(err)
	}
	// 10 minutes of windows (and the segment boundaries) out of 2 hours.
	if len(got) > 400 {
		t.Errorf("the store holds %d windows, want at most 10 minutes' worth", len(got))
	}
	r.stopOK(t)
}
