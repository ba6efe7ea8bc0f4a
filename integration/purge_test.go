package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestRepartitionPurged: once the records of a repartition topic are
// processed and committed, they are deleted (the topic's start offsets
// reach the committed offsets), and nothing is lost on the way.
func TestRepartitionPurged(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	rep := app + "-rekey-repartition"
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	s = kstreams.SelectKey(s, func(_, v string) string { return v + "!" })
	s.Repartition(kstreams.Repartitioned[string, string]{Name: "rekey"}).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	runApp(t, topo, kstreams.ApplicationID(app), kstreams.RepartitionPurgeInterval(300*time.Millisecond))
	ids := &idProducer{topic: in, partitions: 4}
	ids.produce(t, 400)
	consumeIDs(t, out, ids.ids, 45*time.Second)
	poll(t, 30*time.Second, "the repartition topic to be purged up to the committed offsets", func() (bool, string) {
		ctx, cancel := ctxFor(t, 5*time.Second)
		defer cancel()
		starts, err := adm.ListStartOffsets(ctx, rep)
		if err != nil {
			return false, err.Error()
		}
		committed, err := adm.FetchOffsets(ctx, app)
		if err != nil {
			return false, err.Error()
		}
		var start, done int64
		starts.Each(func(o kadm.ListedOffset) { start += o.Offset })
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Topic == rep {
				done += o.At
			}
		})
		return done == int64(len(ids.ids)) && start == done, fmt.Sprintf("start offsets sum %d, committed %d, produced %d", start, done, len(ids.ids))
	})
}

// TestRepartitionTopicConfigs: the application creates its repartition
// topics as Kafka Streams does (delete policy, 50 MB segments, no time
// retention), so records with old event times are not deleted by the
// broker before they are processed: a record stamped 1970 goes through.
func TestRepartitionTopicConfigs(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 2, in, out)
	rep := app + "-rekey-repartition"
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	s = kstreams.SelectKey(s, func(_, v string) string { return v })
	s.Repartition(kstreams.Repartitioned[string, string]{Name: "rekey"}).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	runApp(t, topo, kstreams.ApplicationID(app))
	produce(t, rec(in, 0, []byte("k"), []byte("old"), 1000))
	if got := consumeUntil(t, out, 1, 30*time.Second); len(got) != 1 || string(got[0].Value) != "old" {
		t.Fatalf("output %s, want the one record", describeRecords(got))
	}
	ctx, cancel := ctxFor(t, 10*time.Second)
	defer cancel()
	configs, err := adm.DescribeTopicConfigs(ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := configs.On(rep, nil)
	if err != nil {
		t.Fatalf("%s: %v", rep, err)
	}
	want := map[string]string{"cleanup.policy": "delete", "segment.bytes": "52428800", "retention.ms": "-1"}
	for _, c := range rc.Configs {
		if w, ok := want[c.Key]; ok {
			if c.Value == nil || *c.Value != w {
				t.Errorf("%s: %s = %v, want %s", rep, c.Key, c.Value, w)
			}
			delete(want, c.Key)
		}
	}
	if len(want) > 0 {
		t.Errorf("%s: configs %v not described", rep, want)
	}
}
