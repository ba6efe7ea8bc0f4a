// Package link lets kstreamstest reach the plan inside a kstreams.Topology
// without exporting it: package kstreams sets PlanOf in its init.
package link

import (
	"net/http"

	"github.com/kstreams-go/kstreams/internal/runtime"
)

// PlanOf returns the validated plan of a *kstreams.Topology.
var PlanOf func(topology any) (*runtime.Plan, error)

// EngineOf returns the engine of a *kstreams.App, for the query package.
var EngineOf func(app any) *runtime.Engine

// ExtractorOf adapts a kstreams.TimestampExtractor to the runtime.
var ExtractorOf func(fn any) runtime.Extractor

// SetQueryHandler gives a *kstreams.App the handler of its query server,
// which the operations server mounts under /kstreams/query/ for the
// console's store browser; the query package calls it in NewServer.
var SetQueryHandler func(app any, h http.Handler)
