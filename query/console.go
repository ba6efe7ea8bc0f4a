package query

import (
	"net/http"
	"slices"
	"strings"
)

// The console of kstreams.OpsServer browses the stores through the query
// server: NewServer gives the App its handler, which the operations server
// mounts under /kstreams/query/, so that the console reads any key of any
// served store, on any instance, with the routing above. The requests
// reach the query server's handler as they came: with a BearerToken, a
// request without the token is refused there as on the query server's
// own address (the console's store browser then answers 401 for the
// served stores).

// StoreInfo names a store the server serves and its kind ("key-value",
// "window" or "session").
type StoreInfo struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// listStores answers GET /v1/stores: the stores served, by name.
func (s *Server) listStores(w http.ResponseWriter, _ *http.Request) {
	s.storesMu.RLock()
	out := make([]StoreInfo, 0, len(s.stores))
	for name, h := range s.stores {
		out = append(out, StoreInfo{Name: name, Kind: h.kind()})
	}
	s.storesMu.RUnlock()
	slices.SortFunc(out, func(a, b StoreInfo) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

// consoleHandler is the server's handler as the operations server mounts
// it: the same checks as on the query server's address, bearer token
// included.
func (s *Server) consoleHandler() http.Handler { return s.mux }
