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

func summarize(ws []*Workload, ms []Measurement, records int64) []Summary {
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
			Min: runs[len(runs)-1].Rate(records), Max: runs[0].Rate(records),
		})
	}
	return out
}

// ratio returns s's rate over its ceiling's, if both were measured.
func ratio(s Summary, all []Summary, records int64) (float64, bool) {
	if s.Workload.Ceiling == "" {
		return 0, false
	}
	for _, c := range all {
		if c.Workload.Key() == s.Workload.Ceiling {
			return s.Median.Rate(records) / c.Median.Rate(records), true
		}
	}
	return 0, false
}

// printTable writes one row per workload, then one line per goal.
func printTable(w io.Writer, sums []Summary, records int64, repeat int) {
	head := []string{"workload", "impl", "records/s", "MiB/s", "time", "first out", "CPU", "peak RSS", "vs ceiling"}
	if repeat > 1 {
		head = slices.Insert(head, 3, "min-max records/s")
	}
	rows := [][]string{head}
	for _, s := range sums {
		rows = append(rows, summaryRow(s, sums, records, repeat))
	}
	writeColumns(w, rows, 2)
	for _, s := range sums {
		if s.Workload.Goal == 0 {
			continue
		}
		r, ok := ratio(s, sums, records)
		if !ok {
			continue
		}
		verdict := "met"
		if r < s.Workload.Goal {
			verdict = "NOT met"
		}
		fmt.Fprintf(w, "%s / %s = %.2f (goal >= %.2f: %s)\n", s.Workload.Key(), s.Workload.Ceiling, r, s.Workload.Goal, verdict)
	}
}

func summaryRow(s Summary, sums []Summary, records int64, repeat int) []string {
	m := s.Median
	rate := m.Rate(records)
	vs := "ceiling"
	if r, ok := ratio(s, sums, records); ok {
		vs = fmt.Sprintf("%.2f", r)
	} else if s.Workload.Ceiling != "" {
		vs = "-"
	}
	row := []string{
		s.Workload.Name, s.Workload.Impl, thousands(rate),
		fmt.Sprintf("%.1f", rate*valueSize/(1<<20)),
		seconds(m.Elapsed), seconds(m.FirstOutput),
		fmt.Sprintf("%.1fs", m.App.CPUSeconds), mib(m.App.PeakRSS), vs,
	}
	if repeat > 1 {
		row = slices.Insert(row, 3, thousands(s.Min)+"-"+thousands(s.Max))
	}
	return row
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
