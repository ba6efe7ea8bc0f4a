package runtime

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kstreams-go/kstreams/processor"
)

// Kafka Streams' sensors keep their statistics over sampled windows: two
// samples (metrics.num.samples) of 30 seconds (metrics.sample.window.ms).
// A stat reads the samples not older than both windows.
const (
	sampleWindow = 30 * time.Second
	numSamples   = 2
)

// sampled is a windowed statistic: count, sum, min and max of the values
// recorded over the last numSamples sample windows, with all-time totals.
// It is safe for concurrent use: the owner records, scrapes read.
type sampled struct {
	mu      sync.Mutex
	samples [numSamples]sample
	cur     int
	count   int64
	sum     float64
}

type sample struct {
	start         time.Time
	count         int64
	sum, min, max float64
}

func (s *sampled) record(v float64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	s.sum += v
	cur := &s.samples[s.cur]
	if cur.start.IsZero() || now.Sub(cur.start) >= sampleWindow {
		s.cur = (s.cur + 1) % numSamples
		cur = &s.samples[s.cur]
		*cur = sample{start: now, min: v, max: v}
	}
	cur.count++
	cur.sum += v
	cur.min = math.Min(cur.min, v)
	cur.max = math.Max(cur.max, v)
}

// Stat is a windowed statistic as read at one time.
type Stat struct {
	// Count and Sum are all-time totals of the events and their values.
	Count int64
	Sum   float64
	// Avg, Min and Max are over the window; 0 when nothing was recorded in
	// it (Kafka Streams reports NaN).
	Avg, Min, Max float64
	// CountRate is events per second over the window, SumRate values per
	// second.
	CountRate, SumRate float64
}

// read returns the statistic at now. The rates divide by the time since
// the oldest sample began, at least numSamples-1 windows, as Kafka's Rate.
func (s *sampled) read(now time.Time) Stat {
	if s == nil {
		return Stat{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stat{Count: s.count, Sum: s.sum}
	var n int64
	var sum float64
	oldest := now
	first := true
	for _, w := range s.samples {
		if w.start.IsZero() || now.Sub(w.start) >= numSamples*sampleWindow {
			continue
		}
		if first || w.min < st.Min {
			st.Min = w.min
		}
		if first || w.max > st.Max {
			st.Max = w.max
		}
		first = false
		n += w.count
		sum += w.sum
		if w.start.Before(oldest) {
			oldest = w.start
		}
	}
	if n == 0 {
		return st
	}
	st.Avg = sum / float64(n)
	elapsed := max(now.Sub(oldest), (numSamples-1)*sampleWindow).Seconds()
	st.CountRate, st.SumRate = float64(n)/elapsed, sum/elapsed
	return st
}

// ThreadSensors are the latency sensors of one stream thread, recorded once
// per loop iteration (never per record), at every recording level. Times
// are in milliseconds, as Kafka Streams'.
type ThreadSensors struct {
	// Start is when the thread started.
	Start atomic.Int64 // Unix ms
	// Process records the average latency per record of each iteration's
	// processing (values: ms per record), ProcessRecords its records.
	Process, ProcessRecords sampled
	// Poll records the latency of each poll, PollRecords what it returned.
	Poll, PollRecords sampled
	// Commit records the latency of each commit that committed offsets.
	Commit sampled
	// Punctuate records the latency of each iteration's wall-clock
	// punctuation that ran a punctuator.
	Punctuate sampled
	// Blocked is the time the thread spent waiting on the brokers: in
	// polls and in commits (ns).
	Blocked atomic.Int64
	// Rebalance records the latency of each rebalance, from the
	// revocation (or the thread's start) to the end of the assignment.
	Rebalance sampled
	// LastRebalance is when the last rebalance ended (Unix ms, 0 never).
	LastRebalance atomic.Int64

	// rebalanceStart is when the current rebalance began (zero: none);
	// only the thread's callbacks, under thread.mu, touch it.
	rebalanceStart time.Time
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// TaskSensors are the sensors of one task: dropped records at every level
// (Kafka Streams' dropped-records is an info-level task metric).
type TaskSensors struct {
	Dropped atomic.Int64
}

// StoreSensors are the debug-level sensors of one store of one task.
type StoreSensors struct {
	Put, Get, Range, Flush sampled // latencies, ms
	// Fetch times the reads of window and session stores.
	Fetch sampled
	// HitRatio records the cache's hit ratio so far at each cache read.
	HitRatio    sampled
	hits, reads int64 // task goroutine only
}

// hit records a read of the record cache.
func (s *StoreSensors) hit(ok bool, now time.Time) {
	s.reads++
	if ok {
		s.hits++
	}
	s.HitRatio.record(float64(s.hits)/float64(s.reads), now)
}

// RestoreState is the restoration of one store partition: its progress,
// and the sampled rate of records restored.
type RestoreState struct {
	RestoreProgress
	Task processor.TaskID
	// Rate is records restored per second over the sample window.
	Rate float64
}

type storeKey struct {
	task  processor.TaskID
	store string
}

// Sensors hold the instance's latency, rate and restoration sensors (see
// metrics.go for the counters): created once per thread, task and store
// and kept across rebalances, so that totals never go back.
type Sensors struct {
	debug bool

	mu       sync.Mutex
	threads  []*ThreadSensors
	tasks    map[processor.TaskID]*TaskSensors
	stores   map[storeKey]*StoreSensors
	restores map[storeKey]*restoreEntry
	dead     deadLetters
	rates    rateTracker
	// created is when the instance was made: the counters behind the
	// rate tracker were 0 then.
	created time.Time
}

type restoreEntry struct {
	last     RestoreProgress
	rate     sampled
	loggedAt time.Time
}

// NewSensors returns the sensors of an instance; debug adds the store
// sensors.
func NewSensors(debug bool) *Sensors {
	return &Sensors{debug: debug, created: time.Now(), tasks: map[processor.TaskID]*TaskSensors{}, stores: map[storeKey]*StoreSensors{},
		restores: map[storeKey]*restoreEntry{}, rates: rateTracker{series: map[string]*rateSeries{}}}
}

// thread returns the sensors of thread id.
func (s *Sensors) thread(id int) *ThreadSensors {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.threads) <= id {
		s.threads = append(s.threads, &ThreadSensors{})
	}
	return s.threads[id]
}

// task returns the sensors of task id.
func (s *Sensors) task(id processor.TaskID) *TaskSensors {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.tasks[id]
	if ts == nil {
		ts = &TaskSensors{}
		s.tasks[id] = ts
	}
	return ts
}

// store returns the sensors of store in task, nil at the info level.
func (s *Sensors) store(task processor.TaskID, store string) *StoreSensors {
	if s == nil || !s.debug {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := storeKey{task, store}
	ss := s.stores[k]
	if ss == nil {
		ss = &StoreSensors{}
		s.stores[k] = ss
	}
	return ss
}

// ThreadStats are the windowed statistics of one thread.
type ThreadStats struct {
	Start                                      time.Time
	Process, ProcessRecords, Poll, PollRecords Stat
	Commit, Punctuate, Rebalance               Stat
	Blocked                                    time.Duration
	LastRebalance                              time.Time
}

// ThreadStats returns the statistics of each thread, in thread order.
func (s *Sensors) ThreadStats(now time.Time) []ThreadStats {
	s.mu.Lock()
	ths := slices.Clone(s.threads)
	s.mu.Unlock()
	out := make([]ThreadStats, len(ths))
	for i, t := range ths {
		out[i] = ThreadStats{
			Start: time.UnixMilli(t.Start.Load()), Process: t.Process.read(now), ProcessRecords: t.ProcessRecords.read(now),
			Poll: t.Poll.read(now), PollRecords: t.PollRecords.read(now), Commit: t.Commit.read(now),
			Punctuate: t.Punctuate.read(now), Rebalance: t.Rebalance.read(now), Blocked: time.Duration(t.Blocked.Load()),
		}
		if last := t.LastRebalance.Load(); last > 0 {
			out[i].LastRebalance = time.UnixMilli(last)
		}
	}
	return out
}

// TaskStat is the info-level statistics of one task.
type TaskStat struct {
	Task    processor.TaskID
	Dropped int64
	// DroppedRate is records dropped per second over the sample window.
	DroppedRate float64
}

// TaskStats returns the statistics of the tasks this instance ran, by task.
func (s *Sensors) TaskStats(now time.Time) []TaskStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TaskStat, 0, len(s.tasks))
	for id, t := range s.tasks {
		n := t.Dropped.Load()
		out = append(out, TaskStat{Task: id, Dropped: n, DroppedRate: s.rates.rateLocked("dropped/"+id.String(), n, now, s.created)})
	}
	slices.SortFunc(out, func(a, b TaskStat) int { return compareTasks(a.Task, b.Task) })
	return out
}

// CounterRate returns the rate per second of an ever-growing counter named
// key over the sample window, from the values it had when read before.
func (s *Sensors) CounterRate(key string, total int64, now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rates.rateLocked(key, total, now, s.created)
}

// StoreStat is the debug-level statistics of one store of one task.
type StoreStat struct {
	Task                   processor.TaskID
	Store                  string
	Put, Get, Range, Flush Stat
	Fetch                  Stat
	HitRatio               Stat
}

// StoreStats returns the store statistics (none at the info level), by
// task then store.
func (s *Sensors) StoreStats(now time.Time) []StoreStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StoreStat, 0, len(s.stores))
	for k, st := range s.stores {
		out = append(out, StoreStat{Task: k.task, Store: k.store, Put: st.Put.read(now), Get: st.Get.read(now),
			Fetch: st.Fetch.read(now), Range: st.Range.read(now), Flush: st.Flush.read(now), HitRatio: st.HitRatio.read(now)})
	}
	slices.SortFunc(out, func(a, b StoreStat) int {
		if c := compareTasks(a.Task, b.Task); c != 0 {
			return c
		}
		return cmpString(a.Store, b.Store)
	})
	return out
}

func compareTasks(a, b processor.TaskID) int {
	if a.Subtopology != b.Subtopology {
		return a.Subtopology - b.Subtopology
	}
	return int(a.Partition - b.Partition)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// rateTracker derives rates from counters that only grow (per node
// counters, kept as plain atomics so that recording costs one add): each
// read keeps the counter's value, and the rate is the growth since the
// oldest value kept within the last numSamples windows; a counter read
// for the first time counts from 0 at zeroAt.
type rateTracker struct {
	series map[string]*rateSeries
}

type rateSeries struct {
	points []ratePoint
}

type ratePoint struct {
	at    time.Time
	total int64
}

// rateMinSpacing keeps one point per second at most.
const rateMinSpacing = time.Second

func (r *rateTracker) rateLocked(key string, total int64, now, zeroAt time.Time) float64 {
	s := r.series[key]
	if s == nil {
		s = &rateSeries{points: []ratePoint{{at: zeroAt}}}
		r.series[key] = s
	}
	horizon := now.Add(-numSamples * sampleWindow)
	i := 0
	for i < len(s.points)-1 && s.points[i].at.Before(horizon) {
		i++
	}
	s.points = s.points[i:]
	rate := 0.0
	if len(s.points) > 0 {
		p := s.points[0]
		if dt := now.Sub(p.at).Seconds(); dt > 0 {
			rate = float64(total-p.total) / dt
		}
	}
	if len(s.points) == 0 || now.Sub(s.points[len(s.points)-1].at) >= rateMinSpacing {
		s.points = append(s.points, ratePoint{at: now, total: total})
	}
	return rate
}

// deadLetterCap is how many dead-lettered records the sensors keep.
const deadLetterCap = 100

// DeadLetter is a record written to a dead-letter topic.
type DeadLetter struct {
	Time      time.Time `json:"time"`
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	// Input* locate the record it copies (offset -1: none).
	InputTopic     string `json:"input_topic"`
	InputPartition int32  `json:"input_partition"`
	InputOffset    int64  `json:"input_offset"`
	// Stage and Error are what its headers say went wrong.
	Stage string `json:"stage"`
	Error string `json:"error"`
	// Key is the record's key, as text (cut at 200 bytes).
	Key string `json:"key"`
}

type deadLetters struct {
	buf  []DeadLetter
	next int
}

func (d *deadLetters) add(dl DeadLetter) {
	if len(d.buf) < deadLetterCap {
		d.buf = append(d.buf, dl)
		return
	}
	d.buf[d.next] = dl
	d.next = (d.next + 1) % deadLetterCap
}

// DeadLetters returns the last dead-lettered records, oldest first.
func (s *Sensors) DeadLetters() []DeadLetter {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DeadLetter, 0, len(s.dead.buf))
	out = append(out, s.dead.buf[s.dead.next:]...)
	return append(out, s.dead.buf[:s.dead.next]...)
}

func (s *Sensors) deadLettered(dl DeadLetter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead.add(dl)
}

// Sensors returns the instance's sensors.
func (e *Engine) Sensors() *Sensors { return e.sensors }
