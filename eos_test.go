package kstreams

import (
	"testing"
	"time"
)

func TestExactlyOnceConfig(t *testing.T) {
	tests := []struct {
		name     string
		opts     []Option
		eos      bool
		interval time.Duration
	}{
		{"at-least-once default", nil, false, 30 * time.Second},
		{"exactly-once default", []Option{ProcessingGuarantee(ExactlyOnce)}, true, 100 * time.Millisecond},
		{"exactly-once with an interval", []Option{ProcessingGuarantee(ExactlyOnce), CommitInterval(time.Second)}, true, time.Second},
		{"interval before the guarantee", []Option{CommitInterval(2 * time.Second), ProcessingGuarantee(ExactlyOnce)}, true, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c config
			c.defaults()
			c.appID, c.brokers = "app", []string{"127.0.0.1:1"}
			for _, o := range tc.opts {
				o.apply(&c)
			}
			if errs := c.validate(); len(errs) > 0 {
				t.Fatalf("validate: %v", errs)
			}
			rc := c.runtime()
			if rc.ExactlyOnce != tc.eos || rc.CommitInterval != tc.interval {
				t.Errorf("exactly-once %v, commit interval %v; want %v, %v", rc.ExactlyOnce, rc.CommitInterval, tc.eos, tc.interval)
			}
		})
	}
}
