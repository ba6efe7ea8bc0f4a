package main

import (
	"errors"
	"slices"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

// The exchanges positions are held on.
const (
	NASDAQ = "NASDAQ"
	LON    = "LON"
)

// Position is the full state of one trading position, as the order-booking
// service publishes it to the share-holders topic, keyed by ID. A closed
// position is a tombstone: a null value, which [PositionSerde] reads as a nil
// *Position.
type Position struct {
	ID       string `json:"id"`
	Client   string `json:"client"`
	Ticker   string `json:"ticker"`
	Amount   int64  `json:"amount"`
	Exchange string `json:"exchange"`
}

// PositionSerde reads and writes positions as JSON; null bytes are a nil
// *Position and a nil *Position is written as null bytes (a tombstone).
func PositionSerde() serde.Serde[*Position] { return serde.JSON[*Position]() }

// IDsSerde reads and writes a set of position ids as a JSON array; a nil
// set is written as null bytes, which deletes a client from the store.
func IDsSerde() serde.Serde[[]string] { return serde.JSON[[]string]() }

// IsOpen reports whether p is an open position (not a tombstone).
func IsOpen(p *Position) bool { return p != nil }

// IsUS reports whether p is an open position held on NASDAQ.
func IsUS(p *Position) bool { return IsOpen(p) && p.Exchange == NASDAQ }

// The names of [Topology]'s stores, internal topic and nodes. They are
// stable, so that changelog and repartition topics, Describe, logs and
// errors read the same from one version of the application to the next.
const (
	// StoreUSShareHolders is the queryable store client -> ids of the
	// client's open NASDAQ positions.
	StoreUSShareHolders = "us-share-holders"
	// StorePositions materializes the input table (position id ->
	// position).
	StorePositions = "share-holders-positions"
	// StoreEmailed remembers, per client, the last period the client was
	// emailed for, so that a task moving to another instance does not
	// email its clients twice in a period.
	StoreEmailed = "us-share-holders-emailed"
	// GroupByClient names the repartition topic of the grouping,
	// "<application id>-us-positions-by-client-repartition".
	GroupByClient = "us-positions-by-client"

	NodeSource  = "share-holders-source"
	NodeUS      = "keep-nasdaq-positions"
	NodeUpdates = "us-share-holders-updates"
	NodeWatch   = "watch-us-share-holders"
	NodeEmailer = "email-us-share-holders"

	defaultInput = "share-holders"
)

// Topology returns scenario 1: it reads the topic in (positions keyed by
// position id; a tombstone closes a position) as a table, keeps the
// positions held on NASDAQ, groups them by client and reduces each client's
// group to the set of its position ids, with [AddPositions] as the adder
// and [RemovePositions] as the subtractor, in the queryable store
// [StoreUSShareHolders]. A client whose last NASDAQ position moves to
// another exchange or closes leaves the store.
//
// The emailer, a Processor API processor connected to that store, runs in
// every task of the aggregation and emails the clients of its task's
// partition once per period (see [Emails]).
//
// watch, if not nil, is called with every update of the store (ids nil: the
// client was removed), from the stream thread, after the record cache
// flushes; it must not block. The node is there either way, so the topology
// does not depend on it.
func Topology(in string, emails Emails, watch func(client string, ids []string)) (*kstreams.Topology, error) {
	if emails.Mailer == nil {
		return nil, errors.New("shareholders: Emails.Mailer is nil")
	}
	b := kstreams.NewBuilder()
	c := kstreams.ConsumedWith(serde.String(), PositionSerde())
	c.Name = NodeSource
	positions := kstreams.TableFrom(b, in, c, kstreams.Materialized[string, *Position]{Name: StorePositions})
	us := positions.Filter(func(_ string, p *Position) bool { return IsUS(p) }, NodeUS)
	byClient := kstreams.GroupTableBy(us, func(id string, p *Position) kstreams.KeyValue[string, []string] {
		return kstreams.KV(p.Client, []string{id})
	}, kstreams.Grouped[string, []string]{Name: GroupByClient, Key: serde.String(), Value: IDsSerde()})
	holders := byClient.Reduce(AddPositions, RemovePositions,
		kstreams.Materialized[string, []string]{Name: StoreUSShareHolders, Value: IDsSerde()})

	kstreams.AddStateStore(b, kstreams.StoreBuilder[string, int64]{
		Name: StoreEmailed, Key: serde.String(), Value: serde.Int64(),
	})
	updates := holders.ToStream(NodeUpdates).Peek(func(client string, ids []string) {
		if watch != nil {
			watch(client, ids)
		}
	}, NodeWatch)
	kstreams.ProcessWithStores(updates, newEmailer(emails),
		[]string{StoreUSShareHolders, StoreEmailed}, NodeEmailer)
	return b.Build()
}

// AddPositions is the adder of the reduction: the union of a client's set
// of position ids and the ids of a position that joins it. The result is
// sorted; the inputs are not modified.
func AddPositions(set, ids []string) []string {
	out := slices.Clone(set)
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// RemovePositions is the subtractor of the reduction: a client's set of
// position ids without the ids of a position that left it (moved off
// NASDAQ, closed, or reassigned). An empty result is nil, which IDsSerde
// writes as a null: the client is deleted from the store.
func RemovePositions(set, ids []string) []string {
	var out []string
	for _, id := range set {
		if !slices.Contains(ids, id) {
			out = append(out, id)
		}
	}
	return out
}
