package kstreams

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/serde"
)

// The nodes, stores and internal topics of stream-stream joins are named
// as Kafka Streams names them (KStreamImplJoin, OuterStreamJoinStoreFactory,
// KStreamImpl#doJoin), and the window stores' changelogs are configured as
// Kafka Streams configures them (delete, not compact; retention the window
// size plus grace plus one day; the window size is before plus after).
func TestStreamStreamJoinNames(t *testing.T) {
	str := serde.String()
	w := JoinWindowsOfTimeDifferenceAndGrace(10*time.Second, 2*time.Second)
	sjNamed := StreamJoined[string, string, string]{Name: "j", StoreName: "s"}
	rekey := func(_, v string) string { return v }
	tests := []struct {
		name   string
		build  func(b *Builder, l, r Stream[string, string]) Stream[string, string]
		nodes  []string
		stores []string
		topics []string
	}{
		{"inner", func(b *Builder, l, r Stream[string, string]) Stream[string, string] {
			return StreamStreamJoin(l, r, joinTestConcat, w)
		}, []string{"KSTREAM-WINDOWED-0000000002", "KSTREAM-WINDOWED-0000000003", "KSTREAM-JOINTHIS-0000000004", "KSTREAM-JOINOTHER-0000000005", "KSTREAM-MERGE-0000000006"},
			[]string{"KSTREAM-JOINOTHER-0000000005-store", "KSTREAM-JOINTHIS-0000000004-store"}, nil},
		{"left", func(b *Builder, l, r Stream[string, string]) Stream[string, string] {
			return StreamStreamLeftJoin(l, r, joinTestConcat, w)
		}, []string{"KSTREAM-JOINTHIS-0000000004", "KSTREAM-OUTEROTHER-0000000005"},
			[]string{"KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-OUTEROTHER-0000000005-store", "KSTREAM-OUTERSHARED-0000000004-store"}, nil},
		{"outer", func(b *Builder, l, r Stream[string, string]) Stream[string, string] {
			return StreamStreamOuterJoin(l, r, joinTestConcat, w)
		}, []string{"KSTREAM-OUTERTHIS-0000000004", "KSTREAM-OUTEROTHER-0000000005"},
			[]string{"KSTREAM-OUTEROTHER-0000000005-store", "KSTREAM-OUTERSHARED-0000000004-store", "KSTREAM-OUTERTHIS-0000000004-store"}, nil},
		{"named left, both re-keyed", func(b *Builder, l, r Stream[string, string]) Stream[string, string] {
			return StreamStreamLeftJoin(SelectKey(l, rekey), SelectKey(r, rekey), joinTestConcat, w, sjNamed)
		}, []string{"j-this-windowed", "j-other-windowed", "j-this-join", "j-outer-other-join", "j-merge"},
			[]string{"s-left-shared-join-store", "s-outer-other-join-store", "s-this-join-store"},
			[]string{"j-left-repartition", "j-right-repartition"}},
		{"named outer", func(b *Builder, l, r Stream[string, string]) Stream[string, string] {
			return StreamStreamOuterJoin(l, r, joinTestConcat, w, sjNamed)
		}, []string{"j-outer-this-join", "j-outer-other-join"},
			[]string{"s-outer-other-join-store", "s-outer-shared-join-store", "s-outer-this-join-store"}, nil},
		{"unnamed re-keyed left side", func(b *Builder, l, r Stream[string, string]) Stream[string, string] {
			return StreamStreamJoin(SelectKey(l, rekey), r, joinTestConcat, w)
		}, nil, []string{"KSTREAM-JOINOTHER-0000000009-store", "KSTREAM-JOINTHIS-0000000008-store"},
			[]string{"KSTREAM-KEY-SELECT-0000000002-repartition"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder()
			l := StreamFrom(b, "left", ConsumedWith(str, str))
			r := StreamFrom(b, "right", ConsumedWith(str, str))
			tt.build(b, l, r).To("out", ProducedWith(str, str))
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			plan, err := topo.plan()
			if err != nil {
				t.Fatal(err)
			}
			nodes := map[string]bool{}
			stores := map[string]map[string]string{}
			for _, st := range plan.Subtopologies {
				for _, n := range st.Nodes {
					nodes[n.Name] = true
				}
				for _, s := range st.Stores {
					stores[s.Name] = s.ChangelogConfigs
				}
			}
			for _, n := range tt.nodes {
				if !nodes[n] {
					t.Errorf("no node %q in %v", n, slices.Sorted(maps.Keys(nodes)))
				}
			}
			if tt.stores != nil {
				if got := slices.Sorted(maps.Keys(stores)); !slices.Equal(got, tt.stores) {
					t.Errorf("stores %v, want %v", got, tt.stores)
				}
			}
			for name, cfg := range stores {
				if strings.Contains(strings.ToLower(name), "shared") {
					continue
				}
				if cfg["cleanup.policy"] != "delete" || cfg["retention.ms"] != "86422000" {
					t.Errorf("store %q changelog configs %v, want cleanup.policy=delete retention.ms=86422000", name, cfg)
				}
			}
			var topics []string
			for _, it := range plan.InternalTopics {
				topics = append(topics, it.Name)
			}
			slices.Sort(topics)
			if !slices.Equal(topics, tt.topics) {
				t.Errorf("internal topics %v, want %v", topics, tt.topics)
			}
		})
	}
}

// Invalid join windows fail the build with ErrInvalidWindows.
func TestStreamStreamJoinInvalidWindows(t *testing.T) {
	str := serde.String()
	for _, w := range []JoinWindows{
		JoinWindowsOfTimeDifferenceWithNoGrace(-time.Second),
		JoinWindowsOfTimeDifferenceAndGrace(time.Second, -time.Second),
		JoinWindowsOfTimeDifferenceWithNoGrace(time.Second).Before(-2 * time.Second),
		JoinWindowsOfTimeDifferenceWithNoGrace(time.Microsecond),
	} {
		b := NewBuilder()
		l := StreamFrom(b, "left", ConsumedWith(str, str))
		r := StreamFrom(b, "right", ConsumedWith(str, str))
		StreamStreamJoin(l, r, joinTestConcat, w).To("out", ProducedWith(str, str))
		if _, err := b.Build(); !errors.Is(err, ErrInvalidWindows) {
			t.Errorf("%+v: err %v, want ErrInvalidWindows", w, err)
		}
	}
	if err := JoinWindowsOfTimeDifferenceWithNoGrace(time.Second).Before(-time.Second).Validate(); err != nil {
		t.Errorf("before -1s after 1s: %v, want valid (an empty window is allowed)", err)
	}
}

// The outer store's list values are Kafka Streams' ListSerde of byte arrays
// over LeftOrRightValue bytes.
func TestOuterJoinStoreLayout(t *testing.T) {
	list := appendOuterValue(nil, true, []byte("ab"))
	list = appendOuterValue(list, false, []byte("c"))
	want := []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 'a', 'b', 0, 0, 0, 2, 0, 'c'}
	if !slices.Equal(list, want) {
		t.Fatalf("list % x, want % x", list, want)
	}
	vals, err := outerValues(list)
	if err != nil || len(vals) != 2 || string(vals[0]) != "\x01ab" || string(vals[1]) != "\x00c" {
		t.Fatalf("outerValues: %q, %v", vals, err)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0, 0, 1}, {1, 0, 0, 0, 1, 0, 0, 0, 9, 1}} {
		if _, err := outerValues(bad); !errors.Is(err, errBadOuterEntry) {
			t.Errorf("outerValues(% x): %v, want errBadOuterEntry", bad, err)
		}
	}
	if k := outerKey(258, true, []byte("k")); !slices.Equal(k, []byte{0, 0, 0, 0, 0, 0, 1, 2, 1, 'k'}) {
		t.Errorf("outerKey % x", k)
	}
}

// A grace period needs a versioned table, and names the buffer store as
// Kafka Streams does ("<join node>-Buffer").
func TestStreamTableJoinGraceNeedsVersionedTable(t *testing.T) {
	str := serde.String()
	b := NewBuilder()
	s := StreamFrom(b, "s", ConsumedWith(str, str))
	StreamTableJoin(s, TableFrom(b, "t", ConsumedWith(str, str)), joinTestConcat, Joined[string, string]{GracePeriod: time.Second}).To("out")
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "needs a versioned table") {
		t.Errorf("grace on a plain table: %v, want a versioned-table problem", err)
	}
	b = NewBuilder()
	s = StreamFrom(b, "s", ConsumedWith(str, str))
	vt := TableFrom(b, "t", ConsumedWith(str, str), Materialized[string, string]{Versioned: &Versioning{HistoryRetention: time.Minute}})
	StreamTableLeftJoin(s, vt, joinTestConcat, Joined[string, string]{Name: "j", GracePeriod: time.Second}).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	plan, err := topo.plan()
	if err != nil {
		t.Fatal(err)
	}
	var stores []string
	for _, st := range plan.Subtopologies {
		for _, s := range st.Stores {
			stores = append(stores, s.Name)
		}
	}
	if !slices.Contains(stores, "j-Buffer") {
		t.Errorf("stores %v, want j-Buffer", stores)
	}
}
