package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// copyTopology copies in to out, value unchanged: every input id shows up
// in the output.
func copyTopology(t testing.TB, in, out string, peek func(k, v string)) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	if peek != nil {
		s = s.Peek(peek)
	}
	kstreams.MapValues(s, func(v string) string { return v }).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// idProducer writes records whose key and value are a unique id, spread
// round-robin over the partitions of a topic.
type idProducer struct {
	topic      string
	partitions int32
	ids        []string
}

func (p *idProducer) produce(t testing.TB, n int) []*kgo.Record {
	t.Helper()
	recs := make([]*kgo.Record, n)
	now := time.Now().UnixMilli()
	for i := range recs {
		id := fmt.Sprintf("id-%06d", len(p.ids))
		p.ids = append(p.ids, id)
		recs[i] = rec(p.topic, int32(len(p.ids))%p.partitions, []byte(id), []byte(id), now)
	}
	return produce(t, recs...)
}

// TestTwoInstancesShareAndHandOver runs two instances of one application:
// both get tasks, and when one stops cleanly the other takes over its
// partitions, so every input record reaches the output.
func TestTwoInstancesShareAndHandOver(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	topo := copyTopology(t, in, out, nil)
	ids := &idProducer{topic: in, partitions: 4}

	a := runApp(t, topo, kstreams.ApplicationID(app))
	b := runApp(t, topo, kstreams.ApplicationID(app))
	// Keep input coming until both instances have processed some: the
	// second gets its tasks only after a rebalance.
	poll(t, 30*time.Second, "both instances to process records", func() (bool, string) {
		pa, pb := a.app.Metrics().Processed, b.app.Metrics().Processed
		if pa > 0 && pb > 0 {
			return true, ""
		}
		ids.produce(t, 8)
		return false, fmt.Sprintf("processed: A %d, B %d, states %v/%v", pa, pb, a.app.State(), b.app.State())
	})
	before := len(ids.ids)
	t.Logf("both instances processed records after %d inputs: A %d, B %d", before, a.app.Metrics().Processed, b.app.Metrics().Processed)

	b.stopOK(t)
	bDone := b.app.Metrics().Processed
	aAtStop := a.app.Metrics().Processed
	ids.produce(t, 200)

	counts := consumeIDs(t, out, ids.ids, 45*time.Second)
	dups := 0
	for _, id := range ids.ids {
		dups += counts[id] - 1
	}
	mA := a.app.Metrics()
	t.Logf("inputs %d, duplicates %d; A processed %d (%d after B stopped), B %d", len(ids.ids), dups, mA.Processed, mA.Processed-aAtStop, bDone)
	if got := mA.Processed - aAtStop; got < 200 {
		t.Errorf("A processed %d records after B stopped, want at least the 200 produced since", got)
	}
	if got := b.app.Metrics().Processed; got != bDone {
		t.Errorf("B processed %d records after Run returned (%d before)", got, bDone)
	}
	if mA.Rebalances < 2 {
		t.Errorf("A saw %d assignments, want at least 2 (B joining, B leaving)", mA.Rebalances)
	}
	if s := b.app.State(); s != kstreams.NotRunning {
		t.Errorf("stopped instance state %v, want %v", s, kstreams.NotRunning)
	}
}
