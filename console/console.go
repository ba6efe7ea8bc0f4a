// Package console is the web console of a kstreams application: one page,
// embedded in the binary (no CDN, works offline), that reads the
// application's operations endpoints (kstreams.OpsServer) and shows the
// topology as a graph, the instance's state and threads, the lag per task
// and partition refreshing every second, the throughput and the process,
// commit and poll latencies over the last minutes, the restorations in
// progress, a store browser, and the recent errors and dead-lettered
// records.
//
// The store browser reads key-value stores (a key, or a paged range scan),
// window stores (a key's windows over a time range, or every key's windows
// over a time range, paged) and session stores (a key's sessions). When the
// application made a query server (query.NewServer), the browser reads the
// stores it serves through it, mounted under /kstreams/query/: any key from
// any instance, routed to the instance that owns it, and scans gathered
// from every instance. Without one it reads this instance's key-value
// stores (/kstreams/store).
//
// kstreams.OpsServer mounts it under /console/.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// Handler serves the console's files; mount it with its prefix stripped,
// e.g. http.StripPrefix("/console", console.Handler()). The page calls
// /kstreams/topology, /kstreams/lag, /kstreams/metrics.json,
// /kstreams/store, /kstreams/query/v1/stores/..., /kstreams/errors and
// /kstreams/deadletters on the same host.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil { // the embedded directory is fixed at build time
		return http.NotFoundHandler()
	}
	return http.FileServerFS(sub)
}
