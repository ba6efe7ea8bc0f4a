package kstreams

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The changelog of a suppression buffer has one record per buffered key:
// the key's bytes as the record key, and as the value a bufferRow in Kafka
// Streams' version 3 layout (InMemoryTimeOrderedKeyValueChangeBuffer's),
// marked by the record header "v" = 3, all integers big-endian:
//
//	record context: timestamp (8), offset (8), topic (4-byte length + UTF-8),
//	                partition (4), header count (4), then per header the key
//	                (4-byte length + UTF-8) and the value (4-byte length, -1
//	                for null, + bytes)
//	prior value:    4-byte length (-1: null) + bytes
//	old value:      4-byte length (-1: null, -2: equal to the prior value) + bytes
//	new value:      4-byte length (-1: null) + bytes
//	buffer time:    8
//
// An evicted key is a tombstone. So Kafka Streams restores a kstreams
// buffer's changelog and the other way round.
var bufferChangelogHeaders = []kgo.RecordHeader{{Key: "v", Value: []byte{3}}}

// Length markers of the buffer row layout.
const (
	nullLength      = -1
	sameAsPrior     = -2
	bufferTimeBytes = 8
)

// nullMark and sameAsPriorMark are nullLength and sameAsPrior as written.
var (
	nullMark        = uint32(0xFFFFFFFF)
	sameAsPriorMark = uint32(0xFFFFFFFE)
)

// errCorruptRow is what decoding a malformed buffer row returns.
var errCorruptRow = errors.New("malformed suppression buffer row")

// bufferRow is one row of a suppression buffer as its store and changelog
// hold it.
type bufferRow struct {
	// timestamp, offset, topic, partition and headers are the record
	// context of the latest update of the key: its timestamp and headers
	// are those the update is forwarded with.
	timestamp int64
	offset    int64
	topic     string
	partition int32
	headers   []processor.Header
	// prior is the old value of the update that first buffered the key;
	// old and new those of its latest update. nil is a null.
	prior, old, new []byte
	// oldIsPrior: old is the prior value itself (the key's first update),
	// not counted twice in the row's size, as Kafka Streams counts it.
	oldIsPrior bool
	// time is the buffer time: the row's place in the buffer.
	time int64
}

// size is the row's share of the buffer's byte limit, as Kafka Streams
// estimates it: the buffer time, the key, the prior, old (unless it is
// the prior value) and new values, and the record context (timestamp,
// offset, partition, the topic's and header keys' UTF-16 length and the
// header values).
func (r *bufferRow) size(key []byte) int64 {
	n := int64(bufferTimeBytes + len(key) + len(r.prior) + len(r.new))
	if !r.oldIsPrior {
		n += int64(len(r.old))
	}
	n += 8 + 8 + 4 + utf16Len(r.topic)
	for _, h := range r.headers {
		n += utf16Len(h.Key) + int64(len(h.Value))
	}
	return n
}

// utf16Len is the length of s in UTF-16 code units, Java's String length.
func utf16Len(s string) int64 {
	n := int64(0)
	for _, c := range s {
		if c == utf8.RuneError {
			n++
			continue
		}
		n += int64(utf16.RuneLen(c))
	}
	return n
}

// encode appends the row in the changelog layout to dst.
func (r *bufferRow) encode(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.timestamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.offset))
	dst = appendBytes(dst, []byte(r.topic))
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.partition))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.headers)))
	for _, h := range r.headers {
		dst = appendBytes(dst, []byte(h.Key))
		dst = appendBytes(dst, h.Value)
	}
	dst = appendBytes(dst, r.prior)
	switch {
	case r.old != nil && r.prior != nil && string(r.old) == string(r.prior):
		dst = binary.BigEndian.AppendUint32(dst, sameAsPriorMark)
	default:
		dst = appendBytes(dst, r.old)
	}
	dst = appendBytes(dst, r.new)
	return binary.BigEndian.AppendUint64(dst, uint64(r.time))
}

// appendBytes appends b with its 4-byte length, -1 for nil.
func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.BigEndian.AppendUint32(dst, nullMark)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

// decodeRow reads a row in the changelog layout.
func decodeRow(b []byte) (*bufferRow, error) {
	d := rowDecoder{b: b}
	r := &bufferRow{}
	r.timestamp = d.int64()
	r.offset = d.int64()
	r.topic = string(d.bytes(false))
	r.partition = d.int32()
	n := d.int32()
	if n < nullLength || int(n) > len(d.b) {
		d.fail()
	}
	for i := int32(0); i < n && d.err == nil; i++ {
		k := d.bytes(false)
		r.headers = append(r.headers, processor.Header{Key: string(k), Value: d.bytes(true)})
	}
	r.prior = d.bytes(true)
	if d.peekInt32() == sameAsPrior {
		d.int32()
		r.old, r.oldIsPrior = r.prior, true
	} else {
		r.old = d.bytes(true)
	}
	r.new = d.bytes(true)
	r.time = d.int64()
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// rowDecoder reads the fields of a row, remembering the first error.
type rowDecoder struct {
	b   []byte
	err error
}

func (d *rowDecoder) fail() {
	if d.err == nil {
		d.err = errCorruptRow
	}
	d.b = nil
}

func (d *rowDecoder) int64() int64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := int64(binary.BigEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *rowDecoder) int32() int32 {
	if len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := int32(binary.BigEndian.Uint32(d.b))
	d.b = d.b[4:]
	return v
}

func (d *rowDecoder) peekInt32() int32 {
	if len(d.b) < 4 {
		return 0
	}
	return int32(binary.BigEndian.Uint32(d.b))
}

// bytes reads a length-prefixed byte string; nullable allows -1 (nil).
func (d *rowDecoder) bytes(nullable bool) []byte {
	n := d.int32()
	switch {
	case d.err != nil:
		return nil
	case n == nullLength && nullable:
		return nil
	case n < 0 || int(n) > len(d.b):
		d.fail()
		return nil
	}
	v := append([]byte{}, d.b[:n]...)
	d.b = d.b[n:]
	return v
}

// bufferStore is what a suppression gets from its task for its buffer
// store: the byte store (changelogged, cached) holding one encoded row per
// buffered key.
type bufferStore struct {
	state.BytesStore
}

// StoreKind names the store for errors about processors asking for it.
func (bufferStore) StoreKind() string { return "suppression buffer" }

// decodeStoredRow decodes the row of key read from the buffer store name.
func decodeStoredRow(name string, key, value []byte) (*bufferRow, error) {
	r, err := decodeRow(value)
	if err != nil {
		return nil, fmt.Errorf("kstreams: suppression buffer %q: key %x: %w", name, key, err)
	}
	return r, nil
}
