package kstreams

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
)

// BrowsedEntry is one entry of a store as the console shows it: the key
// and value rendered as JSON.
type BrowsedEntry struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

// errBadKey reports a key the console cannot turn into the store's key type.
var errBadKey = errors.New("kstreams: key does not fit the store's key type")

// storePage is one page of a store scan: the entries and whether more
// follow.
type storePage struct {
	Entries []BrowsedEntry `json:"entries"`
	More    bool           `json:"more"`
}

// browseStore reads key-value store name across this instance's
// partitions: the entry of key when key is set, else the limit entries
// after the first skip of a scan from from to to (both or neither: all
// entries). Keys are given as text: a string key as is, other types as
// JSON.
func (a *App) browseStore(name, key, from, to string, skip, limit int) (storePage, error) {
	if key == "" && (from == "") != (to == "") {
		return storePage{}, fmt.Errorf("%w: a range needs both from and to", errBadKey)
	}
	var page storePage
	var err error
	page.Entries, page.More, err = a.readStore(name, key, from, to, skip, limit)
	if page.Entries == nil {
		page.Entries = []BrowsedEntry{}
	}
	return page, err
}

func (a *App) readStore(name, key, from, to string, skip, limit int) ([]BrowsedEntry, bool, error) {
	ls, spec, err := a.engine.LocalStore(name)
	if err != nil {
		return nil, false, err
	}
	store := reflect.ValueOf(spec.Typed(ls, spec.Changelog().Resolve(a.cfg.appID)))
	get := store.MethodByName("Get")
	if !get.IsValid() {
		return nil, false, fmt.Errorf("kstreams: state store %q is not a key-value store", name)
	}
	keyType := get.Type().In(0)
	if key != "" {
		k, err := parseKey(keyType, key)
		if err != nil {
			return nil, false, err
		}
		out := get.Call([]reflect.Value{k})
		if e, _ := out[2].Interface().(error); e != nil {
			return nil, false, e
		}
		if !out[1].Bool() {
			return nil, false, nil
		}
		return []BrowsedEntry{{Key: toJSON(k), Value: toJSON(out[0])}}, false, nil
	}
	var it reflect.Value
	if from == "" && to == "" {
		res := store.MethodByName("All").Call(nil)
		if e, _ := res[1].Interface().(error); e != nil {
			return nil, false, e
		}
		it = res[0]
	} else {
		f, err := parseKey(keyType, from)
		if err != nil {
			return nil, false, err
		}
		t, err := parseKey(keyType, to)
		if err != nil {
			return nil, false, err
		}
		res := store.MethodByName("Range").Call([]reflect.Value{f, t})
		if e, _ := res[1].Interface().(error); e != nil {
			return nil, false, e
		}
		it = res[0]
	}
	defer it.MethodByName("Close").Call(nil)
	var out []BrowsedEntry
	next := it.MethodByName("Next")
	for i := 0; next.Call(nil)[0].Bool(); i++ {
		if i < skip {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, BrowsedEntry{
			Key:   toJSON(it.MethodByName("Key").Call(nil)[0]),
			Value: toJSON(it.MethodByName("Value").Call(nil)[0]),
		})
	}
	if e, _ := it.MethodByName("Err").Call(nil)[0].Interface().(error); e != nil {
		return nil, false, e
	}
	return out, false, nil
}

func parseKey(t reflect.Type, s string) (reflect.Value, error) {
	if t.Kind() == reflect.String {
		return reflect.ValueOf(s).Convert(t), nil
	}
	p := reflect.New(t)
	if err := json.Unmarshal([]byte(s), p.Interface()); err != nil {
		return reflect.Value{}, fmt.Errorf("%w %s: %q: %v", errBadKey, t, s, err)
	}
	return p.Elem(), nil
}

func toJSON(v reflect.Value) json.RawMessage {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		b, _ = json.Marshal(fmt.Sprint(v.Interface()))
	}
	return b
}

func (a *App) serveStore(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, skip := 50, 0
	for _, p := range []struct {
		name     string
		into     *int
		min, max int
	}{{"limit", &limit, 1, 1000}, {"skip", &skip, 0, 1 << 30}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < p.min || n > p.max {
				http.Error(w, fmt.Sprintf("kstreams: %s must be %d to %d", p.name, p.min, p.max), http.StatusBadRequest)
				return
			}
			*p.into = n
		}
	}
	if !a.hasStore(q.Get("store")) {
		http.Error(w, fmt.Sprintf("kstreams: no state store %q in the topology", q.Get("store")), http.StatusNotFound)
		return
	}
	page, err := a.browseStore(q.Get("store"), q.Get("key"), q.Get("from"), q.Get("to"), skip, limit)
	switch {
	case errors.Is(err, ErrStoreNotAvailable):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case errors.Is(err, errBadKey):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, page)
}

func (a *App) serveMetricsJSON(w http.ResponseWriter, _ *http.Request) {
	m := a.Metrics()
	writeJSON(w, struct {
		Metrics
		State string `json:"state"`
		Level string `json:"level"`
	}{m, m.State.String(), m.Level.String()})
}

func (a *App) hasStore(name string) bool {
	for _, st := range a.topologyDescription().Subtopologies {
		for _, s := range st.Stores {
			if s.Name == name {
				return true
			}
		}
	}
	return false
}
