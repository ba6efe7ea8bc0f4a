package main

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats are the pipeline's own counters, kept by its steps and its sink,
// printed in the live summary and exported (through
// kstreams.App.RegisterMetrics) on the App's GET /metrics as ecommerce_*.
// The kstreams metrics there add the consumer lag
// (kafka_streams_consumer_records_lag_max) and the throughput.
type Stats struct {
	Orders    atomic.Int64 // raw orders read by the encrypt step
	Invalid   atomic.Int64 // orders sent to order-errors
	DedupHits atomic.Int64 // copies dropped by the deduplication
	Routed    atomic.Int64 // product records routed
	Timeouts  atomic.Int64 // order-timeouts records

	Rows, Batches  atomic.Int64 // rows upserted into PostgreSQL, in batches
	SinkLag        atomic.Int64 // profile updates not yet in PostgreSQL
	latSumMs, latN atomic.Int64 // end-to-end latency: event time to the row's commit
	dbSumUs, dbN   atomic.Int64 // batch write latency

	mu      sync.Mutex
	reasons map[string]int64 // invalid orders by the field of their first reason

	errorsVec *prometheus.CounterVec
	latency   prometheus.Histogram
	dbWrite   prometheus.Histogram
}

// NewStats returns zeroed stats.
func NewStats() *Stats {
	return &Stats{
		reasons: map[string]int64{},
		errorsVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ecommerce_order_errors_total", Help: "Invalid orders sent to order-errors, by reason (the field at fault).",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ecommerce_end_to_end_latency_seconds", Help: "From an order's event time to its profile row committed in PostgreSQL.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		dbWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ecommerce_db_write_seconds", Help: "Time to upsert and commit one batch of profile rows.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
}

func (s *Stats) countErrors(reasons []string) {
	s.Invalid.Add(1)
	field, _, _ := strings.Cut(reasons[0], ":")
	s.errorsVec.WithLabelValues(field).Inc()
	s.mu.Lock()
	s.reasons[field]++
	s.mu.Unlock()
}

func (s *Stats) observeLatency(d time.Duration) {
	s.latSumMs.Add(d.Milliseconds())
	s.latN.Add(1)
	s.latency.Observe(d.Seconds())
}

func (s *Stats) observeWrite(d time.Duration, rows int) {
	s.dbSumUs.Add(d.Microseconds())
	s.dbN.Add(1)
	s.Batches.Add(1)
	s.Rows.Add(int64(rows))
	s.dbWrite.Observe(d.Seconds())
}

// ErrorRate is the share of raw orders that were invalid.
func (s *Stats) ErrorRate() float64 {
	n := s.Orders.Load()
	if n == 0 {
		return 0
	}
	return float64(s.Invalid.Load()) / float64(n)
}

// AvgLatency is the mean end-to-end latency so far.
func (s *Stats) AvgLatency() time.Duration {
	n := s.latN.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(s.latSumMs.Load()/n) * time.Millisecond
}

// AvgWrite is the mean batch write latency so far.
func (s *Stats) AvgWrite() time.Duration {
	n := s.dbN.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(s.dbSumUs.Load()/n) * time.Microsecond
}

// Collectors are the Prometheus collectors of the stats.
func (s *Stats) Collectors() []prometheus.Collector {
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{
		counter("ecommerce_orders_total", "Raw orders read by the encrypt step.", &s.Orders),
		counter("ecommerce_dedup_hits_total", "Order copies dropped by the deduplication.", &s.DedupHits),
		counter("ecommerce_products_routed_total", "Product records routed to products-<category>.", &s.Routed),
		counter("ecommerce_timeouts_total", "Orders timed out for want of a payment.", &s.Timeouts),
		counter("ecommerce_db_rows_total", "Profile rows upserted into PostgreSQL.", &s.Rows),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ecommerce_order_error_ratio", Help: "Invalid orders over raw orders."}, s.ErrorRate),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ecommerce_db_sink_lag", Help: "Records of user-profiles after the last one written to PostgreSQL, up to the high watermark (under exactly-once the commit marker ending each partition counts one)."},
			func() float64 { return float64(s.SinkLag.Load()) }),
		s.errorsVec, s.latency, s.dbWrite,
	}
}
