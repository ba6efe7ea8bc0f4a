package kstreams

import "testing"

// intervalCtx is a context that says its emit interval.
type intervalCtx int64

func (c intervalCtx) EmitInterval() int64 { return int64(c) }

// TestEmitInterval checks where emit-on-close aggregations take their
// interval from: the runtime's context when it says one (0 in the test
// driver), Kafka Streams' default of 1000 ms otherwise.
func TestEmitInterval(t *testing.T) {
	tests := []struct {
		name string
		ctx  any
		want int64
	}{
		{"context without an interval", struct{}{}, 1000},
		{"test driver", intervalCtx(0), 0},
		{"runtime default", intervalCtx(1000), 1000},
	}
	for _, tt := range tests {
		if got := emitInterval(tt.ctx); got != tt.want {
			t.Errorf("%s: emitInterval = %d, want %d", tt.name, got, tt.want)
		}
	}
}
