package kstreams_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

// A left join emits a left record without partner only once its window
// has closed, and looks for closed windows at most once per second of
// wall-clock time (Kafka Streams' internal emit interval; Java's
// TopologyTestDriver sets it to 0, so the differential suite advances the
// wall clock instead). A record that finds a partner in time is never
// emitted alone.
func TestStreamStreamLeftJoinEmitsClosedWindowsByWallClock(t *testing.T) {
	str := serde.String()
	b := kstreams.NewBuilder()
	l := kstreams.StreamFrom(b, "left", kstreams.ConsumedWith(str, str))
	r := kstreams.StreamFrom(b, "right", kstreams.ConsumedWith(str, str))
	kstreams.StreamStreamLeftJoin(l, r, func(k, lv, rv string) string { return k + "=" + lv + "/" + rv },
		kstreams.JoinWindowsOfTimeDifferenceWithNoGrace(10*time.Millisecond)).To("out", kstreams.ProducedWith(str, str))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo, kstreamstest.WallClock(time.UnixMilli(0)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	left := kstreamstest.NewInputTopic(d, "left", str, str)
	right := kstreamstest.NewInputTopic(d, "right", str, str)
	out := kstreamstest.NewOutputTopic(d, "out", str, str)
	read := func() []string {
		t.Helper()
		recs, err := out.ReadRecords()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, fmt.Sprintf("%s@%d", r.Value, r.Timestamp))
		}
		return got
	}
	steps := []struct {
		pipe    func() error
		advance time.Duration
		want    []string
	}{
		// The first look (wall clock 0) finds nothing and sets the next
		// one to 1 s.
		{func() error { return left.PipeAt("k", "A", 10) }, 0, nil},
		// A's window [0, 20] closed at stream time 100, but the wall
		// clock has not moved.
		{func() error { return right.PipeAt("j", "x", 100) }, 0, nil},
		{func() error { return right.PipeAt("j", "y", 101) }, time.Second, []string{"k=A/@10"}},
		// B finds z within the window: joined, never emitted alone.
		{func() error { return left.PipeAt("k", "B", 200) }, time.Second, nil},
		{func() error { return right.PipeAt("k", "z", 205) }, time.Second, []string{"k=B/z@205"}},
		{func() error { return right.PipeAt("j", "w", 300) }, time.Second, nil},
	}
	for i, st := range steps {
		if st.advance > 0 {
			if err := d.AdvanceWallClock(st.advance); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.pipe(); err != nil {
			t.Fatal(err)
		}
		if got := read(); !slices.Equal(got, st.want) {
			t.Fatalf("step %d: got %v, want %v", i, got, st.want)
		}
	}
}

// Orders joined with the payments that arrive within ten minutes of them:
// a left join emits the order alone once its window has closed.
func ExampleStreamStreamLeftJoin() {
	str := serde.String()
	b := kstreams.NewBuilder()
	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(str, str))
	payments := kstreams.StreamFrom(b, "payments", kstreams.ConsumedWith(str, str))
	kstreams.StreamStreamLeftJoin(orders, payments,
		func(id, order, payment string) string {
			if payment == "" {
				return id + ": " + order + ", unpaid"
			}
			return id + ": " + order + ", paid by " + payment
		},
		kstreams.JoinWindowsOfTimeDifferenceAndGrace(10*time.Minute, time.Minute),
		kstreams.StreamJoined[string, string, string]{StoreName: "order-payments"},
	).To("order-status", kstreams.ProducedWith(str, str))
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	in := kstreamstest.NewInputTopic(d, "orders", str, str)
	pay := kstreamstest.NewInputTopic(d, "payments", str, str)
	minute := time.Minute.Milliseconds()
	_ = in.PipeAt("o1", "book", 0)
	_ = in.PipeAt("o2", "pen", 1*minute)
	_ = pay.PipeAt("o1", "card", 3*minute)
	// An hour later the window of o2 has closed (10 min + 1 min grace).
	_ = d.AdvanceWallClock(time.Second)
	_ = in.PipeAt("o3", "ink", 60*minute)
	kvs, _ := kstreamstest.NewOutputTopic(d, "order-status", str, str).ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Value)
	}
	// Output:
	// o1: book, paid by card
	// o2: pen, unpaid
}
