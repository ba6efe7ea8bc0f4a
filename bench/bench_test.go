package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the bench command as a worker
// process: the runner starts os.Executable() with -worker.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-worker" {
		os.Exit(workerMain())
	}
	os.Exit(m.Run())
}

// TestSmoke runs every workload once, on a few records, on the real broker
// named by KSTREAMS_TEST_BROKERS or else the embedded one: the command keeps
// working as the runtime changes.
func TestSmoke(t *testing.T) {
	args := []string{"-embedded"}
	if env := os.Getenv("KSTREAMS_TEST_BROKERS"); env != "" {
		args = []string{"-brokers", env}
	}
	f, err := parseFlags(append(args, "-records", "2000", "-restore-records", "3000", "-settle", "0", "-warmup", "0", "-timeout", "1m"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, f, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, w := range registry {
		if !strings.Contains(out.String(), "\n"+w.Name+" ") {
			t.Errorf("no row for %s in:\n%s", w.Key(), out.String())
		}
	}
	if !strings.Contains(out.String(), "filter-map/kstreams / copy/franz-go ") {
		t.Errorf("no ratio line in:\n%s", out.String())
	}
}

func TestSelectWorkloads(t *testing.T) {
	all := []string{"copy/franz-go", "source/kstreams", "passthrough/kstreams", "filter-map/kstreams",
		"count/kstreams", "get-put/kstreams", "table-reduce/kstreams", "windowed-count/kstreams", "session-count/kstreams",
		"stream-table-join/kstreams", "stream-stream-join/kstreams", "table-table-join/kstreams", "fk-join/kstreams",
		"restore/kstreams", "rebalance/kstreams"}
	tests := []struct {
		list    string
		want    []string
		wantErr bool
	}{
		{list: "all", want: all},
		{list: "", want: all},
		{list: "count,source", want: []string{"copy/franz-go", "source/kstreams", "count/kstreams"}},
		{list: "copy", want: []string{"copy/franz-go"}},
		// A workload brings its ceiling along, in table order.
		{list: "filter-map", want: []string{"copy/franz-go", "filter-map/kstreams"}},
		{list: " filter-map/kstreams ,copy", want: []string{"copy/franz-go", "filter-map/kstreams"}},
		{list: "nope", wantErr: true},
		{list: "copy/kstreams", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			ws, err := selectWorkloads(tt.list)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			var got []string
			for _, w := range ws {
				got = append(got, w.Key())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSummarizeMedian(t *testing.T) {
	w := &Workload{Name: "x", Impl: "y"}
	var ms []Measurement
	for _, s := range []int{4, 1, 3, 2} {
		ms = append(ms, Measurement{Workload: w, Records: 100, Elapsed: time.Duration(s) * time.Second})
	}
	sums := summarize([]*Workload{w}, ms)
	if len(sums) != 1 {
		t.Fatalf("got %d summaries, want 1", len(sums))
	}
	s := sums[0]
	// Four runs: the slower of the two middle ones.
	if s.Median.Elapsed != 3*time.Second || s.Runs != 4 || s.Max != 100 || s.Min != 25 {
		t.Errorf("got median %v, runs %d, min %v, max %v", s.Median.Elapsed, s.Runs, s.Min, s.Max)
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{thousands(0), "0"},
		{thousands(999.6), "1,000"},
		{thousands(1234567), "1,234,567"},
		{thousands(123456), "123,456"},
		{profilePath("cpu.pprof", "copy-franz-go-1"), "cpu-copy-franz-go-1.pprof"},
		{profilePath("/tmp/p/cpu", "filter-map-kstreams-warmup1"), "/tmp/p/cpu-filter-map-kstreams-warmup1.pprof"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// The Go/Java table and the goal lines compare the median runs of the two
// implementations of each workload.
func TestComparisonAndGoals(t *testing.T) {
	ceil := &Workload{Name: "copy", Impl: "franz-go"}
	goW := &Workload{Name: "filter-map", Impl: implGo, Ceiling: "copy/franz-go", Goal: 0.8}
	jvW := &Workload{Name: "filter-map", Impl: implJava, Ceiling: "copy/franz-go"}
	goR := &Workload{Name: "restore", Impl: implGo, Marker: true, VsJava: 2}
	jvR := &Workload{Name: "restore", Impl: implJava, Marker: true}
	run := func(w *Workload, secs float64, first time.Duration, rss int64) Measurement {
		return Measurement{Workload: w, Records: 1000, Elapsed: time.Duration(secs * float64(time.Second)),
			FirstOutput: first, App: AppResult{PeakRSS: rss << 20, CPUSeconds: secs}}
	}
	ms := []Measurement{
		run(ceil, 1, time.Second/10, 90),
		run(goW, 1.25, time.Second/10, 100), // 0.8 of the ceiling: met
		run(jvW, 2, 2*time.Second, 300),     // Go/Java 1.6: met; RSS 0.33: not met; first 0.05: met
		run(goR, 1, 0, 50),
		run(jvR, 1.5, 0, 400), // Go/Java 1.5 < 2: not met; RSS 0.125: met
	}
	var out strings.Builder
	printTable(&out, summarize([]*Workload{ceil, goW, jvW, goR, jvR}, ms), 1)
	for _, want := range []string{
		"filter-map/kstreams / copy/franz-go              0.80  (goal >= 0.80: met)",
		"filter-map: throughput Go / Java                 1.60  (goal >= 1.50: met)",
		"filter-map: peak RSS Go / Java                   0.33  (goal <= 0.25: NOT met)",
		"filter-map: first output Go / Java               0.05  (goal <= 0.10: met)",
		"restore: throughput Go / Java                    1.50  (goal >= 2.00: NOT met)",
		"restore: peak RSS Go / Java                      0.12  (goal <= 0.25: met)",
	} {
		flat := strings.Join(strings.Fields(out.String()), " ")
		if !strings.Contains(flat, strings.Join(strings.Fields(want), " ")) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "restore: first output") {
		t.Errorf("a marker workload has a first-output goal:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "CPU Go/Java") || !strings.Contains(out.String(), "800  ") {
		t.Errorf("no comparison table with the ceiling's rate in:\n%s", out.String())
	}
}
