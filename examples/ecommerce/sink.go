package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"
)

// SinkConfig configures the PostgreSQL sink of the user profiles.
type SinkConfig struct {
	DSN     string   // a PostgreSQL connection string
	Table   string   // created if missing
	Brokers []string // where the profiles topic is
	Topic   string   // the profiles topic
	Group   string   // the sink's consumer group
	Batch   int      // rows per upsert batch at most
	Rate    float64  // rows per second at most (0: no limit)
	Stats   *Stats
	// OnWrite, if set, is called after each batch is committed with the
	// time and the number of rows (the tests check the rate limit with it).
	OnWrite func(at time.Time, rows int)
	// InstanceID, if set, makes the sink a static member of its group (a
	// restarted sink takes its partitions back at once); SessionTimeout,
	// if set, is its group session timeout.
	InstanceID     string
	SessionTimeout time.Duration
}

// Sink syncs the profiles topic into a PostgreSQL table, like a JDBC sink
// connector: it reads a batch, upserts it in one transaction, and only then
// commits the batch's offsets. A crash between the two writes the batch
// again; the upserts are idempotent (each row is a profile's whole state,
// and a row never goes back to fewer orders), so the table ends the same.
// The rate limiter is waited on before each batch: a slow database, or a
// low limit, slows the consumption down (the topic keeps the backlog)
// instead of dropping updates.
//
// The sink is a consumer of its own rather than a kstreams processor
// because a processor, as in Kafka Streams, has no hook that runs before
// its task commits: a batching processor could not make sure its rows are
// written before the offsets of the records they came from are committed.
type Sink struct {
	cfg     SinkConfig
	conn    *pgx.Conn
	limiter *rate.Limiter
	upsert  string
}

var tableRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// NewSink connects to the database and creates the table if it is missing.
func NewSink(ctx context.Context, cfg SinkConfig) (*Sink, error) {
	if !tableRE.MatchString(cfg.Table) {
		return nil, fmt.Errorf("ecommerce: table name %q: want lower-case letters, digits and _", cfg.Table)
	}
	if cfg.Batch < 1 {
		return nil, errors.New("ecommerce: the sink's batch must be at least 1")
	}
	conn, err := pgx.Connect(ctx, cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("ecommerce: connecting to PostgreSQL: %w", err)
	}
	_, err = conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+cfg.Table+` (
		user_id            text PRIMARY KEY,
		orders             bigint NOT NULL,
		spend_cents        bigint NOT NULL,
		last_order_id      text NOT NULL,
		last_order_ms      bigint NOT NULL,
		favourite_category text NOT NULL,
		units              jsonb NOT NULL,
		updated_at         timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("ecommerce: creating table %s: %w", cfg.Table, err)
	}
	lim := rate.NewLimiter(rate.Inf, cfg.Batch)
	if cfg.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Batch)
	}
	return &Sink{cfg: cfg, conn: conn, limiter: lim, upsert: `INSERT INTO ` + cfg.Table + `
		(user_id, orders, spend_cents, last_order_id, last_order_ms, favourite_category, units, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now())
		ON CONFLICT (user_id) DO UPDATE SET orders = EXCLUDED.orders, spend_cents = EXCLUDED.spend_cents,
			last_order_id = EXCLUDED.last_order_id, last_order_ms = EXCLUDED.last_order_ms,
			favourite_category = EXCLUDED.favourite_category, units = EXCLUDED.units, updated_at = now()
		WHERE ` + cfg.Table + `.orders <= EXCLUDED.orders`}, nil
}

// Run syncs until ctx is done.
func (s *Sink) Run(ctx context.Context) error {
	defer s.conn.Close(context.Background())
	opts := []kgo.Opt{kgo.SeedBrokers(s.cfg.Brokers...), kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topic), kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond)}
	if s.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(s.cfg.InstanceID+"-pg-sink"))
	}
	if s.cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(s.cfg.SessionTimeout))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	lag := map[int32]int64{}
	for {
		fetches := cl.PollRecords(ctx, s.cfg.Batch)
		if ctx.Err() != nil {
			return nil
		}
		if err := fetches.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("ecommerce: sink: reading %s: %w", s.cfg.Topic, err)
		}
		var recs []*kgo.Record
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if n := len(p.Records); n > 0 {
				lag[p.Partition] = p.HighWatermark - p.Records[n-1].Offset - 1
			}
			recs = append(recs, p.Records...)
		})
		var total int64
		for _, l := range lag {
			total += max(l, 0)
		}
		s.cfg.Stats.SinkLag.Store(total)
		if len(recs) == 0 {
			continue
		}
		if err := s.write(ctx, recs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ecommerce: sink: committing: %w", err)
		}
	}
}

// write upserts the latest profile of each user in recs, in one
// transaction, once the rate limiter allows as many rows.
func (s *Sink) write(ctx context.Context, recs []*kgo.Record) error {
	latest := map[string]*kgo.Record{}
	var order []string
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		if _, ok := latest[string(r.Key)]; !ok {
			order = append(order, string(r.Key))
		}
		latest[string(r.Key)] = r
	}
	if len(order) == 0 {
		return nil
	}
	if err := s.limiter.WaitN(ctx, len(order)); err != nil {
		return err
	}
	var b pgx.Batch
	for _, k := range order {
		var p Profile
		if err := json.Unmarshal(latest[k].Value, &p); err != nil {
			return fmt.Errorf("ecommerce: sink: profile of %s: %w", k, err)
		}
		units, _ := json.Marshal(p.Units)
		b.Queue(s.upsert, k, p.Orders, p.SpendCents, p.LastOrderID, p.LastOrderMs, p.FavouriteCategory, units)
	}
	start := time.Now()
	err := pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() })
	if err != nil {
		return fmt.Errorf("ecommerce: sink: upserting %d rows: %w", len(order), err)
	}
	now := time.Now()
	s.cfg.Stats.observeWrite(now.Sub(start), len(order))
	for _, k := range order {
		s.cfg.Stats.observeLatency(now.Sub(latest[k].Timestamp))
	}
	if s.cfg.OnWrite != nil {
		s.cfg.OnWrite(now, len(order))
	}
	return nil
}

// ReadProfiles reads the table back (for the tests and the summary).
func ReadProfiles(ctx context.Context, dsn, table string) (map[string]*Profile, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT user_id, orders, spend_cents, last_order_id, last_order_ms, favourite_category, units FROM `+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*Profile{}
	for rows.Next() {
		var p Profile
		var units []byte
		if err := rows.Scan(&p.UserID, &p.Orders, &p.SpendCents, &p.LastOrderID, &p.LastOrderMs, &p.FavouriteCategory, &units); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(units, &p.Units); err != nil {
			return nil, err
		}
		out[p.UserID] = &p
	}
	return out, rows.Err()
}
