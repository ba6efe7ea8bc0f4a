package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// upperStore is the processor of a global store: it keeps each key's value
// upper-cased.
type upperStore struct {
	st state.KeyValueStore[string, string]
}

func (p *upperStore) Init(ctx processor.Context[struct{}, struct{}]) (err error) {
	p.st, err = processor.Store[state.KeyValueStore[string, string]](ctx, "upper")
	return err
}

func (p *upperStore) Process(r processor.Record[string, string]) error {
	if r.Value == "" {
		_, _, err := p.st.Delete(r.Key)
		return err
	}
	return p.st.Put(r.Key, strings.ToUpper(r.Value))
}

func (p *upperStore) Close() error { return nil }

// upperLookup joins each stream record with the global store "upper" by
// the record's value: "<key>:<row>".
type upperLookup struct {
	ctx processor.Context[string, string]
	st  state.ReadOnlyKeyValueStore[string, string]
}

func (p *upperLookup) Init(ctx processor.Context[string, string]) (err error) {
	p.ctx = ctx
	p.st, err = processor.Store[state.ReadOnlyKeyValueStore[string, string]](ctx, "upper")
	return err
}

func (p *upperLookup) Process(r processor.Record[string, string]) error {
	row, _, err := p.st.Get(r.Value)
	if err != nil {
		return err
	}
	p.ctx.Forward(processor.Record[string, string]{Key: r.Key, Value: r.Key + ":" + row, Timestamp: r.Timestamp})
	return nil
}

func (p *upperLookup) Close() error { return nil }

func upperTopology(t testing.TB, global, lookups, out string, inMemory bool) *kstreams.Topology {
	t.Helper()
	b := kstreams.NewBuilder()
	ss := kstreams.ConsumedWith(serde.String(), serde.String())
	kstreams.AddGlobalStore(b, kstreams.StoreBuilder[string, string]{
		Name: "upper", Key: serde.String(), Value: serde.String(), DisableLogging: true, InMemory: inMemory,
	}, global, ss, func() processor.Processor[string, string, struct{}, struct{}] { return &upperStore{} })
	kstreams.Process(kstreams.StreamFrom(b, lookups, ss),
		func() processor.Processor[string, string, string, string] { return &upperLookup{} }).
		To(out, kstreams.ProducedWith(serde.String(), serde.String()))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestGlobalStoreRestoresTail runs a Processor API global store whose
// processor upper-cases values, looked up by a stream processor; stops it,
// changes some keys while it is down, and restarts it. The lookups see the
// processor's values, before and after the restart. A persistent store
// restores only the records after its checkpoint; an in-memory one the
// whole topic again (counted by the restore listener).
func TestGlobalStoreRestoresTail(t *testing.T) {
	for _, tc := range []struct {
		name             string
		inMemory         bool
		first, secondRun int64
	}{
		{name: "persistent", first: 20, secondRun: 5},
		{name: "in-memory", inMemory: true, first: 20, secondRun: 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newAppID(t)
			global, lookups, out := uniqueName(t, "global"), uniqueName(t, "lookups"), uniqueName(t, "out")
			createTopics(t, 2, global, lookups, out)
			var (
				mu       sync.Mutex
				restored int64
			)
			listener := kstreams.RestoreListener(func(p kstreams.RestoreProgress) {
				if p.Store == "upper" && p.Done {
					mu.Lock()
					restored += p.Restored
					mu.Unlock()
				}
			})
			takeRestored := func() int64 {
				mu.Lock()
				defer mu.Unlock()
				n := restored
				restored = 0
				return n
			}
			var recs []*kgo.Record
			for i := range 20 {
				recs = append(recs, rec(global, int32(i%2), []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("v%d", i)), int64(i)))
			}
			produce(t, recs...)
			dir := t.TempDir()
			r := runApp(t, upperTopology(t, global, lookups, out, tc.inMemory), kstreams.ApplicationID(app), kstreams.StateDir(dir), listener)
			produce(t, rec(lookups, 0, []byte("a"), []byte("k3"), 100), rec(lookups, 1, []byte("b"), []byte("k4"), 100))
			got := consumeUntil(t, out, 2, 60*time.Second)
			assertValues(t, got, "a:V3", "b:V4")
			r.stopOK(t)
			if n := takeRestored(); n != tc.first {
				t.Errorf("first start restored %d records, want %d", n, tc.first)
			}

			// While down: k3 changed, k4 deleted (an empty value), three
			// new keys.
			produce(t, rec(global, 1, []byte("k3"), []byte("w3"), 200), rec(global, 0, []byte("k4"), nil, 200),
				rec(global, 0, []byte("k20"), []byte("v20"), 200), rec(global, 1, []byte("k21"), []byte("v21"), 200),
				rec(global, 0, []byte("k22"), []byte("v22"), 200))
			r = runApp(t, upperTopology(t, global, lookups, out, tc.inMemory), kstreams.ApplicationID(app), kstreams.StateDir(dir), listener)
			produce(t, rec(lookups, 0, []byte("c"), []byte("k3"), 300), rec(lookups, 1, []byte("d"), []byte("k4"), 300),
				rec(lookups, 0, []byte("e"), []byte("k21"), 300), rec(lookups, 1, []byte("f"), []byte("k5"), 300))
			got = consumeUntil(t, out, 6, 60*time.Second)
			assertValues(t, got, "a:V3", "b:V4", "c:W3", "d:", "e:V21", "f:V5")
			r.stopOK(t)
			if n := takeRestored(); n != tc.secondRun {
				t.Errorf("restart restored %d records, want %d", n, tc.secondRun)
			}
		})
	}
}

// assertValues checks the values of got, in any order.
func assertValues(t testing.TB, got []*kgo.Record, want ...string) {
	t.Helper()
	var vs []string
	for _, r := range got {
		vs = append(vs, string(r.Value))
	}
	diffMultisets(t, "output values", vs, want)
}
