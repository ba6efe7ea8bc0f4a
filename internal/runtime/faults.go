package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrCloseIncomplete is returned (wrapped, with what was left) by Run when
// the close could not flush the producer or commit the offsets within the
// close timeout (use errors.Is).
var ErrCloseIncomplete = errors.New("kstreams: close incomplete")

// faultKind sorts the errors of the group coordinator and the producer by
// what the thread does about them.
type faultKind int

const (
	// faultNone: no error.
	faultNone faultKind = iota
	// faultMigrated: the member is no longer in the group generation its
	// tasks belong to; they may be running elsewhere already. The tasks
	// are closed without flushing or committing and the member rejoins.
	faultMigrated
	// faultTransient: no answer, or an answer that may change (the
	// coordinator moves, the broker is unreachable, a deadline passed).
	// The commit is retried later.
	faultTransient
	// faultFatal: an answer that will not change by retrying
	// (authorization, a bad request). The thread stops.
	faultFatal
)

// classify says what an error of a group request (heartbeat, offset
// commit) means for the tasks.
func classify(err error) faultKind {
	var ke *kerr.Error
	switch {
	case err == nil:
		return faultNone
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
		errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.FencedInstanceID):
		return faultMigrated
	case errors.As(err, &ke):
		if ke.Retriable {
			return faultTransient
		}
		return faultFatal
	default:
		// Network errors, deadlines, a client between connections: no
		// answer from the broker, which may come back.
		return faultTransient
	}
}

// probeMembership asks the group coordinator, with a heartbeat carrying the
// client's member id and generation, whether this member still owns its
// generation's assignment. REBALANCE_IN_PROGRESS is an answer of "yes": the
// generation is still current (a rebalance only starts), so the member may
// still flush and commit, as it does when its partitions are revoked.
func probeMembership(ctx context.Context, cl *kgo.Client, group string) error {
	member, gen := cl.GroupMetadata()
	if member == "" || gen < 0 {
		return fmt.Errorf("not a member of group %q: %w", group, kerr.UnknownMemberID)
	}
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group = group
	req.MemberID = member
	req.Generation = gen
	if iid, ok := cl.OptValue(kgo.InstanceID).(string); ok && iid != "" {
		req.InstanceID = &iid
	}
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if errors.Is(err, kerr.RebalanceInProgress) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("heartbeat of member %q generation %d: %w", member, gen, err)
	}
	return nil
}

// freezeWatch notices that the whole process was frozen (SIGSTOP, a paused
// VM, a very long GC pause): a goroutine ticks every tick and a gap longer
// than the limit between two ticks is a freeze. A freeze that long may have
// let the member's session expire while its heartbeats could not be sent,
// so its partitions may belong to another member already. The limit is set
// once the clients (and so the session timeout) are known; until then the
// watch sees nothing.
type freezeWatch struct {
	start   time.Time
	tick    time.Duration
	limit   atomic.Int64 // ns; 0 until set
	last    atomic.Int64 // time.Since(start) at the last tick, ns
	freezes atomic.Int64
	longest atomic.Int64 // the longest freeze seen, ns
}

func newFreezeWatch(tick time.Duration) *freezeWatch {
	return &freezeWatch{start: time.Now(), tick: tick}
}

// setLimit sets the shortest gap that is a freeze.
func (w *freezeWatch) setLimit(d time.Duration) { w.limit.Store(int64(d)) }

// run ticks until ctx is done.
func (w *freezeWatch) run(ctx context.Context) {
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.observe(time.Since(w.start))
		}
	}
}

// observe records a tick at now (time since start).
func (w *freezeWatch) observe(now time.Duration) {
	gap := now - time.Duration(w.last.Swap(int64(now)))
	if limit := time.Duration(w.limit.Load()); limit > 0 && gap > limit {
		w.freezes.Add(1)
		if int64(gap) > w.longest.Load() {
			w.longest.Store(int64(gap))
		}
	}
}

// frozen reports whether a freeze happened since the caller last saw seen
// freezes, and returns the count to remember. A freeze that is ending as
// the caller asks (the watch has not ticked for longer than the limit: the
// caller runs first after the process resumes) is recorded by the caller.
func (w *freezeWatch) frozen(seen int64) (bool, int64) {
	limit := time.Duration(w.limit.Load())
	if now := time.Since(w.start); limit > 0 && now-time.Duration(w.last.Load()) > limit {
		w.observe(now)
	}
	n := w.freezes.Load()
	return n != seen, n
}

// freezeLimit is how long the process may be frozen without risking its
// group session: the session expires a session timeout after the last
// heartbeat, which was up to a heartbeat interval before the freeze.
func freezeLimit(session, heartbeat time.Duration) time.Duration {
	if l := session - heartbeat; l >= session/2 {
		return l
	}
	return session / 2
}

// throttle rate-limits a repeated log line: the first occurrence is logged
// at once, later ones at most once per every, with how many were held back.
type throttle struct {
	every time.Duration
	mu    sync.Mutex
	last  time.Time
	held  int
	on    bool
}

// allow reports whether to log now, and how many occurrences were held back
// since the last line logged.
func (tr *throttle) allow(now time.Time) (bool, int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.on && now.Sub(tr.last) < tr.every {
		tr.held++
		return false, 0
	}
	held := tr.held
	tr.on, tr.last, tr.held = true, now, 0
	return true, held
}

// reset ends an episode: the next occurrence is logged at once. It reports
// whether an episode was under way.
func (tr *throttle) reset() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	was := tr.on
	tr.on, tr.held = false, 0
	return was
}

// slogLevels maps franz-go's log levels to slog's.
var slogLevels = map[kgo.LogLevel]slog.Level{
	kgo.LogLevelError: slog.LevelError,
	kgo.LogLevelWarn:  slog.LevelWarn,
	kgo.LogLevelInfo:  slog.LevelInfo,
	kgo.LogLevelDebug: slog.LevelDebug,
}

// ClientLogger passes franz-go's own log lines at level min and above to l,
// their messages prefixed with "kgo: ".
func ClientLogger(l *slog.Logger, min slog.Level) kgo.Logger {
	lvl := kgo.LogLevelNone
	for _, k := range []kgo.LogLevel{kgo.LogLevelError, kgo.LogLevelWarn, kgo.LogLevelInfo, kgo.LogLevelDebug} {
		if slogLevels[k] >= min {
			lvl = k
		}
	}
	return &clientLogger{l: l, level: lvl}
}

type clientLogger struct {
	l     *slog.Logger
	level kgo.LogLevel
}

func (c *clientLogger) Level() kgo.LogLevel { return c.level }

func (c *clientLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if level > c.level {
		return
	}
	c.l.Log(context.Background(), slogLevels[level], "kgo: "+msg, keyvals...)
}

// waitNote logs at level, every every until stop is called, that the
// instance is still waiting for what, so that a broker that accepts
// connections but never answers is not met with silence.
func waitNote(l *slog.Logger, level slog.Level, every time.Duration, what string, attrs ...any) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	start := time.Now()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				l.Log(context.Background(), level, "kstreams: still waiting for "+what, append(attrs, "waited", time.Since(start).Round(time.Second).String())...)
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

func (k SendKind) String() string {
	switch k {
	case SendOutput:
		return "output record"
	case SendDeadLetter:
		return "dead letter"
	case SendChangelog:
		return "changelog record"
	case SendOutputToPartition:
		return "output record to a chosen partition"
	}
	return fmt.Sprintf("SendKind(%d)", int(k))
}
