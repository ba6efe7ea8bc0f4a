// Package fkwire holds the byte formats of foreign-key table joins, the
// same as Kafka Streams' so that Go and Java instances of one application
// could read each other's subscription and response topics and stores: the
// subscription wrapper (version 1), the response wrapper (version 0), the
// combined key of the subscription store, and the 128-bit murmur3 hash of a
// row's serialized value that tells a response from a stale one.
package fkwire

import (
	"encoding/binary"
	"math/bits"
)

// Seed is the seed Kafka Streams hashes values with (its Murmur3's
// DEFAULT_SEED).
const Seed = 104729

// Hash is a 128-bit murmur3 hash as two 64-bit halves, in Kafka Streams'
// order (h1, h2).
type Hash [2]uint64

// Hash128 returns the MurmurHash3_x64_128 of data with the given seed, as
// Kafka Streams' Murmur3.hash128 (the seed is sign-extended to 64 bits, as
// Java's int-to-long conversion does).
func Hash128(data []byte, seed int32) Hash {
	const (
		c1 = 0x87c37b91114253d5
		c2 = 0x4cf5ad432745937f
	)
	h1, h2 := uint64(int64(seed)), uint64(int64(seed))
	n := len(data)
	nblocks := n / 16
	for i := 0; i < nblocks; i++ {
		k1 := binary.LittleEndian.Uint64(data[i*16:])
		k2 := binary.LittleEndian.Uint64(data[i*16+8:])
		k1 *= c1
		k1 = bits.RotateLeft64(k1, 31)
		k1 *= c2
		h1 ^= k1
		h1 = bits.RotateLeft64(h1, 27)
		h1 += h2
		h1 = h1*5 + 0x52dce729
		k2 *= c2
		k2 = bits.RotateLeft64(k2, 33)
		k2 *= c1
		h2 ^= k2
		h2 = bits.RotateLeft64(h2, 31)
		h2 += h1
		h2 = h2*5 + 0x38495ab5
	}
	tail := data[nblocks*16:]
	var k1, k2 uint64
	for i := len(tail) - 1; i >= 8; i-- {
		k2 ^= uint64(tail[i]) << (8 * (i - 8))
	}
	if len(tail) > 8 {
		k2 *= c2
		k2 = bits.RotateLeft64(k2, 33)
		k2 *= c1
		h2 ^= k2
	}
	for i := min(len(tail), 8) - 1; i >= 0; i-- {
		k1 ^= uint64(tail[i]) << (8 * i)
	}
	if len(tail) > 0 {
		k1 *= c1
		k1 = bits.RotateLeft64(k1, 31)
		k1 *= c2
		h1 ^= k1
	}
	h1 ^= uint64(n)
	h2 ^= uint64(n)
	h1 += h2
	h2 += h1
	h1, h2 = fmix64(h1), fmix64(h2)
	h1 += h2
	h2 += h1
	return Hash{h1, h2}
}

func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// ValueHash returns the hash Kafka Streams puts in subscriptions for a
// row's serialized value: nil (no hash) for a null value.
func ValueHash(value []byte) *Hash {
	if value == nil {
		return nil
	}
	h := Hash128(value, Seed)
	return &h
}
