package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// The topics, after the prefix of [Topics].
const (
	topicOrders    = "orders"           // input: raw orders, keyed by order id
	topicPayments  = "payments"         // input: payments, keyed by order id
	topicEncrypted = "orders-encrypted" // step 1 -> 2
	topicValid     = "orders-valid"     // step 2 -> 3
	topicErrors    = "order-errors"     // step 2: invalid orders, with reasons
	topicUnique    = "orders-unique"    // step 3 -> 4, 5, 6
	topicTimeouts  = "order-timeouts"   // step 6
	topicProfiles  = "user-profiles"    // step 5 -> the PostgreSQL sink
	productsPrefix = "products-"        // step 4: products-<category>, created as needed
)

// The state stores.
const (
	storeSeen     = "seen-orders"      // window store of the deduplication
	storePending  = "pending-payments" // the timeout rule's orders and early payments
	storeProfiles = "profiles"         // the per-user aggregates
)

// Topics prefixes every topic name (tests run several pipelines on one broker).
type Topics struct{ Prefix string }

func (t Topics) name(n string) string { return t.Prefix + n }

// Steps is what the topology needs besides the topics.
type Steps struct {
	Topics      Topics
	Keys        *KeyRing
	DedupWindow time.Duration // a second copy of an order within it is dropped
	Timeout     time.Duration // no payment within it: one order-timeouts record
	Grace       time.Duration // stream time past a deadline before it is enforced
	Stats       *Stats
	// EnsureTopic creates a products-<category> topic if it does not exist
	// (the broker does not auto-create topics).
	EnsureTopic func(topic string) error
}

// Topology builds the pipeline: each step reads one topic and writes the
// next, as the scenario's chain of small services would.
func Topology(s Steps) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	str, raw := serde.String(), serde.Bytes()
	t := s.Topics
	bytesOut := kstreams.ProducedWith(str, raw)

	// 1. Encrypt the sensitive fields before anything else sees them.
	orders := kstreams.StreamFrom(b, t.name(topicOrders), kstreams.ConsumedWith(str, raw))
	encrypted := kstreams.Process(orders, supply(func(ctx processor.Context[string, []byte], r processor.Record[string, []byte]) error {
		s.Stats.Orders.Add(1)
		enc, err := encryptOrder(s.Keys, r.Value)
		if err != nil {
			return err
		}
		r.Value = enc
		r.Headers = setHeader(r.Headers, KeyIDHeader, s.Keys.Current)
		ctx.Forward(r)
		return nil
	}), "encrypt")
	encrypted.To(t.name(topicEncrypted), bytesOut)

	// 2. Validate: invalid orders go to order-errors with their reasons.
	checked := kstreams.Process(kstreams.StreamFrom(b, t.name(topicEncrypted), kstreams.ConsumedWith(str, raw)),
		supply(func(ctx processor.Context[string, []byte], r processor.Record[string, []byte]) error {
			_, reasons := validateOrder(s.Keys, header(r.Headers, KeyIDHeader), r.Value)
			if len(reasons) == 0 {
				ctx.ForwardTo("valid", r)
				return nil
			}
			s.Stats.countErrors(reasons)
			v, err := json.Marshal(OrderError{Order: json.RawMessage(r.Value), Reasons: reasons})
			if err != nil {
				return err
			}
			r.Value = v
			r.Headers = setHeader(r.Headers, ErrorsHeader, strings.Join(reasons, "; "))
			ctx.ForwardTo("invalid", r)
			return nil
		}), "validate")
	checked.Filter(func(string, []byte) bool { return true }, "valid").To(t.name(topicValid), bytesOut)
	checked.Filter(func(string, []byte) bool { return true }, "invalid").To(t.name(topicErrors), bytesOut)

	// 3. Deduplicate by order id within DedupWindow.
	orderJSON := serde.JSON[*Order]()
	valid := kstreams.StreamFrom(b, t.name(topicValid), kstreams.ConsumedWith(str, orderJSON))
	kstreams.AddWindowStore(b, kstreams.WindowStoreBuilder[string, int64]{
		Name: storeSeen, Key: str, Value: serde.Int64(),
		Retention: 2 * s.DedupWindow, WindowSize: s.DedupWindow,
	})
	unique := kstreams.ProcessWithStores(valid, func() processor.Processor[string, *Order, string, *Order] {
		return &dedup{window: s.DedupWindow.Milliseconds(), stats: s.Stats}
	}, []string{storeSeen}, "deduplicate")
	unique.To(t.name(topicUnique), kstreams.ProducedWith(str, orderJSON))

	// 4, 5, 6 read the deduplicated orders.
	deduped := kstreams.StreamFrom(b, t.name(topicUnique), kstreams.ConsumedWith(str, orderJSON))
	splitAndRoute(s, deduped)
	profiles(s, deduped)
	timeouts(b, s, deduped)
	return b.Build()
}

// splitAndRoute is step 4: one record per product, keyed by product id, to
// products-<category>.
func splitAndRoute(s Steps, orders kstreams.Stream[string, *Order]) {
	lines := kstreams.FlatMap(orders, func(_ string, o *Order) []kstreams.KeyValue[string, *ProductLine] {
		out := make([]kstreams.KeyValue[string, *ProductLine], 0, len(o.Products))
		for _, p := range o.Products {
			out = append(out, kstreams.KeyValue[string, *ProductLine]{Key: p.ProductID, Value: &ProductLine{OrderID: o.OrderID, UserID: o.UserID, Product: p}})
		}
		return out
	}, "split")
	topicOf := func(p *ProductLine) string { return s.Topics.name(productsPrefix + p.Category) }
	ensured := kstreams.Process(lines, supply(func(ctx processor.Context[string, *ProductLine], r processor.Record[string, *ProductLine]) error {
		if err := s.EnsureTopic(topicOf(r.Value)); err != nil {
			return err
		}
		s.Stats.Routed.Add(1)
		ctx.Forward(r)
		return nil
	}), "ensure-category-topic")
	ensured.ToFunc(func(r processor.Record[string, *ProductLine]) string { return topicOf(r.Value) },
		kstreams.ProducedWith(serde.String(), serde.JSON[*ProductLine]()))
}

// profiles is step 5's aggregation: the per-user profile, written to
// user-profiles for the PostgreSQL sink.
func profiles(s Steps, orders kstreams.Stream[string, *Order]) {
	str, orderJSON, profileJSON := serde.String(), serde.JSON[*Order](), serde.JSON[*Profile]()
	byUser := kstreams.GroupBy(orders, func(_ string, o *Order) string { return o.UserID },
		kstreams.Grouped[string, *Order]{Name: "orders-by-user", Key: str, Value: orderJSON})
	table := kstreams.Aggregate(byUser, func() *Profile { return nil },
		func(_ string, o *Order, p *Profile) *Profile { return addOrder(p, o) },
		kstreams.Materialized[string, *Profile]{Name: storeProfiles, Key: str, Value: profileJSON})
	table.ToStream().To(s.Topics.name(topicProfiles), kstreams.ProducedWith(str, profileJSON))
}

// timeouts is step 6: the orders and the payments, merged by order id (the
// two topics have the same partitions), through the timeout rule.
func timeouts(b *kstreams.Builder, s Steps, orders kstreams.Stream[string, *Order]) {
	str := serde.String()
	payments := kstreams.StreamFrom(b, s.Topics.name(topicPayments), kstreams.ConsumedWith(str, serde.JSON[*Payment]()))
	events := kstreams.MapValues(orders, func(o *Order) paymentEvent { return paymentEvent{Order: o} }, "order-event").
		Merge(kstreams.MapValues(payments, func(p *Payment) paymentEvent { return paymentEvent{Payment: p} }, "payment-event"))
	kstreams.AddStateStore(b, kstreams.StoreBuilder[string, *pending]{Name: storePending, Key: str, Value: serde.JSON[*pending]()})
	out := kstreams.ProcessWithStores(events, func() processor.Processor[string, paymentEvent, string, *Timeout] {
		return &timeoutRule{timeout: s.Timeout.Milliseconds(), grace: s.Grace.Milliseconds(), stats: s.Stats}
	}, []string{storePending}, "timeout-rule")
	out.To(s.Topics.name(topicTimeouts), kstreams.ProducedWith(str, serde.JSON[*Timeout]()))
}

// dedup forwards the first copy of each order id and drops the copies that
// come within the window (before or after it in event time). The window
// store keeps the ids for twice the window, then drops them a segment at a
// time: the state is bounded, and restored from its changelog.
type dedup struct {
	ctx    processor.Context[string, *Order]
	seen   state.WindowStore[string, int64]
	window int64
	stats  *Stats
}

func (d *dedup) Init(ctx processor.Context[string, *Order]) (err error) {
	d.ctx = ctx
	d.seen, err = processor.Store[state.WindowStore[string, int64]](ctx, storeSeen)
	return err
}

func (d *dedup) Process(r processor.Record[string, *Order]) error {
	it, err := d.seen.FetchTimeRange(r.Key, r.Timestamp-d.window, r.Timestamp+d.window)
	if err != nil {
		return err
	}
	dup := it.Next()
	if err := it.Close(); err != nil {
		return err
	}
	if dup {
		d.stats.DedupHits.Add(1)
		return nil
	}
	if err := d.seen.Put(r.Key, r.Timestamp, r.Timestamp); err != nil {
		return err
	}
	r.Value.EventMs = r.Timestamp
	d.ctx.Forward(r)
	return nil
}

func (d *dedup) Close() error { return nil }

// paymentEvent is an order or a payment, as the timeout rule sees them.
type paymentEvent struct {
	Order   *Order
	Payment *Payment
}

// pending is the timeout rule's state of one order id: an order waiting for
// its payment (OrderMs set), or a payment that came before its order
// (PaidMs set).
type pending struct {
	UserID     string `json:"user_id,omitempty"`
	OrderMs    int64  `json:"order_ms,omitempty"`
	DeadlineMs int64  `json:"deadline_ms,omitempty"`
	PaidMs     int64  `json:"paid_ms,omitempty"`
}

// timeoutRule emits one Timeout for each order with no payment within
// timeout of its event time. It runs on stream time: a payment that comes
// after the deadline times the order out when it is processed, an order
// still pending when stream time passes its deadline plus grace is timed
// out by a stream-time punctuator. The result depends on the records only,
// not on when they are processed, so a replay or a restart after a crash
// (under exactly-once) gives the same timeouts, and a backlog caught up
// after downtime does not time out orders whose payments are in it.
//
// The task's stream time is the larger of the two inputs' and the
// payments, read straight from their topic, run ahead of the orders, which
// come three steps later: what the rule waits for is never behind the
// clock it waits on. The rule keeps its own copy of each input's time in
// the store (under clockKey): kstreams does not restore a task's stream
// time after a restart (Kafka Streams keeps it in the committed offsets'
// metadata), and an order that comes after the payments' time passed its
// deadline is timed out at once, as the punctuator, which runs only when
// stream time moves, would have done. A wall-clock punctuator runs the same
// check every second, deciding on the records' times only: after a
// restart, stream time may not move again while orders restored from the
// changelog wait. A payment that came before its order waits for it until the orders' time is past it by twice the timeout and
// grace: the order was invalid.
type timeoutRule struct {
	ctx            processor.Context[string, *Timeout]
	store          state.KeyValueStore[string, *pending]
	timeout, grace int64
	stats          *Stats
}

// clockKey keeps the largest order timestamp (in OrderMs) and payment or
// heartbeat timestamp (in PaidMs) the rule has seen; order ids never start
// with a NUL.
const clockKey = "\x00clock"

func (p *timeoutRule) Init(ctx processor.Context[string, *Timeout]) (err error) {
	p.ctx = ctx
	if p.store, err = processor.Store[state.KeyValueStore[string, *pending]](ctx, storePending); err != nil {
		return err
	}
	ctx.Schedule(time.Second, processor.StreamTime, p.expire)
	// The wall clock only triggers the check, which still decides on the
	// records' times: a task restarted with orders pending and nothing
	// left to read would otherwise never see stream time move again.
	ctx.Schedule(time.Second, processor.WallClockTime, func(int64) error { return p.expire(p.ctx.StreamTime()) })
	return nil
}

func (p *timeoutRule) Process(r processor.Record[string, paymentEvent]) error {
	clock, err := p.advance(r.Value.Order != nil, r.Timestamp)
	if err != nil {
		return err
	}
	switch ev := r.Value; {
	case ev.Order != nil:
		e, ok, err := p.store.Get(r.Key)
		if err != nil {
			return err
		}
		deadline := r.Timestamp + p.timeout
		if ok && e.PaidMs > 0 { // paid before the order came
			if e.PaidMs > deadline {
				p.emit(r.Key, &pending{UserID: ev.Order.UserID, OrderMs: r.Timestamp, DeadlineMs: deadline})
			}
			_, _, err = p.store.Delete(r.Key)
			return err
		}
		e = &pending{UserID: ev.Order.UserID, OrderMs: r.Timestamp, DeadlineMs: deadline}
		if deadline+p.grace < max(clock.PaidMs, p.ctx.StreamTime()) {
			p.emit(r.Key, e) // the payments' time is past the deadline
			return nil
		}
		return p.store.Put(r.Key, e)
	case ev.Payment != nil && !ev.Payment.Heartbeat:
		e, ok, err := p.store.Get(r.Key)
		if err != nil {
			return err
		}
		if !ok {
			return p.store.Put(r.Key, &pending{PaidMs: r.Timestamp})
		}
		if e.OrderMs == 0 {
			return nil // a second payment before the order
		}
		if r.Timestamp > e.DeadlineMs {
			p.emit(r.Key, e)
		}
		_, _, err = p.store.Delete(r.Key)
		return err
	}
	return nil
}

// advance moves the orders' or the payments' clock to ts if it is later,
// and returns the clocks.
func (p *timeoutRule) advance(order bool, ts int64) (*pending, error) {
	c, ok, err := p.store.Get(clockKey)
	if err != nil {
		return nil, err
	}
	if !ok {
		c = &pending{}
	}
	if order && ts > c.OrderMs {
		c.OrderMs = ts
	} else if !order && ts > c.PaidMs {
		c.PaidMs = ts
	} else {
		return c, nil
	}
	return c, p.store.Put(clockKey, c)
}

// expire times out the orders whose deadline plus grace the payments' time
// has passed, and forgets early payments whose order never came (an
// invalid order's) once the orders' time is twice that past them.
func (p *timeoutRule) expire(now int64) error {
	clock, _, err := p.store.Get(clockKey)
	if err != nil || clock == nil {
		return err
	}
	now = max(now, clock.PaidMs)
	it, err := p.store.All()
	if err != nil {
		return err
	}
	var done []string
	for it.Next() {
		e := it.Value()
		switch {
		case it.Key() == clockKey:
		case e.OrderMs > 0 && e.DeadlineMs+p.grace < now:
			p.emit(it.Key(), e)
			done = append(done, it.Key())
		case e.OrderMs == 0 && e.PaidMs+2*(p.timeout+p.grace) < clock.OrderMs:
			done = append(done, it.Key())
		}
	}
	if err := it.Err(); err != nil {
		it.Close()
		return err
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, k := range done {
		if _, _, err := p.store.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (p *timeoutRule) emit(orderID string, e *pending) {
	p.stats.Timeouts.Add(1)
	p.ctx.Forward(processor.Record[string, *Timeout]{
		Key: orderID, Timestamp: e.DeadlineMs,
		Value: &Timeout{OrderID: orderID, UserID: e.UserID, OrderMs: e.OrderMs, DeadlineMs: e.DeadlineMs},
	})
}

func (p *timeoutRule) Close() error { return nil }

// supply makes a processor supplier of a function of the context and the
// record.
func supply[K, V, K2, V2 any](fn func(processor.Context[K2, V2], processor.Record[K, V]) error) processor.Supplier[K, V, K2, V2] {
	return func() processor.Processor[K, V, K2, V2] { return &funcProcessor[K, V, K2, V2]{fn: fn} }
}

type funcProcessor[K, V, K2, V2 any] struct {
	ctx processor.Context[K2, V2]
	fn  func(processor.Context[K2, V2], processor.Record[K, V]) error
}

func (p *funcProcessor[K, V, K2, V2]) Init(ctx processor.Context[K2, V2]) error {
	p.ctx = ctx
	return nil
}

func (p *funcProcessor[K, V, K2, V2]) Process(r processor.Record[K, V]) error { return p.fn(p.ctx, r) }
func (p *funcProcessor[K, V, K2, V2]) Close() error                           { return nil }

func header(hs []processor.Header, key string) string {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return string(hs[i].Value)
		}
	}
	return ""
}

// setHeader returns hs with key set to value (a copy: headers are shared
// with the input record).
func setHeader(hs []processor.Header, key, value string) []processor.Header {
	out := make([]processor.Header, 0, len(hs)+1)
	for _, h := range hs {
		if h.Key != key {
			out = append(out, h)
		}
	}
	return append(out, processor.Header{Key: key, Value: []byte(value)})
}
