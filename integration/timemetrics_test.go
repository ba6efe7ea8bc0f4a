package integration

import (
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
)

// TestSuppressionBufferMetrics runs a final windowed count at the debug
// recording level and checks the suppression buffer's metrics (Kafka
// Streams' suppression-buffer-count and -size): the buffer holds a row per
// key and window, 8 before the closing record, whose own window makes 9,
// after which the 8 closed windows leave.
func TestSuppressionBufferMetrics(t *testing.T) {
	app := newAppID(t)
	in, out := uniqueName(t, "in"), uniqueName(t, "out")
	createTopics(t, 1, in, out)
	base := time.Now().Add(-time.Hour).UnixMilli() / 1000 * 1000
	si := newSuppressInput(in, 1, base, 2, 2)
	produce(t, si.recs...)
	r := runApp(t, suppressTopology(t, in, out, nil), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir()),
		kstreams.MetricsRecordingLevel(kstreams.MetricsDebug))
	waitCaughtUp(t, app, 60*time.Second, in)
	finalResults(t, out, si.exact, 30*time.Second)
	m := r.app.Metrics()
	r.stopOK(t)
	if len(m.SuppressionBuffers) != 1 {
		t.Fatalf("suppression buffer metrics %+v, want one buffer", m.SuppressionBuffers)
	}
	b := m.SuppressionBuffers[0]
	// Counts after each change: 1..4, 4 x4, 5..8, 8 x4, 9, then 1.
	if b.Task != "0_0" || b.Store != suppressName+"-store" || b.CountMax != 9 || b.CountAvg != 94.0/18 || b.SizeMax <= 0 || b.SizeAvg <= 0 {
		t.Errorf("suppression buffer metrics %+v, want task 0_0, store %s-store, count max 9 avg %.3f, sizes > 0", b, suppressName, 94.0/18)
	}
	if len(m.Lateness) != 1 || m.Lateness[0].RecordLatenessMax != 0 {
		t.Errorf("lateness metrics %+v, want one task, all records in order", m.Lateness)
	}
}
