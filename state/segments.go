package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kstreams-go/kstreams/serde"
)

// This file holds what window and session stores share: segments of time,
// each a BytesStore, created as stream time reaches them and dropped whole
// once they fall out of retention, as Kafka Streams' AbstractSegments and
// AbstractRocksDBSegmentedBytesStore.

// noTimestamp is the stream time of a store that has seen no record, as
// Java's ConsumerRecord.NO_TIMESTAMP.
const noTimestamp = -1

// segment is one time slice of a segmented store.
type segment struct {
	id      int64 // time / segment interval
	name    string
	store   BytesStore
	dropped atomic.Bool // set, before the store is closed, when retention drops it
}

// segmentBackend creates the BytesStores of segments.
type segmentBackend interface {
	// open opens, creating it if needed, the store of the named segment.
	open(name string) (BytesStore, error)
	// destroy deletes what the closed store of the named segment kept.
	destroy(name string) error
	// existing lists the names of the segments kept by an earlier store.
	existing() ([]string, error)
}

// memoryBackend keeps each segment in a memory store.
type memoryBackend struct{}

func (memoryBackend) open(name string) (BytesStore, error) { return NewMemoryStore(name), nil }
func (memoryBackend) destroy(string) error                 { return nil }
func (memoryBackend) existing() ([]string, error)          { return nil, nil }

// pebbleBackend keeps each segment in a pebble database of its own, in a
// subdirectory of dir named after the segment (Java's layout: one RocksDB
// per segment), so that dropping a segment frees its disk space at once.
type pebbleBackend struct {
	dir  string
	opts *PebbleOptions
}

func (b pebbleBackend) open(name string) (BytesStore, error) {
	return OpenPebbleStore(name, filepath.Join(b.dir, name), b.opts)
}

func (b pebbleBackend) destroy(name string) error { return os.RemoveAll(filepath.Join(b.dir, name)) }

func (b pebbleBackend) existing() ([]string, error) {
	entries, err := os.ReadDir(b.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// segmented is a store of entries spread over segments by a time taken
// from each entry (the window start, or the session end). It tracks the
// largest time put, its stream time, and keeps the segments holding times
// after stream time minus retention; older segments are dropped whole.
type segmented struct {
	name      string
	retention int64 // milliseconds
	interval  int64 // milliseconds of time per segment
	backend   segmentBackend
	expired   atomic.Int64 // puts dropped because their segment had expired

	// mu guards the segment list and stream time; it is held for writing
	// by puts, which may create and drop segments, and for reading by
	// reads while they pick their segments.
	mu struct {
		sync.RWMutex
		segments []*segment // by ascending id
		observed int64      // stream time: the largest time put
		closed   bool
	}
}

// newSegmented returns a segmented store, opening the segments that the
// backend kept from an earlier run.
func newSegmented(name string, retention, interval int64, backend segmentBackend) (*segmented, error) {
	s := &segmented{name: name, retention: retention, interval: interval, backend: backend}
	s.mu.observed = noTimestamp
	names, err := backend.existing()
	if err != nil {
		return nil, fmt.Errorf("state: store %q: list segments: %w", name, err)
	}
	for _, n := range names {
		id, ok := s.segmentIDOf(n)
		if !ok {
			continue
		}
		if _, err := s.segmentLocked(id); err != nil {
			s.closeSegmentsLocked()
			return nil, err
		}
	}
	return s, nil
}

// segmentID returns the id of the segment holding time t.
func (s *segmented) segmentID(t int64) int64 { return t / s.interval }

// segmentName returns the name of segment id: the store name, a dot and
// the segment's first millisecond, as Kafka Streams names them.
func (s *segmented) segmentName(id int64) string {
	return s.name + "." + strconv.FormatInt(id*s.interval, 10)
}

// segmentIDOf parses a segment name made by segmentName.
func (s *segmented) segmentIDOf(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, s.name+".")
	if !ok {
		return 0, false
	}
	start, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || start < 0 || start%s.interval != 0 {
		return 0, false
	}
	return start / s.interval, true
}

// minLiveTimeLocked returns the smallest time still in retention, as Java's
// stores compute it for reads: observed - retention + 1. s.mu must be held.
func (s *segmented) minLiveTimeLocked() int64 {
	return s.mu.observed - s.retention + 1
}

// segmentLocked returns segment id, opening it if needed. s.mu must be
// held for writing.
func (s *segmented) segmentLocked(id int64) (*segment, error) {
	i, found := slices.BinarySearchFunc(s.mu.segments, id, func(g *segment, id int64) int {
		return cmpInt64(g.id, id)
	})
	if found {
		return s.mu.segments[i], nil
	}
	name := s.segmentName(id)
	store, err := s.backend.open(name)
	if err != nil {
		return nil, fmt.Errorf("state: store %q: open segment %s: %w", s.name, name, err)
	}
	g := &segment{id: id, name: name, store: store}
	s.mu.segments = slices.Insert(s.mu.segments, i, g)
	return g, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// advanceLocked moves stream time to t if t is later and returns the id of
// the oldest live segment. s.mu must be held for writing.
func (s *segmented) advanceLocked(t int64) int64 {
	s.mu.observed = max(s.mu.observed, t)
	return s.segmentID(s.mu.observed - s.retention)
}

// dropExpiredLocked closes and destroys the segments older than minLive.
// s.mu must be held for writing.
func (s *segmented) dropExpiredLocked(minLive int64) error {
	var errs []error
	n := 0
	for _, g := range s.mu.segments {
		if g.id >= minLive {
			break
		}
		g.dropped.Store(true)
		if err := g.store.Close(); err != nil {
			errs = append(errs, err)
		}
		if err := s.backend.destroy(g.name); err != nil {
			errs = append(errs, err)
		}
		n++
	}
	s.mu.segments = slices.Delete(s.mu.segments, 0, n)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("state: store %q: drop expired segments: %w", s.name, err)
	}
	return nil
}

// put writes key (a nil value deletes it) into the segment of time t,
// after moving stream time to t. A write to an expired segment is dropped
// and counted, as in Kafka Streams; expired segments are dropped.
func (s *segmented) put(t int64, key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	minLive := s.advanceLocked(t)
	id := s.segmentID(t)
	if id < minLive {
		s.expired.Add(1)
		return s.dropExpiredLocked(minLive)
	}
	g, err := s.segmentLocked(id)
	if err != nil {
		return err
	}
	if err := g.store.Put(key, value); err != nil {
		return err
	}
	return s.dropExpiredLocked(minLive)
}

// remove deletes key from the segment of time t, if that segment exists,
// after moving stream time to t (Java's remove does both). It returns the
// value deleted, as get would have returned it (nil if t was out of
// retention), read by the segment's own delete: one read, not two.
func (s *segmented) remove(t int64, key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	live := t >= s.minLiveTimeLocked()
	s.advanceLocked(t)
	for _, g := range s.mu.segments {
		if g.id == s.segmentID(t) {
			old, err := g.store.Delete(key)
			if !live {
				old = nil
			}
			return old, err
		}
	}
	return nil, nil
}

// get returns the value of key in the segment of time t, nil if absent or
// if t is out of retention.
func (s *segmented) get(t int64, key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	if t < s.minLiveTimeLocked() {
		return nil, nil
	}
	for _, g := range s.mu.segments {
		if g.id == s.segmentID(t) {
			return g.store.Get(key)
		}
	}
	return nil, nil
}

// restore writes changelog records, keys as the store lays them out: it
// moves stream time to the latest time of the batch first, then writes
// each live record into its segment, a batch per segment, as Java's
// restoreAllInternal. timeOf returns the time of a key, false for a key
// too short to hold one.
func (s *segmented) restore(keys, values [][]byte, timeOf func([]byte) (int64, bool)) error {
	if len(keys) != len(values) {
		return fmt.Errorf("state: store %q: restore of %d keys and %d values", s.name, len(keys), len(values))
	}
	times := make([]int64, len(keys))
	for i, k := range keys {
		t, ok := timeOf(k)
		if !ok {
			return fmt.Errorf("state: store %q: restore: key %q: %w", s.name, k, ErrInvalidWindow)
		}
		times[i] = t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	var minLive int64
	for _, t := range times {
		minLive = s.advanceLocked(t)
	}
	batches := map[*segment]*[2][][]byte{}
	var order []*segment
	for i, t := range times {
		id := s.segmentID(t)
		if id < minLive {
			continue
		}
		g, err := s.segmentLocked(id)
		if err != nil {
			return err
		}
		b := batches[g]
		if b == nil {
			b = &[2][][]byte{}
			batches[g] = b
			order = append(order, g)
		}
		b[0], b[1] = append(b[0], keys[i]), append(b[1], values[i])
	}
	for _, g := range order {
		if err := writeAll(g.store, batches[g][0], batches[g][1]); err != nil {
			return err
		}
	}
	return s.dropExpiredLocked(minLive)
}

// writeAll writes keys and values into store, as one batch if it is a
// BatchWriter.
func writeAll(store BytesStore, keys, values [][]byte) error {
	if bw, ok := store.(BatchWriter); ok {
		return bw.PutAll(keys, values)
	}
	for i, k := range keys {
		if err := store.Put(k, values[i]); err != nil {
			return err
		}
	}
	return nil
}

// scan is a read of a segmented store: the segments to visit, how to read
// each, and the filter that decodes the entries read.
type scan struct {
	fromTime, toTime int64 // times of the segments to visit
	forward          bool  // visit segments by ascending time
	// open opens the iterator over the entries of one segment's store.
	open func(BytesStore) (Iterator, error)
	// openSegment, when set, opens the iterator of a segment instead of
	// open (a transaction layer reads its pending writes over it).
	openSegment func(*segment) (Iterator, error)
	// decode returns the key and window of a raw key, and whether the entry
	// is in the scan.
	decode func(raw []byte) (key []byte, w serde.Window, ok bool)
}

// rangeScan returns the scan function reading the keys from lo to hi,
// inclusive (nil is unbounded), in ascending or descending order.
func rangeScan(lo, hi []byte, forward bool) func(BytesStore) (Iterator, error) {
	return func(s BytesStore) (Iterator, error) {
		if forward {
			return s.Range(lo, hi)
		}
		return s.ReverseRange(lo, hi)
	}
}

// iterate opens an iterator over the segments of sc.
func (s *segmented) iterate(sc scan) (WindowIterator, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	lo, hi := s.segmentID(max(sc.fromTime, 0)), s.segmentID(sc.toTime)
	var segs []*segment
	for _, g := range s.mu.segments {
		if g.id >= lo && g.id <= hi {
			segs = append(segs, g)
		}
	}
	if !sc.forward {
		slices.Reverse(segs)
	}
	return &segmentIterator{segs: segs, scan: sc}, nil
}

// flush flushes every segment.
func (s *segmented) flush() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return ErrClosed
	}
	var errs []error
	for _, g := range s.mu.segments {
		errs = append(errs, g.store.Flush())
	}
	return errors.Join(errs...)
}

// close closes every segment, keeping what they hold.
func (s *segmented) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	s.mu.closed = true
	return s.closeSegmentsLocked()
}

func (s *segmented) closeSegmentsLocked() error {
	var errs []error
	for _, g := range s.mu.segments {
		errs = append(errs, g.store.Close())
	}
	s.mu.segments = nil
	return errors.Join(errs...)
}

// numSegments returns the number of segments open.
func (s *segmented) numSegments() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.mu.segments)
}

// WindowIterator walks the entries of a window or session byte store: the
// record key, its window and the value. It follows the rules of
// [Iterator]. A segment dropped by retention while an iterator reads it
// ends that segment's part of the iteration, without error.
type WindowIterator interface {
	// Next moves to the next entry, the first one on the first call. It
	// returns false when there is none or an error stopped the iteration.
	Next() bool
	// Key returns the record key of the current entry.
	Key() []byte
	// Window returns the window of the current entry.
	Window() serde.Window
	// Value returns the value of the current entry.
	Value() []byte
	// Err returns the error that stopped the iteration, if any.
	Err() error
	// Close releases the iterator. Closing twice returns nil.
	Close() error
}

// segmentIterator reads a scan segment after segment.
type segmentIterator struct {
	segs  []*segment
	scan  scan
	cur   Iterator // iterator of segs[0], nil before it is opened
	done  bool
	raw   []byte // store key of the current entry
	key   []byte
	win   serde.Window
	value []byte
	err   error
}

func (it *segmentIterator) Next() bool {
	it.raw, it.key, it.value, it.win = nil, nil, nil, serde.Window{}
	for !it.done {
		if it.cur == nil && !it.open() {
			continue
		}
		if it.cur.Next() {
			raw := it.cur.Key()
			key, w, ok := it.scan.decode(raw)
			if ok {
				it.raw, it.key, it.win, it.value = raw, key, w, it.cur.Value()
				return true
			}
			continue
		}
		it.endSegment(it.cur.Err())
	}
	return false
}

// open opens the iterator of the next segment, or ends the iteration. It
// returns whether it.cur is ready.
func (it *segmentIterator) open() bool {
	if len(it.segs) == 0 {
		it.done = true
		return false
	}
	var err error
	if it.scan.openSegment != nil {
		it.cur, err = it.scan.openSegment(it.segs[0])
	} else {
		it.cur, err = it.scan.open(it.segs[0].store)
	}
	if err != nil {
		it.cur = nil
		it.endSegment(err)
		return false
	}
	return true
}

// endSegment moves past the current segment after its iteration stopped
// with err; an error other than the segment having been dropped ends the
// whole iteration.
func (it *segmentIterator) endSegment(err error) {
	g := it.segs[0]
	if it.cur != nil {
		it.cur.Close()
		it.cur = nil
	}
	it.segs = it.segs[1:]
	if err != nil && !(g.dropped.Load() && errors.Is(err, ErrClosed)) {
		it.err, it.done = err, true
	}
}

func (it *segmentIterator) Key() []byte          { return it.key }
func (it *segmentIterator) Window() serde.Window { return it.win }
func (it *segmentIterator) Value() []byte        { return it.value }
func (it *segmentIterator) Err() error           { return it.err }

func (it *segmentIterator) Close() error {
	if it.cur != nil {
		it.cur.Close()
		it.cur = nil
	}
	it.done, it.segs = true, nil
	return nil
}
