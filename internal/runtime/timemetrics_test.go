package runtime

import (
	"testing"

	"github.com/kstreams-go/kstreams/processor"
)

func TestAvgMax(t *testing.T) {
	tests := []struct {
		values []int64
		avg    float64
		max    int64
	}{
		{nil, 0, 0},
		{[]int64{0}, 0, 0},
		{[]int64{4000, 1000}, 2500, 4000},
		{[]int64{3, 9, 0}, 4, 9},
	}
	for _, tt := range tests {
		var a AvgMax
		for _, v := range tt.values {
			a.record(v)
		}
		if a.Avg() != tt.avg || a.Max() != tt.max {
			t.Errorf("%v: avg %v max %d, want %v %d", tt.values, a.Avg(), a.Max(), tt.avg, tt.max)
		}
	}
}

func TestAvgMaxSnapshotOrder(t *testing.T) {
	m := NewDebugMetrics()
	m.avgMax(processor.TaskID{Subtopology: 1, Partition: 0}, "", MetricRecordLateness).record(5)
	m.avgMax(processor.TaskID{Subtopology: 0, Partition: 1}, "b", MetricSuppressionBufferSize).record(7)
	m.avgMax(processor.TaskID{Subtopology: 0, Partition: 1}, "a", MetricSuppressionBufferCount).record(2)
	got := m.AvgMaxSnapshot()
	want := []string{"0_1/a/suppression-buffer-count", "0_1/b/suppression-buffer-size", "1_0//record-lateness"}
	if len(got) != len(want) {
		t.Fatalf("snapshot %+v", got)
	}
	for i, v := range got {
		if s := v.Task.String() + "/" + v.Store + "/" + v.Metric; s != want[i] {
			t.Errorf("snapshot[%d] = %s, want %s", i, s, want[i])
		}
	}
}
