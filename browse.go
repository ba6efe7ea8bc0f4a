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

// browseStore reads key-value store name across this instance's
// partitions: the entry of key when key is set, else up to limit entries
// from from to to (both optional; all entries when neither is set). Keys
// are given as text: a string key as is, other types as JSON.
func (a *App) browseStore(name, key, from, to string, limit int) ([]BrowsedEntry, error) {
	ls, spec, err := a.engine.LocalStore(name)
	if err != nil {
		return nil, err
	}
	store := reflect.ValueOf(spec.Typed(ls))
	get := store.MethodByName("Get")
	if !get.IsValid() {
		return nil, fmt.Errorf("kstreams: state store %q is not a key-value store", name)
	}
	keyType := get.Type().In(0)
	if key != "" {
		k, err := parseKey(keyType, key)
		if err != nil {
			return nil, err
		}
		out := get.Call([]reflect.Value{k})
		if e, _ := out[2].Interface().(error); e != nil {
			return nil, e
		}
		if !out[1].Bool() {
			return nil, nil
		}
		return []BrowsedEntry{{Key: toJSON(k), Value: toJSON(out[0])}}, nil
	}
	var it reflect.Value
	if from == "" && to == "" {
		res := store.MethodByName("All").Call(nil)
		if e, _ := res[1].Interface().(error); e != nil {
			return nil, e
		}
		it = res[0]
	} else {
		f, err := parseKey(keyType, from)
		if err != nil {
			return nil, err
		}
		t, err := parseKey(keyType, to)
		if err != nil {
			return nil, err
		}
		res := store.MethodByName("Range").Call([]reflect.Value{f, t})
		if e, _ := res[1].Interface().(error); e != nil {
			return nil, e
		}
		it = res[0]
	}
	defer it.MethodByName("Close").Call(nil)
	var out []BrowsedEntry
	for len(out) < limit && it.MethodByName("Next").Call(nil)[0].Bool() {
		out = append(out, BrowsedEntry{
			Key:   toJSON(it.MethodByName("Key").Call(nil)[0]),
			Value: toJSON(it.MethodByName("Value").Call(nil)[0]),
		})
	}
	if e, _ := it.MethodByName("Err").Call(nil)[0].Interface().(error); e != nil {
		return nil, e
	}
	return out, nil
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
	limit := 50
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			http.Error(w, "kstreams: limit must be 1 to 1000", http.StatusBadRequest)
			return
		}
		limit = n
	}
	entries, err := a.browseStore(q.Get("store"), q.Get("key"), q.Get("from"), q.Get("to"), limit)
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
	if entries == nil {
		entries = []BrowsedEntry{}
	}
	writeJSON(w, map[string]any{"store": q.Get("store"), "entries": entries})
}

func (a *App) serveMetricsJSON(w http.ResponseWriter, _ *http.Request) {
	m := a.Metrics()
	writeJSON(w, struct {
		Metrics
		State string `json:"state"`
		Level string `json:"level"`
	}{m, m.State.String(), m.Level.String()})
}
