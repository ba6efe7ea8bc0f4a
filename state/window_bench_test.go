package state

import (
	"encoding/binary"
	"testing"
	"time"
)

// BenchmarkWindowCount is the store work of a hopping-window count (1 s
// windows advancing by 500 ms, as the windowed-count benchmark of issue
// 10): per record, a fetch and a put in each of its two windows, over
// 10,000 keys and timestamps advancing 1 ms a record.
func BenchmarkWindowCount(b *testing.B) {
	opts := WindowStoreOptions{Retention: time.Second, WindowSize: time.Second}
	for _, backend := range windowBackends {
		b.Run(backend.name, func(b *testing.B) {
			s := openWindow(b, backend, opts)
			value := make([]byte, 8)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				key := benchKey(i * 7919 % 10_000)
				ts := int64(i)
				for start := max(0, ts-500) / 500 * 500; start <= ts; start += 500 {
					old, err := s.Fetch(key, start)
					if err != nil {
						b.Fatal(err)
					}
					var n uint64
					if old != nil {
						n = binary.BigEndian.Uint64(old)
					}
					binary.BigEndian.PutUint64(value, n+1)
					if err := s.Put(key, start, value); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
