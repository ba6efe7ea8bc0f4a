package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/serde/registry"
	"github.com/kstreams-go/kstreams/state"
)

// ---------------------------------------------------------------------------
// The order service: an asynchronous producer that batches (it lingers
// Linger before sending a batch), keys every event by user id so that one
// user's events stay in order on one partition, and flushes on shutdown.
// ---------------------------------------------------------------------------

type orderService struct {
	cl            *kgo.Client
	v1            serde.Serde[OrderPlacedV1]
	v2            serde.Serde[OrderPlacedV2]
	notifications serde.Serde[OrderNotification]
	ordersTopic   string
	notifyTopic   string
	failed        atomic.Int64 // records the broker did not take
}

func newOrderService(brokers []string, reg *registry.Registry, cfg *config) (*orderService, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(cfg.Linger),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil))) // murmur2 of the key, as Java's producer
	if err != nil {
		return nil, err
	}
	s := &orderService{cl: cl, ordersTopic: cfg.OrdersTopic, notifyTopic: cfg.NotifyTopic}
	if s.v1, err = registry.Avro[OrderPlacedV1](reg, orderPlacedV1Schema); err != nil {
		return nil, err
	}
	if s.v2, err = registry.Avro[OrderPlacedV2](reg, orderPlacedV2Schema); err != nil {
		return nil, err
	}
	if s.notifications, err = registry.Avro[OrderNotification](reg, orderNotificationSchema); err != nil {
		return nil, err
	}
	return s, nil
}

// publish sends an order event (v1 or v2) and its notification without
// waiting; errors are counted in the promise.
func (s *orderService) publish(ctx context.Context, o OrderPlacedV2, version int) error {
	var value []byte
	var err error
	if version == 1 {
		value, err = s.v1.Serialize(s.ordersTopic, OrderPlacedV1{o.EventID, o.OrderID, o.UserID, o.AmountCents, o.Items})
	} else {
		value, err = s.v2.Serialize(s.ordersTopic, o)
	}
	if err != nil {
		return err
	}
	note, err := s.notifications.Serialize(s.notifyTopic, OrderNotification{EventID: o.EventID, OrderID: o.OrderID})
	if err != nil {
		return err
	}
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			s.failed.Add(1)
		}
	}
	s.cl.Produce(ctx, &kgo.Record{Topic: s.ordersTopic, Key: []byte(o.UserID), Value: value}, promise)
	s.cl.Produce(ctx, &kgo.Record{Topic: s.notifyTopic, Key: []byte(o.UserID), Value: note}, promise)
	return nil
}

// tryV3 tries to register the incompatible v3 of OrderPlaced, which the
// registry must refuse; it returns the refusal.
func tryV3(reg *registry.Registry, topic string) error {
	v3, err := registry.Avro[orderPlacedV3](reg, orderPlacedV3Schema)
	if err != nil {
		return err
	}
	_, err = v3.Serialize(topic, orderPlacedV3{EventID: "v3", AmountCents: "12.50"})
	if err == nil {
		return errors.New("the registry accepted an incompatible v3 of OrderPlaced")
	}
	return err
}

// close flushes what is still batched and closes the client.
func (s *orderService) close(ctx context.Context) error {
	err := s.cl.Flush(ctx)
	s.cl.Close()
	if n := s.failed.Load(); err == nil && n > 0 {
		err = fmt.Errorf("%d records not produced", n)
	}
	return err
}

// ---------------------------------------------------------------------------
// The email service: a kstreams application, run as a group of instances,
// reading OrderPlaced with the v1 schema (an old consumer that never
// learned about the currency). Delivery is at least once, so it remembers
// the event ids it has emailed in the store sent-emails and skips
// duplicates.
// ---------------------------------------------------------------------------

// mailbox records the emails "sent" (the example prints them instead).
type mailbox struct {
	mu         sync.Mutex
	sent       map[string]int // event id -> emails sent
	duplicates atomic.Int64
	byInstance map[string]int
}

func newMailbox() *mailbox {
	return &mailbox{sent: map[string]int{}, byInstance: map[string]int{}}
}

func (m *mailbox) send(instance string, o OrderPlacedV1) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent[o.EventID]++
	m.byInstance[instance]++
}

func emailTopology(cfg *config, reg *registry.Registry, box *mailbox, instance string) (*kstreams.Topology, error) {
	orders, err := registry.Avro[OrderPlacedV1](reg, orderPlacedV1Schema)
	if err != nil {
		return nil, err
	}
	b := kstreams.NewBuilder()
	kstreams.AddStateStore(b, kstreams.StoreBuilder[string, int64]{Name: "sent-emails", Key: serde.String(), Value: serde.Int64()})
	s := kstreams.StreamFrom(b, cfg.OrdersTopic, kstreams.ConsumedWith(serde.String(), orders))
	kstreams.ProcessWithStores(s, func() processor.Processor[string, OrderPlacedV1, string, string] {
		return &emailer{box: box, instance: instance}
	}, []string{"sent-emails"}, "send-email")
	return b.Build()
}

type emailer struct {
	box      *mailbox
	instance string
	sent     state.KeyValueStore[string, int64]
}

func (e *emailer) Init(ctx processor.Context[string, string]) (err error) {
	e.sent, err = processor.Store[state.KeyValueStore[string, int64]](ctx, "sent-emails")
	return err
}

func (e *emailer) Process(r processor.Record[string, OrderPlacedV1]) error {
	if _, seen, err := e.sent.Get(r.Value.EventID); err != nil || seen {
		if seen {
			e.box.duplicates.Add(1)
		}
		return err
	}
	e.box.send(e.instance, r.Value)
	return e.sent.Put(r.Value.EventID, r.Timestamp)
}

func (e *emailer) Close() error { return nil }

// ---------------------------------------------------------------------------
// CQRS: the write side is the order service's log; the read side is a
// kstreams table of totals per user (read with the v2 schema), queryable
// over HTTP.
// ---------------------------------------------------------------------------

func readSideTopology(cfg *config, reg *registry.Registry) (*kstreams.Topology, error) {
	orders, err := registry.Avro[OrderPlacedV2](reg, orderPlacedV2Schema)
	if err != nil {
		return nil, err
	}
	totals, err := registry.Avro[UserTotals](reg, userTotalsSchema)
	if err != nil {
		return nil, err
	}
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, cfg.OrdersTopic, kstreams.ConsumedWith(serde.String(), orders))
	kstreams.Aggregate(s.GroupByKey(), func() UserTotals { return UserTotals{} }, addOrder,
		kstreams.Materialized[string, UserTotals]{Name: "user-totals", Value: totals})
	return b.Build()
}

// addOrder upserts an order into a user's totals (a duplicate event
// changes nothing). It copies the map: the aggregate's old value must stay
// as it was.
func addOrder(_ string, o OrderPlacedV2, t UserTotals) UserTotals {
	orders := make(map[string]int64, len(t.Orders)+1)
	for k, v := range t.Orders {
		orders[k] = v
	}
	orders[o.OrderID] = o.AmountCents
	return UserTotals{Orders: orders}
}

// ---------------------------------------------------------------------------
// Event sourcing: the state of every user rebuilt by replaying the orders
// log from the beginning.
// ---------------------------------------------------------------------------

func replay(ctx context.Context, brokers []string, reg *registry.Registry, topic string) (map[string]UserTotals, error) {
	orders, err := registry.Avro[OrderPlacedV2](reg, orderPlacedV2Schema)
	if err != nil {
		return nil, err
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		return nil, err
	}
	remaining := map[int32]int64{} // partitions not replayed yet, and their end offsets
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	users := map[string]UserTotals{}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, ferr
		}
		var derr error
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			o, err := orders.Deserialize(topic, r.Value)
			if err != nil {
				derr = err
				return
			}
			users[o.UserID] = addOrder(o.UserID, o, users[o.UserID])
		})
		if derr != nil {
			return nil, derr
		}
	}
	return users, nil
}

// ---------------------------------------------------------------------------
// A slow consumer (an audit log reading the notifications) and the lag
// monitor that shows it falling behind.
// ---------------------------------------------------------------------------

func slowConsumer(ctx context.Context, brokers []string, group, topic string, perRecord time.Duration, consumed *atomic.Int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MaxConcurrentFetches(1), kgo.FetchMaxBytes(1<<16))
	if err != nil {
		return err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollRecords(ctx, 10)
		fs.EachRecord(func(*kgo.Record) {
			select {
			case <-ctx.Done():
			case <-time.After(perRecord):
			}
			consumed.Add(1)
		})
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

// groupLag returns the total lag of group on its topics.
func groupLag(ctx context.Context, adm *kadm.Client, group string) (int64, error) {
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		return 0, err
	}
	l, ok := lags[group]
	if !ok || l.Error() != nil {
		return 0, l.Error()
	}
	return l.Lag.Total(), nil
}
