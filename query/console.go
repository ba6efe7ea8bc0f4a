package query

import (
	"net/http"
	"slices"
	"strings"
)

// The console of kstreams.OpsServer browses the stores through the query
// server: NewServer gives the App its handler, which the operations server
// mounts under /kstreams/query/, so that the console reads any key of any
// served store, on any instance, with the routing above. The operations
// server has no token of its own: the console's requests carry the
// server's bearer token, as /kstreams/store reads the local stores
// without one. Protect the operations server as the query server.

// StoreInfo names a store the server serves and its kind ("key-value",
// "window" or "session").
type StoreInfo struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// listStores answers GET /v1/stores: the stores served, by name.
func (s *Server) listStores(w http.ResponseWriter, _ *http.Request) {
	out := make([]StoreInfo, 0, len(s.stores))
	for name, h := range s.stores {
		out = append(out, StoreInfo{Name: name, Kind: h.kind()})
	}
	slices.SortFunc(out, func(a, b StoreInfo) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

// consoleHandler is the server's handler as the operations server mounts
// it: requests carry the server's bearer token.
func (s *Server) consoleHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.token != "" {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+s.token)
		}
		s.mux.ServeHTTP(w, r)
	})
}
