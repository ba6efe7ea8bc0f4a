package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/query"
	"github.com/kstreams-go/kstreams/serde"
)

// Shareholders returns the US shareholders held by this instance (the
// partitions of [StoreUSShareHolders] it runs): client -> ids of the
// client's open NASDAQ positions.
// The error matches [kstreams.ErrStoreNotAvailable] while the instance holds
// no partition of the store.
func Shareholders(app *kstreams.App) (map[string][]string, error) {
	st, err := kstreams.LocalStore[string, []string](app, StoreUSShareHolders)
	if err != nil {
		return nil, err
	}
	it, err := st.All()
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[string][]string{}
	for it.Next() {
		out[it.Key()] = it.Value()
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// newQueryServer returns the query server of the instance, serving
// [StoreUSShareHolders]: with the app's query address set, it gathers the
// store from every instance hosting it.
func newQueryServer(app *kstreams.App) (*query.Server, error) {
	q, err := query.New(app)
	if err != nil {
		return nil, err
	}
	kv, err := query.KeyValueStore[string, []string](q, StoreUSShareHolders, serde.String())
	if err != nil {
		return nil, err
	}
	srv := query.NewServer(q)
	query.Serve(srv, kv, nil)
	return srv, nil
}

// AllShareholders returns the US shareholders of every instance, read
// through srv (from the instances that host the store's partitions).
func AllShareholders(ctx context.Context, srv *query.Server) (map[string][]string, error) {
	pairs, err := srv.All(ctx, StoreUSShareHolders)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(pairs))
	for _, p := range pairs {
		var client string
		var ids []string
		if err := json.Unmarshal(p.Key, &client); err != nil {
			return nil, fmt.Errorf("key %s: %w", p.Key, err)
		}
		if err := json.Unmarshal(p.Value, &ids); err != nil {
			return nil, fmt.Errorf("value of %s: %w", client, err)
		}
		out[client] = ids
	}
	return out, nil
}

// shareholdersHandler serves GET /shareholders: the JSON object of every
// instance's shareholders ([AllShareholders]), or with ?scope=local this
// instance's only ([Shareholders]); 503 while they cannot be read (the
// instance is not running: before its first assignment, rebalancing; an
// instance restoring or not answering), 500 on other
// errors; errors as {"error": "..."}.
func shareholdersHandler(app *kstreams.App, srv *query.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			holders map[string][]string
			err     error
		)
		switch scope := r.URL.Query().Get("scope"); scope {
		case "local":
			holders, err = Shareholders(app)
		case "", "all":
			// Before its first assignment, and during a rebalance, the
			// instance knows no host (or stale ones) of the store.
			if st := app.State(); st != kstreams.Running {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "instance is " + st.String() + "; retry"})
				return
			}
			holders, err = AllShareholders(r.Context(), srv)
		default:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("scope %q: want all or local", scope)})
			return
		}
		var apiErr *query.APIError
		switch {
		case errors.Is(err, kstreams.ErrStoreNotAvailable), errors.As(err, &apiErr) && apiErr.Retriable:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, holders)
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, fmt.Appendf(nil, `{"error":%q}`, err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// newMux routes the instance's endpoints.
func newMux(app *kstreams.App, srv *query.Server) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /shareholders", shareholdersHandler(app, srv))
	return mux
}
