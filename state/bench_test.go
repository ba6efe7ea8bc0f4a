package state

import (
	"encoding/binary"
	"testing"
)

// benchKey returns the 8-byte big-endian key of i.
func benchKey(i int) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(i))
}

func BenchmarkPut(b *testing.B) {
	value := make([]byte, 100)
	for _, backend := range storeBackends {
		b.Run(backend.name, func(b *testing.B) {
			s := backend.open(b, "bench")
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := s.Put(benchKey(i), value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	const entries = 100_000
	value := make([]byte, 100)
	for _, backend := range storeBackends {
		b.Run(backend.name, func(b *testing.B) {
			s := backend.open(b, "bench")
			for i := range entries {
				if err := s.Put(benchKey(i), value); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if v, err := s.Get(benchKey(i * 7919 % entries)); err != nil || v == nil {
					b.Fatal(v, err)
				}
			}
		})
	}
}
