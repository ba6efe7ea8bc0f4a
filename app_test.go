package kstreams_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/kstreams-go/kstreams/state"
)

// New reports every invalid option at once, naming each.
func TestNewRejectsInvalidOptions(t *testing.T) {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String())).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = kstreams.New(topo,
		kstreams.ApplicationID("bad id"),
		kstreams.Threads(0),
		kstreams.CacheMaxBytes(-1),
		kstreams.StandbyReplicas(-2),
		kstreams.StoreOptions(state.PebbleOptions{MemTableSize: 1024, MaxOpenFiles: 3}),
		kstreams.CloseTimeout(0),
	)
	if err == nil {
		t.Fatal("New accepted invalid options")
	}
	for _, want := range []string{
		`application id "bad id"`, "no brokers", "Threads(0)", "CacheMaxBytes(-1)", "StandbyReplicas(-2)",
		"StoreOptions", "MemTableSize 1024", "MaxOpenFiles 3", "CloseTimeout(0s)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if !errors.Is(err, state.ErrInvalidOptions) {
		t.Errorf("error does not wrap state.ErrInvalidOptions: %v", err)
	}

	// Valid store options are accepted.
	if _, err := kstreams.New(topo, kstreams.ApplicationID("ok"), kstreams.Brokers("127.0.0.1:1"),
		kstreams.StoreOptions(state.PebbleOptions{MemTableSize: 4 << 20, CacheSize: 8 << 20})); err != nil {
		t.Fatalf("New with valid StoreOptions: %v", err)
	}
}
