package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Exactly-once runs (-guarantee exactly_once_v2 or both).

// Goals of exactly-once (issue 13).
const (
	// goalEOSvsALOS is exactly-once throughput over at-least-once, the
	// same workload and implementation, at a 100ms commit interval.
	goalEOSvsALOS = 0.7
	// goalEOSGoVsJava is kstreams over Kafka Streams, both exactly-once.
	goalEOSGoVsJava = 1.5
)

// printGuaranteeRatios prints, for every workload and implementation
// measured under both guarantees, exactly-once throughput over
// at-least-once, then kstreams over Kafka Streams under exactly-once,
// with the goals.
func printGuaranteeRatios(w io.Writer, alos, eos []Summary) {
	rows := [][]string{{"workload", "impl", "ALOS rec/s", "EOS rec/s", "EOS/ALOS", "goal"}}
	for _, e := range eos {
		if e.Workload.Impl != implGo && e.Workload.Impl != implJava {
			continue // the ceiling is at-least-once under both
		}
		a, ok := find(alos, e.Workload.Key())
		if !ok {
			continue
		}
		r := e.Median.Rate() / a.Median.Rate()
		rows = append(rows, []string{e.Workload.Name, e.Workload.Impl, thousands(a.Median.Rate()), thousands(e.Median.Rate()),
			fmt.Sprintf("%.2f", r), verdict(r >= goalEOSvsALOS, ">=", goalEOSvsALOS)})
	}
	fmt.Fprintln(w, "exactly-once vs at-least-once:")
	writeColumns(w, rows, 2)
	fmt.Fprintln(w)
	rows = [][]string{{"workload", "Go EOS rec/s", "Java EOS rec/s", "Go/Java", "goal"}}
	for _, c := range comparisons(eos) {
		r := c.goW.Median.Rate() / c.jvW.Median.Rate()
		rows = append(rows, []string{c.name, thousands(c.goW.Median.Rate()), thousands(c.jvW.Median.Rate()),
			fmt.Sprintf("%.2f", r), verdict(r >= goalEOSGoVsJava, ">=", goalEOSGoVsJava)})
	}
	if len(rows) > 1 {
		fmt.Fprintln(w, "exactly-once, Go vs Java:")
		writeColumns(w, rows, 2)
	}
}

func verdict(met bool, op string, goal float64) string {
	v := "met"
	if !met {
		v = "NOT met"
	}
	return fmt.Sprintf("%s %.2f: %s", op, goal, v)
}

// eosCaughtUp reports whether an exactly-once application has processed
// everything: its group committed the end of the input (written without
// transactions) and of every internal topic it reads, which its own
// transactions wrote, each ending with a commit marker that the committed
// offset stops before. Under exactly-once the output's end offsets count
// transaction markers too, so they cannot tell when every record is there;
// a committed input offset means its outputs are committed with it.
func (env *Env) eosCaughtUp(ctx context.Context, spec RunSpec) (bool, error) {
	com, err := env.Admin.FetchOffsets(ctx, spec.AppID)
	if err != nil {
		return false, err
	}
	topics := []string{spec.Input}
	for t := range com {
		if strings.HasPrefix(t, spec.AppID+"-") {
			topics = append(topics, t)
		}
	}
	ends, err := env.Admin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return false, err
	}
	done := true
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset == 0 {
			done = done && o.Err == nil
			return
		}
		c, ok := com.Lookup(o.Topic, o.Partition)
		want := o.Offset
		if o.Topic != spec.Input {
			want-- // the last commit marker
		}
		if !ok || c.Err != nil || c.At < want {
			done = false
		}
	})
	return done, nil
}
