package kstreams_test

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// An application that scales out without restore stalls: a stateful task
// moves to a new instance only once that instance's copy of the task's
// state is within 1,000 changelog records of the end; until then it warms
// up there, four tasks at a time, and the group checks every minute.
func ExampleAcceptableRecoveryLag() {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "clicks", kstreams.ConsumedWith(serde.String(), serde.String())).
		GroupByKey().Count(kstreams.Materialized[string, int64]{Name: "clicks-per-user", Value: serde.Int64()})
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = kstreams.New(topo,
		kstreams.ApplicationID("clicks"), kstreams.Brokers("localhost:9092"),
		kstreams.AcceptableRecoveryLag(1000),
		kstreams.MaxWarmupReplicas(4),
		kstreams.ProbingRebalanceInterval(time.Minute),
	)
	fmt.Println(err)
	// Output: <nil>
}
