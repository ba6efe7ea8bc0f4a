package kstreams

import (
	"fmt"
	"math"
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// AppMetric is one metric family an application registered with
// [App.RegisterMetrics], as GET /kstreams/appmetrics serves it (the web
// console's "Application metrics" panel reads it).
type AppMetric struct {
	Name    string      `json:"name"`
	Help    string      `json:"help"`
	Type    string      `json:"type"` // counter, gauge, histogram, summary, untyped
	Samples []AppSample `json:"samples"`
}

// AppSample is one labelled series of an [AppMetric]: Value for a counter,
// gauge or untyped metric; Count, Sum and Mean (Sum/Count, 0 when Count is
// 0) for a histogram or summary.
type AppSample struct {
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
	Count  uint64            `json:"count,omitempty"`
	Sum    float64           `json:"sum,omitempty"`
	Mean   float64           `json:"mean,omitempty"`
}

// AppMetrics returns the current values of the collectors registered with
// [App.RegisterMetrics] (not the kstreams metrics), sorted by name.
func (a *App) AppMetrics() ([]AppMetric, error) {
	a.ops.mu.Lock()
	reg := a.ops.appReg
	a.ops.mu.Unlock()
	if reg == nil {
		return []AppMetric{}, nil
	}
	fams, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("kstreams: application metrics: %w", err)
	}
	out := make([]AppMetric, 0, len(fams))
	for _, f := range fams {
		m := AppMetric{Name: f.GetName(), Help: f.GetHelp(), Type: metricType(f.GetType())}
		for _, s := range f.GetMetric() {
			m.Samples = append(m.Samples, appSample(s))
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func metricType(t dto.MetricType) string {
	switch t {
	case dto.MetricType_COUNTER:
		return "counter"
	case dto.MetricType_GAUGE:
		return "gauge"
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return "histogram"
	case dto.MetricType_SUMMARY:
		return "summary"
	default:
		return "untyped"
	}
}

func appSample(m *dto.Metric) AppSample {
	var s AppSample
	if len(m.GetLabel()) > 0 {
		s.Labels = map[string]string{}
		for _, l := range m.GetLabel() {
			s.Labels[l.GetName()] = l.GetValue()
		}
	}
	switch {
	case m.Counter != nil:
		s.Value = m.Counter.GetValue()
	case m.Gauge != nil:
		s.Value = m.Gauge.GetValue()
	case m.Untyped != nil:
		s.Value = m.Untyped.GetValue()
	case m.Histogram != nil:
		s.Count, s.Sum = m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
	case m.Summary != nil:
		s.Count, s.Sum = m.Summary.GetSampleCount(), m.Summary.GetSampleSum()
	}
	if s.Count > 0 {
		s.Mean = s.Sum / float64(s.Count)
	}
	for _, f := range []*float64{&s.Value, &s.Sum, &s.Mean} {
		if math.IsNaN(*f) || math.IsInf(*f, 0) { // JSON has neither
			*f = 0
		}
	}
	return s
}

// registerAppMetrics keeps the application's collectors in a registry of
// their own too, for GET /kstreams/appmetrics.
func (a *App) registerAppMetrics(c prometheus.Collector) error {
	a.ops.mu.Lock()
	defer a.ops.mu.Unlock()
	if a.ops.appReg == nil {
		a.ops.appReg = prometheus.NewRegistry()
	}
	return a.ops.appReg.Register(c)
}

func (a *App) serveAppMetrics(w http.ResponseWriter, _ *http.Request) {
	ms, err := a.AppMetrics()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, ms)
}
