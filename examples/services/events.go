package main

// The events, their Avro schemas and their versions. OrderPlaced carries
// the whole order (event-carried state transfer); OrderNotification only
// says that an order exists (event notification).

// OrderPlacedV1 is what the first version of the order service publishes
// and what the email service (an old consumer) keeps reading.
type OrderPlacedV1 struct {
	EventID     string   `avro:"event_id"`
	OrderID     string   `avro:"order_id"`
	UserID      string   `avro:"user_id"`
	AmountCents int64    `avro:"amount_cents"`
	Items       []string `avro:"items"`
}

// OrderPlacedV2 adds the currency, with a default: v1 data reads as "EUR",
// and v1 readers skip it.
type OrderPlacedV2 struct {
	EventID     string   `avro:"event_id"`
	OrderID     string   `avro:"order_id"`
	UserID      string   `avro:"user_id"`
	AmountCents int64    `avro:"amount_cents"`
	Items       []string `avro:"items"`
	Currency    string   `avro:"currency"`
}

// OrderNotification is the thin event of the notification style.
type OrderNotification struct {
	EventID string `avro:"event_id"`
	OrderID string `avro:"order_id"`
}

// UserTotals is the CQRS read side's view of a user: the amount of each of
// the user's orders by order id. Folding an order in is an upsert, so a
// duplicate event changes nothing.
type UserTotals struct {
	Orders map[string]int64 `avro:"orders"`
}

// AmountCents is the sum of the user's orders.
func (t UserTotals) AmountCents() int64 {
	var n int64
	for _, a := range t.Orders {
		n += a
	}
	return n
}

const (
	orderPlacedV1Schema = `{"type":"record","name":"OrderPlaced","namespace":"shop.orders","fields":[
		{"name":"event_id","type":"string"},
		{"name":"order_id","type":"string"},
		{"name":"user_id","type":"string"},
		{"name":"amount_cents","type":"long"},
		{"name":"items","type":{"type":"array","items":"string"}}]}`
	orderPlacedV2Schema = `{"type":"record","name":"OrderPlaced","namespace":"shop.orders","fields":[
		{"name":"event_id","type":"string"},
		{"name":"order_id","type":"string"},
		{"name":"user_id","type":"string"},
		{"name":"amount_cents","type":"long"},
		{"name":"items","type":{"type":"array","items":"string"}},
		{"name":"currency","type":"string","default":"EUR"}]}`
	// orderPlacedV3Schema turns the amount into a string: v3 readers could
	// not read v1 and v2 data, so the registry refuses it under BACKWARD.
	orderPlacedV3Schema = `{"type":"record","name":"OrderPlaced","namespace":"shop.orders","fields":[
		{"name":"event_id","type":"string"},
		{"name":"order_id","type":"string"},
		{"name":"user_id","type":"string"},
		{"name":"amount_cents","type":"string"},
		{"name":"items","type":{"type":"array","items":"string"}},
		{"name":"currency","type":"string","default":"EUR"}]}`
	orderNotificationSchema = `{"type":"record","name":"OrderNotification","namespace":"shop.orders","fields":[
		{"name":"event_id","type":"string"},{"name":"order_id","type":"string"}]}`
	userTotalsSchema = `{"type":"record","name":"UserTotals","namespace":"shop.orders","fields":[
		{"name":"orders","type":{"type":"map","values":"long"}}]}`
)

// orderPlacedV3 is the shape of the refused v3 event.
type orderPlacedV3 struct {
	EventID     string   `avro:"event_id"`
	OrderID     string   `avro:"order_id"`
	UserID      string   `avro:"user_id"`
	AmountCents string   `avro:"amount_cents"`
	Items       []string `avro:"items"`
	Currency    string   `avro:"currency"`
}
