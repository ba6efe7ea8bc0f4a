package kstreams

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/state"
)

// emitClosed forwards the sessions closed since the last emission when the
// aggregation emits on close, as Java's KStreamSessionWindowAggregate
// maybeForwardFinalResult: at most once per emitInterval of wall-clock
// time, when the close time moved on, the sessions ending in [last close,
// close - 1] (both bounds of a session being inclusive).
func (p *sessionAggregate[K, V, A]) emitClosed(closeTime int64, h []processor.Header) error {
	if !p.onClose {
		return nil
	}
	now := p.ctx.WallClockTime()
	if now < p.nextEmit {
		return nil
	}
	p.nextEmit = now + emitInterval(p.ctx)
	if p.lastEmit != -1 && p.lastEmit >= closeTime {
		return nil
	}
	upper := closeTime - 1
	lower := max(0, p.lastEmit)
	if upper < 0 || upper < lower {
		return nil
	}
	p.lastEmit = closeTime
	keepLastEmit(p.ctx, p.store, closeTime)
	return p.forwardClosed(lower, upper, h)
}

// forwardClosed forwards the sessions of every key ending in [lower,
// upper] by end, start, then key bytes, each stamped with its end.
func (p *sessionAggregate[K, V, A]) forwardClosed(lower, upper int64, h []processor.Header) error {
	it, err := p.st.raw.SessionsEndingIn(lower, upper)
	if err != nil {
		return err
	}
	type closed struct {
		key   Windowed[K]
		kb    []byte
		value A
	}
	var out []closed
	for it.Next() {
		w := it.Window()
		c, err := p.decodeSession(it.Key(), it.Value())
		if err != nil {
			it.Close()
			return err
		}
		out = append(out, closed{key: Windowed[K]{Key: c.Key, Window: w}, kb: slices.Clone(it.Key()), value: c.Value})
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	slices.SortStableFunc(out, func(a, b closed) int {
		if c := cmp.Compare(a.key.Window.End, b.key.Window.End); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key.Window.Start, b.key.Window.Start); c != 0 {
			return c
		}
		return bytes.Compare(a.kb, b.kb)
	})
	for _, c := range out {
		p.ctx.Forward(processor.Record[Windowed[K], Change[A]]{Key: c.key, Value: Change[A]{New: c.value, HasNew: true}, Timestamp: c.key.Window.End, Headers: h})
	}
	return nil
}

// decodedSession is a session read from the bytes store.
type decodedSession[K, A any] struct {
	Key   K
	Value A
}

// decodeSession deserializes a session's key and value bytes.
func (p *sessionAggregate[K, V, A]) decodeSession(kb, vb []byte) (decodedSession[K, A], error) {
	var d decodedSession[K, A]
	k, err := p.st.key.Deserialize(p.st.topic, kb)
	if err != nil {
		return d, &state.StoreError{Store: p.store, Op: "fetch", Err: fmt.Errorf("deserialize key: %w", err)}
	}
	v, err := p.st.value.Deserialize(p.st.topic, vb)
	if err != nil {
		return d, &state.StoreError{Store: p.store, Op: "fetch", Err: fmt.Errorf("deserialize value: %w", err)}
	}
	d.Key, d.Value = k, v
	return d, nil
}
