package state

import (
	"slices"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/serde"
)

// topics is a serde of strings that remembers the topics it is given.
type topics struct{ seen []string }

func (r *topics) note(topic string) {
	if !slices.Contains(r.seen, topic) {
		r.seen = append(r.seen, topic)
	}
}

func (r *topics) Serialize(topic string, v string) ([]byte, error) {
	r.note(topic)
	return serde.String().Serialize(topic, v)
}

func (r *topics) Deserialize(topic string, b []byte) (string, error) {
	r.note(topic)
	return serde.String().Deserialize(topic, b)
}

// TestSerdeTopic checks which topic each kind of typed store gives its
// serdes: the store's name by default, the SerdeTopic when set.
func TestSerdeTopic(t *testing.T) {
	kinds := []struct {
		name string
		// use writes and reads one entry through a typed store over a new
		// byte store named "counts", built with opts.
		use func(t *testing.T, k, v *topics, opts ...TypedOption)
	}{
		{"key-value", func(t *testing.T, k, v *topics, opts ...TypedOption) {
			s := NewKeyValueStore(NewMemoryStore("counts"), k, v, opts...)
			if err := s.Put("a", "1"); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := s.Get("a"); err != nil || !ok || got != "1" {
				t.Fatalf("Get = %q, %v, %v", got, ok, err)
			}
		}},
		{"timestamped", func(t *testing.T, k, v *topics, opts ...TypedOption) {
			s := NewTimestampedKeyValueStore(NewMemoryStore("counts"), k, v, opts...)
			if err := s.Put("a", ValueAndTimestamp[string]{Value: "1", Timestamp: 5}); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := s.Get("a"); err != nil || !ok || got.Value != "1" {
				t.Fatalf("Get = %v, %v, %v", got, ok, err)
			}
		}},
		{"window", func(t *testing.T, k, v *topics, opts ...TypedOption) {
			b, err := NewMemoryWindowStore("counts", WindowStoreOptions{Retention: time.Hour, WindowSize: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			s := NewWindowStore(b, k, v, opts...)
			if err := s.Put("a", "1", 0); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := s.Fetch("a", 0); err != nil || !ok || got != "1" {
				t.Fatalf("Fetch = %q, %v, %v", got, ok, err)
			}
		}},
		{"session", func(t *testing.T, k, v *topics, opts ...TypedOption) {
			b, err := NewMemorySessionStore("counts", SessionStoreOptions{Retention: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			s := NewSessionStore(b, k, v, opts...)
			if err := s.Put(serde.Windowed[string]{Key: "a", Window: serde.Window{Start: 0, End: 5}}, "1"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, kind := range kinds {
		for _, tc := range []struct {
			name string
			opts []TypedOption
			want string
		}{
			{"default", nil, "counts"},
			{"SerdeTopic", []TypedOption{SerdeTopic("app-counts-changelog")}, "app-counts-changelog"},
		} {
			t.Run(kind.name+"/"+tc.name, func(t *testing.T) {
				k, v := &topics{}, &topics{}
				kind.use(t, k, v, tc.opts...)
				for what, got := range map[string][]string{"key": k.seen, "value": v.seen} {
					if !slices.Equal(got, []string{tc.want}) {
						t.Errorf("the %s serde was given %q, want only %q", what, got, tc.want)
					}
				}
			})
		}
	}
}
