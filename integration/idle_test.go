package integration

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCopartitionedTimestampOrder merges two co-partitioned topics whose
// records interleave in time (even timestamps on one, odd on the other),
// all written before the application starts, and hands them over a few
// at a time (MaxPollRecords(5)): each task processes its two partitions'
// records in timestamp order. Partition p holds key "k<p>" on both topics,
// so the outputs of each key are sorted.
func TestCopartitionedTimestampOrder(t *testing.T) {
	app := newAppID(t)
	left, right, out := uniqueName(t, "left"), uniqueName(t, "right"), uniqueName(t, "out")
	createTopics(t, 2, left, right, out)
	base := time.Now().Add(-time.Hour).UnixMilli()
	var recs []*kgo.Record
	for i := range 400 {
		topic := left
		if i%2 == 1 {
			topic = right
		}
		p := int32(i / 2 % 2)
		recs = append(recs, rec(topic, p, []byte(fmt.Sprint("k", p)), []byte(fmt.Sprint(i)), base+int64(i)))
	}
	produce(t, recs...)
	b := kstreams.NewBuilder()
	strs := kstreams.ConsumedWith(serde.String(), serde.String())
	kstreams.StreamFrom(b, left, strs).Merge(kstreams.StreamFrom(b, right, strs)).To(out, kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	r := runApp(t, topo, kstreams.ApplicationID(app), kstreams.MaxPollRecords(5))
	got := consumeUntil(t, out, len(recs), 60*time.Second)
	byKey := map[string][]int64{}
	for _, o := range got {
		byKey[string(o.Key)] = append(byKey[string(o.Key)], o.Timestamp.UnixMilli()-base)
	}
	for k, ts := range byKey {
		if !slices.IsSorted(ts) {
			t.Errorf("key %s (one task) not processed in timestamp order: %v", k, ts)
		}
	}
	if n := r.app.Metrics().EnforcedProcessing; n > 2 {
		t.Errorf("enforced processing %d, want at most the last record of each task", n)
	}
	r.stopOK(t)
}
