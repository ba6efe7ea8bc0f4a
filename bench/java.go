package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"
)

// The Java Kafka Streams side: bench/java is a Maven project with one class,
// Bench, that runs the same workloads with Kafka Streams (the broker's
// version) and speaks the same worker protocol as the Go workers (RunSpec
// JSON on stdin, stop on stdin closing, one {"stats": ...} line on stdout),
// so the runner measures both the same way. Its rows have Impl
// "kafka-streams".
//
// They are registered only with -java, which builds bench/java once (mvn
// compile, which also writes the runtime classpath to
// target/classpath.txt) and reuses the build while pom.xml and the sources
// are unchanged. Without -java, or without java and mvn, nothing is
// registered and -list and -v say why: go test ./bench never needs Java.

// javaWorkloads are the workloads Bench.java implements, each the same
// topology as the Go workload of the same name.
var javaWorkloads = workloadOrder[1:]

// javaKafkaVersion is the kafka-streams version in java/pom.xml.
const javaKafkaVersion = "4.4.0"

// javaNote says why the Java workloads are not registered; "" once they are.
var javaNote = "kafka-streams (Java) workloads: not registered; add -java to build bench/java with mvn and run them"

// setupJava builds bench/java if needed and registers the Java workloads.
// When it cannot (no java or mvn, a failed build) it returns why, and the
// Go workloads run as before.
func setupJava(ctx context.Context, log io.Writer) error {
	dir, err := javaDir()
	if err == nil {
		err = buildJava(ctx, dir, log)
	}
	if err != nil {
		javaNote = "kafka-streams (Java) workloads: skipped: " + err.Error()
		return err
	}
	cp, err := javaClasspath(dir)
	if err != nil {
		javaNote = "kafka-streams (Java) workloads: skipped: " + err.Error()
		return err
	}
	for _, name := range javaWorkloads {
		gw := lookup(name + "/" + implGo)
		if gw == nil || lookup(name+"/"+implJava) != nil {
			continue // no Go counterpart to compare with, or registered already
		}
		// The same work, measured the same way: a copy of the Go workload
		// (ceiling, outputs, setup) with a JVM for a process.
		w := *gw
		w.Impl, w.Goal = implJava, 0
		w.About = "Kafka Streams " + javaKafkaVersion + " (bench/java; one stream thread, RocksDB stores): the topology of " + gw.Key()
		w.Start = func(ctx context.Context, spec RunSpec) (Running, error) {
			return startJava(ctx, cp, spec)
		}
		register(&w)
	}
	javaNote = ""
	return nil
}

// startJava runs Bench in a JVM of its own. BENCH_JAVA_OPTS adds JVM flags
// (e.g. -Xmx512m); by default the JVM's own defaults apply.
func startJava(ctx context.Context, cp string, spec RunSpec) (Running, error) {
	args := strings.Fields(os.Getenv("BENCH_JAVA_OPTS"))
	args = append(args, "-cp", cp, "Bench")
	return startProcess(exec.CommandContext(ctx, "java", args...), spec)
}

// javaDir finds bench/java: next to this source file (go run, go test), or
// under the working directory.
func javaDir() (string, error) {
	var dirs []string
	if _, file, _, ok := goruntime.Caller(0); ok {
		dirs = append(dirs, filepath.Join(filepath.Dir(file), "java"))
	}
	dirs = append(dirs, filepath.Join("bench", "java"), "java")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pom.xml")); err == nil {
			return filepath.Abs(d)
		}
	}
	return "", fmt.Errorf("bench/java/pom.xml not found (looked in %s)", strings.Join(dirs, ", "))
}

// buildJava runs mvn compile in dir unless target/ is newer than pom.xml and
// every source file.
func buildJava(ctx context.Context, dir string, log io.Writer) error {
	if _, err := exec.LookPath("java"); err != nil {
		return errors.New("java not found in PATH (Kafka Streams " + javaKafkaVersion + " needs Java 11+)")
	}
	if javaFresh(dir) {
		return nil
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		return errors.New("bench/java is not built and mvn is not in PATH")
	}
	fmt.Fprintf(log, "bench: building %s (mvn -q compile; once, reused while unchanged)\n", dir)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "mvn", "-q", "-B", "compile")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("mvn compile in %s: %w\n%s", dir, err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, javaStamp), nil, 0o644); err != nil {
		return fmt.Errorf("bench/java: %w", err)
	}
	if !javaFresh(dir) {
		return fmt.Errorf("mvn compile in %s did not produce target/classes/Bench.class and target/classpath.txt", dir)
	}
	fmt.Fprintf(log, "bench: built bench/java in %.1fs\n", time.Since(start).Seconds())
	return nil
}

// javaStamp is the file buildJava touches after a good build.
const javaStamp = "target/.bench-built"

// javaFresh reports whether the build outputs exist and the last good build
// is newer than pom.xml and every file under src. (mvn does not rewrite
// outputs that did not change, so their own times say nothing.)
func javaFresh(dir string) bool {
	for _, p := range []string{"target/classes/Bench.class", "target/classpath.txt"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	st, err := os.Stat(filepath.Join(dir, javaStamp))
	if err != nil {
		return false
	}
	built := st.ModTime()
	newer := false
	check := func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && !d.IsDir() && info.ModTime().After(built) {
			newer = true
		}
		return nil
	}
	if err := filepath.WalkDir(filepath.Join(dir, "src"), check); err != nil {
		return false
	}
	if st, err := os.Stat(filepath.Join(dir, "pom.xml")); err != nil || st.ModTime().After(built) {
		return false
	}
	return !newer
}

// javaClasspath is target/classes plus the runtime classpath mvn wrote.
func javaClasspath(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "target", "classpath.txt"))
	if err != nil {
		return "", fmt.Errorf("reading the classpath of bench/java: %w", err)
	}
	return filepath.Join(dir, "target", "classes") + string(os.PathListSeparator) + strings.TrimSpace(string(b)), nil
}
