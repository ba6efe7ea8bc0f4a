package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// Every application runs in a process of its own, started by the runner:
// its peak RSS and CPU time are its own, the runner's polling does not share
// its heap or scheduler, and a Java application fits the same mould.
//
// The protocol: the runner writes the RunSpec as one JSON line on the
// process's stdin and keeps stdin open; the application starts at once and
// runs until stdin is closed, then shuts down cleanly and writes one JSON
// workerReport line on stdout. Logs go to stderr.

// workerReport is the last line a worker prints on stdout.
type workerReport struct {
	Stats map[string]int64 `json:"stats"`
	Error string           `json:"error,omitempty"`
}

// workerFunc runs a Go workload's application until ctx is done and returns
// its counters.
type workerFunc func(ctx context.Context, spec RunSpec) (map[string]int64, error)

// workers are the Go applications, by workload key.
var workers = map[string]workerFunc{}

// registerGo registers w, run in a child process of this binary by run.
func registerGo(w *Workload, run workerFunc) {
	w.Start = startGoWorker
	workers[w.Key()] = run
	register(w)
}

func startGoWorker(ctx context.Context, spec RunSpec) (Running, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: finding this binary to start a worker: %w", err)
	}
	return startProcess(exec.CommandContext(ctx, exe, "-worker"), spec)
}

// process is an application in a child process.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error // of Wait, set before done is closed
}

// startProcess starts cmd and hands it spec on stdin.
func startProcess(cmd *exec.Cmd, spec RunSpec) (*process, error) {
	p := &process{name: spec.Workload, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("bench: %s: stdin: %w", p.name, err)
	}
	line, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: encoding the run spec: %w", p.name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: %s: starting %s: %w", p.name, cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		_ = cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("bench: %s: sending the run spec: %w%s", p.name, err, p.stderrTail())
	}
	return p, nil
}

func (p *process) Done() <-chan struct{} { return p.done }

// Stop closes stdin, waits for the process (killing it when ctx ends) and
// parses its report.
func (p *process) Stop(ctx context.Context) (AppResult, error) {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.done
		return AppResult{}, fmt.Errorf("bench: %s: did not stop in time; killed%s", p.name, p.stderrTail())
	}
	return p.result()
}

func (p *process) result() (AppResult, error) {
	var res AppResult
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.PeakRSS = ru.Maxrss * 1024 // kilobytes on Linux
		res.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	out := strings.TrimSpace(p.stdout.String())
	var rep workerReport
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return res, fmt.Errorf("bench: %s: no report (%v, exit: %v)%s", p.name, err, p.err, p.stderrTail())
	}
	res.Stats = rep.Stats
	if rep.Error != "" {
		return res, fmt.Errorf("bench: %s: %s%s", p.name, rep.Error, p.stderrTail())
	}
	if p.err != nil {
		return res, fmt.Errorf("bench: %s: %w%s", p.name, p.err, p.stderrTail())
	}
	return res, nil
}

func (p *process) stderrTail() string {
	s := strings.TrimSpace(p.stderr.String())
	if s == "" {
		return ""
	}
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return "\n--- stderr of " + p.name + " ---\n" + s
}

// workerMain is the child side: read the spec, run the workload until stdin
// closes, print the report. It returns the exit code.
func workerMain() int {
	in := bufio.NewReader(os.Stdin)
	rep := runWorker(in)
	line, _ := json.Marshal(rep)
	fmt.Println(string(line))
	if rep.Error != "" {
		return 1
	}
	return 0
}

func runWorker(in *bufio.Reader) workerReport {
	line, err := in.ReadBytes('\n')
	if err != nil {
		return workerReport{Error: fmt.Sprintf("reading the run spec: %v", err)}
	}
	var spec RunSpec
	if err := json.Unmarshal(line, &spec); err != nil {
		return workerReport{Error: fmt.Sprintf("decoding the run spec: %v", err)}
	}
	run := workers[spec.Workload]
	if run == nil {
		return workerReport{Error: fmt.Sprintf("no Go worker for workload %q", spec.Workload)}
	}
	if spec.CPUProfile != "" {
		stop, err := startCPUProfile(spec.CPUProfile)
		if err != nil {
			return workerReport{Error: err.Error()}
		}
		defer stop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, in) // returns when the runner closes stdin
		cancel()
	}()
	stats, err := run(ctx, spec)
	rep := workerReport{Stats: stats}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: writing the cpu profile:", err)
		}
	}, nil
}
