package main

import (
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

// IsOpen reports whether p is an open position (not a tombstone).
func IsOpen(p *Position) bool { return p != nil }

// IsUS reports whether p is an open position held on NASDAQ.
func IsUS(p *Position) bool { return IsOpen(p) && p.Exchange == NASDAQ }

// The node names of [Topology]. They are stable, so that Describe, logs and
// errors read the same from one version of the application to the next.
const (
	NodeSource    = "share-holders-source"
	NodeWatch     = "watch-positions"
	NodeOpen      = "drop-closed-positions"
	NodeUS        = "keep-nasdaq-positions"
	NodeByClient  = "key-by-client"
	NodeSink      = "us-share-holders-by-client-sink"
	defaultInput  = "share-holders"
	defaultOutput = "us-share-holders-by-client"
)

// Topology returns the stateless part of scenario 1: it reads positions
// keyed by position id from the topic in, drops closed positions
// (tombstones) and positions not held on NASDAQ, re-keys the rest by client,
// and writes them to the topic out, unchanged, keyed by client.
//
// watch, if not nil, is called with every input record before the filters
// (from the stream thread; it must not block); the node is there either way,
// so the topology does not depend on it.
func Topology(in, out string, watch func(id string, p *Position)) (*kstreams.Topology, error) {
	b := kstreams.NewBuilder()
	c := kstreams.ConsumedWith(serde.String(), PositionSerde())
	c.Name = NodeSource
	positions := kstreams.StreamFrom(b, in, c).Peek(func(id string, p *Position) {
		if watch != nil {
			watch(id, p)
		}
	}, NodeWatch)
	us := positions.
		Filter(func(_ string, p *Position) bool { return IsOpen(p) }, NodeOpen).
		Filter(func(_ string, p *Position) bool { return IsUS(p) }, NodeUS)
	byClient := kstreams.SelectKey(us, func(_ string, p *Position) string { return p.Client }, NodeByClient)
	byClient.To(out, kstreams.Produced[string, *Position]{Name: NodeSink})
	return b.Build()
}
