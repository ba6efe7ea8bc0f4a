package kstreams

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams/serde"
)

func TestChangeSerdeRoundTrip(t *testing.T) {
	s := changeSerde[string]{serde.String()}
	tests := []struct {
		name string
		c    Change[string]
		wire []byte
	}{
		{"new only", Change[string]{New: "ab", HasNew: true}, []byte{1, 0, 0, 0, 2, 'a', 'b'}},
		{"old only", Change[string]{Old: "xyz", HasOld: true}, []byte{2, 0, 0, 0, 0, 'x', 'y', 'z'}},
		{"both", Change[string]{New: "n", Old: "oo", HasNew: true, HasOld: true}, []byte{3, 0, 0, 0, 1, 'n', 'o', 'o'}},
		{"empty values", Change[string]{HasNew: true, HasOld: true}, []byte{3, 0, 0, 0, 0}},
		{"neither", Change[string]{}, []byte{0, 0, 0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := s.Serialize("t", tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, tc.wire) {
				t.Errorf("Serialize = %v, want %v", b, tc.wire)
			}
			got, err := s.Deserialize("t", b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.c {
				t.Errorf("round trip = %+v, want %+v", got, tc.c)
			}
		})
	}
}

// A value that serializes to a Kafka null cannot be told from an absent
// one on the wire: it travels as absent, as Java's null values do.
func TestChangeSerdeNullValues(t *testing.T) {
	s := changeSerde[[]string]{serde.JSON[[]string]()}
	b, err := s.Serialize("t", Change[[]string]{New: nil, Old: []string{"a"}, HasNew: true, HasOld: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Deserialize("t", b)
	if err != nil {
		t.Fatalf("Deserialize of a change with a null new value: %v", err)
	}
	if got.HasNew || !got.HasOld || !slices.Equal(got.Old, []string{"a"}) {
		t.Errorf("round trip = %+v, want only the old value [a]", got)
	}
}

func TestChangeSerdeRejectsDamagedRecords(t *testing.T) {
	s := changeSerde[string]{serde.String()}
	for _, data := range [][]byte{
		nil,
		{},
		{1, 0, 0, 0},
		{1, 0, 0, 0, 3, 'a', 'b'},
		{1, 0xff, 0xff, 0xff, 0xff},
	} {
		if c, err := s.Deserialize("t", data); err == nil || !strings.Contains(err.Error(), "change record") {
			t.Errorf("Deserialize(%v) = %+v, %v; want a change record error", data, c, err)
		}
	}
}

func FuzzChangeSerde(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 2, 'a', 'b'})
	f.Add([]byte{3, 0, 0, 0, 1, 'n', 'o', 'o'})
	f.Add([]byte{2, 0, 0, 0, 0, 'x'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	s := changeSerde[string]{serde.String()}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := s.Deserialize("t", data)
		if err != nil {
			return
		}
		b, err := s.Serialize("t", c)
		if err != nil {
			t.Fatalf("Serialize(%+v): %v", c, err)
		}
		again, err := s.Deserialize("t", b)
		if err != nil {
			t.Fatalf("Deserialize(Serialize(%+v)): %v", c, err)
		}
		if again != c {
			t.Fatalf("round trip of %+v gave %+v", c, again)
		}
		// The new value is framed: the old one is whatever follows it.
		if c.HasOld && !c.HasNew && !bytes.HasSuffix(data, []byte(c.Old)) {
			t.Fatalf("old value %q is not the tail of %v", c.Old, data)
		}
	})
}

func TestSameKey(t *testing.T) {
	// Group keys are compared as Java's equals: pointers by what they
	// point to (through the serde), not by address.
	a, a2, b := "a", "a", "b"
	ptr := sameKey(serde.JSON[*string]())
	if !ptr(&a, &a2) || ptr(&a, &b) {
		t.Errorf("*string keys: same(&a, &a2) = %v, same(&a, &b) = %v; want true, false", ptr(&a, &a2), ptr(&a, &b))
	}
	str := sameKey(serde.String())
	if !str("a", "a") || str("a", "b") {
		t.Error("string keys compared wrongly")
	}
	raw := sameKey(serde.Bytes())
	if !raw([]byte("a"), []byte("a")) || raw([]byte("a"), []byte("b")) {
		t.Error("[]byte keys compared wrongly")
	}
}
