package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// EventKind is what the order-booking service did to a position.
type EventKind int

// The kinds of position events.
const (
	Opened  EventKind = iota // a new position
	Updated                  // a new amount, same exchange
	Moved                    // the position moved NASDAQ <-> LON
	Closed                   // a tombstone
)

var kindNames = [...]string{"opened", "updated", "moved", "closed"}

func (k EventKind) String() string { return kindNames[k] }

// Event is one record the generator publishes: key ID, value Position (nil
// for Closed).
type Event struct {
	Kind     EventKind
	ID       string
	Position *Position
}

// The shape of the simulated book.
const (
	genClients  = 12 // clients c-1 .. c-12
	genMinOpen  = 6  // below this many open positions, always open one
	genMaxOpen  = 40 // at this many, never open one
	genOpenProb = 0.3
)

var tickers = map[string][]string{
	NASDAQ: {"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"},
	LON:    {"VOD", "BP", "HSBA", "AZN", "ULVR"},
}

// Generator simulates the order-booking service: a deterministic sequence of
// position events for a seed. Two generators with the same seed produce the
// same events, so a test can recompute what a run published from the seed
// and the number of records. Not safe for concurrent use.
type Generator struct {
	rng    *rand.Rand
	open   []string
	book   map[string]Position
	nextID int
}

// NewGenerator returns a generator whose events depend only on seed.
func NewGenerator(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), book: map[string]Position{}, nextID: 1}
}

// Next returns the next event and applies it to the simulated book.
func (g *Generator) Next() Event {
	n := len(g.open)
	if n < genMinOpen || (n < genMaxOpen && g.rng.Float64() < genOpenProb) {
		return g.openPosition()
	}
	i := g.rng.IntN(n)
	switch r := g.rng.Float64(); {
	case r < 0.55:
		return g.update(i)
	case r < 0.8:
		return g.move(i)
	default:
		return g.close(i)
	}
}

func (g *Generator) openPosition() Event {
	exchange := NASDAQ
	if g.rng.Float64() < 0.4 {
		exchange = LON
	}
	p := Position{
		ID:       fmt.Sprintf("p-%d", g.nextID),
		Client:   fmt.Sprintf("c-%d", 1+g.rng.IntN(genClients)),
		Ticker:   tickers[exchange][g.rng.IntN(len(tickers[exchange]))],
		Amount:   g.amount(),
		Exchange: exchange,
	}
	g.nextID++
	g.open = append(g.open, p.ID)
	return g.set(Opened, p)
}

func (g *Generator) update(i int) Event {
	p := g.book[g.open[i]]
	p.Amount = g.amount()
	return g.set(Updated, p)
}

func (g *Generator) move(i int) Event {
	p := g.book[g.open[i]]
	p.Exchange = map[string]string{NASDAQ: LON, LON: NASDAQ}[p.Exchange]
	return g.set(Moved, p)
}

func (g *Generator) close(i int) Event {
	id := g.open[i]
	g.open = append(g.open[:i], g.open[i+1:]...)
	delete(g.book, id)
	return Event{Kind: Closed, ID: id}
}

func (g *Generator) set(k EventKind, p Position) Event {
	g.book[p.ID] = p
	return Event{Kind: k, ID: p.ID, Position: &p}
}

func (g *Generator) amount() int64 { return int64(1+g.rng.IntN(100)) * 10 }

// Record returns the Kafka record of e for topic: key the position id,
// value the position as JSON, or null for a closed position.
func (e Event) Record(topic string) (*kgo.Record, error) {
	v, err := PositionSerde().Serialize(topic, e.Position)
	if err != nil {
		return nil, fmt.Errorf("encoding position %s: %w", e.ID, err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(e.ID), Value: v}, nil
}

// genCounts are running totals of what the generator sent, by kind.
type genCounts struct {
	sent   atomic.Int64
	byKind [len(kindNames)]atomic.Int64
}

func (c *genCounts) add(k EventKind) {
	c.sent.Add(1)
	c.byKind[k].Add(1)
}

func (c *genCounts) String() string {
	return fmt.Sprintf("sent %d (opened %d, updated %d, moved %d, closed %d)", c.sent.Load(),
		c.byKind[Opened].Load(), c.byKind[Updated].Load(), c.byKind[Moved].Load(), c.byKind[Closed].Load())
}

// publish sends g's events to topic at rate records per second until ctx
// ends, or until it sent count records if count > 0. Each tick's records
// are sent together and waited for; a tick is never cut short by ctx, so
// what reached the topic is always a prefix of g's sequence.
func publish(ctx context.Context, cl *kgo.Client, g *Generator, topic string, rate float64, count int, counts *genCounts) error {
	interval := max(time.Duration(float64(time.Second)/rate), 10*time.Millisecond)
	perTick := max(int(rate*interval.Seconds()+0.5), 1)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for sent := 0; count == 0 || sent < count; sent += perTick {
		n := perTick
		if count > 0 {
			n = min(n, count-sent)
		}
		if err := publishBatch(ctx, cl, g, topic, n, counts); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

func publishBatch(ctx context.Context, cl *kgo.Client, g *Generator, topic string, n int, counts *genCounts) error {
	events := make([]Event, n)
	recs := make([]*kgo.Record, n)
	for i := range events {
		events[i] = g.Next()
		r, err := events[i].Record(topic)
		if err != nil {
			return err
		}
		recs[i] = r
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(sendCtx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("generator: producing to %q: %w", topic, err)
	}
	for _, e := range events {
		counts.add(e.Kind)
	}
	return nil
}
