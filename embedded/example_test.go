package embedded_test

import (
	"context"
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams/embedded"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

// Example starts a broker, creates a topic, and writes and reads typed
// records: what a demo or a test needs around a kstreams application (pass
// broker.Addrs() to kstreams.Brokers).
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	broker, err := embedded.Start(embedded.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer broker.Close()
	if err := broker.CreateTopics(ctx, 1, "greetings"); err != nil {
		fmt.Println(err)
		return
	}
	err = embedded.Produce(ctx, broker, "greetings", serde.String(), serde.Int64(),
		processor.Record[string, int64]{Key: "hello", Value: 1, Timestamp: 1000},
		processor.Record[string, int64]{Key: "world", Value: 2, Timestamp: 2000})
	if err != nil {
		fmt.Println(err)
		return
	}
	recs, err := embedded.Consume(ctx, broker, "greetings", 2, serde.String(), serde.Int64())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs {
		fmt.Println(r.Key, r.Value, r.Timestamp)
	}
	// Output:
	// hello 1 1000
	// world 2 2000
}
