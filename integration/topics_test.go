package integration

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

func TestMissingSourceTopic(t *testing.T) {
	app := newAppID(t)
	in, missing, out := uniqueName(t, "in"), uniqueName(t, "missing"), uniqueName(t, "out")
	createTopics(t, 1, in, out)
	b := kstreams.NewBuilder()
	s := kstreams.StreamFromTopics(b, []string{in, missing}, kstreams.ConsumedWith(serde.String(), serde.String()))
	s.To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	r := runApp(t, topo, kstreams.ApplicationID(app))
	err = r.waitErr(t, 30*time.Second)
	if !errors.Is(err, kstreams.ErrMissingSourceTopics) {
		t.Fatalf("Run returned %v, want errors.Is(err, kstreams.ErrMissingSourceTopics)", err)
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q does not name the missing topic %q", err, missing)
	}
	if strings.Contains(err.Error(), in) {
		t.Errorf("error %q names the existing topic %q", err, in)
	}
	if s := r.app.State(); s != kstreams.Error {
		t.Errorf("state %v, want %v", s, kstreams.Error)
	}
}

func TestRepartitionTopicMismatch(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 4, in, out)
	rep := app + "-rekey-repartition"
	createTopics(t, 2, rep) // the topology needs 4, as many as its input
	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	s = kstreams.SelectKey(s, func(_, v string) string { return v })
	s.Repartition(kstreams.Repartitioned[string, string]{Name: "rekey"}).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	r := runApp(t, topo, kstreams.ApplicationID(app))
	err = r.waitErr(t, 30*time.Second)
	if !errors.Is(err, kstreams.ErrInternalTopicMismatch) {
		t.Fatalf("Run returned %v, want errors.Is(err, kstreams.ErrInternalTopicMismatch)", err)
	}
	for _, want := range []string{rep, "2 partitions", "needs 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if errors.Is(err, kstreams.ErrMissingSourceTopics) {
		t.Errorf("error %q also matches ErrMissingSourceTopics", err)
	}
}
