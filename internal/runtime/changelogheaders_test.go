package runtime

import (
	"slices"
	"testing"

	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestLoggedStoreHeaders checks that a store's changelog headers (the
// suppression buffer's "v" = 3) go on its updates and not its tombstones.
func TestLoggedStoreHeaders(t *testing.T) {
	out := &capture{}
	h := []kgo.RecordHeader{{Key: "v", Value: []byte{3}}}
	l := &loggedStore{BytesStore: state.NewMemoryStore("s"), topic: "app-s-changelog", out: out, ts: func() int64 { return 1 }, headers: h}
	mustPut(t, l, "k", "1")
	if _, err := l.Delete([]byte("k")); err != nil {
		t.Fatal(err)
	}
	if len(out.recs) != 2 {
		t.Fatalf("%d changelog records, want 2", len(out.recs))
	}
	if got := out.recs[0].Headers; !slices.EqualFunc(got, h, func(a, b kgo.RecordHeader) bool {
		return a.Key == b.Key && string(a.Value) == string(b.Value)
	}) {
		t.Errorf("update headers = %v, want %v", got, h)
	}
	if got := out.recs[1].Headers; len(got) != 0 {
		t.Errorf("tombstone headers = %v, want none", got)
	}
}
