package kstreams_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/kstreamstest"
	"github.com/kstreams-go/kstreams/serde"
)

// A record later than its window's end plus grace is dropped, counted in
// Metrics.Dropped, and logged with its topic, partition, offset and how
// late it is; so is one late for its session.
func TestLateRecordsLogged(t *testing.T) {
	cases := []struct {
		name  string
		build func(s kstreams.Stream[string, string])
		want  []string
	}{
		{name: "time window", build: func(s kstreams.Stream[string, string]) {
			kstreams.WindowedBy(s.GroupByKey(), kstreams.TimeWindowsOfSizeAndGrace(10*time.Millisecond, 2*time.Millisecond)).Count()
		}, want: []string{`expired window [0,10): timestamp 4, window closed at 12 (end plus grace), stream time 16, 4 ms late`}},
		{name: "session", build: func(s kstreams.Stream[string, string]) {
			kstreams.WindowedBySession(s.GroupByKey(), kstreams.SessionWindowsOfInactivityGapAndGrace(2*time.Millisecond, 2*time.Millisecond)).Count()
		}, want: []string{"expired session [4,4]", "ms late"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := kstreams.NewBuilder()
			tc.build(kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String())))
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			d, err := kstreamstest.New(topo, kstreamstest.Logger(slog.New(slog.NewTextHandler(&log, nil))))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			in := kstreamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			for _, ts := range []int64{3, 16, 4} {
				if err := in.PipeAt("a", "x", ts); err != nil {
					t.Fatal(err)
				}
			}
			if n := d.Metrics().Dropped; n != 1 {
				t.Errorf("Dropped = %d, want 1", n)
			}
			line := log.String()
			for _, w := range append(tc.want, "dropping record", "topic=in", "partition=0", "offset=2") {
				if !strings.Contains(line, w) {
					t.Errorf("log %q does not say %q", line, w)
				}
			}
		})
	}
}
