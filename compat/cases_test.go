package compat

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseCase(t *testing.T) {
	c, err := parseCase("x.txt", strings.Join([]string{
		"# comment",
		"topology count",
		"wallclock 1000",
		"diverges: issue 8 item 1",
		"",
		"pipe in a <null> 5",
		"advance 20",
		"----",
		"out  a 1   5",
		"",
	}, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.topology != "count" || c.wallclock != 1000 || c.diverges != "issue 8 item 1" || c.ttdDiffer != "" {
		t.Errorf("header: got %+v", c)
	}
	want := []step{{line: 6, topic: "in", key: "a", value: nullToken, ts: 5}, {line: 7, advance: 20}}
	if len(c.steps) != 2 || c.steps[0] != want[0] || c.steps[1] != want[1] {
		t.Errorf("steps: got %+v, want %+v", c.steps, want)
	}
	if len(c.java) != 1 || c.java[0] != "out a 1 5" {
		t.Errorf("java section: got %q", c.java)
	}
}

func TestParseCaseErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"no topology", "pipe in a b 1\n----\n", "no topology line"},
		{"short pipe", "topology t\npipe in a 1\n", "x.txt:2: cannot parse"},
		{"bad timestamp", "topology t\npipe in a b 1x\n", "x.txt:2:"},
		{"unknown line", "topology t\nsleep 5\n", "cannot parse \"sleep 5\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCase("x.txt", tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		k     kind
		token string
		bytes []byte
	}{
		{'S', "abc", []byte("abc")},
		{'S', `""`, []byte{}},
		{'S', nullToken, nil},
		{'L', "1", []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{'L', "-2", []byte{255, 255, 255, 255, 255, 255, 255, 254}},
		{'L', nullToken, nil},
	} {
		b, err := tc.k.encode(tc.token)
		if err != nil || !bytes.Equal(b, tc.bytes) || (b == nil) != (tc.bytes == nil) {
			t.Errorf("%c.encode(%q) = %v, %v; want %v", tc.k, tc.token, b, err, tc.bytes)
		}
		if got := tc.k.decode(tc.bytes); got != tc.token {
			t.Errorf("%c.decode(%v) = %q, want %q", tc.k, tc.bytes, got, tc.token)
		}
	}
	if _, err := kind('L').encode("x"); err == nil {
		t.Error("L.encode(\"x\"): no error")
	}
	if got := kind('L').decode([]byte{1}); got != "<bad-long:1-bytes>" {
		t.Errorf("L.decode of 1 byte = %q", got)
	}
	if got := kind('S').decode([]byte("a b")); got != `"a b"` {
		t.Errorf("S.decode(\"a b\") = %q", got)
	}
}

func TestParseTopics(t *testing.T) {
	got, err := parseTopics("in:S:S,out:S:L")
	if err != nil || len(got) != 2 || got[1] != (topicSpec{name: "out", key: 'S', value: 'L'}) {
		t.Errorf("got %+v, %v", got, err)
	}
	for _, bad := range []string{"in:S", "in:S:X", "in:S:S,"} {
		if _, err := parseTopics(bad); err == nil {
			t.Errorf("parseTopics(%q): no error", bad)
		}
	}
}

func TestJudgeAndCompare(t *testing.T) {
	marked := &testCase{file: "m.txt", diverges: "issue 8 item 1", java: []string{"out a 1 5", "out a 2 7"}}
	plain := &testCase{file: "p.txt", java: marked.java}
	same := []string{"out a 1 5", "out a 2 7"}
	other := []string{"out a 1 5", "out a 2 6", "out2 b x 1"}
	for _, tc := range []struct {
		c    *testCase
		got  []string
		want outcome
	}{
		{plain, same, equalToJava},
		{plain, other, unmarkedDiff},
		{marked, other, markedDiff},
		{marked, same, staleMark},
	} {
		if got := judge(tc.c, compare(tc.c, tc.got)); got != tc.want {
			t.Errorf("%s with %q: got outcome %d, want %d", tc.c.file, tc.got, got, tc.want)
		}
	}
	diff := compare(plain, other)
	for _, want := range []string{
		`topic out: first difference at index 1: want "out a 2 7", got "out a 2 6"`,
		`topic out2: first difference at index 0: want "(nothing)", got "out2 b x 1"`,
	} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
}
