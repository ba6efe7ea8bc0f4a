package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/query"
)

// moveAnswers tallies the answers to window queries asked while tasks
// move.
type moveAnswers struct {
	mu        sync.Mutex
	right     int
	retriable int
	wrong     []string
}

func (a *moveAnswers) add(right, retriable bool, wrong string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case right:
		a.right++
	case retriable:
		a.retriable++
	default:
		a.wrong = append(a.wrong, wrong)
	}
}

// askWindows asks addr for key's windows once and tallies the answer: the
// oracle's windows, a retriable error (503 or 502 with retriable set, or
// an instance not listening yet), or anything else, which is wrong.
func askWindows(c *http.Client, addr, key string, want []query.WindowValue[int64], a *moveAnswers) {
	resp, err := c.Get("http://" + addr + "/v1/stores/" + winQueryStore + "/windows/" + url.PathEscape(key))
	if err != nil {
		a.add(false, true, "")
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		var ws struct {
			Windows []query.WindowValue[int64] `json:"windows"`
		}
		err := json.NewDecoder(resp.Body).Decode(&ws)
		ok := err == nil && slices.Equal(ws.Windows, want)
		a.add(ok, false, fmt.Sprintf("%s via %s: 200 with %v (%v), want %v", key, addr, ws.Windows, err, want))
		return
	}
	var body struct {
		Error query.APIError `json:"error"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	a.add(false, err == nil && body.Error.Retriable, fmt.Sprintf("%s via %s: status %d, %+v (%v)", key, addr, resp.StatusCode, body.Error, err))
}

// TestQueryDuringScaleOutNeverAnswersWrong asks every key's windows,
// round the instances, over and over while a third instance joins two
// and the cooperative rebalances (and warm-ups) move tasks to it: every
// answer is the key's windows or a retriable error, never a wrong 200 (an
// empty list from a partition that does not hold the key, or from a store
// not restored yet), as Kafka Streams throws a retriable
// InvalidStateStoreException rather than read such a store.
func TestQueryDuringScaleOutNeverAnswersWrong(t *testing.T) {
	app := newAppID(t)
	in := uniqueName(t, "in")
	createTopics(t, 12, in)
	topo := windowQueryTopology(t, in)
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	opts := []kstreams.Option{kstreams.ApplicationID(app)}
	for _, addr := range addrs[:2] {
		runWindowQueryInstance(t, topo, addr, append(opts, kstreams.StateDir(t.TempDir()))...)
	}
	base := time.Now().Add(-5*time.Minute).UnixMilli() / 10000 * 10000
	o := keyedWindows(t, in, 12, 300, base)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range o.windows {
			if !yield(k) {
				return
			}
		}
	})
	c := &http.Client{Timeout: 10 * time.Second}
	waitHosts(t, c, addrs[:2], winQueryStore, 12)
	for _, addr := range addrs[:2] {
		poll(t, 90*time.Second, "every key's windows through "+addr, func() (bool, string) {
			bad, ex := checkWindowKeys(c, addr, o)
			return bad == 0, fmt.Sprintf("%d keys wrong, e.g. %s", bad, ex)
		})
	}

	var a moveAnswers
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[i%len(keys)]
				askWindows(c, addrs[i%len(addrs)], k, o.windows[k], &a)
			}
		}()
	}
	runWindowQueryInstance(t, topo, addrs[2], append(opts, kstreams.StateDir(t.TempDir()))...)
	waitHosts(t, c, addrs, winQueryStore, 12)
	// Warm-ups may move tasks once more after the first settled
	// assignment: keep asking a while.
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("while the third instance joined: %d right answers, %d retriable, %d wrong", a.right, a.retriable, len(a.wrong))
	if len(a.wrong) > 0 {
		t.Errorf("%d wrong answers while tasks moved, e.g. %v", len(a.wrong), a.wrong[:min(5, len(a.wrong))])
	}
	if a.right == 0 {
		t.Error("no right answer while the third instance joined: the queries did not run")
	}
}
