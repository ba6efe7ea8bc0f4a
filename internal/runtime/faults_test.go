package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want faultKind
	}{
		{nil, faultNone},
		{kerr.UnknownMemberID, faultMigrated},
		{fmt.Errorf("kstreams: committing offsets: topic %q partition 1: %w", "t", kerr.IllegalGeneration), faultMigrated},
		{kerr.RebalanceInProgress, faultMigrated},
		{kerr.FencedInstanceID, faultMigrated},
		{kerr.CoordinatorNotAvailable, faultTransient},
		{kerr.NotCoordinator, faultTransient},
		{kerr.RequestTimedOut, faultTransient},
		{context.DeadlineExceeded, faultTransient},
		{io.EOF, faultTransient},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), faultTransient},
		{kerr.GroupAuthorizationFailed, faultFatal},
		{fmt.Errorf("wrapped: %w", kerr.TopicAuthorizationFailed), faultFatal},
		{kerr.OffsetMetadataTooLarge, faultFatal},
	} {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestFreezeLimit(t *testing.T) {
	for _, c := range []struct{ session, heartbeat, want time.Duration }{
		{45 * time.Second, 3 * time.Second, 42 * time.Second},
		{6 * time.Second, 500 * time.Millisecond, 5500 * time.Millisecond},
		{6 * time.Second, 5 * time.Second, 3 * time.Second}, // never less than half the session
	} {
		if got := freezeLimit(c.session, c.heartbeat); got != c.want {
			t.Errorf("freezeLimit(%v, %v) = %v, want %v", c.session, c.heartbeat, got, c.want)
		}
	}
}

func TestFreezeWatch(t *testing.T) {
	w := newFreezeWatch(100 * time.Millisecond)
	w.observe(3 * time.Second) // before the limit is set: no freeze
	w.setLimit(time.Second)
	for _, at := range []time.Duration{3100, 3200, 3300, 4200} { // gaps of at most 900ms
		w.observe(at * time.Millisecond)
	}
	if frozen, n := w.frozen(0); frozen || n != 0 {
		t.Fatalf("frozen(0) = %v, %d after short gaps, want false, 0", frozen, n)
	}
	w.observe(6500 * time.Millisecond) // a 2.3s gap
	frozen, n := w.frozen(0)
	if !frozen || n != 1 {
		t.Fatalf("frozen(0) = %v, %d after a 2.3s gap, want true, 1", frozen, n)
	}
	if got := time.Duration(w.longest.Load()); got != 2300*time.Millisecond {
		t.Errorf("longest freeze %v, want 2.3s", got)
	}
	if frozen, _ := w.frozen(n); frozen {
		t.Error("frozen(1) = true: the freeze was already seen")
	}
	// A freeze ending now, before the watch's goroutine ticked: the
	// caller notices it itself, once.
	w.last.Store(int64(time.Since(w.start) - 5*time.Second))
	frozen, n = w.frozen(n)
	if !frozen || n != 2 {
		t.Fatalf("frozen(1) = %v, %d while a freeze ends, want true, 2", frozen, n)
	}
	if frozen, _ := w.frozen(n); frozen {
		t.Error("the ending freeze was reported twice")
	}
}

func TestThrottle(t *testing.T) {
	tr := throttle{every: 30 * time.Second}
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at       time.Duration
		ok       bool
		held     int
		resetNow bool
	}{
		{0, true, 0, false},
		{time.Second, false, 0, false},
		{20 * time.Second, false, 0, false},
		{31 * time.Second, true, 2, false},
		{32 * time.Second, false, 0, true}, // then the episode ends
		{33 * time.Second, true, 0, false},
	}
	for i, s := range steps {
		ok, held := tr.allow(t0.Add(s.at))
		if ok != s.ok || held != s.held {
			t.Errorf("step %d: allow = %v, %d; want %v, %d", i, ok, held, s.ok, s.held)
		}
		if s.resetNow && !tr.reset() {
			t.Errorf("step %d: reset reported no episode", i)
		}
	}
}

func TestClientLogger(t *testing.T) {
	for _, c := range []struct {
		min  slog.Level
		want kgo.LogLevel
	}{
		{slog.LevelDebug, kgo.LogLevelDebug},
		{slog.LevelInfo, kgo.LogLevelInfo},
		{slog.LevelWarn, kgo.LogLevelWarn},
		{slog.LevelError, kgo.LogLevelError},
		{slog.LevelError + 4, kgo.LogLevelNone},
	} {
		if got := ClientLogger(slog.New(slog.DiscardHandler), c.min).Level(); got != c.want {
			t.Errorf("ClientLogger(%v).Level() = %v, want %v", c.min, got, c.want)
		}
	}
	var buf bytes.Buffer
	l := ClientLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), slog.LevelWarn)
	l.Log(kgo.LogLevelInfo, "flushing")
	l.Log(kgo.LogLevelWarn, "unable to open connection to broker", "addr", "127.0.0.1:1")
	got := buf.String()
	if strings.Contains(got, "flushing") {
		t.Errorf("an info line passed a warn threshold: %s", got)
	}
	if !strings.Contains(got, `level=WARN msg="kgo: unable to open connection to broker" addr=127.0.0.1:1`) {
		t.Errorf("warn line not bridged: %q", got)
	}
}

func TestProduceErrorMessage(t *testing.T) {
	for _, c := range []struct {
		err  ProduceError
		want string
	}{
		{ProduceError{Topic: "missing", Partition: -1, Kind: SendOutput, InputTopic: "in", InputPartition: 2, InputOffset: 17, Err: kerr.UnknownTopicOrPartition},
			`kstreams: producing output record to topic "missing" failed for input record topic "in" partition 2 offset 17: UNKNOWN_TOPIC_OR_PARTITION`},
		{ProduceError{Topic: "dlq", Partition: 0, Kind: SendDeadLetter, InputTopic: "in", InputPartition: 0, InputOffset: 3, Err: kerr.TopicAuthorizationFailed},
			`kstreams: producing dead letter to topic "dlq" partition 0 failed for input record topic "in" partition 0 offset 3: TOPIC_AUTHORIZATION_FAILED`},
		{ProduceError{Topic: "app-counts-changelog", Partition: 4, Kind: SendChangelog, InputOffset: -1, Err: kerr.MessageTooLarge},
			`kstreams: producing changelog record to topic "app-counts-changelog" partition 4 failed: MESSAGE_TOO_LARGE`},
	} {
		got := c.err.Error()
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("got  %s\nwant %s...", got, c.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWaitNote(t *testing.T) {
	var buf syncBuffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	stop := waitNote(l, slog.LevelWarn, 20*time.Millisecond, "the brokers to answer", "brokers", []string{"b:9092"})
	// Wait for two notes rather than a fixed time: a loaded machine may
	// run the ticker late, never early.
	note := `level=WARN msg="kstreams: still waiting for the brokers to answer" brokers=[b:9092]`
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(buf.String(), note) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	stop() // stopping twice is fine
	n := strings.Count(buf.String(), note)
	if n < 2 {
		t.Fatalf("%d notes in 5s at a 20ms period, want at least 2:\n%s", n, buf.String())
	}
	time.Sleep(50 * time.Millisecond)
	if m := strings.Count(buf.String(), "still waiting"); m != n {
		t.Errorf("%d notes after stop, want none", m-n)
	}
}
