package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net"
	"net/smtp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mailer sends one plain-text email. Send may be called from several
// stream threads at once.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// LogMailer sends nothing: it writes each email to W, for demos and
// development. Safe for concurrent use.
type LogMailer struct {
	W  io.Writer
	mu sync.Mutex
}

// Send writes the email to m.W as one block of text.
func (m *LogMailer) Send(_ context.Context, to, subject, body string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "email to %s: %s\n", to, subject)
	for line := range strings.Lines(strings.TrimRight(body, "\n")) {
		b.WriteString("    | " + line)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := io.WriteString(m.W, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

// SMTPMailer sends each email over a new SMTP connection to Addr: plain
// SMTP, no TLS, no authentication (a local relay or a test server).
type SMTPMailer struct {
	// Addr is the server's host:port.
	Addr string
	// From is the envelope and header sender.
	From string
	// Timeout bounds one email, dial to QUIT, when ctx has no earlier
	// deadline. Default 30s.
	Timeout time.Duration

	seq atomic.Int64 // for Message-IDs
}

// Send delivers one email. An error names the SMTP step that failed.
func (m *SMTPMailer) Send(ctx context.Context, to, subject, body string) error {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := m.send(ctx, to, m.message(to, subject, body)); err != nil {
		return fmt.Errorf("smtp %s: email to %s: %w", m.Addr, to, err)
	}
	return nil
}

func (m *SMTPMailer) send(ctx context.Context, to string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	host, _, _ := net.SplitHostPort(m.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	steps := []struct {
		name string
		fn   func() error
	}{
		{"HELO", func() error { return c.Hello("localhost") }},
		{"MAIL FROM", func() error { return c.Mail(m.From) }},
		{"RCPT TO", func() error { return c.Rcpt(to) }},
		{"DATA", func() error { return writeData(c, msg) }},
		{"QUIT", c.Quit},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

func writeData(c *smtp.Client, msg []byte) error {
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// message renders the RFC 5322 message: headers, a blank line, the body.
// The SMTP client's data writer turns "\n" into "\r\n" and escapes dots.
func (m *SMTPMailer) message(to, subject, body string) []byte {
	var b bytes.Buffer
	now := time.Now()
	fmt.Fprintf(&b, "From: %s\n", m.From)
	fmt.Fprintf(&b, "To: %s\n", to)
	fmt.Fprintf(&b, "Subject: %s\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%d.%d@%s>\n", now.UnixNano(), m.seq.Add(1), domainOf(m.From))
	b.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\n") {
		b.WriteString("\n")
	}
	return b.Bytes()
}

func domainOf(addr string) string {
	if _, d, ok := strings.Cut(addr, "@"); ok {
		return d
	}
	return "localhost"
}
