package fkwire

import (
	"bytes"
	"errors"
	"testing"
)

func h(a, b int64) Hash { return Hash{uint64(a), uint64(b)} }

// The expected values are those of Kafka Streams' own Murmur3 test (seed
// 123), so that hashes match Java's.
func TestHash128MatchesKafkaStreams(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Hash
	}{
		{"21", h(5857341059704281894, -5288187638297930763)},
		{"foobar", h(-351361463397418609, 8959716011862540668)},
		{"a-little-bit-long-string", h(8836256500583638442, -198172363548498523)},
		{"a-little-bit-longer-string", h(1838346159335108511, 8794688210320490705)},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", h(-4024021876037397259, -1482317706335141238)},
		{"abc", h(1489494923063836066, -5440978547625122829)},
	} {
		if got := Hash128([]byte(tc.in), 123); got != tc.want {
			t.Errorf("Hash128(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if ValueHash(nil) != nil {
		t.Error("ValueHash(nil) is not nil")
	}
}

func TestSubscriptionLayout(t *testing.T) {
	hash := Hash{0x0102030405060708, 0x1112131415161718}
	for _, tc := range []struct {
		name string
		s    Subscription
		want []byte
	}{
		{"with hash", Subscription{Hash: &hash, Instruction: PropagateOnlyIfFKValAvailable, PrimaryKey: []byte("pk"), PrimaryPartition: 3},
			[]byte{1, 3, 1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 'p', 'k', 0, 0, 0, 3}},
		{"no hash", Subscription{Instruction: DeleteKeyAndPropagate, PrimaryKey: []byte("k"), PrimaryPartition: 0},
			[]byte{0x81, 1, 'k', 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := AppendSubscription(nil, tc.s)
			if !bytes.Equal(b, tc.want) {
				t.Fatalf("AppendSubscription = %v, want %v", b, tc.want)
			}
			got, err := ParseSubscription(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Instruction != tc.s.Instruction || !bytes.Equal(got.PrimaryKey, tc.s.PrimaryKey) ||
				got.PrimaryPartition != tc.s.PrimaryPartition || (got.Hash == nil) != (tc.s.Hash == nil) ||
				got.Hash != nil && *got.Hash != *tc.s.Hash || got.Version != SubscriptionVersion {
				t.Fatalf("ParseSubscription = %+v, want %+v", got, tc.s)
			}
		})
	}
	// Version 0 (no partition), as Kafka Streams before 3.4 wrote.
	got, err := ParseSubscription([]byte{0x80, 2, 'a', 'b'})
	if err != nil || string(got.PrimaryKey) != "ab" || got.PrimaryPartition != -1 || got.Version != 0 {
		t.Fatalf("version 0: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{{}, {1}, {2, 0, 0, 0, 0, 0}, {0x81, 9, 0, 0, 0, 0}, {1, 0, 1}, {0x81, 0, 1}} {
		if _, err := ParseSubscription(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseSubscription(%v) = %v, want ErrFormat", bad, err)
		}
	}
}

func TestResponseLayout(t *testing.T) {
	hash := Hash{1, 2}
	b := AppendResponse(nil, Response{Hash: &hash, ForeignValue: []byte("v")})
	want := []byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 'v'}
	if !bytes.Equal(b, want) {
		t.Fatalf("AppendResponse = %v, want %v", b, want)
	}
	r, err := ParseResponse(b)
	if err != nil || *r.Hash != hash || string(r.ForeignValue) != "v" {
		t.Fatalf("ParseResponse = %+v, %v", r, err)
	}
	b = AppendResponse(nil, Response{})
	if !bytes.Equal(b, []byte{0x80}) {
		t.Fatalf("AppendResponse(no hash, no value) = %v", b)
	}
	if r, err := ParseResponse(b); err != nil || r.Hash != nil || r.ForeignValue != nil {
		t.Fatalf("ParseResponse = %+v, %v", r, err)
	}
	for _, bad := range [][]byte{{}, {1}, {0, 1, 2}} {
		if _, err := ParseResponse(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseResponse(%v) = %v, want ErrFormat", bad, err)
		}
	}
}

func TestCombinedKey(t *testing.T) {
	b := AppendCombinedKey(nil, []byte("fk"), []byte("pk"))
	if !bytes.Equal(b, []byte{0, 0, 0, 2, 'f', 'k', 'p', 'k'}) {
		t.Fatalf("AppendCombinedKey = %v", b)
	}
	if !bytes.HasPrefix(b, AppendPrefix(nil, []byte("fk"))) {
		t.Fatal("combined key does not start with the prefix")
	}
	fk, pk, err := SplitCombinedKey(b)
	if err != nil || string(fk) != "fk" || string(pk) != "pk" {
		t.Fatalf("SplitCombinedKey = %q %q %v", fk, pk, err)
	}
	if _, _, err := SplitCombinedKey([]byte{0, 0, 0, 9, 'a'}); !errors.Is(err, ErrFormat) {
		t.Fatalf("short combined key: %v", err)
	}
}
