package main

import (
	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// Order is an order-placed event of the orders service, keyed by order id.
type Order struct {
	ID       string   `json:"id"`
	Customer string   `json:"customer"`
	Items    []string `json:"items"`
	Amount   int64    `json:"amount"` // cents
}

// Payment is an event of the payments service, keyed by order id: the
// order's payment status ("authorized", "paid", "failed").
type Payment struct {
	Status string `json:"status"`
}

// Delivery is an event of the shipping service, keyed by order id: the
// order's delivery status ("packed", "shipped", "delivered").
type Delivery struct {
	Status string `json:"status"`
}

// Customer is a row of the compacted customers topic, keyed by customer id.
type Customer struct {
	Name string `json:"name"`
}

// OrderView is what the application serves: the order with its payment
// and delivery status and its customer's name.
type OrderView struct {
	Order        Order  `json:"order"`
	Payment      string `json:"payment"`  // "pending" until a payment event
	Delivery     string `json:"delivery"` // "none" until a delivery event
	CustomerName string `json:"customerName"`
}

// StoreOrderViews is the queryable store of the order views.
const StoreOrderViews = "order-views"

// Topics names the application's topics.
type Topics struct {
	Orders, Payments, Deliveries, Customers, Views string
}

// Topology builds the order view: orders left-joined (table-table, by
// order id) with their payment and delivery status, then each update of
// that join enriched with the customer's name from a global table of the
// customers topic, looked up by the customer id inside the order (no
// repartition), written to the views topic and kept in [StoreOrderViews].
func Topology(t Topics) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	str := serde.String()
	orders := kstreams.TableFrom(b, t.Orders, kstreams.ConsumedWith(str, serde.JSON[*Order]()))
	payments := kstreams.TableFrom(b, t.Payments, kstreams.ConsumedWith(str, serde.JSON[*Payment]()))
	deliveries := kstreams.TableFrom(b, t.Deliveries, kstreams.ConsumedWith(str, serde.JSON[*Delivery]()))
	customers := kstreams.GlobalTableFrom(b, t.Customers, kstreams.ConsumedWith(str, serde.JSON[*Customer]()))

	paid := kstreams.TableLeftJoin(orders, payments, func(_ string, o *Order, p *Payment) *OrderView {
		v := &OrderView{Order: *o, Payment: "pending", Delivery: "none"}
		if p != nil {
			v.Payment = p.Status
		}
		return v
	}, kstreams.Materialized[string, *OrderView]{Value: serde.JSON[*OrderView]()})
	status := kstreams.TableLeftJoin(paid, deliveries, func(_ string, v *OrderView, d *Delivery) *OrderView {
		out := *v
		if d != nil {
			out.Delivery = d.Status
		}
		return &out
	}, kstreams.Materialized[string, *OrderView]{Value: serde.JSON[*OrderView]()})
	views := kstreams.StreamGlobalTableLeftJoin(status.ToStream(), customers,
		func(_ string, v *OrderView) string {
			if v == nil {
				return ""
			}
			return v.Order.Customer
		},
		func(_ string, v *OrderView, c *Customer) *OrderView {
			if v == nil {
				return nil // the order was deleted
			}
			out := *v
			if c != nil {
				out.CustomerName = c.Name
			}
			return &out
		})
	produced := kstreams.ProducedWith(str, serde.JSON[*OrderView]())
	views.To(t.Views, produced)
	views.ToTable(kstreams.Materialized[string, *OrderView]{Name: StoreOrderViews, Key: str, Value: serde.JSON[*OrderView]()})
	return b.Build()
}
