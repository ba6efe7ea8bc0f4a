package integration

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A panic in a user function stops its task as a processing error of the
// record: Run returns a RecordError naming the node and the record that
// wraps the panic, the records before it are committed, and the test
// process (which runs the App) lives on.
func TestPanicInUserFunctionFailsTask(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 1, in, out)
	var recs []*kgo.Record
	for i, v := range []string{"a", "b", "c", "boom", "d"} {
		recs = append(recs, rec(in, 0, []byte(fmt.Sprintf("k%d", i)), []byte(v), int64(1000+i)))
	}
	produce(t, recs...)

	b := kstreams.NewBuilder()
	s := kstreams.StreamFrom(b, in, kstreams.ConsumedWith(serde.String(), serde.String()))
	kstreams.MapValues(s, func(v string) string {
		if v == "boom" {
			panic("cannot handle " + v)
		}
		return strings.ToUpper(v)
	}, "upper").To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	r := runApp(t, topo, kstreams.ApplicationID(app))
	err = r.waitErr(t, 30*time.Second)

	var re *kstreams.RecordError
	var pe *kstreams.PanicError
	if !errors.As(err, &re) || !errors.As(err, &pe) {
		t.Fatalf("Run returned %v, want a *kstreams.RecordError wrapping a *kstreams.PanicError", err)
	}
	if re.Node != "upper" || re.Topic != in || re.Partition != 0 || re.Offset != 3 || re.Stage != "processing" {
		t.Errorf("RecordError: node %q at %q partition %d offset %d stage %q, want upper at %q 0 3 processing",
			re.Node, re.Topic, re.Partition, re.Offset, re.Stage, in)
	}
	if pe.Value != "cannot handle boom" || !strings.Contains(string(pe.Stack), "panic_test.go") {
		t.Errorf("panic value %v, stack:\n%s", pe.Value, pe.Stack)
	}
	if s := r.app.State(); s != kstreams.Error {
		t.Errorf("state %v, want %v", s, kstreams.Error)
	}
	if com := committed(t, app, in); com[0] != 3 {
		t.Errorf("committed offset %d, want 3 (the record that panicked)", com[0])
	}
	got := keyValues(consume(t, out, 30*time.Second, "the outputs before the panic", func(rs []*kgo.Record) (bool, string) {
		return len(rs) >= 3, fmt.Sprintf("%d of 3", len(rs))
	}))
	if want := []string{"k0=A", "k1=B", "k2=C"}; !slices.Equal(got, want) {
		t.Errorf("outputs %q, want %q", got, want)
	}
}
