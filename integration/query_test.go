package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/query"
	"github.com/kstreams-go/kstreams/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// freeAddr returns a 127.0.0.1 address with a port nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// queryInstance is a running instance with its query server.
type queryInstance struct {
	*running
	addr       string
	srv        *query.Server
	stopServer context.CancelFunc
}

// runQueryInstance runs an instance of countTopology that serves
// countStore over HTTP at addr.
func runQueryInstance(t *testing.T, topo *kstreams.Topology, addr string, opts ...kstreams.Option) *queryInstance {
	t.Helper()
	r := runApp(t, topo, append([]kstreams.Option{kstreams.ApplicationServer(addr)}, opts...)...)
	q, err := query.New(r.app)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := query.KeyValueStore[string, int64](q, countStore, serde.String())
	if err != nil {
		t.Fatal(err)
	}
	srv := query.NewServer(q)
	query.Serve(srv, kv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.ListenAndServe(ctx); err != nil {
			t.Errorf("query server %s: %v", addr, err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	return &queryInstance{running: r, addr: addr, srv: srv, stopServer: cancel}
}

// keyedCounts produces, for n keys, i%3+1 records of key i, each to the
// partition Kafka's default partitioner gives the key, and returns the
// counts.
func keyedCounts(t testing.TB, topic string, partitions int32, n int) map[string]int64 {
	t.Helper()
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	truth := map[string]int64{}
	var recs []*kgo.Record
	now := time.Now().UnixMilli()
	for i := range n {
		k := fmt.Sprintf("key-%05d", i)
		for range i%3 + 1 {
			r := rec(topic, 0, []byte(k), []byte("v"), now)
			r.Partition = int32(part.Partition(r, int(partitions)))
			recs = append(recs, r)
			truth[k]++
		}
	}
	produce(t, recs...)
	return truth
}

// getCount asks the instance at addr for key's count.
func getCount(c *http.Client, addr, key string) (int64, int, error) {
	resp, err := c.Get("http://" + addr + "/v1/stores/" + countStore + "/keys/" + url.PathEscape(key))
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Value int64 `json:"value"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, resp.StatusCode, nil
	}
	return body.Value, resp.StatusCode, json.NewDecoder(resp.Body).Decode(&body)
}

// checkAllKeys queries every key through addr and returns how many did not
// answer the truth, and one example.
func checkAllKeys(c *http.Client, addr string, truth map[string]int64) (int, string) {
	var (
		bad     atomic.Int64
		mu      sync.Mutex
		example string
		wg      sync.WaitGroup
	)
	keys := make(chan string)
	for range 8 {
		wg.Go(func() {
			for k := range keys {
				v, status, err := getCount(c, addr, k)
				if err != nil || status != http.StatusOK || v != truth[k] {
					bad.Add(1)
					mu.Lock()
					example = fmt.Sprintf("%s via %s: %d (status %d, err %v), want %d", k, addr, v, status, err, truth[k])
					mu.Unlock()
				}
			}
		})
	}
	for k := range truth {
		keys <- k
	}
	close(keys)
	wg.Wait()
	return int(bad.Load()), example
}

// TestQueryEveryKeyThroughEveryInstance runs three instances over twelve
// partitions and ten thousand keys: every key asked through every instance
// answers the oracle's count (forwarded to the owner when not local), a
// paged range over the whole store through one instance sees every key
// once, and after one instance stops the others answer every key again
// within a bound.
func TestQueryEveryKeyThroughEveryInstance(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 12, in)
	topo := countTopology(t, in, nil)
	var insts []*queryInstance
	for range 3 {
		insts = append(insts, runQueryInstance(t, topo, freeAddr(t), kstreams.ApplicationID(app), kstreams.StateDir(t.TempDir())))
	}
	truth := keyedCounts(t, in, 12, 10000)
	c := &http.Client{Timeout: 10 * time.Second}
	// Wait for the group to settle with every instance hosting (a late
	// joiner's cooperative rebalance moves tasks), then for each instance
	// to answer every key.
	var addrs []string
	for _, in := range insts {
		addrs = append(addrs, in.addr)
	}
	waitHosts(t, c, addrs, countStore, 12)
	for _, in := range insts {
		began := time.Now()
		poll(t, 90*time.Second, "every key to answer its count through "+in.addr, func() (bool, string) {
			bad, ex := checkAllKeys(c, in.addr, truth)
			return bad == 0, fmt.Sprintf("%d keys wrong, e.g. %s", bad, ex)
		})
		t.Logf("10000 keys through %s in %v", in.addr, time.Since(began))
	}
	checkPagedRange(t, c, insts[1].addr, truth)
	checkServerAll(t, insts[2].srv, truth)

	// One instance goes: the others answer every key again, within a bound.
	gone := time.Now()
	insts[2].stopOK(t)
	insts[2].stopServer()
	poll(t, 60*time.Second, "every key to answer again after an instance stopped", func() (bool, string) {
		bad, ex := checkAllKeys(c, insts[0].addr, truth)
		return bad == 0, fmt.Sprintf("%d keys wrong, e.g. %s", bad, ex)
	})
	t.Logf("every key answers again %v after the instance stopped", time.Since(gone))
	if bad, ex := checkAllKeys(c, insts[1].addr, truth); bad != 0 {
		t.Errorf("through %s: %d keys wrong, e.g. %s", insts[1].addr, bad, ex)
	}
}

// checkPagedRange reads the whole store through addr in pages of 700 and
// checks every key comes once, in order, with its count.
func checkPagedRange(t *testing.T, c *http.Client, addr string, truth map[string]int64) {
	t.Helper()
	seen := map[string]int64{}
	after, last, pages := "", "", 0
	for {
		u := "http://" + addr + "/v1/stores/" + countStore + "/range?limit=700"
		if after != "" {
			u += "&after=" + url.QueryEscape(after)
		}
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Entries []struct {
				Key   string `json:"key"`
				Value int64  `json:"value"`
			} `json:"entries"`
			Next string `json:"next"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("range page %d: status %d, %v", pages, resp.StatusCode, err)
		}
		pages++
		for _, e := range page.Entries {
			if _, dup := seen[e.Key]; dup || e.Key <= last {
				t.Fatalf("range: key %q out of order or twice (after %q)", e.Key, last)
			}
			seen[e.Key], last = e.Value, e.Key
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(seen) != len(truth) {
		t.Errorf("range saw %d keys in %d pages, want %d", len(seen), pages, len(truth))
	}
	for k, v := range truth {
		if seen[k] != v {
			t.Errorf("range: %s = %d, want %d", k, seen[k], v)
			break
		}
	}
}

// TestQueryStandbyRead runs two instances with one standby each: through
// the typed API, every key that the other instance runs answers its count
// from this instance's standby replica, within a lag of zero once the
// standbys have caught up.
func TestQueryStandbyRead(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 4, in)
	topo := countTopology(t, in, nil)
	var insts []*queryInstance
	for range 2 {
		insts = append(insts, runQueryInstance(t, topo, freeAddr(t), kstreams.ApplicationID(app),
			kstreams.StateDir(t.TempDir()), kstreams.StandbyReplicas(1)))
	}
	truth := keyedCounts(t, in, 4, 1000)
	c := &http.Client{Timeout: 10 * time.Second}
	poll(t, 60*time.Second, "every key to answer its count", func() (bool, string) {
		bad, ex := checkAllKeys(c, insts[0].addr, truth)
		return bad == 0, fmt.Sprintf("%d keys wrong, e.g. %s", bad, ex)
	})
	q, err := query.New(insts[0].app)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := query.KeyValueStore[string, int64](q, countStore, serde.String())
	if err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "the standby replicas to answer every remote key", func() (bool, string) {
		remote, bad, why := 0, 0, ""
		for k, want := range truth {
			md, err := kv.Metadata(k)
			if err != nil {
				return false, err.Error()
			}
			if md.Active == insts[0].addr {
				continue
			}
			remote++
			v, ok, err := kv.GetStandby(k, 0)
			if err != nil || !ok || v != want {
				bad++
				why = fmt.Sprintf("%s: %d %v %v, want %d", k, v, ok, err, want)
			}
		}
		return remote > 0 && bad == 0, fmt.Sprintf("%d of %d remote keys wrong, e.g. %s", bad, remote, why)
	})
}

// checkServerAll reads the whole store with the typed Server.All.
func checkServerAll(t *testing.T, srv *query.Server, truth map[string]int64) {
	t.Helper()
	ctx, cancel := ctxFor(t, 30*time.Second)
	defer cancel()
	pairs, err := srv.All(ctx, countStore)
	if err != nil {
		t.Fatalf("Server.All: %v", err)
	}
	got := map[string]int64{}
	for _, p := range pairs {
		var k string
		var v int64
		if err := json.Unmarshal(p.Key, &k); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(p.Value, &v); err != nil {
			t.Fatal(err)
		}
		got[k] = v
	}
	if len(pairs) != len(truth) || len(got) != len(truth) {
		t.Errorf("Server.All: %d entries (%d keys), want %d", len(pairs), len(got), len(truth))
	}
	for k, v := range truth {
		if got[k] != v {
			t.Errorf("Server.All: %s = %d, want %d", k, got[k], v)
			break
		}
	}
}

// TestLocalStoreReadsThroughTheCache: with a large record cache and a
// commit interval longer than the test, nothing reaches the store below
// the cache, yet LocalStore answers every processed count, as Kafka
// Streams' queries read through the cache.
func TestLocalStoreReadsThroughTheCache(t *testing.T) {
	in := uniqueName(t, "in")
	createTopics(t, 4, in)
	r := runApp(t, countTopology(t, in, nil), kstreams.ApplicationID(newAppID(t)),
		kstreams.StateDir(t.TempDir()), kstreams.CommitInterval(time.Hour), kstreams.CacheMaxBytes(64<<20))
	truth := keyedCounts(t, in, 4, 500)
	waitStore(t, r.app, countStore, 60*time.Second, func(m map[string]int64) (bool, string) {
		bad, ex := 0, ""
		for k, want := range truth {
			if m[k] != want {
				bad++
				ex = fmt.Sprintf("%s=%d, want %d", k, m[k], want)
			}
		}
		return bad == 0 && len(m) == len(truth), fmt.Sprintf("%d of %d keys wrong (e.g. %s), %d keys", bad, len(truth), ex, len(m))
	})
	st, err := kstreams.LocalStore[string, int64](r.app, countStore)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range truth {
		if v, ok, err := st.Get(k); err != nil || !ok || v != want {
			t.Fatalf("Get(%q) = %d, %v, %v; want %d", k, v, ok, err, want)
		}
	}
}

// TestQueryReadsThroughTheCache: with a large record cache and a commit
// interval longer than the test, nothing reaches the store below the
// cache, yet every key asked over HTTP (the query package's read of the
// key's partition) answers its processed count.
func TestQueryReadsThroughTheCache(t *testing.T) {
	in := uniqueName(t, "in")
	createTopics(t, 4, in)
	inst := runQueryInstance(t, countTopology(t, in, nil), freeAddr(t), kstreams.ApplicationID(newAppID(t)),
		kstreams.StateDir(t.TempDir()), kstreams.CommitInterval(time.Hour), kstreams.CacheMaxBytes(64<<20))
	truth := keyedCounts(t, in, 4, 500)
	c := &http.Client{Timeout: 10 * time.Second}
	poll(t, 60*time.Second, "every key to answer its count", func() (bool, string) {
		bad, ex := checkAllKeys(c, inst.addr, truth)
		return bad == 0, fmt.Sprintf("%d keys wrong, e.g. %s", bad, ex)
	})
}
