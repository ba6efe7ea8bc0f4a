package kstreams

import (
	"net/http"

	"github.com/kstreams-go/kstreams/internal/link"
)

func init() {
	link.SetQueryHandler = func(a any, h http.Handler) { a.(*App).setQueryHandler(h) }
}

// setQueryHandler keeps the handler of the App's query server (the last
// one made with query.NewServer), which GET /kstreams/query/ reaches.
func (a *App) setQueryHandler(h http.Handler) {
	a.ops.mu.Lock()
	defer a.ops.mu.Unlock()
	a.ops.queries = h
}

// serveQuery passes GET /kstreams/query/<path> to the App's query server
// as GET /<path>: the console's store browser reads any key, on any
// instance, through the query server's routing. Without a query server it
// answers 404 with the query API's error shape.
func (a *App) serveQuery(w http.ResponseWriter, r *http.Request) {
	a.ops.mu.Lock()
	h := a.ops.queries
	a.ops.mu.Unlock()
	if h == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"code":"no_query_server","message":"the application made no query server (query.NewServer)","retriable":false}` + "\n"))
		return
	}
	http.StripPrefix("/kstreams/query", h).ServeHTTP(w, r)
}
