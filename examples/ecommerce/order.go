package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Order is an order event as the steps after the encryption see it, keyed
// by order id. Amounts are in cents. PaymentMethod, Address and Phone hold
// ciphertext ([KeyRing.Encrypt]) once the encrypt step has run.
type Order struct {
	OrderID       string    `json:"order_id"`
	UserID        string    `json:"user_id"`
	Products      []Product `json:"products"`
	TotalAmount   int64     `json:"total_amount"`
	PaymentMethod string    `json:"payment_method"`
	Address       string    `json:"address"`
	Phone         string    `json:"phone"`
	Status        string    `json:"status"`
	// EventMs is the order's event time (its record timestamp), set by
	// the deduplication step for the aggregation, which sees values only.
	EventMs int64 `json:"event_ms,omitempty"`
}

// Product is one line of an order.
type Product struct {
	ProductID string `json:"product_id"`
	Category  string `json:"category"`
	Count     int64  `json:"count"`
	Price     int64  `json:"price"` // cents per unit
}

// ProductLine is one product of an order, as the split step writes it to
// products-<category>, keyed by product id.
type ProductLine struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Product
}

// Payment is a payment event, keyed by order id. A Heartbeat carries no
// payment: the generator writes one to every partition at the end so that
// stream time passes the last deadlines.
type Payment struct {
	OrderID   string `json:"order_id"`
	Heartbeat bool   `json:"heartbeat,omitempty"`
}

// OrderError is what the validation step writes to order-errors: the
// (encrypted) order as received and why it was refused. The reasons are
// also in the ErrorsHeader header.
type OrderError struct {
	Order   json.RawMessage `json:"order"`
	Reasons []string        `json:"reasons"`
}

// ErrorsHeader carries an invalid order's reasons, "; "-separated.
const ErrorsHeader = "ecommerce-errors"

// Timeout is what the timeout rule writes to order-timeouts.
type Timeout struct {
	OrderID    string `json:"order_id"`
	UserID     string `json:"user_id"`
	OrderMs    int64  `json:"order_ms"`
	DeadlineMs int64  `json:"deadline_ms"`
}

// sensitiveFields are encrypted by the first step.
var sensitiveFields = []string{"payment_method", "address", "phone"}

// unparsedField holds the whole encrypted payload of an input that is not a
// JSON object: it may hold sensitive data we cannot locate.
const unparsedField = "unparsed"

// encryptOrder encrypts the sensitive fields of the raw order in place (a
// value that is not a string is encrypted as its JSON text). Input that is
// not a JSON object is encrypted whole under [unparsedField].
func encryptOrder(keys *KeyRing, raw []byte) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		enc, err := keys.Encrypt(unparsedField, string(raw))
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]string{unparsedField: enc})
	}
	for _, f := range sensitiveFields {
		v, ok := obj[f]
		if !ok {
			continue
		}
		plain := string(v)
		var s string
		if json.Unmarshal(v, &s) == nil {
			plain = s
		}
		enc, err := keys.Encrypt(f, plain)
		if err != nil {
			return nil, err
		}
		obj[f], _ = json.Marshal(enc)
	}
	return json.Marshal(obj)
}

var (
	phoneRE    = regexp.MustCompile(`^\+?[0-9]{7,15}$`)
	categoryRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,40}$`)
)

// validateOrder decodes an encrypted order and checks it; it returns the
// order and nil, or every reason it is invalid. It decrypts the phone
// number (the validation service is allowed to read it) under key keyID.
func validateOrder(keys *KeyRing, keyID string, enc []byte) (*Order, []string) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(enc, &obj); err != nil {
		return nil, []string{"malformed: not a JSON object"}
	}
	if _, ok := obj[unparsedField]; ok {
		return nil, []string{"malformed: not a JSON object"}
	}
	var reasons []string
	for _, f := range []string{"order_id", "user_id", "products", "total_amount", "payment_method", "address", "phone"} {
		if v, ok := obj[f]; !ok || string(v) == "null" || string(v) == `""` {
			reasons = append(reasons, f+": missing")
		}
	}
	var o Order
	if err := json.Unmarshal(enc, &o); err != nil {
		return nil, append(reasons, "malformed: "+err.Error())
	}
	if len(reasons) > 0 {
		return nil, reasons
	}
	var sum int64
	for i, p := range o.Products {
		switch {
		case p.ProductID == "":
			reasons = append(reasons, fmt.Sprintf("products[%d].product_id: missing", i))
		case !categoryRE.MatchString(p.Category):
			reasons = append(reasons, fmt.Sprintf("products[%d].category: invalid", i))
		}
		if p.Count <= 0 {
			reasons = append(reasons, fmt.Sprintf("products[%d].count: not positive", i))
		}
		if p.Price < 0 {
			reasons = append(reasons, fmt.Sprintf("products[%d].price: negative", i))
		}
		sum += p.Count * p.Price
	}
	if len(o.Products) == 0 {
		reasons = append(reasons, "products: empty")
	}
	if sum != o.TotalAmount {
		reasons = append(reasons, "total_amount: does not match the products")
	}
	phone, err := keys.Decrypt(keyID, "phone", o.Phone)
	if err != nil {
		reasons = append(reasons, "phone: "+err.Error())
	} else if !phoneRE.MatchString(strings.ReplaceAll(phone, " ", "")) {
		reasons = append(reasons, "phone: invalid")
	}
	if len(reasons) > 0 {
		return nil, reasons
	}
	return &o, nil
}
