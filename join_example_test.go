package kstreams_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// Joins of non-pointer values, with the record cache on: a missing row is
// the zero value, the cached tables forward their updates at each flush,
// and a materialized table-table join is queryable, its rows stamped with
// the larger timestamp of the two rows.
func TestJoinsWithCachingAndZeroValues(t *testing.T) {
	str, i64 := serde.String(), serde.Int64()
	b := kstreams.NewBuilder()
	prices := kstreams.TableFrom(b, "prices", kstreams.ConsumedWith(str, i64))
	stock := kstreams.TableFrom(b, "stock", kstreams.ConsumedWith(str, i64))
	value := kstreams.TableLeftJoin(prices, stock, func(_ string, p, n int64) int64 { return p * n },
		kstreams.Materialized[string, int64]{Name: "value", Value: i64})
	value.ToStream().To("values", kstreams.ProducedWith(str, i64))
	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(str, i64))
	kstreams.StreamTableLeftJoin(orders, prices, func(k string, qty, price int64) string {
		return fmt.Sprintf("%s:%d*%d", k, qty, price)
	}).To("priced", kstreams.ProducedWith(str, str))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo, kstreamstest.CacheMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pIn := kstreamstest.NewInputTopic(d, "prices", str, i64)
	sIn := kstreamstest.NewInputTopic(d, "stock", str, i64)
	oIn := kstreamstest.NewInputTopic(d, "orders", str, i64)
	steps := []error{
		oIn.PipeAt("pen", 2, 1),    // no price yet: joined with 0
		pIn.PipeAt("pen", 3, 10),   // no stock: 3*0
		sIn.PipeAt("pen", 4, 5),    // 3*4 at max(10, 5)
		oIn.PipeAt("pen", 5, 7),    // priced at 3
		sIn.PipeAt("ink", 9, 20),   // no price row: nothing
		pIn.PipeAt("pen", 6, 30),   // 6*4 at 30
		oIn.PipeAt("cap", 1, 31),   // no price: 0
		pIn.PipeAt("ink", 2, 40),   // 2*9 at 40
		sIn.PipeAt("pen", 10, 50),  // 6*10 at 50
		oIn.PipeAt("pen", 1, 60),   // priced at 6
		sIn.PipeAt("ink", 100, 35), // 2*100 at max(40, 35)
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	vals, err := kstreamstest.NewOutputTopic(d, "values", str, i64).ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range vals {
		got = append(got, fmt.Sprintf("%s=%d@%d", r.Key, r.Value, r.Timestamp))
	}
	want := []string{"pen=0@10", "pen=12@10", "pen=24@30", "ink=18@40", "pen=60@50", "ink=200@40"}
	if !slices.Equal(got, want) {
		t.Errorf("values:\n got %q\nwant %q", got, want)
	}
	priced, err := kstreamstest.NewOutputTopic(d, "priced", str, str).ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, kv := range priced {
		got = append(got, kv.Value)
	}
	if want := []string{"pen:2*0", "pen:5*3", "cap:1*0", "pen:1*6"}; !slices.Equal(got, want) {
		t.Errorf("priced:\n got %q\nwant %q", got, want)
	}
	st, err := kstreamstest.Store[state.TimestampedKeyValueStore[string, int64]](d, "value")
	if err != nil {
		t.Fatal(err)
	}
	row, ok, err := st.Get("ink")
	if err != nil || !ok || row.Value != 200 || row.Timestamp != 40 {
		t.Fatalf("store value, ink: %+v, %v, %v; want 200 at 40", row, ok, err)
	}
}

// StreamTableLeftJoin enriches each order with its customer's name, as the
// customers table holds it when the order is processed; a pointer value
// type tells a missing customer (nil) from an empty name.
func ExampleStreamTableLeftJoin() {
	str := serde.String()
	b := kstreams.NewBuilder()
	orders := kstreams.StreamFrom(b, "orders", kstreams.ConsumedWith(str, str))
	names := kstreams.TableFrom(b, "customers", kstreams.ConsumedWith(str, serde.JSON[*string]()))
	kstreams.StreamTableLeftJoin(orders, names, func(customer, item string, name *string) string {
		if name == nil {
			return item + " for unknown customer " + customer
		}
		return item + " for " + *name
	}).To("enriched", kstreams.ProducedWith(str, str))
	topology, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := kstreamstest.New(topology)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	o := kstreamstest.NewInputTopic(d, "orders", str, str)
	c := kstreamstest.NewInputTopic(d, "customers", str, serde.JSON[*string]())
	ada := "Ada"
	_ = o.PipeAt("c1", "pen", 1)
	_ = c.PipeAt("c1", &ada, 2)
	_ = o.PipeAt("c1", "ink", 3)
	out, _ := kstreamstest.NewOutputTopic(d, "enriched", str, str).ReadKeyValues()
	for _, kv := range out {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// c1 pen for unknown customer c1
	// c1 ink for Ada
}
