package kstreams_test

import (
	"strings"
	"testing"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/serde"
)

func TestMetricsRecordingLevel(t *testing.T) {
	b := kstreams.NewBuilder()
	kstreams.StreamFrom(b, "in", kstreams.ConsumedWith(serde.String(), serde.String())).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		level   kstreams.MetricsLevel
		wantErr string
	}{
		{level: kstreams.MetricsInfo},
		{level: kstreams.MetricsDebug},
		{level: kstreams.MetricsLevel(7), wantErr: "MetricsRecordingLevel(MetricsLevel(7))"},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			app, err := kstreams.New(topo, kstreams.ApplicationID("m"), kstreams.Brokers("127.0.0.1:1"),
				kstreams.MetricsRecordingLevel(tt.level))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New: %v, want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := app.Metrics()
			if m.Level != tt.level || m.State != kstreams.Created || len(m.Threads) != 0 || m.Processed != 0 {
				t.Errorf("Metrics before Run: %+v", m)
			}
		})
	}
}
