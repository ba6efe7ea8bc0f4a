package main

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
)

const testKeys = "k2:" + "2222222222222222222222222222222222222222222222222222222222222222" +
	",k1:" + "1111111111111111111111111111111111111111111111111111111111111111"

func testRing(t *testing.T, spec string) *KeyRing {
	t.Helper()
	r, err := ParseKeyRing(spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestKeyRing: a value encrypted under a key decrypts with its id after
// the current key has rotated, not under another field, not with an
// unknown id; bad key specs are refused.
func TestKeyRing(t *testing.T) {
	old := testRing(t, "k1:"+strings.Repeat("11", 32))
	enc, err := old.Encrypt("phone", "+33612340001")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(enc, "3361234") {
		t.Fatalf("ciphertext %q holds the plaintext", enc)
	}
	rotated := testRing(t, testKeys)
	if rotated.Current != "k2" {
		t.Fatalf("current key %q, want k2 (the first)", rotated.Current)
	}
	if got, err := rotated.Decrypt("k1", "phone", enc); err != nil || got != "+33612340001" {
		t.Errorf("Decrypt under the rotated-out key: %q, %v", got, err)
	}
	if _, err := rotated.Decrypt("k1", "address", enc); err == nil {
		t.Error("a phone ciphertext decrypted as an address")
	}
	if _, err := rotated.Decrypt("k9", "phone", enc); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key id: %v, want ErrUnknownKey", err)
	}
	for _, bad := range []string{"", "k1", "k1:zz", "k1:" + strings.Repeat("11", 16)} {
		if _, err := ParseKeyRing(bad); err == nil {
			t.Errorf("ParseKeyRing(%q) accepted", bad)
		}
	}
}

// TestValidate: each kind of invalid order gives its reason, after the
// encryption step.
func TestValidate(t *testing.T) {
	keys := testRing(t, testKeys)
	good := Order{OrderID: "o-1", UserID: "u-1", PaymentMethod: "visa-4111-000001", Address: "1 Rue Secrete-1",
		Phone: "+33612340001", Status: "placed", TotalAmount: 700,
		Products: []Product{{ProductID: "p-1", Category: "books", Count: 2, Price: 200}, {ProductID: "p-2", Category: "toys", Count: 1, Price: 300}}}
	tests := []struct {
		name  string
		spoil func(o *Order) []byte
		want  []string
	}{
		{name: "valid", spoil: func(*Order) []byte { return nil }},
		{name: "not JSON", spoil: func(*Order) []byte { return []byte(`{"order_id": "o-1", "address": "1 Rue`) }, want: []string{"malformed: not a JSON object"}},
		{name: "JSON array", spoil: func(*Order) []byte { return []byte(`[1,2]`) }, want: []string{"malformed: not a JSON object"}},
		{name: "missing fields", spoil: func(o *Order) []byte { return []byte(`{"order_id":"o-1","products":[]}`) },
			want: []string{"user_id: missing", "total_amount: missing", "payment_method: missing", "address: missing", "phone: missing"}},
		{name: "wrong type", spoil: func(*Order) []byte {
			return []byte(`{"order_id":"o-1","user_id":"u","products":"x","total_amount":1,"payment_method":"v","address":"a","phone":"+3361234000"}`)
		}, want: []string{"malformed: json: cannot unmarshal string into Go struct field Order.products of type []main.Product"}},
		{name: "negative count", spoil: func(o *Order) []byte { o.Products[0].Count = -2; o.TotalAmount = -100; return nil },
			want: []string{"products[0].count: not positive"}},
		{name: "total mismatch", spoil: func(o *Order) []byte { o.TotalAmount++; return nil }, want: []string{"total_amount: does not match the products"}},
		{name: "bad phone", spoil: func(o *Order) []byte { o.Phone = "+33612340001-call-me"; return nil }, want: []string{"phone: invalid"}},
		{name: "bad category", spoil: func(o *Order) []byte { o.Products[1].Category = "Not A Topic!"; return nil }, want: []string{"products[1].category: invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			o.Products = slices.Clone(good.Products)
			raw := tt.spoil(&o)
			if raw == nil {
				raw, _ = json.Marshal(o)
			}
			enc, err := encryptOrder(keys, raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range secretMarkers {
				if strings.Contains(string(enc), m) {
					t.Fatalf("encrypted order holds %q: %s", m, enc)
				}
			}
			got, reasons := validateOrder(keys, keys.Current, enc)
			if !slices.Equal(reasons, tt.want) {
				t.Fatalf("reasons %q, want %q", reasons, tt.want)
			}
			if tt.want == nil {
				if pm, err := keys.Decrypt(keys.Current, "payment_method", got.PaymentMethod); err != nil || pm != good.PaymentMethod {
					t.Errorf("payment method decrypts to %q, %v", pm, err)
				}
			}
		})
	}
}

// TestTopologyDriver runs a generated stream through the whole topology on
// the test driver (no broker): the profiles equal the oracle, every invalid
// order is in order-errors with its reason in the value and the header,
// every unpaid order has exactly one timeout and no paid one has any,
// every product of a unique valid order is routed once, and no topic after
// the first step holds a plaintext sensitive value.
func TestTopologyDriver(t *testing.T) {
	gc := GenConfig{Orders: 600, Users: 20, Rate: 200, Seed: 7, StartMs: 1_700_000_000_000,
		Timeout: 2 * time.Second, Grace: 500 * time.Millisecond, Partitions: 1}
	gen := Generate(gc)
	want := gen.Expect()
	keys := testRing(t, testKeys)
	stats := NewStats()
	var created []string
	topo, err := Topology(Steps{Topics: Topics{}, Keys: keys, DedupWindow: time.Minute, Timeout: gc.Timeout, Grace: gc.Grace,
		Stats: stats, EnsureTopic: func(topic string) error {
			if !slices.Contains(created, topic) {
				created = append(created, topic)
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := kstreamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	str, raw := serde.String(), serde.Bytes()
	// The driver does not read back what the topology writes: relay each
	// step's output topic to the next step's input after every record.
	relays := map[string]*kstreamstest.OutputTopic[string, []byte]{}
	chain := []string{topicEncrypted, topicValid, topicUnique}
	for _, topic := range chain {
		relays[topic] = kstreamstest.NewOutputTopic(d, topic, str, raw)
	}
	for _, r := range gen.Records {
		if err := d.PipeBytes(r.Topic, []byte(r.Key), r.Value, r.Timestamp); err != nil {
			t.Fatal(err)
		}
		for _, topic := range chain {
			recs, err := relays[topic].ReadRecords()
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range recs {
				checkNoSecret(t, topic, x.Key, x.Value, x.Headers)
				if err := d.PipeBytes(topic, []byte(x.Key), x.Value, x.Timestamp, x.Headers...); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	read := func(topic string) []processor.Record[string, []byte] {
		recs, err := kstreamstest.NewOutputTopic(d, topic, str, raw).ReadRecords()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	profiles := map[string]*Profile{}
	for _, r := range read(topicProfiles) {
		var p Profile
		if err := json.Unmarshal(r.Value, &p); err != nil {
			t.Fatal(err)
		}
		profiles[r.Key] = &p
	}
	checkProfiles(t, "user-profiles", profiles, want.Profiles)
	checkErrors(t, read(topicErrors), want.Invalid)
	checkTimeouts(t, read(topicTimeouts), want.Unpaid)
	lines := 0
	for _, topic := range created {
		lines += len(read(topic))
	}
	if wantLines := productLines(gen); lines != wantLines {
		t.Errorf("%d product records routed to %v, want %d", lines, created, wantLines)
	}
	if stats.DedupHits.Load() == 0 || stats.Invalid.Load() != int64(len(dupCounted(gen))) {
		t.Errorf("stats: %d dedup hits, %d invalid (want %d)", stats.DedupHits.Load(), stats.Invalid.Load(), len(dupCounted(gen)))
	}
	t.Logf("%d orders: %d users, %d invalid, %d unpaid, %d dedup hits, %d product records to %d topics",
		gc.Orders, len(want.Profiles), len(want.Invalid), len(want.Unpaid), stats.DedupHits.Load(), lines, len(created))
}

// dupCounted lists the invalid orders' records (a duplicated invalid order
// is refused twice).
func dupCounted(g *Generated) []string {
	var ids []string
	for _, o := range g.Orders {
		if !o.Valid {
			ids = append(ids, o.OrderID)
			if o.Duplicated {
				ids = append(ids, o.OrderID)
			}
		}
	}
	return ids
}

func productLines(g *Generated) int {
	n := 0
	for _, o := range g.Orders {
		if o.Valid {
			n += len(o.Products)
		}
	}
	return n
}

func checkProfiles(t *testing.T, where string, got, want map[string]*Profile) {
	t.Helper()
	for _, u := range slices.Sorted(maps.Keys(want)) {
		g, w := got[u], want[u]
		if g == nil {
			t.Errorf("%s: no profile of %s, want %+v", where, u, *w)
			continue
		}
		if g.Orders != w.Orders || g.SpendCents != w.SpendCents || g.LastOrderID != w.LastOrderID ||
			g.LastOrderMs != w.LastOrderMs || g.FavouriteCategory != w.FavouriteCategory || !maps.Equal(g.Units, w.Units) {
			t.Errorf("%s: profile of %s is %+v, want %+v", where, u, *g, *w)
		}
	}
	for u := range got {
		if want[u] == nil {
			t.Errorf("%s: unexpected profile of %s", where, u)
		}
	}
}

func checkErrors(t *testing.T, recs []processor.Record[string, []byte], invalid map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range recs {
		var e OrderError
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("order-errors record %s: %v", r.Key, err)
		}
		reason, ok := invalid[r.Key]
		if !ok {
			t.Errorf("valid order %s in order-errors: %q", r.Key, e.Reasons)
			continue
		}
		if !slices.Contains(e.Reasons, reason) || !strings.Contains(header(r.Headers, ErrorsHeader), reason) {
			t.Errorf("order %s refused for %q (header %q), want %q", r.Key, e.Reasons, header(r.Headers, ErrorsHeader), reason)
		}
		checkNoSecret(t, topicErrors, r.Key, r.Value, r.Headers)
		seen[r.Key] = true
	}
	for id := range invalid {
		if !seen[id] {
			t.Errorf("invalid order %s (%s) is not in order-errors", id, invalid[id])
		}
	}
}

func checkTimeouts(t *testing.T, recs []processor.Record[string, []byte], unpaid map[string]bool) {
	t.Helper()
	count := map[string]int{}
	for _, r := range recs {
		count[r.Key]++
		if !unpaid[r.Key] {
			t.Errorf("order %s timed out, but it was paid in time (or is invalid)", r.Key)
		}
	}
	for id := range unpaid {
		if count[id] != 1 {
			t.Errorf("unpaid order %s has %d timeouts, want 1", id, count[id])
		}
	}
}

func checkNoSecret(t *testing.T, topic, key string, value []byte, hs []processor.Header) {
	t.Helper()
	for _, m := range secretMarkers {
		bad := strings.Contains(key, m) || strings.Contains(string(value), m)
		for _, h := range hs {
			bad = bad || strings.Contains(string(h.Value), m)
		}
		if bad {
			t.Errorf("topic %s holds plaintext %q in record %s", topic, m, key)
			return
		}
	}
}
