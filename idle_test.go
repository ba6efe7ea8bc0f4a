package kstreams_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// A task reading two co-partitioned topics (a merge) on a broker, with
// MaxTaskIdle: records are processed in timestamp order across the two
// partitions while both have data, even when the consumer hands them over
// one at a time (MaxPollRecords(1)), and an empty partition is waited for
// as Kafka Streams' max.task.idle.ms says. Outputs are the timestamps in
// processing order.
func TestMaxTaskIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker")
	}
	br, err := embedded.Start(embedded.Options{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	cases := []struct {
		name        string
		idle        time.Duration
		left, right []int64 // produced before the application starts
		late        []int64 // produced to right 500ms after it runs
		want        []int64
		enforced    int64 // records processed with an empty partition given up on
	}{
		{name: "both have data", left: []int64{10, 30, 50}, right: []int64{20, 40, 60}, want: []int64{10, 20, 30, 40, 50, 60}, enforced: 1},
		{name: "empty partition caught up", left: []int64{10, 20}, want: []int64{10, 20}, enforced: 2},
		{name: "waits for the empty partition", idle: 2 * time.Second, left: []int64{10, 20}, late: []int64{5, 15},
			want: []int64{5, 10, 15, 20}, enforced: 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			left, right, out := fmt.Sprintf("left%d", i), fmt.Sprintf("right%d", i), fmt.Sprintf("out%d", i)
			if err := br.CreateTopics(ctx, 1, left, right, out); err != nil {
				t.Fatal(err)
			}
			produceAt(ctx, t, br, left, tc.left...)
			produceAt(ctx, t, br, right, tc.right...)
			b := kstreams.NewBuilder()
			strs := kstreams.ConsumedWith(serde.String(), serde.String())
			kstreams.StreamFrom(b, left, strs).Merge(kstreams.StreamFrom(b, right, strs)).
				To(out, kstreams.ProducedWith(serde.String(), serde.String()))
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			app, err := kstreams.New(topo, kstreams.ApplicationID("idle-"+out), kstreams.Brokers(br.Addrs()...),
				kstreams.StateDir(t.TempDir()), kstreams.MaxPollRecords(1), kstreams.MaxTaskIdle(tc.idle),
				kstreams.CommitInterval(100*time.Millisecond), kstreams.Logger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- app.Run(runCtx) }()
			defer func() {
				stop()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			if len(tc.late) > 0 {
				for app.State() != kstreams.Running {
					time.Sleep(20 * time.Millisecond)
				}
				time.Sleep(500 * time.Millisecond)
				produceAt(ctx, t, br, right, tc.late...)
			}
			got, err := embedded.Consume(ctx, br, out, len(tc.want), serde.String(), serde.String())
			if err != nil {
				t.Fatal(err)
			}
			var ts []int64
			for _, r := range got {
				ts = append(ts, r.Timestamp)
			}
			if fmt.Sprint(ts) != fmt.Sprint(tc.want) {
				t.Errorf("processed %v, want %v", ts, tc.want)
			}
			if n := app.Metrics().EnforcedProcessing; n != tc.enforced {
				t.Errorf("enforced processing %d, want %d", n, tc.enforced)
			}
		})
	}
}

func produceAt(ctx context.Context, t *testing.T, br *embedded.Broker, topic string, ts ...int64) {
	t.Helper()
	var recs []processor.Record[string, string]
	for _, x := range ts {
		recs = append(recs, processor.Record[string, string]{Key: "k", Value: fmt.Sprint(x), Timestamp: x})
	}
	if len(recs) == 0 {
		return
	}
	if err := embedded.Produce(ctx, br, topic, serde.String(), serde.String(), recs...); err != nil {
		t.Fatal(err)
	}
}
