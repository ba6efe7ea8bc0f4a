package kstreams_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// The warm-up options are validated like Kafka Streams' configs, except
// that probing intervals under a minute are allowed.
func TestWarmupOptions(t *testing.T) {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String())).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts []kstreams.Option
		want string // empty: accepted
	}{
		{"defaults", nil, ""},
		{"zero lag and a short probe", []kstreams.Option{kstreams.AcceptableRecoveryLag(0), kstreams.ProbingRebalanceInterval(2 * time.Second)}, ""},
		{"negative lag", []kstreams.Option{kstreams.AcceptableRecoveryLag(-1)}, "AcceptableRecoveryLag(-1)"},
		{"no warm-ups", []kstreams.Option{kstreams.MaxWarmupReplicas(0)}, "MaxWarmupReplicas(0)"},
		{"zero probing interval", []kstreams.Option{kstreams.ProbingRebalanceInterval(0)}, "ProbingRebalanceInterval(0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]kstreams.Option{kstreams.ApplicationID("warm"), kstreams.Brokers("127.0.0.1:1")}, tt.opts...)
			_, err := kstreams.New(topo, opts...)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}
