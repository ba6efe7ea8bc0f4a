package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestSinkRateLimit: the sink writes a backlog of profile updates no faster
// than its limit (in any second, at most the limit plus one batch: the
// token bucket's burst), slowing its consumption rather than dropping
// anything: every user's last profile ends in the table. A second sink
// replaying the topic from the start (a new group) leaves the table as it
// is: the upserts are idempotent, and a row never goes back to an older
// profile.
func TestSinkRateLimit(t *testing.T) {
	dsn := testDSN(t)
	if dsn == "" {
		t.Skipf("%s is not set: no PostgreSQL to write to (scripts/test.sh starts one)", postgresEnv)
	}
	brokers := testBrokers(t)
	adm := newAdmin(t, brokers)
	suffix := randomSuffix(t)
	topic := "ecom-sink-" + suffix
	cfg := childConfig{Brokers: brokers, Prefix: topic, AppID: "ecom-sink-" + suffix, DSN: dsn, Table: "sink_" + suffix}
	t.Cleanup(func() { cleanUp(adm, cfg) })
	if err := createTopics(context.Background(), adm, 2, topic); err != nil {
		t.Fatal(err)
	}
	const users, updates, limit, batch = 150, 2, 100, 20
	want := map[string]*Profile{}
	var recs []GenRecord
	for n := range updates {
		for u := range users {
			id := fmt.Sprintf("u-%03d", u)
			p := &Profile{UserID: id, Orders: int64(n + 1), SpendCents: int64(100 * (n + 1)), LastOrderID: fmt.Sprintf("o-%d-%d", u, n),
				LastOrderMs: int64(1000 + n), FavouriteCategory: "books", Units: map[string]int64{"books": int64(n + 1)}}
			v, _ := json.Marshal(p)
			recs = append(recs, GenRecord{Topic: topic, Key: id, Value: v, Timestamp: time.Now().UnixMilli(), Partition: -1})
			want[id] = p
		}
	}
	if err := Produce(context.Background(), brokers, Topics{}, recs, 2, false); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	type write struct {
		at   time.Time
		rows int
	}
	var writes []write
	start := time.Now()
	sinkRun := func(group string, onWrite func(time.Time, int)) {
		stats := NewStats()
		s, err := NewSink(context.Background(), SinkConfig{DSN: dsn, Table: cfg.Table, Brokers: brokers, Topic: topic,
			Group: group, Batch: batch, Rate: limit, Stats: stats, OnWrite: onWrite})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		poll(t, 30*time.Second, "the sink to write every user's last profile", func() (bool, string) {
			got, err := ReadProfiles(context.Background(), dsn, cfg.Table)
			if err != nil {
				return false, err.Error()
			}
			return sameProfiles(got, want) && stats.SinkLag.Load() == 0, fmt.Sprintf("%d rows, lag %d", len(got), stats.SinkLag.Load())
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	sinkRun(cfg.AppID, func(at time.Time, rows int) {
		mu.Lock()
		writes = append(writes, write{at, rows})
		mu.Unlock()
	})
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for i, w := range writes {
		total += w.rows
		inSecond := 0
		for _, x := range writes[:i+1] {
			if w.at.Sub(x.at) < time.Second {
				inSecond += x.rows
			}
		}
		if inSecond > limit+batch {
			t.Errorf("%d rows written in the second up to write %d, limit %d plus one batch of %d", inSecond, i, limit, batch)
		}
	}
	if total < users {
		t.Errorf("%d rows written, want at least %d", total, users)
	}
	// The bucket starts full (one batch), then refills at the limit.
	if min := time.Duration(float64(total-batch) / limit * float64(time.Second)); elapsed < min*9/10 {
		t.Errorf("%d rows written in %v: faster than the limit of %d/s allows (%v)", total, elapsed, limit, min)
	}
	checkProfiles(t, "table", mustRead(t, dsn, cfg.Table), want)
	t.Logf("%d rows in %d batches over %v (limit %d/s, batch %d)", total, len(writes), elapsed.Round(time.Millisecond), limit, batch)

	// Replay from the start: the rows stay the last profiles.
	sinkRun(cfg.AppID+"-pg-sink", nil)
	checkProfiles(t, "table after a replay", mustRead(t, dsn, cfg.Table), want)
}

func mustRead(t *testing.T, dsn, table string) map[string]*Profile {
	t.Helper()
	got, err := ReadProfiles(context.Background(), dsn, table)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
