package main

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSMTP is a minimal SMTP server for the tests when no real one is
// given: enough of RFC 5321 for net/smtp (EHLO/HELO, MAIL, RCPT, DATA,
// RSET, NOOP, QUIT). It stores each message in a maildir as a real server
// (aiosmtpd's Mailbox handler) does: written to tmp/, renamed into new/.
type fakeSMTP struct {
	ln      net.Listener
	dir     string
	seq     atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
	closing atomic.Bool
}

// startFakeSMTP starts a server on a free local port that writes to a new
// maildir, and stops it when the test ends.
func startFakeSMTP(t *testing.T) *fakeSMTP {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake SMTP server: %v", err)
	}
	s := &fakeSMTP{ln: ln, dir: dir, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *fakeSMTP) addr() string { return s.ln.Addr().String() }

func (s *fakeSMTP) close() {
	s.closing.Store(true)
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeSMTP) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// serve runs one SMTP session.
func (s *fakeSMTP) serve(c net.Conn) {
	r := bufio.NewReader(c)
	reply := func(line string) bool {
		_, err := io.WriteString(c, line+"\r\n")
		return err == nil
	}
	if !reply("220 fake-smtp ready") {
		return
	}
	var rcpts []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		var ok bool
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			ok = reply("250 fake-smtp")
		case strings.HasPrefix(cmd, "MAIL FROM:"), cmd == "RSET", cmd == "NOOP":
			rcpts = nil
			ok = reply("250 OK")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			rcpts = append(rcpts, strings.Trim(strings.TrimSpace(line)[len("RCPT TO:"):], "<> "))
			ok = reply("250 OK")
		case cmd == "DATA":
			ok = reply("354 end data with <CR><LF>.<CR><LF>") && s.data(r, rcpts, reply)
		case cmd == "QUIT":
			reply("221 bye")
			return
		default:
			ok = reply("502 command not implemented")
		}
		if !ok {
			return
		}
	}
}

// data reads a message up to the lone dot and stores it.
func (s *fakeSMTP) data(r *bufio.Reader, rcpts []string, reply func(string) bool) bool {
	var msg strings.Builder
	fmt.Fprintf(&msg, "X-RcptTo: %s\n", strings.Join(rcpts, ", "))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "." {
			break
		}
		msg.WriteString(strings.TrimPrefix(line, ".") + "\n")
	}
	name := fmt.Sprintf("%d.%d.fake", time.Now().UnixNano(), s.seq.Add(1))
	tmp := filepath.Join(s.dir, "tmp", name)
	if err := os.WriteFile(tmp, []byte(msg.String()), 0o644); err != nil {
		return reply("451 " + err.Error())
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "new", name)); err != nil {
		return reply("451 " + err.Error())
	}
	return reply("250 OK queued as " + name)
}

// receivedEmail is one email read back from a maildir, with the fields
// compose writes at the end of the body.
type receivedEmail struct {
	File      string
	To        string
	Subject   string
	Period    int64
	Positions []string
	App       string
	Instance  string
	Task      string
}

var (
	periodLine    = regexp.MustCompile(`(?m)^Period: (\d+) `)
	positionsLine = regexp.MustCompile(`(?m)^Positions: (.*)$`)
	sentByLine    = regexp.MustCompile(`(?m)^Sent-By: application=(\S+) instance=(\S+) task=(\S+)$`)
)

// parseEmail reads the message in raw.
func parseEmail(raw []byte) (receivedEmail, error) {
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return receivedEmail{}, err
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return receivedEmail{}, err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return receivedEmail{}, err
	}
	e := receivedEmail{To: msg.Header.Get("To"), Subject: subject}
	return e, e.parseBody(strings.ReplaceAll(string(body), "\r\n", "\n"))
}

func (e *receivedEmail) parseBody(body string) error {
	p := periodLine.FindStringSubmatch(body)
	ps := positionsLine.FindStringSubmatch(body)
	s := sentByLine.FindStringSubmatch(body)
	if p == nil || ps == nil || s == nil {
		return fmt.Errorf("no Period, Positions or Sent-By line in the body %q", body)
	}
	var err error
	e.Period, err = strconv.ParseInt(p[1], 10, 64)
	e.Positions = strings.Fields(ps[1])
	e.App, e.Instance, e.Task = s[1], s[2], s[3]
	return err
}

// readMaildir returns the emails of application app in the maildir dir
// (its new/ folder, where a delivered message appears atomically).
func readMaildir(t *testing.T, dir, app string) []receivedEmail {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil {
		t.Fatalf("maildir %s: %v", dir, err)
	}
	var out []receivedEmail
	for _, ent := range entries {
		path := filepath.Join(dir, "new", ent.Name())
		raw, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			continue // moved by a mail reader
		}
		if err != nil {
			t.Fatalf("maildir: %v", err)
		}
		if !strings.Contains(string(raw), "application="+app+" ") {
			continue // another test's or run's email
		}
		e, err := parseEmail(raw)
		if err != nil {
			t.Fatalf("maildir file %s: %v", path, err)
		}
		e.File = path
		out = append(out, e)
	}
	return out
}
