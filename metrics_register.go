package kstreams

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics adds an application's own Prometheus collectors (its
// counters of business events, its sink's latency) to the App's registry,
// so that GET /metrics of [App.OpsHandler] and [OpsServer] serves them
// beside the kstreams metrics, and GET /kstreams/appmetrics (the web
// console's "Application metrics" panel) serves them alone. Register them
// before Run; a name already registered is an error.
func (a *App) RegisterMetrics(cs ...prometheus.Collector) error {
	reg, err := a.registry()
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("kstreams: RegisterMetrics: %w", err)
		}
		if err := a.registerAppMetrics(c); err != nil {
			return fmt.Errorf("kstreams: RegisterMetrics: %w", err)
		}
	}
	return nil
}
