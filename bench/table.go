package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Summary is the reported figure of one workload over its repetitions: the
// median run by elapsed time (for an even count, the slower of the two
// middle runs), with the fastest and slowest rates beside it.
type Summary struct {
	Workload *Workload
	Median   Measurement
	Runs     int
	Min, Max float64 // records/s of the slowest and fastest run
}

func summarize(ws []*Workload, ms []Measurement) []Summary {
	var out []Summary
	for _, w := range ws {
		var runs []Measurement
		for _, m := range ms {
			if m.Workload == w {
				runs = append(runs, m)
			}
		}
		if len(runs) == 0 {
			continue
		}
		slices.SortFunc(runs, func(a, b Measurement) int { return int(a.Elapsed - b.Elapsed) })
		out = append(out, Summary{
			Workload: w, Median: runs[len(runs)/2], Runs: len(runs),
			Min: runs[len(runs)-1].Rate(), Max: runs[0].Rate(),
		})
	}
	return out
}

// find returns the summary of the workload with key, if measured.
func find(all []Summary, key string) (Summary, bool) {
	for _, s := range all {
		if s.Workload.Key() == key {
			return s, true
		}
	}
	return Summary{}, false
}

// ratio returns s's rate over its ceiling's, if both were measured.
func ratio(s Summary, all []Summary) (float64, bool) {
	if s.Workload.Ceiling == "" {
		return 0, false
	}
	c, ok := find(all, s.Workload.Ceiling)
	if !ok {
		return 0, false
	}
	return s.Median.Rate() / c.Median.Rate(), true
}

// The goals of issue 4, Go (kstreams) against Java (kafka-streams), from
// the same run.
const (
	goalVsJava     = 1.5  // throughput, every workload (restore: its VsJava)
	goalRSSVsJava  = 0.25 // peak RSS, at most
	goalFirstVsJav = 0.1  // time from process start to the first output, at most
)

// Implementations compared in the Go/Java table.
const (
	implGo   = "kstreams"
	implJava = "kafka-streams"
)

// printTable writes one row per workload and implementation, then, for the
// workloads with both a Go and a Java row, the comparison table, then one
// line per goal.
func printTable(w io.Writer, sums []Summary, repeat int) {
	head := []string{"workload", "impl", "records/s", "MiB/s", "time", "first out", "CPU", "peak RSS", "vs ceiling"}
	if repeat > 1 {
		head = slices.Insert(head, 3, "min-max records/s")
	}
	rows := [][]string{head}
	for _, s := range sums {
		rows = append(rows, summaryRow(s, sums, repeat))
	}
	writeColumns(w, rows, 2)
	if cmp := comparisons(sums); len(cmp) > 0 {
		fmt.Fprintln(w)
		printComparison(w, cmp, sums)
	}
	fmt.Fprintln(w)
	for _, g := range goals(sums) {
		fmt.Fprintln(w, g)
	}
}

func summaryRow(s Summary, sums []Summary, repeat int) []string {
	m := s.Median
	rate := m.Rate()
	vs := "-"
	if r, ok := ratio(s, sums); ok {
		vs = fmt.Sprintf("%.2f", r)
	} else if slices.ContainsFunc(sums, func(o Summary) bool { return o.Workload.Ceiling == s.Workload.Key() }) {
		vs = "ceiling"
	}
	mibs := "-"
	if s.Workload.Records == 0 {
		mibs = fmt.Sprintf("%.1f", rate*valueSize/(1<<20))
	}
	row := []string{
		s.Workload.Name, s.Workload.Impl, thousands(rate), mibs,
		seconds(m.Elapsed), firstOut(s),
		fmt.Sprintf("%.1fs", m.App.CPUSeconds), mib(m.App.PeakRSS), vs,
	}
	if repeat > 1 {
		row = slices.Insert(row, 3, thousands(s.Min)+"-"+thousands(s.Max))
	}
	return row
}

func firstOut(s Summary) string {
	if s.Workload.Marker {
		return "-"
	}
	return seconds(s.Median.FirstOutput)
}

// comparison is a workload measured in Go and in Java.
type comparison struct {
	name     string
	goW, jvW Summary
}

func comparisons(sums []Summary) []comparison {
	var out []comparison
	for _, s := range sums {
		if s.Workload.Impl != implGo {
			continue
		}
		if j, ok := find(sums, s.Workload.Name+"/"+implJava); ok {
			out = append(out, comparison{s.Workload.Name, s, j})
		}
	}
	return out
}

func printComparison(w io.Writer, cmp []comparison, sums []Summary) {
	rows := [][]string{{"workload", "Go rec/s", "Java rec/s", "ceiling rec/s", "Go/Java", "Go/ceiling",
		"CPU Go/Java", "Go RSS", "Java RSS", "RSS Go/Java", "Go first out", "Java first out", "first Go/Java"}}
	for _, c := range cmp {
		ceil, gc := "-", "-"
		if cs, ok := find(sums, c.goW.Workload.Ceiling); ok && c.goW.Workload.Ceiling != "" {
			ceil = thousands(cs.Median.Rate())
			gc = fmt.Sprintf("%.2f", c.goW.Median.Rate()/cs.Median.Rate())
		}
		first := "-"
		if !c.goW.Workload.Marker {
			first = fmt.Sprintf("%.2f", c.goW.Median.FirstOutput.Seconds()/c.jvW.Median.FirstOutput.Seconds())
		}
		rows = append(rows, []string{c.name,
			thousands(c.goW.Median.Rate()), thousands(c.jvW.Median.Rate()), ceil,
			fmt.Sprintf("%.2f", c.goW.Median.Rate()/c.jvW.Median.Rate()), gc,
			cpuRatio(c.goW.Median, c.jvW.Median),
			mib(c.goW.Median.App.PeakRSS), mib(c.jvW.Median.App.PeakRSS),
			fmt.Sprintf("%.2f", float64(c.goW.Median.App.PeakRSS)/float64(c.jvW.Median.App.PeakRSS)),
			firstOut(c.goW), firstOut(c.jvW), first,
		})
	}
	writeColumns(w, rows, 1)
}

// cpuRatio is Go's CPU time per record over Java's: how much less work Go
// does for the same records, whatever bounds the rate.
func cpuRatio(g, j Measurement) string {
	if g.App.CPUSeconds == 0 || j.App.CPUSeconds == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", (g.App.CPUSeconds/float64(g.Records))/(j.App.CPUSeconds/float64(j.Records)))
}

// goals returns one line per goal that this run measured.
func goals(sums []Summary) []string {
	var out []string
	line := func(what string, got float64, op string, goal float64) {
		met := got >= goal
		if op == "<=" {
			met = got <= goal
		}
		verdict := "met"
		if !met {
			verdict = "NOT met"
		}
		out = append(out, fmt.Sprintf("%-44s %6.2f  (goal %s %.2f: %s)", what, got, op, goal, verdict))
	}
	for _, s := range sums {
		if s.Workload.Goal == 0 {
			continue
		}
		if r, ok := ratio(s, sums); ok {
			line(s.Workload.Key()+" / "+s.Workload.Ceiling, r, ">=", s.Workload.Goal)
		}
	}
	for _, c := range comparisons(sums) {
		goal := c.goW.Workload.VsJava
		if goal == 0 {
			goal = goalVsJava
		}
		line(c.name+": throughput Go / Java", c.goW.Median.Rate()/c.jvW.Median.Rate(), ">=", goal)
		line(c.name+": peak RSS Go / Java", float64(c.goW.Median.App.PeakRSS)/float64(c.jvW.Median.App.PeakRSS), "<=", goalRSSVsJava)
		if !c.goW.Workload.Marker {
			line(c.name+": first output Go / Java", c.goW.Median.FirstOutput.Seconds()/c.jvW.Median.FirstOutput.Seconds(), "<=", goalFirstVsJav)
		}
	}
	return out
}

// writeColumns writes rows as a table: the first left columns aligned left,
// the others (numbers) right.
func writeColumns(w io.Writer, rows [][]string, left int) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len(c))
			if i < left {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func seconds(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

// thousands formats a rate as an integer with thousands separators.
func thousands(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
