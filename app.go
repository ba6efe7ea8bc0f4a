package kstreams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/kstreams-go/kstreams/internal/runtime"
	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// App runs a topology as one instance of an application. Start as many
// instances with the same application id as you like: they share the work
// through a Kafka consumer group, and take over each other's tasks when one
// stops or dies.
type App struct {
	cfg    config
	engine *runtime.Engine
	topo   *Topology
	ops    opsState
	recent *recentErrors
}

// State is the lifecycle state of an App, as Kafka Streams'
// KafkaStreams.State: Created, Rebalancing, Running, PendingShutdown,
// NotRunning, or Error.
type State = runtime.State

// The states of an App.
const (
	Created         = runtime.Created
	Rebalancing     = runtime.Rebalancing
	Running         = runtime.Running
	PendingShutdown = runtime.PendingShutdown
	NotRunning      = runtime.NotRunning
	Error           = runtime.Error
)

// New checks the topology and the options and returns an App ready to Run.
// All problems are reported at once.
func New(t *Topology, opts ...Option) (*App, error) {
	var cfg config
	cfg.defaults()
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("kstreams: option %d of %d is nil", i+1, len(opts)))
			continue
		}
		o.apply(&cfg)
	}
	if t == nil {
		errs = append(errs, errors.New("kstreams: nil topology"))
	} else if err := t.Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, cfg.validate()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	plan, _ := t.plan()
	a := &App{cfg: cfg, topo: t, recent: &recentErrors{}}
	a.cfg.logger = slog.New(&recentHandler{next: cfg.logger.Handler(), recent: a.recent})
	rc := a.cfg.runtime()
	if cfg.opsAddr != "" {
		rc.ThreadClientOpts = a.clientMetrics
	}
	a.engine = runtime.NewEngine(plan, rc)
	return a, nil
}

// Run runs the application until ctx is cancelled, then commits what it
// processed, closes its tasks, leaves the group and returns nil, within the
// [CloseTimeout]. If a task fails, Run stops every thread and returns the
// error; the state becomes Error. Faults that heal do not stop it: when the
// instance may have lost its tasks to another member (its group session
// expired while the brokers were unreachable or the process was frozen, a
// commit was refused as from an old generation), it closes them without
// flushing or committing and rejoins the group, and while the brokers do
// not answer it retries, logging what it waits for. Run can be called once.
func (a *App) Run(ctx context.Context) error { return a.run(ctx) }

// State returns the current state.
func (a *App) State() State { return a.engine.State() }

// Option configures an App.
type Option interface{ apply(*config) }

type optFn func(*config)

func (f optFn) apply(c *config) { f(c) }

type config struct {
	appID          string
	brokers        []string
	threads        int
	commitInterval time.Duration
	commitSet      bool
	guarantee      Guarantee
	extractor      TimestampExtractor
	maxTaskIdle    time.Duration
	onBad          ErrorPolicy
	onProduce      ErrorPolicy
	logger         *slog.Logger
	listener       func(old, new State)
	clientOpts     []kgo.Opt
	maxPoll        int
	stateDir       string
	cacheBytes     int64
	restoreFn      func(RestoreProgress)
	standbys       int
	warmup         runtime.WarmupConfig
	pebble         state.PebbleOptions
	closeTimeout   time.Duration
	clientLog      slog.Level
	opsAddr        string
	metricsLevel   MetricsLevel
	endpoint       string
	instanceID     string
	purgeInterval  time.Duration
	onProcessing   runtime.ProcessingPolicy
	onUncaught     func(error) UncaughtAction
}

func (c *config) defaults() {
	c.threads = 1
	c.commitInterval = 30 * time.Second
	c.maxPoll = 10000
	c.logger = slog.New(slog.DiscardHandler)
	c.stateDir = filepath.Join(os.TempDir(), "kstreams")
	c.cacheBytes = 1 << 20
	c.closeTimeout = 30 * time.Second
	c.clientLog = clientLogOff
	c.purgeInterval = 30 * time.Second
	c.warmup = runtime.DefaultWarmup()
}

// clientLogOff is the ClientLogLevel default: franz-go's lines are not
// logged.
const clientLogOff = slog.Level(1 << 20)

var validAppID = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

func (c *config) validate() []error {
	var errs []error
	if !validAppID.MatchString(c.appID) {
		errs = append(errs, fmt.Errorf("kstreams: application id %q: must be non-empty and use only letters, digits, '.', '_' and '-'", c.appID))
	}
	if len(c.brokers) == 0 {
		errs = append(errs, errors.New("kstreams: no brokers: set Brokers"))
	}
	if c.threads < 1 {
		errs = append(errs, fmt.Errorf("kstreams: Threads(%d): need at least 1", c.threads))
	}
	if c.commitInterval <= 0 {
		errs = append(errs, fmt.Errorf("kstreams: CommitInterval(%v): must be positive", c.commitInterval))
	}
	if c.guarantee != AtLeastOnce && c.guarantee != ExactlyOnce {
		errs = append(errs, fmt.Errorf("kstreams: unknown processing guarantee %v; use AtLeastOnce or ExactlyOnce", c.guarantee))
	}
	if c.standbys < 0 {
		errs = append(errs, fmt.Errorf("kstreams: StandbyReplicas(%d): must not be negative", c.standbys))
	}
	if c.cacheBytes < 0 {
		errs = append(errs, fmt.Errorf("kstreams: CacheMaxBytes(%d): must not be negative", c.cacheBytes))
	}
	if po := c.pebble; po.EnsureDefaults().Validate() != nil {
		errs = append(errs, fmt.Errorf("kstreams: StoreOptions: %w", po.Validate()))
	}
	for i, o := range c.clientOpts {
		if o == nil {
			errs = append(errs, fmt.Errorf("kstreams: ClientOptions: option %d of %d is nil", i+1, len(c.clientOpts)))
		}
	}
	if c.metricsLevel != MetricsInfo && c.metricsLevel != MetricsDebug {
		errs = append(errs, fmt.Errorf("kstreams: MetricsRecordingLevel(%v): use MetricsInfo or MetricsDebug", c.metricsLevel))
	}
	if c.stateDir == "" {
		errs = append(errs, errors.New("kstreams: StateDir: empty directory"))
	}
	if c.closeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("kstreams: CloseTimeout(%v): must be positive", c.closeTimeout))
	}
	if c.maxPoll < 1 {
		errs = append(errs, fmt.Errorf("kstreams: MaxPollRecords(%d): need at least 1", c.maxPoll))
	}
	for _, p := range []ErrorPolicy{c.onBad, c.onProduce} {
		if p.p.Kind == runtime.PolicyDeadLetter && p.p.Topic == "" {
			errs = append(errs, errors.New("kstreams: DeadLetter: empty topic name"))
		}
	}
	errs = append(errs, c.validateWarmup()...)
	return append(errs, c.validateHandlers()...)
}

func (c *config) runtime() runtime.Config {
	// franz-go's own log lines go to the Logger if asked for; a logger
	// among the user's ClientOptions comes later and wins.
	clientOpts := c.clientOpts
	if c.clientLog != clientLogOff {
		clientOpts = append([]kgo.Opt{kgo.WithLogger(runtime.ClientLogger(c.logger, c.clientLog))}, c.clientOpts...)
	}
	rc := runtime.Config{
		AppID: c.appID, Brokers: c.brokers, Threads: c.threads, CommitInterval: c.commitInterval,
		OnBadRecord: c.onBad.p, OnProduceError: c.onProduce.p, Logger: c.logger,
		StateListener: c.listener, ClientOpts: clientOpts, MaxPollRecords: c.maxPoll,
		StateDir: filepath.Join(c.stateDir, c.appID), CacheMaxBytes: c.cacheBytes, RestoreListener: c.restoreFn,
		Standbys: c.standbys, Warmup: c.warmup, Pebble: c.pebble, CloseTimeout: c.closeTimeout,
		Endpoint: c.endpoint, InstanceID: c.instanceID, PurgeInterval: c.purgeInterval,
		ExactlyOnce: c.guarantee == ExactlyOnce, MaxTaskIdle: c.maxTaskIdle,
		OnProcessingError: c.onProcessing, OnUncaughtError: c.onUncaught,
	}
	if rc.ExactlyOnce && !c.commitSet {
		rc.CommitInterval = eosCommitInterval
	}
	if c.metricsLevel == MetricsDebug {
		rc.Debug = runtime.NewDebugMetrics()
	}
	rc.Extractor = runtimeExtractor(c.extractor)
	return rc
}

// runtimeExtractor adapts fn to the runtime; nil stays nil, the runtime's
// own FailOnInvalidTimestamp.
func runtimeExtractor(fn TimestampExtractor) runtime.Extractor {
	if fn == nil {
		return nil
	}
	return func(r *kgo.Record, partitionTime int64) (int64, error) {
		return fn(ConsumedRecord{
			Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli(),
		}, partitionTime)
	}
}

// ApplicationID sets the application id: the consumer group of all
// instances and the prefix of internal topics. Required. This corresponds to
// the Java application.id setting.
func ApplicationID(id string) Option { return optFn(func(c *config) { c.appID = id }) }

// Brokers sets the seed brokers (host:port). Required. This corresponds to
// the Java bootstrap.servers setting.
func Brokers(addrs ...string) Option {
	return optFn(func(c *config) { c.brokers = append(c.brokers, addrs...) })
}

// Threads sets the number of stream threads, each a group member with its
// own tasks. Default 1. This corresponds to the Java num.stream.threads
// setting.
func Threads(n int) Option { return optFn(func(c *config) { c.threads = n }) }

// CommitInterval sets how often outputs are flushed and input offsets
// committed (under ExactlyOnce, how often the transaction commits).
// Default 30s, or 100ms under ExactlyOnce, as in Kafka Streams. This
// corresponds to the Java commit.interval.ms setting.
func CommitInterval(d time.Duration) Option {
	return optFn(func(c *config) { c.commitInterval, c.commitSet = d, true })
}

// eosCommitInterval is the default commit interval under ExactlyOnce.
const eosCommitInterval = 100 * time.Millisecond

// Guarantee is a processing guarantee.
type Guarantee int

const (
	// AtLeastOnce: every input record is processed at least once; after a
	// crash, records processed since the last commit are processed again.
	AtLeastOnce Guarantee = iota
	// ExactlyOnce (Java's exactly_once_v2): each stream thread writes its
	// outputs, changelog records, dead letters and input offsets in one
	// Kafka transaction per commit, the offsets sent with the group
	// generation so that a member that was replaced is fenced. Consumers
	// (inputs, restoration, global tables) read committed records only. A
	// transaction that cannot commit (a rebalance, a fenced member, a
	// record the producer could not send) is aborted and the tasks go back
	// to their committed offsets and state. Key-value stores keep a
	// transaction's updates apart until it commits, and so do window, session
	// and versioned stores, so after a crash they restore only what was
	// committed after their checkpoint. A producer fenced by a broker
	// restart is a task migration (the thread closes its tasks without
	// committing, makes its producer anew and rejoins). The commit
	// interval defaults to 100ms. Needs brokers 2.5 or newer.
	ExactlyOnce
)

// String returns the name of the guarantee as the Java
// processing.guarantee setting spells it, or "Guarantee(n)" for a value
// that is none of the constants.
func (g Guarantee) String() string {
	switch g {
	case AtLeastOnce:
		return "at_least_once"
	case ExactlyOnce:
		return "exactly_once_v2"
	}
	return fmt.Sprintf("Guarantee(%d)", int(g))
}

// ProcessingGuarantee sets the processing guarantee. Default AtLeastOnce.
// This corresponds to the Java processing.guarantee setting.
func ProcessingGuarantee(g Guarantee) Option { return optFn(func(c *config) { c.guarantee = g }) }

// ConsumedRecord is a record as consumed, before deserialization: what a
// [TimestampExtractor] sees. Timestamp is the record's own (ms).
type ConsumedRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp int64
}

// TimestampExtractor returns the event time (ms) of a record; partitionTime
// is the largest timestamp extracted so far from the same partition (-1
// before the first). A negative result drops the record (logged and counted
// in [Metrics].Dropped); an error is a bad record, handled by the
// [OnDeserializationError] policy. A panic is an error of the task, as in
// any user function. kstreams provides Kafka Streams' extractors
// ([FailOnInvalidTimestamp], [LogAndSkipOnInvalidTimestamp],
// [UsePartitionTimeOnInvalidTimestamp], [WallclockTimestampExtractor]) and
// [TimestampFromKeyValue] for one computed from the typed key and value.
type TimestampExtractor func(rec ConsumedRecord, partitionTime int64) (int64, error)

// WithTimestampExtractor sets how record timestamps are taken. Default (or
// nil): [FailOnInvalidTimestamp], the record's own timestamp (producer or
// broker time). This corresponds to the Java default.timestamp.extractor
// setting.
func WithTimestampExtractor(fn TimestampExtractor) Option {
	return optFn(func(c *config) { c.extractor = fn })
}

// ErrorPolicy says what to do with a record that cannot be read
// (deserialization, timestamp) or written (producer errors).
type ErrorPolicy struct{ p runtime.Policy }

var (
	// FailTask stops the task with an error naming topic, partition, offset
	// and cause. The default.
	FailTask = ErrorPolicy{runtime.Policy{Kind: runtime.PolicyFail}}
	// SkipRecord logs the record's location and the cause, counts it in
	// Metrics.Skipped (Metrics.Dropped for a processing error, see
	// OnProcessingError), and goes on.
	SkipRecord = ErrorPolicy{runtime.Policy{Kind: runtime.PolicySkip}}
)

// DeadLetter sends the record unchanged to topic, with its headers plus
// kstreams.error.stage, kstreams.error.message, kstreams.error.topic,
// kstreams.error.partition and kstreams.error.offset, counts it in
// Metrics.DeadLettered, and goes on. The topic is created with one partition
// if it does not exist. A dead letter the producer cannot send stops the
// task.
func DeadLetter(topic string) ErrorPolicy {
	return ErrorPolicy{runtime.Policy{Kind: runtime.PolicyDeadLetter, Topic: topic}}
}

// The headers of a dead-letter record.
const (
	HeaderErrorStage     = runtime.HeaderErrorStage
	HeaderErrorMessage   = runtime.HeaderErrorMessage
	HeaderErrorTopic     = runtime.HeaderErrorTopic
	HeaderErrorPartition = runtime.HeaderErrorPartition
	HeaderErrorOffset    = runtime.HeaderErrorOffset
)

// OnDeserializationError sets the policy for records that fail to
// deserialize or carry an invalid timestamp. Default FailTask. This
// corresponds to the Java default.deserialization.exception.handler setting.
func OnDeserializationError(p ErrorPolicy) Option { return optFn(func(c *config) { c.onBad = p }) }

// OnProductionError sets the policy for records the producer cannot send.
// Default FailTask. This corresponds to the Java
// default.production.exception.handler setting.
func OnProductionError(p ErrorPolicy) Option { return optFn(func(c *config) { c.onProduce = p }) }

// Logger sets the structured logger. Default (or nil): no logging.
func Logger(l *slog.Logger) Option {
	return optFn(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// ClientLogLevel passes the log lines of the Kafka client (franz-go) at
// level l and above to the [Logger], their messages prefixed with "kgo: ".
// Default: none, since kstreams logs the conditions that matter itself
// (once when they start, then every 30s while they last), while franz-go
// logs every failed attempt: with slog.LevelError a line per failed attempt
// to rejoin the group while the brokers are unreachable, with
// slog.LevelWarn also a line per failed connection, with slog.LevelInfo and
// slog.LevelDebug its requests and group protocol in detail. This
// corresponds to the log levels of the org.apache.kafka.clients loggers in
// Java.
func ClientLogLevel(l slog.Level) Option { return optFn(func(c *config) { c.clientLog = l }) }

// CloseTimeout bounds how long Run takes to return once its context is
// cancelled (or a thread failed): the last commit, leaving the group and
// closing the Kafka clients. If the brokers do not answer in time, Run
// returns an error wrapping [ErrCloseIncomplete] that says what was left
// unflushed or uncommitted (those records are processed again by the next
// owner of their tasks). Set it below your platform's termination grace
// period (Kubernetes' default is 30s). Default 30s, the close timeout of
// the Java consumer and producer. This corresponds to the timeout of
// Java's KafkaStreams.close(Duration).
func CloseTimeout(d time.Duration) Option { return optFn(func(c *config) { c.closeTimeout = d }) }

// StateListener sets a function called on every state change, from the
// goroutine that caused it; it must not block.
func StateListener(fn func(old, new State)) Option {
	return optFn(func(c *config) { c.listener = fn })
}

// ClientOptions adds franz-go options to every client the App creates
// (TLS, SASL, session timeouts, producer batching). Options that kstreams
// sets itself (group, topics, balancer, commits) must not be overridden.
func ClientOptions(opts ...kgo.Opt) Option {
	return optFn(func(c *config) { c.clientOpts = append(c.clientOpts, opts...) })
}

// MaxPollRecords bounds how many records one poll returns. Default 10000.
// This corresponds to the Java max.poll.records setting.
func MaxPollRecords(n int) Option { return optFn(func(c *config) { c.maxPoll = n }) }

// StateDir sets the directory under which each application keeps its
// persistent stores, in "<dir>/<application id>/<task id>/<store>". Two
// running instances cannot share one: the second gets an error. Default:
// "kstreams" under os.TempDir(). This corresponds to the Java state.dir
// setting.
func StateDir(dir string) Option { return optFn(func(c *config) { c.stateDir = dir }) }

// CacheMaxBytes bounds the record cache of each cached store (each
// materialized table or aggregation, per task). Writes to a key between
// commits are merged, so downstream and the changelog see one update per key
// per commit; 0 disables caching, so every update is forwarded. Default 1
// MiB. This corresponds to the Java statestore.cache.max.bytes setting, which
// bounds all caches of an instance together.
func CacheMaxBytes(n int64) Option { return optFn(func(c *config) { c.cacheBytes = n }) }

// StoreOptions configures every persistent (Pebble) store of the
// application, as a RocksDBConfigSetter does in Kafka Streams. Unset fields
// take the defaults of [state.PebbleOptions]. Unless o.Cache is set, the
// application makes one block cache of o.CacheSize bytes (default 32 MiB)
// and all its stores share it, so memory does not grow with the number of
// tasks. Invalid options make New fail.
func StoreOptions(o state.PebbleOptions) Option { return optFn(func(c *config) { c.pebble = o }) }

// StandbyReplicas sets how many standby replicas each stateful task has:
// copies of its stores kept up to date from the changelog by instances
// other than the one running the task, so that a failover restores only
// the little they have not seen yet. Default 0. This corresponds to the Java
// num.standby.replicas setting.
func StandbyReplicas(n int) Option { return optFn(func(c *config) { c.standbys = n }) }

// RestoreProgress reports the restoration of one store partition from its
// changelog: Store, Topic and Partition (of the changelog), Restored (the
// records applied so far), Total (the offsets to restore in all, an upper
// bound), Elapsed and Done.
type RestoreProgress = runtime.RestoreProgress

// RestoreListener sets a function called as stores are restored from
// their changelogs, on the stream thread's goroutine; it must not block.
// Global stores report too, once per partition of their topic (Done), from
// the goroutine that restores them at start.
func RestoreListener(fn func(RestoreProgress)) Option {
	return optFn(func(c *config) { c.restoreFn = fn })
}

// RecordError is an error tied to one input record or to a punctuator. Use
// errors.As. Its fields say where: Task (the task id), Topic, Partition and
// Offset of the input record (Offset -1 in a punctuator), Node (the
// processor or sink that failed, empty when the record could not be read),
// Stage ("deserializing key", "deserializing value", "extracting
// timestamp", "processing", "punctuation") and Err, the cause.
type RecordError = runtime.RecordError

// ProduceError is a record the producer could not send. Use errors.As.
type ProduceError = runtime.ProduceError

// ErrCloseIncomplete is returned (wrapped, saying what was left) by Run
// when its close could not flush the produced records or commit the
// offsets within the [CloseTimeout] (use errors.Is).
var ErrCloseIncomplete = runtime.ErrCloseIncomplete

// ErrMissingSourceTopics is returned by Run when topics the topology reads
// do not exist (use errors.Is).
var ErrMissingSourceTopics = runtime.ErrMissingSourceTopics

// ErrInternalTopicMismatch is returned by Run when an internal topic exists
// with the wrong partition count (use errors.Is).
var ErrInternalTopicMismatch = runtime.ErrInternalTopicMismatch

// PanicError is a panic recovered from user code: a function given to the
// DSL, a processor, a punctuator, a serde or a timestamp extractor. The task
// stops with a *[RecordError] that wraps it and names the node, and the
// record (topic, partition, offset) being processed; [App.Run] returns
// that error and the process goes on. Its fields are Value, what was passed
// to panic, and Stack, the stack where it happened. Use errors.As.
type PanicError = runtime.PanicError

// ErrNotCopartitioned is returned by Run when topics that must have the
// same partition count (the inputs of a join) do not (use errors.Is).
var ErrNotCopartitioned = runtime.ErrNotCopartitioned
