package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// TestCommitDuringBacklog: an instance starts over a backlog that one poll
// returns whole (MaxPollRecords above it), each record taking a
// millisecond to process, with a commit interval of 100ms. The thread
// commits between its processing turns once the interval has passed, as
// Kafka Streams' does: the committed offset advances while the backlog is
// still being processed, many times, instead of once at its end. Under
// both guarantees.
func TestCommitDuringBacklog(t *testing.T) {
	for _, g := range []kstreams.Guarantee{kstreams.AtLeastOnce, kstreams.ExactlyOnce} {
		t.Run(g.String(), func(t *testing.T) { testCommitDuringBacklog(t, g) })
	}
}

func testCommitDuringBacklog(t *testing.T, g kstreams.Guarantee) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 1, in, out)
	const n = 1500
	input := newKeyedInput(in, 1, 20)
	input.produce(t, n)

	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String())).
		Peek(func(string, string) { time.Sleep(time.Millisecond) }).
		To(out, kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	r := runApp(t, topo, kstreams.ApplicationID(app), kstreams.ProcessingGuarantee(g),
		kstreams.CommitInterval(100*time.Millisecond), kstreams.MaxPollRecords(10*n))
	// Every distinct committed offset seen below the end: commits made
	// while the backlog was being processed.
	mid := map[int64]bool{}
	poll(t, 60*time.Second, "the backlog to be committed", func() (bool, string) {
		c := committed(t, app, in)[0]
		if c > 0 && c < n {
			mid[c] = true
		}
		return c == n, fmt.Sprintf("committed %d of %d", c, n)
	})
	commits := r.app.Metrics().Commits
	r.stopOK(t)
	if a := r.app.Metrics().AbortedTransactions; a != 0 {
		t.Errorf("%d transactions aborted, want none", a)
	}
	t.Logf("%v: %d distinct offsets committed mid-backlog, %d commits while it was processed", g, len(mid), commits)
	// The backlog takes 1.5s or more: at a 100ms interval that is about
	// fifteen commits; a handful already shows commits are not held back
	// to the end.
	if len(mid) < 3 {
		t.Errorf("%d offsets committed while the %d-record backlog was processed, want several (the commit waited for the backlog)", len(mid), n)
	}
	// Each commit covers the records processed, not those polled: every
	// input is in the output, once under exactly-once.
	outs := readCommitted(t, out)
	seen := map[string]int{}
	for _, r := range outs {
		seen[string(r.Value)]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct inputs in the output, want %d", len(seen), n)
	}
	if g == kstreams.ExactlyOnce && len(outs) != n {
		t.Errorf("%d outputs under exactly-once, want %d", len(outs), n)
	}
}
