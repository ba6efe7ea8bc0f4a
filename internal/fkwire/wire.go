package fkwire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrFormat reports bytes that are not a wrapper of a supported version.
var ErrFormat = errors.New("kstreams: foreign-key join wire format")

// Instruction tells the foreign side what to do with a subscription, as
// Kafka Streams' SubscriptionWrapper.Instruction (same byte values).
type Instruction byte

const (
	// DeleteKeyNoPropagate removes the subscription, no response: the row
	// moved to another foreign key, whose subscription answers.
	DeleteKeyNoPropagate Instruction = 0
	// DeleteKeyAndPropagate removes the subscription and answers with no
	// foreign value: the row was deleted (or, in a left join, moved).
	DeleteKeyAndPropagate Instruction = 1
	// PropagateNullIfNoFKValAvailable stores the subscription and always
	// answers, with no foreign value if the foreign row is missing.
	PropagateNullIfNoFKValAvailable Instruction = 2
	// PropagateOnlyIfFKValAvailable stores the subscription and answers
	// only when the foreign row exists.
	PropagateOnlyIfFKValAvailable Instruction = 3
)

// SubscriptionVersion is the version of the subscriptions written: 1, the
// one that carries the primary partition.
const SubscriptionVersion = 1

// Subscription is what a primary row sends to the foreign key it refers
// to: Kafka Streams' SubscriptionWrapper.
type Subscription struct {
	// Hash of the row's serialized value; nil for a deleted row.
	Hash        *Hash
	Instruction Instruction
	// PrimaryKey is the serialized key of the row.
	PrimaryKey []byte
	// PrimaryPartition is the partition of the row, where the response
	// goes; -1 when unknown (a version 0 subscription).
	PrimaryPartition int32
	// Version of the format read (written: SubscriptionVersion).
	Version byte
}

// AppendSubscription appends s in version 1 format: a byte holding the
// version, with the high bit set when there is no hash; the instruction;
// the two hash halves (big-endian) if any; the primary key; the primary
// partition (4 bytes, big-endian).
func AppendSubscription(dst []byte, s Subscription) []byte {
	v := byte(SubscriptionVersion)
	if s.Hash == nil {
		v |= 0x80
	}
	dst = append(dst, v, byte(s.Instruction))
	if s.Hash != nil {
		dst = binary.BigEndian.AppendUint64(dst, s.Hash[0])
		dst = binary.BigEndian.AppendUint64(dst, s.Hash[1])
	}
	dst = append(dst, s.PrimaryKey...)
	return binary.BigEndian.AppendUint32(dst, uint32(s.PrimaryPartition))
}

// ParseSubscription reads a subscription of version 0 or 1. PrimaryKey
// aliases b.
func ParseSubscription(b []byte) (Subscription, error) {
	var s Subscription
	if len(b) < 2 {
		return s, fmt.Errorf("%w: subscription of %d bytes", ErrFormat, len(b))
	}
	s.Version = b[0] & 0x7f
	hasHash := b[0]&0x80 == 0
	if s.Version > SubscriptionVersion {
		return s, fmt.Errorf("%w: subscription version %d (this kstreams reads up to %d)", ErrFormat, s.Version, SubscriptionVersion)
	}
	s.Instruction = Instruction(b[1])
	if s.Instruction > PropagateOnlyIfFKValAvailable {
		return s, fmt.Errorf("%w: subscription instruction %d", ErrFormat, b[1])
	}
	rest := b[2:]
	if hasHash {
		if len(rest) < 16 {
			return s, fmt.Errorf("%w: subscription of %d bytes with a hash", ErrFormat, len(b))
		}
		s.Hash = &Hash{binary.BigEndian.Uint64(rest), binary.BigEndian.Uint64(rest[8:])}
		rest = rest[16:]
	}
	s.PrimaryPartition = -1
	if s.Version > 0 {
		if len(rest) < 4 {
			return s, fmt.Errorf("%w: subscription of %d bytes without a partition", ErrFormat, len(b))
		}
		s.PrimaryPartition = int32(binary.BigEndian.Uint32(rest[len(rest)-4:]))
		rest = rest[:len(rest)-4]
	}
	s.PrimaryKey = rest
	return s, nil
}

// ResponseVersion is the version of the responses written: 0.
const ResponseVersion = 0

// Response is what the foreign side answers a subscription with: Kafka
// Streams' SubscriptionResponseWrapper. The primary partition is not
// written: it picks the partition the response is sent to.
type Response struct {
	// Hash is the subscription's, echoed back.
	Hash *Hash
	// ForeignValue is the serialized foreign row; nil when there is none.
	ForeignValue []byte
}

// AppendResponse appends r: a byte holding the version, with the high bit
// set when there is no hash; the two hash halves if any; the foreign value.
func AppendResponse(dst []byte, r Response) []byte {
	v := byte(ResponseVersion)
	if r.Hash == nil {
		v |= 0x80
	}
	dst = append(dst, v)
	if r.Hash != nil {
		dst = binary.BigEndian.AppendUint64(dst, r.Hash[0])
		dst = binary.BigEndian.AppendUint64(dst, r.Hash[1])
	}
	return append(dst, r.ForeignValue...)
}

// ParseResponse reads a response. As in Kafka Streams, an empty foreign
// value reads as none. ForeignValue aliases b.
func ParseResponse(b []byte) (Response, error) {
	var r Response
	if len(b) < 1 {
		return r, fmt.Errorf("%w: empty response", ErrFormat)
	}
	if v := b[0] & 0x7f; v != ResponseVersion {
		return r, fmt.Errorf("%w: response version %d (this kstreams reads %d)", ErrFormat, v, ResponseVersion)
	}
	rest := b[1:]
	if b[0]&0x80 == 0 {
		if len(rest) < 16 {
			return r, fmt.Errorf("%w: response of %d bytes with a hash", ErrFormat, len(b))
		}
		r.Hash = &Hash{binary.BigEndian.Uint64(rest), binary.BigEndian.Uint64(rest[8:])}
		rest = rest[16:]
	}
	if len(rest) > 0 {
		r.ForeignValue = rest
	}
	return r, nil
}

// AppendPrefix appends the prefix of the subscription-store keys of a
// foreign key: its length (4 bytes, big-endian) and the key.
func AppendPrefix(dst, foreignKey []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(foreignKey)))
	return append(dst, foreignKey...)
}

// AppendCombinedKey appends the subscription-store key of a (foreign key,
// primary key) pair: the prefix of the foreign key, then the primary key.
func AppendCombinedKey(dst, foreignKey, primaryKey []byte) []byte {
	return append(AppendPrefix(dst, foreignKey), primaryKey...)
}

// SplitCombinedKey returns the foreign and primary keys of a
// subscription-store key; they alias b.
func SplitCombinedKey(b []byte) (foreignKey, primaryKey []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: combined key of %d bytes", ErrFormat, len(b))
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("%w: combined key of %d bytes with a foreign key of %d", ErrFormat, len(b), n)
	}
	return b[4 : 4+n], b[4+n:], nil
}
