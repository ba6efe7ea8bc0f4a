package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kstreams-go/kstreams/internal/assign"
)

// UncaughtAction is what to do when a stream thread stops with an error
// (Kafka Streams' StreamsUncaughtExceptionHandler responses).
type UncaughtAction int

const (
	// ShutdownClient stops every thread of this instance; Run returns the
	// error. The default.
	ShutdownClient UncaughtAction = iota
	// ReplaceThread starts a new thread in place of the failed one; the
	// failed thread's tasks come back to the instance through a
	// rebalance and resume from their last commit.
	ReplaceThread
	// ShutdownApplication asks, through the consumer group, every instance
	// of the application to shut down, this one included.
	ShutdownApplication
)

func (a UncaughtAction) String() string {
	switch a {
	case ShutdownClient:
		return "SHUTDOWN_CLIENT"
	case ReplaceThread:
		return "REPLACE_THREAD"
	case ShutdownApplication:
		return "SHUTDOWN_APPLICATION"
	}
	return fmt.Sprintf("UncaughtAction(%d)", int(a))
}

// ErrApplicationShutdown is wrapped by the error Run returns when an
// instance of the application asked every instance to shut down.
var ErrApplicationShutdown = errors.New("kstreams: application shutdown requested")

// shutdownError is the error of a member told to shut down by req.
func shutdownError(req *assign.ShutdownRequest) error {
	return fmt.Errorf("%w by instance %s: %s", ErrApplicationShutdown, req.Process, req.Cause)
}

// maxCause bounds the cause a shutdown request carries in the group's
// metadata.
const maxCause = 512

// supervisor runs the stream threads of one Run and applies the
// uncaught-error policy when one fails.
type supervisor struct {
	e      *Engine
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	mu           sync.Mutex
	errs         []error
	shutdownSeen bool
}

// start runs th on a goroutine of its own.
func (s *supervisor) start(th *thread) {
	s.wg.Go(func() { s.watch(th) })
}

// watch runs th and handles the error it stops with.
func (s *supervisor) watch(th *thread) {
	err := th.run(s.ctx)
	if err == nil {
		return
	}
	if s.ctx.Err() != nil || errors.Is(err, ErrApplicationShutdown) {
		s.stop(err)
		return
	}
	th.counters.FailedThreads.Add(1)
	action := s.e.uncaught(err)
	log := s.e.cfg.Logger.With("thread", th.id+1, "error", err.Error(), "action", action.String())
	switch action {
	case ReplaceThread:
		log.Error("kstreams: stream thread failed; replacing it")
		s.replace(th.id, err)
	case ShutdownApplication:
		log.Error("kstreams: stream thread failed; asking every instance of the application to shut down")
		s.record(err)
		cause := err.Error()
		if len(cause) > maxCause {
			cause = cause[:maxCause] + "..."
		}
		s.e.requestShutdown(assign.ShutdownRequest{Process: s.e.process, Cause: cause})
		// A new member carries the request to the group: this instance's
		// other threads may all have failed too.
		s.replace(th.id, err)
	default:
		s.stop(err)
	}
}

// replace starts a new thread with id in place of one that failed with
// cause.
func (s *supervisor) replace(id int, cause error) {
	th, err := newThread(s.e, id)
	if err != nil {
		s.stop(errors.Join(cause, err))
		return
	}
	// Freezes before the thread existed are not its concern.
	th.mu.Lock()
	th.freezes = s.e.watch.freezes.Load()
	th.mu.Unlock()
	s.start(th)
}

// record keeps err for Run to return. Of the threads told to shut down by
// the group, the first one's error is kept.
func (s *supervisor) record(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, ErrApplicationShutdown) {
		if s.shutdownSeen {
			return
		}
		s.shutdownSeen = true
	}
	s.errs = append(s.errs, err)
}

// stop records err and stops every thread.
func (s *supervisor) stop(err error) {
	s.record(err)
	s.cancel(err)
}

func (s *supervisor) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// uncaught asks the configured handler what to do with err; a handler that
// panics shuts the client down.
func (e *Engine) uncaught(err error) (a UncaughtAction) {
	if e.cfg.OnUncaughtError == nil {
		return ShutdownClient
	}
	defer func() {
		if perr := recovered(recover()); perr != nil {
			e.cfg.Logger.Error("kstreams: the uncaught-error handler panicked; shutting down", "error", perr.Error())
			a = ShutdownClient
		}
	}()
	return e.cfg.OnUncaughtError(err)
}

// requestShutdown makes every thread created from now on ask the group to
// shut the application down.
func (e *Engine) requestShutdown(req assign.ShutdownRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shutdownReq = &req
}

// shutdownRequest returns the request set by requestShutdown, or nil.
func (e *Engine) shutdownRequest() *assign.ShutdownRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.shutdownReq
}

// checkShutdownLocked stops the thread if the group told it to shut down;
// it reports whether it did.
func (th *thread) checkShutdownLocked() bool {
	req := th.bal.Last().Shutdown
	if req == nil {
		return false
	}
	if th.fatal == nil {
		th.fatal = shutdownError(req)
		th.e.cfg.Logger.Error("kstreams: the application is shutting down, as a member of the group asked",
			"thread", th.id+1, "requested_by", req.Process, "cause", req.Cause)
	}
	return true
}
