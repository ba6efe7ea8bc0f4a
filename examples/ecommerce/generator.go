package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"
)

// GenConfig says what the generator produces.
type GenConfig struct {
	Orders  int           // distinct orders
	Users   int           // users they are spread over
	Rate    float64       // orders per second of event time
	Seed    uint64        // same seed, same stream
	StartMs int64         // event time of the first order
	Timeout time.Duration // the payment timeout: paid orders pay well before it
	Grace   time.Duration // the heartbeats come Timeout+Grace after the last order
	// Partitions of the payments topic: one heartbeat per partition.
	Partitions int32
}

// GenRecord is one record the generator writes.
type GenRecord struct {
	Topic     string // topicOrders or topicPayments
	Key       string
	Value     []byte
	Timestamp int64
	Partition int32 // heartbeats only: the partition they go to; -1 otherwise
}

// GenOrder is the generator's log of one order: what the pipeline must make
// of it.
type GenOrder struct {
	Order
	TimestampMs int64
	Valid       bool
	Reason      string // invalid orders: the reason order-errors must give
	Paid        bool
	Duplicated  bool
}

// Generated is a generated stream and its log.
type Generated struct {
	Records []GenRecord // by timestamp
	Orders  []GenOrder
	Secrets []string // the plaintexts of every sensitive field
}

var categories = []string{"books", "electronics", "garden", "toys", "food", "sports"}

// invalidKinds are the troubles of invalid orders, with the reason each gives.
var invalidKinds = []struct {
	reason string
	spoil  func(o *Order) []byte // nil: marshal o
}{
	{reason: "address: missing", spoil: func(o *Order) []byte {
		b, _ := json.Marshal(o)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		delete(m, "address")
		b, _ = json.Marshal(m)
		return b
	}},
	{reason: "products[0].count: not positive", spoil: func(o *Order) []byte {
		o.Products[0].Count = -o.Products[0].Count
		return nil
	}},
	{reason: "total_amount: does not match the products", spoil: func(o *Order) []byte {
		o.TotalAmount += 1
		return nil
	}},
	{reason: "phone: invalid", spoil: func(o *Order) []byte {
		o.Phone += "-call-me"
		return nil
	}},
	{reason: "malformed: not a JSON object", spoil: func(o *Order) []byte {
		b, _ := json.Marshal(o)
		return b[:len(b)*2/3]
	}},
	{reason: "products[0].category: invalid", spoil: func(o *Order) []byte {
		o.Products[0].Category = "Not A Topic!"
		return nil
	}},
}

// Generate produces the stream: orders (about 8% invalid, 5% sent twice
// seconds apart, 15% of the valid ones never paid, a burst of 40 orders in
// one millisecond every 250), payments, and a heartbeat per payments
// partition at the end.
func Generate(c GenConfig) *Generated {
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x5eed))
	g := &Generated{}
	step := 1000 / c.Rate
	t := float64(c.StartMs)
	burst := 0
	for i := range c.Orders {
		if i%250 == 200 {
			burst = 40
		}
		ts := int64(t)
		if burst > 0 {
			burst--
		} else {
			t += step
		}
		o := newOrder(rng, c, i)
		g.Secrets = append(g.Secrets, o.PaymentMethod, o.Address, o.Phone)
		gen := GenOrder{Order: o, TimestampMs: ts, Valid: true}
		value, _ := json.Marshal(o)
		if rng.IntN(100) < 8 {
			k := invalidKinds[rng.IntN(len(invalidKinds))]
			gen.Valid, gen.Reason = false, k.reason
			spoilt := gen.Order
			spoilt.Products = slices.Clone(o.Products)
			if b := k.spoil(&spoilt); b != nil {
				value = b
			} else {
				value, _ = json.Marshal(spoilt)
			}
		}
		g.Records = append(g.Records, GenRecord{Topic: topicOrders, Key: o.OrderID, Value: value, Timestamp: ts, Partition: -1})
		if rng.IntN(100) < 5 {
			gen.Duplicated = true
			later := ts + 1000 + rng.Int64N(4000)
			g.Records = append(g.Records, GenRecord{Topic: topicOrders, Key: o.OrderID, Value: value, Timestamp: later, Partition: -1})
		}
		if rng.IntN(100) >= 15 {
			gen.Paid = true
			delay := 100 + rng.Int64N(max(1, c.Timeout.Milliseconds()/3))
			p, _ := json.Marshal(Payment{OrderID: o.OrderID})
			g.Records = append(g.Records, GenRecord{Topic: topicPayments, Key: o.OrderID, Value: p, Timestamp: ts + delay, Partition: -1})
		}
		g.Orders = append(g.Orders, gen)
	}
	slices.SortStableFunc(g.Records, func(a, b GenRecord) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
	end := g.Records[len(g.Records)-1].Timestamp + (c.Timeout + c.Grace + time.Second).Milliseconds()
	hb, _ := json.Marshal(Payment{Heartbeat: true})
	for p := range c.Partitions {
		g.Records = append(g.Records, GenRecord{Topic: topicPayments, Key: fmt.Sprintf("heartbeat-%d", p), Value: hb, Timestamp: end, Partition: p})
	}
	return g
}

func newOrder(rng *rand.Rand, c GenConfig, i int) Order {
	o := Order{
		OrderID:       fmt.Sprintf("o-%06d", i),
		UserID:        fmt.Sprintf("u-%03d", rng.IntN(c.Users)),
		PaymentMethod: fmt.Sprintf("visa-4111-%06d", i),
		Address:       fmt.Sprintf("%d Rue Secrete-%d", 1+rng.IntN(200), i),
		Phone:         fmt.Sprintf("+3361234%04d", i%10000),
		Status:        "placed",
	}
	for range 1 + rng.IntN(3) {
		p := Product{
			ProductID: fmt.Sprintf("p-%03d", rng.IntN(500)),
			Category:  categories[rng.IntN(len(categories))],
			Count:     1 + rng.Int64N(4),
			Price:     100 + rng.Int64N(9900),
		}
		o.Products = append(o.Products, p)
		o.TotalAmount += p.Count * p.Price
	}
	return o
}

// secretMarkers are substrings every plaintext sensitive value the
// generator makes contains (and ciphertext, in base64, cannot: '-' and ' '
// are not in its alphabet, "+3361234" has 8 fixed characters).
var secretMarkers = []string{"visa-4111-", "Rue Secrete-", "+3361234"}

// Profile is the per-user aggregate the pipeline syncs to PostgreSQL.
type Profile struct {
	UserID            string           `json:"user_id"`
	Orders            int64            `json:"orders"`
	SpendCents        int64            `json:"spend_cents"`
	LastOrderID       string           `json:"last_order_id"`
	LastOrderMs       int64            `json:"last_order_ms"`
	FavouriteCategory string           `json:"favourite_category"`
	Units             map[string]int64 `json:"units"` // by category
}

// addOrder adds o to the profile p (nil: a new one) and returns it. Every
// field is independent of the order in which orders are added: the last
// order is the latest by event time (then by id), the favourite category
// the one with most units (then the first by name).
func addOrder(p *Profile, o *Order) *Profile {
	q := Profile{UserID: o.UserID, Units: map[string]int64{}}
	if p != nil {
		q = *p
		q.Units = make(map[string]int64, len(p.Units)+1)
		for k, v := range p.Units {
			q.Units[k] = v
		}
	}
	q.Orders++
	q.SpendCents += o.TotalAmount
	if o.EventMs > q.LastOrderMs || (o.EventMs == q.LastOrderMs && o.OrderID > q.LastOrderID) {
		q.LastOrderID, q.LastOrderMs = o.OrderID, o.EventMs
	}
	for _, pr := range o.Products {
		q.Units[pr.Category] += pr.Count
	}
	q.FavouriteCategory = ""
	for _, c := range slices.Sorted(maps.Keys(q.Units)) {
		if q.FavouriteCategory == "" || q.Units[c] > q.Units[q.FavouriteCategory] {
			q.FavouriteCategory = c
		}
	}
	return &q
}

// Expected is the oracle: what the pipeline must produce from the log.
type Expected struct {
	Profiles map[string]*Profile // by user
	Invalid  map[string]string   // order id -> reason
	Unpaid   map[string]bool     // valid orders never paid
}

// Expect computes the oracle from the generator's log.
func (g *Generated) Expect() *Expected {
	e := &Expected{Profiles: map[string]*Profile{}, Invalid: map[string]string{}, Unpaid: map[string]bool{}}
	for _, o := range g.Orders {
		if !o.Valid {
			e.Invalid[o.OrderID] = o.Reason
			continue
		}
		ord := o.Order
		ord.EventMs = o.TimestampMs
		e.Profiles[o.UserID] = addOrder(e.Profiles[o.UserID], &ord)
		if !o.Paid {
			e.Unpaid[o.OrderID] = true
		}
	}
	return e
}
