package runtime

import (
	"errors"
	"maps"
	"testing"
)

// The strings are Kafka Streams' TopicPartitionMetadata.encode layout,
// built by hand from its byte format (version, partition time, processor
// metadata), so that kstreams and Java read each other's commits.
func TestOffsetMetadataFormat(t *testing.T) {
	tests := []struct {
		name string
		pt   int64
		meta map[string]int64
		enc  string
	}{
		{"time and two entries", 1000, map[string]int64{"store": 5, "a": -1}, "AgAAAAAAAAPoAAAAAgAAAAFh//////////8AAAAFc3RvcmUAAAAAAAAABQ=="},
		{"unknown time, no metadata", -1, nil, "Av//////////"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EncodeOffsetMetadata(tt.pt, tt.meta); got != tt.enc {
				t.Errorf("encode = %q, want %q", got, tt.enc)
			}
			pt, meta, err := DecodeOffsetMetadata(tt.enc)
			if err != nil || pt != tt.pt || !maps.Equal(meta, tt.meta) {
				t.Errorf("decode = %d, %v, %v; want %d, %v", pt, meta, err, tt.pt, tt.meta)
			}
		})
	}
}

func TestDecodeOffsetMetadata(t *testing.T) {
	tests := []struct {
		in      string
		pt      int64
		invalid bool
	}{
		{"", -1, false},
		{"AQAAAAAAAAAq", 42, false},            // version 1: partition time only
		{"some-franz-go-member-id", -1, true},  // not base64 of a known version
		{"AwAAAAAAAAAq", -1, true},             // version 3
		{"AgAAAAAAAAPoAAAAAg==", -1, true},     // two entries announced, none there
		{"AgAAAAAAAAPo/////w==", -1, true},     // negative entry count
		{"AgAAAAAAAAPoAAAAAQAAAAFh", -1, true}, // entry without its value
		{"Ag==", -1, true},                     // truncated partition time
	}
	for _, tt := range tests {
		pt, _, err := DecodeOffsetMetadata(tt.in)
		if pt != tt.pt || (err != nil) != tt.invalid {
			t.Errorf("DecodeOffsetMetadata(%q) = %d, %v; want %d, invalid %v", tt.in, pt, err, tt.pt, tt.invalid)
		}
		if err != nil && !errors.Is(err, errOffsetMeta) {
			t.Errorf("DecodeOffsetMetadata(%q): error %v does not wrap errOffsetMeta", tt.in, err)
		}
	}
}

func FuzzDecodeOffsetMetadata(f *testing.F) {
	f.Add("AgAAAAAAAAPoAAAAAgAAAAFh//////////8AAAAFc3RvcmUAAAAAAAAABQ==")
	f.Add("AQAAAAAAAAAq")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		pt, meta, err := DecodeOffsetMetadata(s)
		if err != nil {
			return
		}
		if pt2, meta2, err := DecodeOffsetMetadata(EncodeOffsetMetadata(pt, meta)); err != nil || pt2 != pt || !maps.Equal(meta, meta2) {
			t.Fatalf("%q decodes to %d %v, which does not round-trip (%d %v %v)", s, pt, meta, pt2, meta2, err)
		}
	})
}
