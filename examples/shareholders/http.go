package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/kstreams-go/kstreams"
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

// shareholdersHandler serves GET /shareholders: the JSON object
// [Shareholders] returns, 503 while the instance holds no partition of the
// store, 500 on other errors; errors as {"error": "..."}.
func shareholdersHandler(app *kstreams.App) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		holders, err := Shareholders(app)
		switch {
		case errors.Is(err, kstreams.ErrStoreNotAvailable):
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
func newMux(app *kstreams.App) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /shareholders", shareholdersHandler(app))
	return mux
}
