package runtime

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/state"
)

// partitioned returns a LocalStore "s" over one memory store per partition,
// each holding the given keys (value: key + "@" + partition).
func partitioned(t *testing.T, parts ...[]string) (*LocalStore, *registry) {
	t.Helper()
	reg := &registry{}
	for p, keys := range parts {
		s := state.NewMemoryStore("s")
		for _, k := range keys {
			mustPut(t, s, k, k+"@"+string(rune('0'+p)))
		}
		reg.add("s", processor.TaskID{Subtopology: 0, Partition: int32(p)}, s)
	}
	return &LocalStore{name: "s", reg: reg}, reg
}

func drain(t *testing.T, it state.Iterator, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLocalStoreMergesPartitions(t *testing.T) {
	ls, _ := partitioned(t, []string{"b", "e", "f"}, []string{"a", "c"}, nil, []string{"d", "g"})
	all := []string{"a=a@1", "b=b@0", "c=c@1", "d=d@3", "e=e@0", "f=f@0", "g=g@3"}
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	tests := []struct {
		name string
		open func() (state.Iterator, error)
		want []string
	}{
		{"All", ls.All, all},
		{"Range", func() (state.Iterator, error) { return ls.Range([]byte("b"), []byte("e")) }, all[1:5]},
		{"Range unbounded", func() (state.Iterator, error) { return ls.Range(nil, nil) }, all},
		{"Range empty", func() (state.Iterator, error) { return ls.Range([]byte("x"), []byte("y")) }, nil},
		{"ReverseRange", func() (state.Iterator, error) { return ls.ReverseRange([]byte("b"), []byte("e")) }, reversed[2:6]},
		{"ReverseRange unbounded", func() (state.Iterator, error) { return ls.ReverseRange(nil, nil) }, reversed},
		{"PrefixScan", func() (state.Iterator, error) { return ls.PrefixScan([]byte("c")) }, []string{"c=c@1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, err := tc.open()
			if got := drain(t, it, err); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if n, err := ls.ApproximateNumEntries(); err != nil || n != 7 {
		t.Errorf("ApproximateNumEntries = %d, %v; want 7", n, err)
	}
}

func TestLocalStoreGetFindsAnyPartition(t *testing.T) {
	ls, _ := partitioned(t, []string{"a"}, []string{"b"}, []string{"c"})
	for _, k := range []string{"a", "b", "c"} {
		v, err := ls.Get([]byte(k))
		if err != nil || !strings.HasPrefix(string(v), k+"@") {
			t.Errorf("Get(%q) = %q, %v", k, v, err)
		}
	}
	if v, err := ls.Get([]byte("z")); err != nil || v != nil {
		t.Errorf("Get(absent) = %q, %v", v, err)
	}
}

func TestLocalStoreUnavailableAndReadOnly(t *testing.T) {
	ls, reg := partitioned(t, []string{"a"})
	reg.remove("s", processor.TaskID{Partition: 0})
	if _, err := ls.Get([]byte("a")); !errors.Is(err, ErrStoreNotAvailable) {
		t.Errorf("Get with no partition: %v, want ErrStoreNotAvailable", err)
	}
	if _, err := ls.All(); !errors.Is(err, ErrStoreNotAvailable) {
		t.Errorf("All with no partition: %v, want ErrStoreNotAvailable", err)
	}
	if _, err := ls.ApproximateNumEntries(); !errors.Is(err, ErrStoreNotAvailable) {
		t.Errorf("ApproximateNumEntries with no partition: %v, want ErrStoreNotAvailable", err)
	}
	writes := map[string]func() error{
		"Put":         func() error { return ls.Put([]byte("a"), []byte("1")) },
		"PutIfAbsent": func() error { _, err := ls.PutIfAbsent([]byte("a"), []byte("1")); return err },
		"Delete":      func() error { _, err := ls.Delete([]byte("a")); return err },
	}
	for name, w := range writes {
		if err := w(); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s: %v, want ErrReadOnly", name, err)
		}
	}
}

func TestMergeIterStopsOnClose(t *testing.T) {
	ls, _ := partitioned(t, []string{"a", "c"}, []string{"b"})
	it, err := ls.All()
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || string(it.Key()) != "a" {
		t.Fatalf("first key %q", it.Key())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if it.Next() {
		t.Error("Next after Close returned true")
	}
}

func TestEngineLocalStoreUnknown(t *testing.T) {
	e := &Engine{plan: &Plan{Subtopologies: []*Subtopology{{Stores: []*StoreSpec{{Name: "known"}}}}}}
	if _, spec, err := e.LocalStore("known"); err != nil || spec.Name != "known" {
		t.Errorf("LocalStore(known) = %v, %v", spec, err)
	}
	if _, _, err := e.LocalStore("unknown"); err == nil {
		t.Error("LocalStore(unknown) succeeded")
	}
}
