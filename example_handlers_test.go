package kstreams_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// A record the user's code cannot handle goes to a dead-letter topic, as it
// was consumed, with Kafka Streams' error headers; the others go on.
func ExampleOnProcessingError() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	broker, err := embedded.Start(embedded.Options{Partitions: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer broker.Close()
	if err := broker.CreateTopics(ctx, 1, "quantities", "doubled"); err != nil {
		fmt.Println(err)
		return
	}

	b := kstreams.NewBuilder()
	in := kstreams.StreamFrom(b, "quantities", kstreams.ConsumedWith(serde.String(), serde.String()))
	doubled := kstreams.MapValues(in, func(v string) int64 {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			panic(err) // the record is dead-lettered, not the process
		}
		return 2 * n
	}, "double")
	doubled.To("doubled", kstreams.ProducedWith(serde.String(), serde.Int64()))
	topology, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	stateDir, _ := os.MkdirTemp("", "example-procerr-")
	defer os.RemoveAll(stateDir)
	app, err := kstreams.New(topology,
		kstreams.ApplicationID("doubler"),
		kstreams.Brokers(broker.Addrs()...),
		kstreams.StateDir(stateDir),
		kstreams.CommitInterval(100*time.Millisecond),
		kstreams.OnProcessingError(kstreams.DeadLetter("doubler-dlq")),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	defer func() { stop(); <-done }()

	if err := embedded.Produce(ctx, broker, "quantities", serde.String(), serde.String(),
		processor.Record[string, string]{Key: "a", Value: "2"},
		processor.Record[string, string]{Key: "b", Value: "two"},
		processor.Record[string, string]{Key: "c", Value: "3"}); err != nil {
		fmt.Println(err)
		return
	}
	out, err := embedded.Consume(ctx, broker, "doubled", 2, serde.String(), serde.Int64())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range out {
		fmt.Printf("%s=%d\n", r.Key, r.Value)
	}
	dead, err := embedded.Consume(ctx, broker, "doubler-dlq", 1, serde.String(), serde.String())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("dead letter %s=%s\n", dead[0].Key, dead[0].Value)
	for _, h := range dead[0].Headers {
		switch h.Key {
		case kstreams.HeaderStreamsErrorException, kstreams.HeaderStreamsErrorTopic, kstreams.HeaderStreamsErrorOffset:
			fmt.Printf("  %s: %s\n", h.Key, h.Value)
		}
	}
	// Output:
	// a=4
	// c=6
	// dead letter b=two
	//   __streams.errors.exception: *strconv.NumError
	//   __streams.errors.topic: quantities
	//   __streams.errors.offset: 1
}
