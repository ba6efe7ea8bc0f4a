package harness

import (
	"context"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams/embedded"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestReadEmbedded generates input into the embedded broker, writes
// outputs in transactions (one committed, one aborted, one left open) and
// reads the dataset back: the input in full, the committed output only,
// and the open transaction reported.
func TestReadEmbedded(t *testing.T) {
	b, err := embedded.Start(embedded.Options{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topics := Topics{Prefix: "read"}
	adm, err := NewAdmin(b.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := CreateTopics(ctx, adm, topics, 2, 1); err != nil {
		t.Fatal(err)
	}
	spec := testSpec()
	spec.Values = 20
	sum, err := Generate(ctx, b.Addrs(), topics.Input(), spec, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != spec.Keys*spec.Values {
		t.Fatalf("generated %d records", sum.Records)
	}

	echo := topics.Output(Echo)
	txn := func(id string, end kgo.TransactionEndTry, vals ...int64) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.TransactionalID(id), kgo.DefaultProduceTopic(echo))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			raw, _ := i64.Serialize("", v)
			if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k0"), Value: raw, Partition: 0}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if id == "read-app-open" {
			cl.Close() // without ending: the transaction stays open until it times out
			return
		}
		if err := cl.EndTransaction(ctx, end); err != nil {
			t.Fatal(err)
		}
		cl.Close()
	}
	txn("read-app-committed", kgo.TryCommit, 1, 2)
	txn("read-app-aborted", kgo.TryAbort, 3)
	txn("read-app-committed", kgo.TryCommit, 4)
	txn("read-app-open", kgo.TryCommit, 5)

	ds, err := Read(ctx, b.Addrs(), topics, "read-app", spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Input) != sum.Records {
		t.Fatalf("read %d input records, want %d", len(ds.Input), sum.Records)
	}
	var got []int64
	for _, r := range ds.Outputs[Echo] {
		v, _ := i64.Deserialize("", r.Value)
		got = append(got, v)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 4 {
		t.Fatalf("echo read back %v, want the committed [1 2 4]", got)
	}
	if len(ds.Unstable) == 0 && len(ds.OpenTransactions) == 0 {
		t.Fatal("the open transaction is not reported")
	}
	t.Logf("open transactions %v, unstable %v", ds.OpenTransactions, ds.Unstable)
	if len(ds.Committed) != 0 {
		t.Fatalf("committed offsets %v of a group that never ran", ds.Committed)
	}
}
