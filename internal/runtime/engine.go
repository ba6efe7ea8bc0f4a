package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/kstreams-go/kstreams/internal/assign"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// State is the lifecycle state of an application instance, as in Kafka
// Streams' KafkaStreams.State.
type State int

// The states, in Kafka Streams' order.
const (
	Created State = iota
	Rebalancing
	Running
	PendingShutdown
	NotRunning
	Error
)

var stateNames = [...]string{"CREATED", "REBALANCING", "RUNNING", "PENDING_SHUTDOWN", "NOT_RUNNING", "ERROR"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Config is everything an Engine needs. The public package fills it from
// its options and checks it.
type Config struct {
	AppID          string
	Brokers        []string
	Threads        int
	CommitInterval time.Duration
	Extractor      Extractor
	// MaxTaskIdle is how long a task waits for an empty input partition
	// known to be caught up (see idle.go); negative: never wait.
	MaxTaskIdle    time.Duration
	OnBadRecord    Policy
	OnProduceError Policy
	Logger         *slog.Logger
	ClientOpts     []kgo.Opt
	StateListener  func(old, new State)
	// MaxPollRecords bounds the records one poll returns.
	MaxPollRecords int
	// StateDir is the directory of this application's state
	// ("<state dir>/<application id>"); Run locks it.
	StateDir string
	// CacheMaxBytes bounds each cached store's cache; 0 writes through.
	CacheMaxBytes int64
	// RestoreListener receives restoration progress.
	RestoreListener func(RestoreProgress)
	// Standbys is the number of standby replicas of each stateful task.
	Standbys int
	// Warmup configures warm-up replicas and probing rebalances
	// (probing.go); zero means DefaultWarmup.
	Warmup WarmupConfig
	// Pebble configures every persistent store. A nil Cache means one
	// block cache of Pebble.CacheSize bytes that Run makes and all the
	// instance's stores share.
	Pebble state.PebbleOptions
	// CloseTimeout bounds a thread's close: the last commit, leaving the
	// group and closing its client.
	CloseTimeout time.Duration
	// Debug, when set, records the debug-level metrics (per task and
	// processor node); nil is the info level.
	Debug *DebugMetrics
	// ThreadClientOpts, if set, gives extra options (metrics hooks) to the
	// client of the stream thread with client id clientID.
	ThreadClientOpts func(clientID string) []kgo.Opt
	// Endpoint is this instance's query endpoint (host:port), advertised
	// to the group; empty for none.
	Endpoint string
	// PurgeInterval is how often, at most, a thread deletes the records
	// of repartition topics below its committed offsets; 0 never.
	PurgeInterval time.Duration
	// InstanceID makes the threads static members of the group, with
	// instance ids "<InstanceID>-<thread>".
	InstanceID string
	// ExactlyOnce runs each thread's work in Kafka transactions (see
	// eos.go); consumers then read committed records only.
	ExactlyOnce bool
	// OnProcessingError handles errors raised by user code.
	OnProcessingError ProcessingPolicy
	// OnUncaughtError, if set, decides what to do when a stream thread
	// stops with an error; nil shuts the instance down.
	OnUncaughtError func(error) UncaughtAction
}

// Engine runs a plan with the threads of one application instance.
type Engine struct {
	cfg     Config
	plan    *Plan
	subs    []assign.Subtopology
	process string

	// watch notices process freezes; set by Run before the threads
	// start.
	watch *freezeWatch

	mu          sync.Mutex
	state       State
	rebalancing map[int]bool
	started     bool
	// joined, if set, is called once when the instance first runs.
	joined func()
	// shutdownReq, once set, is the application shutdown that threads
	// created from then on ask the group for.
	shutdownReq *assign.ShutdownRequest

	countersMu sync.Mutex
	counters   []*Counters
	sensors    *Sensors

	registry registry
	hostMap  hostMap
	// dirs says which thread has each task directory open (taskdirs.go).
	dirs taskDirs
	// globals are the global stores, by name, set by Run before the
	// stream threads start.
	globals map[string]*GlobalStore
}

// NewEngine returns an engine for plan; Run starts it.
func NewEngine(plan *Plan, cfg Config) *Engine {
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 30 * time.Second
	}
	e := &Engine{cfg: cfg, plan: plan, process: newProcessID(), rebalancing: map[int]bool{}, sensors: NewSensors(cfg.Debug != nil)}
	if e.cfg.Logger == nil {
		e.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e.cfg.Logger = e.cfg.Logger.With("application_id", cfg.AppID, "instance", e.process)
	for _, st := range plan.Subtopologies {
		s := assign.Subtopology{ID: st.ID}
		for _, store := range st.Stores {
			s.Stateful = s.Stateful || store.Logged
		}
		for _, t := range st.Sources {
			s.Topics = append(s.Topics, t.Resolve(cfg.AppID))
		}
		e.subs = append(e.subs, s)
	}
	return e
}

func newProcessID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ErrAlreadyStarted is returned by a second call to Run.
var ErrAlreadyStarted = errors.New("kstreams: application already started")

// State returns the current state.
func (e *Engine) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

func (e *Engine) setState(s State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setStateLocked(s)
}

func (e *Engine) setStateLocked(s State) {
	old := e.state
	if old == s || old == Error || old == NotRunning {
		return
	}
	if old == PendingShutdown && s != NotRunning && s != Error {
		return
	}
	e.state = s
	e.cfg.Logger.Info("kstreams: state change", "from", old.String(), "to", s.String())
	if e.cfg.StateListener != nil {
		e.cfg.StateListener(old, s)
	}
}

// threadRebalancing records whether thread id is between a revocation and
// the next assignment; the instance runs when no thread is.
func (e *Engine) threadRebalancing(id int, on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rebalancing[id] = on
	for _, r := range e.rebalancing {
		if r {
			e.setStateLocked(Rebalancing)
			return
		}
	}
	if len(e.rebalancing) == e.cfg.Threads {
		e.setStateLocked(Running)
		if e.joined != nil {
			e.joined()
			e.joined = nil
		}
	}
}

// Run runs the instance until ctx is done or a thread fails. It returns nil
// after a clean shutdown and the first error otherwise.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return ErrAlreadyStarted
	}
	e.started = true
	e.mu.Unlock()
	e.setState(Rebalancing)
	unlock, err := e.lockStateDir()
	if err != nil {
		e.setState(Error)
		return err
	}
	defer unlock()
	if e.cfg.Pebble.Cache == nil {
		cache := pebble.NewCache(e.cfg.Pebble.EnsureDefaults().CacheSize)
		defer cache.Unref() // each open store holds its own reference
		e.cfg.Pebble.Cache = cache
	}
	stop := waitNote(e.cfg.Logger, slog.LevelWarn, waitNoteEvery, "the brokers to answer (listing topics, creating internal topics)", "brokers", e.cfg.Brokers)
	// The client's dial does not end with ctx: return when ctx ends, and
	// let a dial in progress finish behind.
	prepared := make(chan error, 1)
	go func() { prepared <- e.prepareTopics(ctx) }()
	select {
	case err = <-prepared:
	case <-ctx.Done():
		err = fmt.Errorf("kstreams: preparing topics: %w", ctx.Err())
	}
	stop()
	if err != nil {
		e.setState(Error)
		return err
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The watch exists before the clients, whose group callbacks read it.
	e.watch = newFreezeWatch(freezeTick)
	go e.watch.run(runCtx)
	// Global stores are restored before any stream thread exists, so
	// that no task processes a record before they are.
	if e.globals, err = e.plan.NewGlobalStores(e.cfg.AppID, filepath.Join(e.cfg.StateDir, "global"), &e.cfg.Pebble); err != nil {
		e.setState(Error)
		return err
	}
	global, err := e.newGlobalThread(runCtx, e.globals)
	if err != nil {
		_ = CloseGlobalStores(e.globals)
		if ctx.Err() != nil { // stopped while restoring: a clean shutdown
			e.setState(PendingShutdown)
			e.setState(NotRunning)
			return nil
		}
		e.setState(Error)
		return err
	}
	globalErr := make(chan error, 1)
	if global != nil {
		globalDone := make(chan struct{})
		go func() {
			defer close(globalDone)
			if err := global.run(runCtx); err != nil {
				globalErr <- err
				cancel(err)
			}
		}()
		defer func() {
			cancel(nil)
			<-globalDone
			if err := global.writeCheckpoint(); err != nil {
				e.cfg.Logger.Warn("kstreams: global thread: checkpoint", "err", err)
			}
			if err := CloseGlobalStores(e.globals); err != nil {
				e.cfg.Logger.Warn("kstreams: closing global stores", "err", err)
			}
		}()
	} else {
		defer CloseGlobalStores(e.globals)
	}
	threads := make([]*thread, 0, e.cfg.Threads)
	defer func() {
		if len(threads) < e.cfg.Threads { // a thread could not be made
			for _, th := range threads {
				th.cl.Close()
				th.restorer.close()
			}
		}
	}()
	for i := range e.cfg.Threads {
		th, err := newThread(e, i)
		if err != nil {
			e.setState(Error)
			return err
		}
		threads = append(threads, th)
	}
	e.watch.setLimit(freezeLimit(threads[0].session, threads[0].heartbeat))
	e.mu.Lock()
	// Group errors are warnings of their own; a slow first rebalance is
	// news only.
	e.joined = waitNote(e.cfg.Logger, slog.LevelInfo, waitNoteEvery, "the consumer group to assign tasks", "group", e.cfg.AppID, "brokers", e.cfg.Brokers)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.joined != nil {
			e.joined()
			e.joined = nil
		}
	}()
	sup := &supervisor{e: e, ctx: runCtx, cancel: cancel}
	for _, th := range threads {
		sup.start(th)
	}
	done := make(chan struct{})
	go func() {
		sup.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-runCtx.Done():
		if ctx.Err() != nil {
			e.setState(PendingShutdown)
		}
		select {
		case <-done:
		case <-time.After(e.cfg.CloseTimeout + 2*closeGrace):
			// A thread is stuck where no deadline reaches (a user
			// function, a restore in a rebalance callback): leave it.
			sup.record(fmt.Errorf("%w: threads still running %v after the close timeout", ErrCloseIncomplete, e.cfg.CloseTimeout+2*closeGrace))
		}
	}
	select {
	case gerr := <-globalErr:
		sup.record(gerr)
	default:
	}
	err = sup.err()
	if err != nil {
		e.setState(Error)
		return err
	}
	e.setState(NotRunning)
	return nil
}

// freezeTick is how often the freeze watch ticks; waitNoteEvery how often
// the instance says what it is still waiting for.
const (
	freezeTick    = 100 * time.Millisecond
	waitNoteEvery = 5 * time.Second
)

// lockStateDir locks the application's state directory, if the topology
// has state, so that two instances never share one.
func (e *Engine) lockStateDir() (func(), error) {
	stateful := false
	for _, g := range e.plan.Globals {
		stateful = stateful || g.Persistent
	}
	for _, st := range e.plan.Subtopologies {
		stateful = stateful || len(st.Stores) > 0
	}
	if !stateful {
		return func() {}, nil
	}
	l, err := state.LockDir(e.cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("kstreams: state directory of application %q: %w", e.cfg.AppID, err)
	}
	return func() { _ = l.Unlock() }, nil
}

// countersOf returns the counters of thread id, made at its first call:
// a thread that replaces a failed one goes on with its counters.
func (e *Engine) countersOf(id int) *Counters {
	e.countersMu.Lock()
	defer e.countersMu.Unlock()
	for len(e.counters) <= id {
		e.counters = append(e.counters, &Counters{})
	}
	return e.counters[id]
}

// Totals sums the counters of all threads.
func (e *Engine) Totals() Totals {
	e.countersMu.Lock()
	defer e.countersMu.Unlock()
	var t Totals
	for _, c := range e.counters {
		t.add(c)
	}
	return t
}

// Totals is a snapshot of Counters summed over threads.
type Totals struct {
	Processed, Skipped, DeadLettered, ProduceFailed, Produced, Commits, Punctuations, Rebalances, Restored, Dropped, StandbyUpdates int64

	EnforcedProcessing int64
	// FailedThreads counts stream threads that stopped with an error.
	FailedThreads int64
	// AbortedTransactions counts transactions aborted (exactly-once).
	AbortedTransactions int64
	// TaskMigrations counts fenced producers recovered (exactly-once).
	TaskMigrations int64
}

// Snapshot returns the totals of one set of counters.
func Snapshot(c *Counters) Totals {
	var t Totals
	t.add(c)
	return t
}

func (t *Totals) add(c *Counters) {
	t.Processed += c.Processed.Load()
	t.Skipped += c.Skipped.Load()
	t.DeadLettered += c.DeadLettered.Load()
	t.ProduceFailed += c.ProduceFailed.Load()
	t.Produced += c.Produced.Load()
	t.Commits += c.Commits.Load()
	t.Punctuations += c.Punctuations.Load()
	t.Rebalances += c.Rebalances.Load()
	t.Restored += c.Restored.Load()
	t.Dropped += c.Dropped.Load()
	t.StandbyUpdates += c.StandbyUpdates.Load()
	t.EnforcedProcessing += c.EnforcedProcessing.Load()
	t.FailedThreads += c.FailedThreads.Load()
	t.AbortedTransactions += c.AbortedTransactions.Load()
	t.TaskMigrations += c.TaskMigrations.Load()
}
