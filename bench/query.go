package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/query"
	"github.com/kstreams-go/kstreams/serde"
)

// queryStore is the store of the query benchmark's count.
const queryStore = "counts"

// queryFlags are the settings of the query benchmark (-queries).
type queryFlags struct {
	keys      int
	duration  time.Duration
	clients   int
	instances int
	rate      int
}

// queryInstance is an instance of the query benchmark's application.
type queryInstance struct {
	app  *kstreams.App
	q    *query.Querier
	kv   *query.KeyValue[string, int64]
	addr string
}

// runQueries measures key lookups per second, and their latency, through
// the query package's HTTP server of one instance of a count application
// run as several instances in this process, while a producer feeds it
// -query-rate records/s: for keys the instance holds (local), then for
// keys it forwards to their owner (forwarded).
func runQueries(ctx context.Context, f *flags, brokers []string, out io.Writer) error {
	env, closeEnv, err := newEnv(brokers)
	if err != nil {
		return err
	}
	defer closeEnv()
	env.Partitions, env.Client = f.partitions, f.client
	if err := env.createTopic(ctx, env.Input, nil); err != nil {
		return err
	}
	if !f.keep {
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = env.Admin.DeleteTopics(dctx, env.Input)
		}()
	}
	fmt.Fprintf(out, "query benchmark: %d instances, %d keys over %d partitions, %d clients for %v per mode, input %d records/s; machine: %s, load average %s\n",
		f.query.instances, f.query.keys, f.partitions, f.query.clients, f.query.duration, f.query.rate, cpuModel(), loadAverage())
	appCtx, stopApps := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopApps()
		wg.Wait()
	}()
	var insts []*queryInstance
	for i := range f.query.instances {
		in, err := startQueryInstance(appCtx, &wg, env, brokers, filepath.Join(env.TmpDir, fmt.Sprint("q", i)))
		if err != nil {
			return err
		}
		insts = append(insts, in)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.DefaultProduceTopic(env.Input))
	if err != nil {
		return err
	}
	defer cl.Close()
	keys := make([]string, f.query.keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%06d", i)
		cl.Produce(ctx, &kgo.Record{Key: []byte(keys[i]), Value: []byte("v")}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	began := time.Now()
	if err := waitBalanced(ctx, insts); err != nil {
		return err
	}
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: f.query.clients}}
	if err := waitAllKeys(ctx, httpc, insts[0].addr, keys); err != nil {
		return err
	}
	fmt.Fprintf(out, "every key answered through %s %.1fs after the keys were produced\n", insts[0].addr, time.Since(began).Seconds())
	local, remote, err := splitKeys(insts[0], keys)
	if err != nil {
		return err
	}
	var produced atomic.Int64
	prodCtx, stopProd := context.WithCancel(ctx)
	defer stopProd()
	go feed(prodCtx, cl, keys, f.query.rate, &produced)

	fmt.Fprintf(out, "\n%-10s %8s %12s %10s %10s %8s %s\n", "mode", "keys", "lookups/s", "p50", "p99", "errors", "input meanwhile")
	for _, m := range []struct {
		name string
		keys []string
	}{{"local", local}, {"forwarded", remote}} {
		before := produced.Load()
		r := lookups(ctx, httpc, insts[0].addr, m.keys, f.query.clients, f.query.duration)
		fmt.Fprintf(out, "%-10s %8d %12s %10s %10s %8d %d records produced\n", m.name, len(m.keys), thousands(r.rate()),
			r.quantile(0.5).Round(time.Microsecond), r.quantile(0.99).Round(time.Microsecond), r.errors, produced.Load()-before)
	}
	return nil
}

// startQueryInstance runs an instance of the count application serving
// its store over HTTP on a free port.
func startQueryInstance(ctx context.Context, wg *sync.WaitGroup, env *Env, brokers []string, dir string) (*queryInstance, error) {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, env.Input, kstreams.ConsumedWith(serde.String(), serde.Bytes())).GroupByKey().
		Count(kstreams.Materialized[string, int64]{Name: queryStore, Key: serde.String(), Value: serde.Int64()})
	topo, err := b.Build()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	app, err := kstreams.New(topo, kstreams.Brokers(brokers...), kstreams.ApplicationID("bench-"+env.RunID+"-query"),
		kstreams.ApplicationServer(addr), kstreams.StateDir(dir), kstreams.CommitInterval(env.Client.CommitInterval))
	if err != nil {
		return nil, err
	}
	q, err := query.New(app)
	if err != nil {
		return nil, err
	}
	kv, err := query.KeyValueStore[string, int64](q, queryStore, serde.String())
	if err != nil {
		return nil, err
	}
	srv := query.NewServer(q)
	query.Serve(srv, kv, nil)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := app.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "bench: query instance:", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := srv.ListenAndServe(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "bench: query server:", err)
		}
	}()
	return &queryInstance{app: app, q: q, kv: kv, addr: addr}, nil
}

// waitBalanced waits until every instance runs active tasks of the store,
// as the first instance's last assignment says, and every instance runs.
func waitBalanced(ctx context.Context, insts []*queryInstance) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		hosts, err := insts[0].q.StoreHosts(queryStore)
		active := 0
		for _, h := range hosts {
			if len(h.Active) > 0 {
				active++
			}
		}
		running := 0
		for _, in := range insts {
			if in.app.State() == kstreams.Running {
				running++
			}
		}
		if err == nil && active == len(insts) && running == len(insts) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %d of %d instances hold active tasks, %d run (%v)", active, len(insts), running, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitAllKeys waits until every key answers 200 through addr.
func waitAllKeys(ctx context.Context, c *http.Client, addr string, keys []string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < len(keys); {
		if err := lookupKey(ctx, c, addr, keys[i]); err != nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("bench: key %s never answered through %s: %w", keys[i], addr, err)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		i++
	}
	return nil
}

// splitKeys splits keys into those in holds and those another instance
// holds.
func splitKeys(in *queryInstance, keys []string) (local, remote []string, err error) {
	for _, k := range keys {
		md, err := in.kv.Metadata(k)
		if err != nil {
			return nil, nil, err
		}
		if md.Active == in.addr {
			local = append(local, k)
		} else {
			remote = append(remote, k)
		}
	}
	if len(local) == 0 || len(remote) == 0 {
		return nil, nil, fmt.Errorf("bench: %d local and %d forwarded keys: need some of each (more partitions?)", len(local), len(remote))
	}
	return local, remote, nil
}

// feed produces about rate records/s to random keys until ctx ends.
func feed(ctx context.Context, cl *kgo.Client, keys []string, rate int, produced *atomic.Int64) {
	if rate <= 0 {
		return
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	per := max(1, rate/100)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for range per {
			cl.Produce(ctx, &kgo.Record{Key: []byte(keys[rand.IntN(len(keys))]), Value: []byte("v")}, nil)
		}
		produced.Add(int64(per))
	}
}

// lookupResult is what a lookup phase measured.
type lookupResult struct {
	lat    []time.Duration
	errors int
	took   time.Duration
}

func (r lookupResult) rate() float64 { return float64(len(r.lat)) / r.took.Seconds() }

func (r lookupResult) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(q*float64(len(r.lat))))]
}

// lookups runs clients goroutines looking up random keys through addr for
// d, and returns the latencies of the successful lookups, sorted.
func lookups(ctx context.Context, c *http.Client, addr string, keys []string, clients int, d time.Duration) lookupResult {
	var (
		mu  sync.Mutex
		res lookupResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for range clients {
		wg.Go(func() {
			var lat []time.Duration
			errs := 0
			for time.Now().Before(end) && ctx.Err() == nil {
				t := time.Now()
				if err := lookupKey(ctx, c, addr, keys[rand.IntN(len(keys))]); err != nil {
					errs++
					continue
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errors += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	res.took = time.Since(start)
	slices.Sort(res.lat)
	return res
}

// lookupKey asks addr for key and reads the whole answer.
func lookupKey(ctx context.Context, c *http.Client, addr, key string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/stores/"+queryStore+"/keys/"+key, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}
