package compat

import (
	"time"

	"github.com/kstreams-go/kstreams"
)

// Suppression buffers bounded by bytes, emitting early when full: the rows
// they hold are counted as Kafka Streams counts them (key, prior, old and
// new values, record context with the input topic's name, buffer time).
func init() {
	topologies["suppress-bytes-table"] = topology{"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(in(b).ToTable().Suppress(kstreams.UntilTimeLimit(100*time.Millisecond, kstreams.MaxBytes(70))).ToStream())
	}}
	topologies["suppress-bytes-count"] = topology{"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		toSI(in(b).GroupByKey(grouped).Count().Suppress(kstreams.UntilTimeLimit(100*time.Millisecond, kstreams.MaxBytes(110))).ToStream())
	}}
	topologies["suppress-bytes-and-records"] = topology{"in:S:S", "out:S:S", func(b *kstreams.Builder) {
		toSS(in(b).ToTable().Suppress(kstreams.UntilTimeLimit(100*time.Millisecond, kstreams.MaxRecords(3).WithMaxBytes(90))).ToStream())
	}}
	topologies["suppress-bytes-windowed"] = topology{"in:S:S", "out:S:L", func(b *kstreams.Builder) {
		w := kstreams.TimeWindowsOfSizeWithNoGrace(10 * time.Millisecond)
		toSI(windowKeys(kstreams.WindowedBy(in(b).GroupByKey(grouped), w).Count().
			Suppress(kstreams.UntilTimeLimit(50*time.Millisecond, kstreams.MaxBytes(130))).ToStream()))
	}}
}
