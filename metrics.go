package kstreams

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// MetricsLevel is the metrics recording level, as Kafka Streams'
// metrics.recording.level: what is recorded while records are processed.
type MetricsLevel int

const (
	// MetricsInfo (the default) records the client and thread metrics
	// (counters a thread keeps anyway): no per-record cost is added.
	MetricsInfo MetricsLevel = iota
	// MetricsDebug also records the task and processor-node metrics
	// (records processed per task and per node): one atomic add per record
	// and node.
	MetricsDebug
)

func (l MetricsLevel) String() string {
	switch l {
	case MetricsInfo:
		return "INFO"
	case MetricsDebug:
		return "DEBUG"
	}
	return "MetricsLevel(" + strconv.Itoa(int(l)) + ")"
}

// MetricsRecordingLevel sets the metrics recording level. Default
// MetricsInfo. This corresponds to the Java metrics.recording.level setting.
func MetricsRecordingLevel(l MetricsLevel) Option {
	return optFn(func(c *config) { c.metricsLevel = l })
}

// Metrics is a snapshot of one App instance's metrics: what the Prometheus
// endpoint renders. The int64 fields are totals over the instance's stream
// threads.
type Metrics struct {
	// Processed counts the input records taken from source topics and
	// processed (a record that stops its task is not counted).
	Processed int64
	// Skipped counts records dropped by a skip policy (bad input or records
	// the producer could not send).
	Skipped int64
	// DeadLettered counts records written to a dead-letter topic
	// (acknowledged by the broker).
	DeadLettered int64
	// ProduceFailed counts records the producer could not send.
	ProduceFailed int64
	// Produced counts records written (including dead letters).
	Produced int64
	// Commits counts offset commits.
	Commits int64
	// Punctuations counts punctuator calls.
	Punctuations int64
	// Rebalances counts task assignments received.
	Rebalances int64
	// Restored counts changelog records applied to restore stores.
	Restored int64
	// Dropped counts records an operation ignores as Kafka Streams does,
	// such as records with a null key in an aggregation.
	Dropped int64
	// StandbyUpdates counts changelog records applied to standby replicas.
	StandbyUpdates int64
	// EnforcedProcessing counts records processed while another input
	// partition of their task was empty and given up on (see [MaxTaskIdle]).
	EnforcedProcessing int64
	// Lateness has each task's record-lateness and SuppressionBuffers
	// each suppression buffer's sizes, at MetricsDebug only
	// (metrics_time.go).
	Lateness           []TaskLatenessMetrics
	SuppressionBuffers []SuppressionBufferMetrics
	// FailedStreamThreads counts stream threads that stopped with an error
	// (Kafka Streams' failed-stream-threads); see [OnUncaughtError].
	FailedStreamThreads int64
	// AbortedTransactions counts the transactions aborted under
	// [ExactlyOnce] (kstreams; Kafka Streams has no such metric): a task
	// failed, a record could not be produced, the group rebalanced or the
	// member was fenced while a transaction was open, or its commit
	// failed. Their records are processed again from the last commit.
	AbortedTransactions int64
	// TaskMigrations counts the times a stream thread under [ExactlyOnce]
	// found its producer fenced (a broker restart aborted its
	// transaction, another producer took its transactional id) and, as
	// Kafka Streams does on a TaskMigratedException, closed its tasks
	// without committing, re-initialized its producer and rejoined the
	// group instead of stopping (kstreams; Kafka Streams only logs it).
	TaskMigrations int64

	// State is the instance's state.
	State State
	// Level is the recording level.
	Level MetricsLevel
	// Threads has the same counters per stream thread.
	Threads []ThreadMetrics
	// Tasks has the records processed per task and per processor node, at
	// MetricsDebug only (tasks this instance ran since it started).
	Tasks []TaskMetrics
	// Stores has the stores of which this instance runs partitions.
	Stores []StoreMetrics
	// StoreTasks has the latencies of each store of each task, at
	// MetricsDebug only (metrics_sensors.go).
	StoreTasks []StoreTaskMetrics
	// Restorations has the restorations of this instance's stores.
	Restorations []RestorationMetrics
}

// StoreMetrics describes one state store over this instance's partitions.
type StoreMetrics struct {
	Name string
	// EstimatedEntries estimates the number of keys (Kafka Streams'
	// estimate-num-keys).
	EstimatedEntries int64
}

// ThreadMetrics are the counters of one stream thread.
type ThreadMetrics struct {
	// ID is the thread's client id, "<application id>-<process id>-StreamThread-<n>".
	ID string
	Processed, Skipped, DeadLettered, ProduceFailed, Produced, Commits,
	Punctuations, Rebalances, Restored, Dropped, StandbyUpdates, EnforcedProcessing,
	AbortedTransactions, TaskMigrations int64
	ThreadLatency
}

// TaskMetrics are the debug-level counters of one task.
type TaskMetrics struct {
	// Task is the task id, "<sub-topology>_<partition>".
	Task string
	// Processed counts the records the task processed.
	Processed int64
	// Nodes maps each processor node to the records it processed.
	Nodes map[string]int64
	// Dropped counts the records the task dropped (skipped bad records
	// included), at every level; DroppedRate is per second over the last
	// minute.
	Dropped     int64
	DroppedRate float64
	// ProcessRate (records per second) and NodeRates (per processor node)
	// are over the last minute, at MetricsDebug only.
	ProcessRate float64
	NodeRates   map[string]float64
}

// Metrics returns a snapshot of this instance's metrics.
func (a *App) Metrics() Metrics {
	t := a.engine.Totals()
	m := Metrics{
		Processed: t.Processed, Skipped: t.Skipped, DeadLettered: t.DeadLettered, ProduceFailed: t.ProduceFailed,
		Produced: t.Produced, Commits: t.Commits, Punctuations: t.Punctuations, Rebalances: t.Rebalances,
		Restored: t.Restored, Dropped: t.Dropped, StandbyUpdates: t.StandbyUpdates,
		EnforcedProcessing: t.EnforcedProcessing, FailedStreamThreads: t.FailedThreads, AbortedTransactions: t.AbortedTransactions,
		TaskMigrations: t.TaskMigrations,
		State:          a.engine.State(), Level: a.cfg.metricsLevel,
	}
	a.addTimeMetrics(&m)
	for i, th := range a.engine.ThreadTotals() {
		m.Threads = append(m.Threads, ThreadMetrics{
			ID:        a.engine.ThreadID(i),
			Processed: th.Processed, Skipped: th.Skipped, DeadLettered: th.DeadLettered, ProduceFailed: th.ProduceFailed,
			Produced: th.Produced, Commits: th.Commits, Punctuations: th.Punctuations, Rebalances: th.Rebalances,
			Restored: th.Restored, Dropped: th.Dropped, StandbyUpdates: th.StandbyUpdates, EnforcedProcessing: th.EnforcedProcessing,
			AbortedTransactions: th.AbortedTransactions, TaskMigrations: th.TaskMigrations,
		})
	}
	for _, st := range a.topologyDescription().Subtopologies {
		for _, s := range st.Stores {
			ls, _, err := a.engine.LocalStore(s.Name)
			if err != nil {
				continue
			}
			if n, err := ls.ApproximateNumEntries(); err == nil {
				m.Stores = append(m.Stores, StoreMetrics{Name: s.Name, EstimatedEntries: n})
			}
		}
	}
	var cur *TaskMetrics
	for _, c := range a.engine.Debug().Snapshot() {
		id := c.Task.String()
		if cur == nil || cur.Task != id {
			m.Tasks = append(m.Tasks, TaskMetrics{Task: id, Nodes: map[string]int64{}})
			cur = &m.Tasks[len(m.Tasks)-1]
		}
		if c.Node == "" {
			cur.Processed = c.Processed
		} else {
			cur.Nodes[c.Node] = c.Processed
		}
	}
	a.addSensors(&m)
	return m
}

// The Prometheus names follow Kafka Streams' metric groups as the JMX
// exporter renders them: "kafka_streams_<group>_<metric>", with the Java
// tags as labels (client_id, thread_id, task_id, processor_node_id).
const promPrefix = "kafka_streams_"

type promDesc struct {
	desc  *prometheus.Desc
	value func(ThreadMetrics) int64
}

func threadCounter(name, help string, value func(ThreadMetrics) int64) promDesc {
	return promDesc{
		desc:  prometheus.NewDesc(promPrefix+"stream_thread_metrics_"+name, help, []string{"client_id", "thread_id"}, nil),
		value: value,
	}
}

var (
	promThreadCounters = []promDesc{
		threadCounter("process_total", "Records processed by the thread.", func(t ThreadMetrics) int64 { return t.Processed }),
		threadCounter("commit_total", "Commits of the thread.", func(t ThreadMetrics) int64 { return t.Commits }),
		threadCounter("punctuate_total", "Punctuator calls of the thread.", func(t ThreadMetrics) int64 { return t.Punctuations }),
		threadCounter("dropped_records_total", "Records dropped by the thread's tasks (Kafka Streams counts them per task).", func(t ThreadMetrics) int64 { return t.Dropped + t.Skipped }),
		threadCounter("produced_records_total", "Records the thread produced, dead letters included (kstreams).", func(t ThreadMetrics) int64 { return t.Produced }),
		threadCounter("dead_lettered_records_total", "Records the thread sent to a dead-letter topic (kstreams).", func(t ThreadMetrics) int64 { return t.DeadLettered }),
		threadCounter("produce_failed_records_total", "Records the thread's producer could not send (kstreams).", func(t ThreadMetrics) int64 { return t.ProduceFailed }),
		threadCounter("rebalance_total", "Task assignments the thread received (kstreams).", func(t ThreadMetrics) int64 { return t.Rebalances }),
		threadCounter("restore_total", "Changelog records applied to restore the thread's stores.", func(t ThreadMetrics) int64 { return t.Restored }),
		threadCounter("enforced_processing_total", "Records processed while an input partition of their task was empty (Kafka Streams counts them per task).", func(t ThreadMetrics) int64 { return t.EnforcedProcessing }),
		threadCounter("standby_update_total", "Changelog records applied to the thread's standby replicas (kstreams).", func(t ThreadMetrics) int64 { return t.StandbyUpdates }),
		threadCounter("transaction_abort_total", "Transactions the thread aborted under exactly-once (kstreams).", func(t ThreadMetrics) int64 { return t.AbortedTransactions }),
		threadCounter("task_migration_total", "Times the thread's producer was fenced under exactly-once and the thread closed its tasks dirty, re-initialized the producer and rejoined (kstreams).", func(t ThreadMetrics) int64 { return t.TaskMigrations }),
	}
	promState         = prometheus.NewDesc(promPrefix+"stream_metrics_state", "The client's state: 1 for the current state, 0 for the others.", []string{"client_id", "state"}, nil)
	promAliveThreads  = prometheus.NewDesc(promPrefix+"stream_metrics_alive_stream_threads", "Stream threads of the client.", []string{"client_id"}, nil)
	promFailedThreads = prometheus.NewDesc(promPrefix+"stream_metrics_failed_stream_threads", "Stream threads of the client that stopped with an error.", []string{"client_id"}, nil)
	promTaskProcess   = prometheus.NewDesc(promPrefix+"stream_task_metrics_process_total", "Records processed by the task (debug level).", []string{"client_id", "task_id"}, nil)
	promNodeProcess   = prometheus.NewDesc(promPrefix+"stream_processor_node_metrics_process_total", "Records processed by the processor node (debug level).", []string{"client_id", "task_id", "processor_node_id"}, nil)
	promStoreKeys     = prometheus.NewDesc(promPrefix+"stream_state_metrics_estimate_num_keys", "Estimated keys of the store over this instance's partitions.", []string{"client_id", "store"}, nil)
	promLag           = prometheus.NewDesc(promPrefix+"consumer_records_lag", "End offset minus the group's committed offset of an input partition (the whole group's, from the brokers).", []string{"client_id", "topic", "partition", "task_id"}, nil)
	promLagMax        = prometheus.NewDesc(promPrefix+"consumer_records_lag_max", "The largest records lag over the group's input partitions.", []string{"client_id"}, nil)
)

// promCollector renders App.Metrics (and the group's lag) for Prometheus.
type promCollector struct{ a *App }

func (c promCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range promThreadCounters {
		ch <- d.desc
	}
	for _, d := range []*prometheus.Desc{promState, promAliveThreads, promFailedThreads, promTaskProcess, promNodeProcess, promStoreKeys, promLag, promLagMax} {
		ch <- d
	}
	describeSensors(ch)
}

func (c promCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.a.Metrics()
	client := c.a.cfg.appID
	for s := Created; s <= Error; s++ {
		v := 0.0
		if s == m.State {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(promState, prometheus.GaugeValue, v, client, s.String())
	}
	alive := 0
	if m.State == Running || m.State == Rebalancing || m.State == PendingShutdown {
		alive = len(m.Threads)
	}
	ch <- prometheus.MustNewConstMetric(promAliveThreads, prometheus.GaugeValue, float64(alive), client)
	ch <- prometheus.MustNewConstMetric(promFailedThreads, prometheus.CounterValue, float64(m.FailedStreamThreads), client)
	for _, th := range m.Threads {
		for _, d := range promThreadCounters {
			ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, float64(d.value(th)), client, th.ID)
		}
	}
	for _, t := range m.Tasks {
		if m.Level != MetricsDebug {
			break
		}
		ch <- prometheus.MustNewConstMetric(promTaskProcess, prometheus.CounterValue, float64(t.Processed), client, t.Task)
		for node, n := range t.Nodes {
			ch <- prometheus.MustNewConstMetric(promNodeProcess, prometheus.CounterValue, float64(n), client, t.Task, node)
		}
	}
	for _, s := range m.Stores {
		ch <- prometheus.MustNewConstMetric(promStoreKeys, prometheus.GaugeValue, float64(s.EstimatedEntries), client, s.Name)
	}
	collectSensors(ch, m, client)
	c.collectLag(ch, client)
}

// collectLag asks the brokers for the group's lag; a failure leaves the
// lag metrics out of this scrape.
func (c promCollector) collectLag(ch chan<- prometheus.Metric, client string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := c.a.Lag(ctx)
	if err != nil {
		c.a.cfg.logger.Warn("kstreams: metrics: reading the group's lag", "app", client, "err", err)
		return
	}
	var maxLag int64
	for _, p := range l.Partitions {
		if p.Lag < 0 {
			continue
		}
		maxLag = max(maxLag, p.Lag)
		ch <- prometheus.MustNewConstMetric(promLag, prometheus.GaugeValue, float64(p.Lag), client, p.Topic, strconv.Itoa(int(p.Partition)), p.Task)
	}
	ch <- prometheus.MustNewConstMetric(promLagMax, prometheus.GaugeValue, float64(maxLag), client)
}

// registry returns the App's Prometheus registry, made on first use with
// the kstreams collector in it.
func (a *App) registry() (*prometheus.Registry, error) {
	a.ops.mu.Lock()
	defer a.ops.mu.Unlock()
	if a.ops.reg == nil {
		reg := prometheus.NewRegistry()
		if err := reg.Register(promCollector{a}); err != nil {
			return nil, fmt.Errorf("kstreams: metrics: %w", err)
		}
		a.ops.reg = reg
	}
	return a.ops.reg, nil
}

// clientMetrics hooks franz-go's client metrics (plugin/kprom, names
// "kgo_...", labelled with the thread's client_id) into the App's registry
// for the client of one stream thread.
func (a *App) clientMetrics(clientID string) []kgo.Opt {
	reg, err := a.registry()
	if err != nil {
		return nil
	}
	a.ops.mu.Lock()
	if a.ops.clients == nil {
		a.ops.clients = map[string]*clientRegisterer{}
	}
	cr := a.ops.clients[clientID]
	if cr == nil {
		cr = &clientRegisterer{
			reg:     prometheus.WrapRegistererWith(prometheus.Labels{"client_id": clientID}, reg),
			current: map[string]prometheus.Collector{},
		}
		a.ops.clients[clientID] = cr
	}
	a.ops.mu.Unlock()
	m := kprom.NewMetrics("kgo", kprom.Registerer(cr), kprom.Gatherer(reg))
	return []kgo.Opt{kgo.WithHooks(m)}
}

// clientRegisterer registers the client metrics of one stream thread's
// clients. A thread whose producer was fenced makes a new client with the
// same client id while the old one may still be closing (its metrics
// registered, kprom's registration panicking on the duplicate): the new
// client's collectors replace the old ones, and the old client's
// unregistration at close leaves them alone.
type clientRegisterer struct {
	reg     prometheus.Registerer
	mu      sync.Mutex
	current map[string]prometheus.Collector // by descriptors
}

// descriptors identifies a collector by the descriptors it describes.
func descriptors(c prometheus.Collector) string {
	ch := make(chan *prometheus.Desc, 8)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	var ds []string
	for d := range ch {
		ds = append(ds, d.String())
	}
	slices.Sort(ds)
	return strings.Join(ds, "\n")
}

func (r *clientRegisterer) Register(c prometheus.Collector) error {
	key := descriptors(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.current[key]; old != nil && old != c {
		r.reg.Unregister(old)
	}
	if err := r.reg.Register(c); err != nil {
		return err
	}
	r.current[key] = c
	return nil
}

func (r *clientRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err) // kprom registers through promauto, which panics alike
		}
	}
}

func (r *clientRegisterer) Unregister(c prometheus.Collector) bool {
	key := descriptors(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current[key] != c {
		return false
	}
	delete(r.current, key)
	return r.reg.Unregister(c)
}

// metricsHandler serves the App's metrics in the Prometheus text format:
// the kstreams metrics and, under OpsServer, the stream threads' client
// metrics.
func (a *App) metricsHandler() http.Handler {
	reg, err := a.registry()
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		})
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
