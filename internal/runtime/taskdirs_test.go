package runtime

import (
	"testing"

	"github.com/kstreams-go/kstreams/processor"
)

// TestTaskDirsClaim: a task directory belongs to one thread at a time; the
// owner may claim it again, and a release by another thread is ignored.
func TestTaskDirsClaim(t *testing.T) {
	var d taskDirs
	a, b := &thread{id: 0}, &thread{id: 1}
	id := processor.TaskID{Subtopology: 0, Partition: 3}
	steps := []struct {
		name string
		do   func() bool
		want bool
	}{
		{"a claims", func() bool { return d.claim(id, a) }, true},
		{"a claims again", func() bool { return d.claim(id, a) }, true},
		{"b waits", func() bool { return d.claim(id, b) }, false},
		{"b's release is ignored", func() bool { d.release(id, b); return d.claim(id, b) }, false},
		{"a releases, b claims", func() bool { d.release(id, a); return d.claim(id, b) }, true},
		{"another task is free", func() bool { return d.claim(processor.TaskID{Partition: 4}, a) }, true},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Fatalf("%s: got %v, want %v", s.name, got, s.want)
		}
	}
}
