package kstreams

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kstreams-go/kstreams/serde"
)

// TestClientMetricsSurviveNewClient: a stream thread whose producer was
// fenced makes a new client with the same client id while the old one is
// still open; the new client's metrics replace the old ones (kprom would
// panic on the duplicate registration), and the old client's close leaves
// them registered.
func TestClientMetricsSurviveNewClient(t *testing.T) {
	b := NewBuilder()
	StreamFrom(b, "in", ConsumedWith(serde.String(), serde.String())).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(topo, ApplicationID("m"), Brokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := app.registry()
	if err != nil {
		t.Fatal(err)
	}
	clientMetrics := func() int {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			if !strings.HasPrefix(mf.GetName(), "kgo_") {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "client_id" && l.GetValue() == "m-thread-1" {
						n++
					}
				}
			}
		}
		return n
	}
	newClient := func() *kgo.Client {
		t.Helper()
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, app.clientMetrics("m-thread-1")...)...)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	old := newClient()
	if clientMetrics() == 0 {
		t.Fatal("no kgo_ metrics for the first client")
	}
	cl := newClient() // the old one still open: no panic
	old.Close()
	if clientMetrics() == 0 {
		t.Error("the old client's close unregistered the new client's metrics")
	}
	cl.Close()
	if n := clientMetrics(); n != 0 {
		t.Errorf("%d kgo_ metrics left after both clients closed", n)
	}
}
