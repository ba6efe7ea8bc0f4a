package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/state"
)

// Emails configures the emailer of [Topology].
//
// # Schedule
//
// Periods are aligned to the Unix epoch: period n runs from n*Period to
// (n+1)*Period (for a week: from Thursday 00:00 UTC). Every task of the
// aggregation has a wall-clock punctuator that ticks every Period/10, at
// most every minute; at each tick it emails every client of its partition
// of [StoreUSShareHolders] that has not been emailed for the current period
// yet. So each client holding US positions gets one email per period,
// listing its NASDAQ positions: at the first tick of the period, or, for a
// client that becomes a US shareholder during the period, at the first tick
// after the store forwards that update (at the next commit, when the record
// cache flushes). With N instances the partition assignment does the
// sharding: each client belongs to one partition, so to one task, on one
// instance.
//
// # Guarantees
//
// After each email the task writes the period to the client's entry in
// [StoreEmailed], a logged store that moves with the task. A task that
// moves to another instance (rebalance, clean shutdown, failover) is
// restored with it there, so the new owner does not email again the clients
// the previous owner emailed for the period, and emails those it had not
// reached. This is at-least-once: an email sent after the task's last
// commit by an instance that then crashes, or is thrown out of the group,
// may be sent again by the next owner. Without failures, exactly one email
// per client per period.
//
// The punctuator runs on the stream thread, which processes no record while
// it sends. So a tick sends for at most 5 seconds (half a tick when that is
// shorter) and leaves the rest to the next ticks; one send is bounded by 10
// seconds.
//
// A failed send is logged, counted in [EmailStats.Failed], and retried at
// the next tick; the task keeps running. After three failures in a row the
// tick gives up (the server is probably down). Emails are never dropped,
// but a period that passes entirely while the server is down is not made
// up for: the next period's email lists the positions of then.
type Emails struct {
	// Mailer sends the emails. Required.
	Mailer Mailer
	// Period between two emails to a client. Default 168h (a week).
	Period time.Duration
	// Domain of the client addresses, "<client>@<Domain>". Default
	// example.com.
	Domain string
	// Instance names this instance in the emails (for the reader and the
	// tests: which instance sent what).
	Instance string
	// Logger receives the send failures. Default: discarded.
	Logger *slog.Logger
	// Stats, if not nil, counts emails.
	Stats *EmailStats
}

// EmailStats are running totals of the emailers of one application
// instance.
type EmailStats struct {
	// Sent counts emails the mailer accepted.
	Sent atomic.Int64
	// Failed counts failed sends (each retried later).
	Failed atomic.Int64
	// Rounds counts ticks that looked for clients to email.
	Rounds atomic.Int64
}

// The defaults of [Emails].
const (
	DefaultPeriod = 7 * 24 * time.Hour
	DefaultDomain = "example.com"
)

// sendTimeout bounds one email, maxSending the time a tick spends sending,
// and maxFailures the failures in a row after which a tick gives up.
const (
	sendTimeout = 10 * time.Second
	maxSending  = 5 * time.Second
	maxFailures = 3
)

func (e Emails) withDefaults() Emails {
	e.Period, e.Domain = e.period(), e.domain()
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.Stats == nil {
		e.Stats = &EmailStats{}
	}
	return e
}

func (e Emails) period() time.Duration {
	if e.Period <= 0 {
		return DefaultPeriod
	}
	return e.Period
}

func (e Emails) domain() string {
	if e.Domain == "" {
		return DefaultDomain
	}
	return e.Domain
}

// Tick returns how often the emailer looks for clients to email:
// Period/10, at most a minute, at least a millisecond.
func (e Emails) Tick() time.Duration {
	return max(min(e.period()/10, time.Minute), time.Millisecond)
}

// budget returns the time a tick may spend sending.
func (e Emails) budget() time.Duration { return min(e.Tick()/2, maxSending) }

// PeriodOf returns the period that wall-clock time ms (Unix milliseconds)
// falls in.
func (e Emails) PeriodOf(ms int64) int64 { return ms / e.period().Milliseconds() }

// Address returns the email address of client.
func (e Emails) Address(client string) string { return client + "@" + e.domain() }

func newEmailer(cfg Emails) func() processor.Processor[string, []string, string, []string] {
	cfg = cfg.withDefaults()
	return func() processor.Processor[string, []string, string, []string] {
		return &emailer{cfg: cfg, done: -1}
	}
}

// emailer is the processor behind [Emails], one per task. It forwards
// nothing.
type emailer struct {
	cfg     Emails
	ctx     processor.Context[string, []string]
	holders state.ReadOnlyTimestampedKeyValueStore[string, []string]
	emailed state.KeyValueStore[string, int64]
	// done is the last period whose round emailed every client of the
	// task's partition; -1 when none has since the task opened here.
	done int64
	// changed is set when the store of holders changed since the last round.
	changed bool
}

func (e *emailer) Init(ctx processor.Context[string, []string]) error {
	var err error
	if e.holders, err = processor.Store[state.ReadOnlyTimestampedKeyValueStore[string, []string]](ctx, StoreUSShareHolders); err != nil {
		return err
	}
	if e.emailed, err = processor.Store[state.KeyValueStore[string, int64]](ctx, StoreEmailed); err != nil {
		return err
	}
	e.ctx = ctx
	ctx.Schedule(e.cfg.Tick(), processor.WallClockTime, e.punctuate)
	return nil
}

// Process receives the updates of the store of holders: a client may have
// become a US shareholder since the last round.
func (e *emailer) Process(processor.Record[string, []string]) error {
	e.changed = true
	return nil
}

func (e *emailer) Close() error { return nil }

// punctuate runs a round when the period changed or the holders did since
// the last complete round. Store errors stop the task; send errors do not.
func (e *emailer) punctuate(now int64) error {
	period := e.cfg.PeriodOf(now)
	if period == e.done && !e.changed {
		return nil
	}
	e.changed = false
	e.cfg.Stats.Rounds.Add(1)
	complete, err := e.round(period)
	if err != nil {
		return fmt.Errorf("emailing the US shareholders of task %s: %w", e.ctx.TaskID(), err)
	}
	e.done = -1
	if complete {
		e.done = period
	}
	return nil
}

// round emails the clients not emailed for period yet, within the tick's
// budget, and reports whether all of them were; then it forgets the clients
// that are no longer US shareholders.
func (e *emailer) round(period int64) (bool, error) {
	due, err := e.due(period)
	if err != nil {
		return false, err
	}
	failed, inARow := 0, 0
	stop := time.Now().Add(e.cfg.budget())
	for i, h := range due {
		if i > 0 && time.Now().After(stop) {
			return false, nil // the rest at the next tick
		}
		if err := e.send(period, h); err != nil {
			failed++
			inARow++
			e.cfg.Stats.Failed.Add(1)
			e.cfg.Logger.Warn("email failed, retried at the next tick", "task", e.ctx.TaskID().String(),
				"client", h.client, "period", period, "err", err)
			if inARow == maxFailures {
				return false, nil
			}
			continue
		}
		inARow = 0
		e.cfg.Stats.Sent.Add(1)
		if err := e.emailed.Put(h.client, period); err != nil {
			return false, err
		}
	}
	if failed > 0 {
		return false, nil
	}
	return true, e.forget(period)
}

// holding is one client's set of NASDAQ position ids.
type holding struct {
	client string
	ids    []string
}

// due returns the clients of the task's partition not emailed for period.
func (e *emailer) due(period int64) ([]holding, error) {
	it, err := e.holders.All()
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var due []holding
	for it.Next() {
		last, ok, err := e.emailed.Get(it.Key())
		if err != nil {
			return nil, err
		}
		if !ok || last < period {
			due = append(due, holding{client: it.Key(), ids: it.Value().Value})
		}
	}
	return due, it.Err()
}

// forget deletes the entries of clients emailed before period: after a
// complete round these are the clients that are no longer US shareholders.
// A client removed and back within a period keeps its entry, so it is not
// emailed twice.
func (e *emailer) forget(period int64) error {
	it, err := e.emailed.All()
	if err != nil {
		return err
	}
	var stale []string
	for it.Next() {
		if it.Value() < period {
			stale = append(stale, it.Key())
		}
	}
	err = it.Err()
	it.Close()
	for _, c := range stale {
		if err != nil {
			break
		}
		_, _, err = e.emailed.Delete(c)
	}
	return err
}

func (e *emailer) send(period int64, h holding) error {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	subject, body := e.compose(period, h)
	return e.cfg.Mailer.Send(ctx, e.cfg.Address(h.client), subject, body)
}

// compose writes the email of h for period. The last lines identify the
// period and the sender in a fixed form that the tests read back.
func (e *emailer) compose(period int64, h holding) (subject, body string) {
	start := time.UnixMilli(period * e.cfg.Period.Milliseconds()).UTC()
	subject = "Your US positions, period starting " + start.Format(time.RFC3339)
	var b strings.Builder
	fmt.Fprintf(&b, "Dear %s,\n\n", h.client)
	fmt.Fprintf(&b, "you hold %d open position(s) on NASDAQ: %s.\n\n", len(h.ids), strings.Join(h.ids, ", "))
	b.WriteString("-- \n")
	fmt.Fprintf(&b, "Period: %d (every %v from %s)\n", period, e.cfg.Period, start.Format(time.RFC3339))
	fmt.Fprintf(&b, "Positions: %s\n", strings.Join(h.ids, " "))
	fmt.Fprintf(&b, "Sent-By: application=%s instance=%s task=%s\n", e.ctx.ApplicationID(), e.cfg.Instance, e.ctx.TaskID())
	return subject, b.String()
}
