package compat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// separator ends a case's input and starts its Java section.
const separator = "----"

// nullToken is a null key or value in a case file.
const nullToken = "<null>"

// step is one line of a case's input: a record to pipe, or a wall-clock
// advance when topic is "".
type step struct {
	line       int
	topic      string
	key, value string
	ts         int64
	advance    int64
}

// testCase is one parsed case file.
type testCase struct {
	file      string // base name
	topology  string
	wallclock int64
	diverges  string // the reason after "diverges:", or ""
	ttdDiffer string // the reason after "java-ttd-differs:", or ""
	steps     []step
	java      []string // the Java section, one record a line
}

// loadCases reads every case under dir, sorted by file name.
func loadCases(dir string) ([]*testCase, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var cases []*testCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		c, err := parseCase(filepath.Base(f), string(data))
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// parseCase parses a case file's text.
func parseCase(file, text string) (*testCase, error) {
	c := &testCase{file: file}
	inJava := false
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if inJava {
			if line != "" {
				c.java = append(c.java, strings.Join(strings.Fields(line), " "))
			}
			continue
		}
		if raw == separator {
			inJava = true
			continue
		}
		if err := c.parseLine(i+1, line); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, i+1, err)
		}
	}
	if c.topology == "" {
		return nil, fmt.Errorf("%s: no topology line", file)
	}
	return c, nil
}

func (c *testCase) parseLine(n int, line string) error {
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	if r, ok := strings.CutPrefix(line, "diverges:"); ok {
		c.diverges = strings.TrimSpace(r)
		return nil
	}
	if r, ok := strings.CutPrefix(line, "java-ttd-differs:"); ok {
		c.ttdDiffer = strings.TrimSpace(r)
		return nil
	}
	f := strings.Fields(line)
	var err error
	switch {
	case f[0] == "topology" && len(f) == 2:
		c.topology = f[1]
	case f[0] == "wallclock" && len(f) == 2:
		c.wallclock, err = strconv.ParseInt(f[1], 10, 64)
	case f[0] == "advance" && len(f) == 2:
		s := step{line: n}
		s.advance, err = strconv.ParseInt(f[1], 10, 64)
		c.steps = append(c.steps, s)
	case f[0] == "pipe" && len(f) == 5:
		s := step{line: n, topic: f[1], key: f[2], value: f[3]}
		s.ts, err = strconv.ParseInt(f[4], 10, 64)
		c.steps = append(c.steps, s)
	default:
		return fmt.Errorf("cannot parse %q (want topology, wallclock, pipe TOPIC KEY VALUE TS or advance MS)", line)
	}
	return err
}

// kind is the serde of a key or value in a case file: 'S' a string, 'L' a
// long (8 bytes, big-endian), as Java's StringSerde and LongSerde.
type kind byte

// encode turns a case-file token into the bytes piped.
func (k kind) encode(tok string) ([]byte, error) {
	switch {
	case tok == nullToken:
		return nil, nil
	case k == 'L':
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("long token %q: %w", tok, err)
		}
		return binary.BigEndian.AppendUint64(nil, uint64(n)), nil
	case tok == `""`:
		return []byte{}, nil
	default:
		return []byte(tok), nil
	}
}

// decode turns written bytes into a case-file token, as Runner.java does.
func (k kind) decode(b []byte) string {
	switch {
	case b == nil:
		return nullToken
	case k == 'L' && len(b) != 8:
		return fmt.Sprintf("<bad-long:%d-bytes>", len(b))
	case k == 'L':
		return strconv.FormatInt(int64(binary.BigEndian.Uint64(b)), 10)
	case len(b) == 0 || strings.IndexFunc(string(b), unicode.IsSpace) >= 0:
		return `"` + string(b) + `"`
	default:
		return string(b)
	}
}

// topicSpec is a topic a topology reads or writes, with the kinds of its key
// and value.
type topicSpec struct {
	name       string
	key, value kind
}

// parseTopics parses "in:S:S,other:S:L", the form both languages declare
// topics in.
func parseTopics(spec string) ([]topicSpec, error) {
	var out []topicSpec
	for _, t := range strings.Split(spec, ",") {
		f := strings.Split(t, ":")
		if len(f) != 3 || !validKind(f[1]) || !validKind(f[2]) {
			return nil, errors.New("compat: bad topic spec " + strconv.Quote(t))
		}
		out = append(out, topicSpec{name: f[0], key: kind(f[1][0]), value: kind(f[2][0])})
	}
	return out, nil
}

func validKind(s string) bool { return s == "S" || s == "L" }
