package kstreams

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// recentCap is how many warnings and errors an App keeps for the console.
const recentCap = 100

// RecentError is a warning or error an App logged (a skipped or dropped
// record, a fetch error, a failed task): what [App.RecentErrors] returns.
type RecentError struct {
	Time    time.Time         `json:"time"`
	Level   string            `json:"level"`
	Message string            `json:"message"`
	Attrs   map[string]string `json:"attrs"`
}

// recentErrors keeps the last recentCap warnings and errors.
type recentErrors struct {
	mu   sync.Mutex
	buf  []RecentError
	next int
}

func (r *recentErrors) add(e RecentError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) < recentCap {
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.next] = e
	r.next = (r.next + 1) % recentCap
}

func (r *recentErrors) list() []RecentError {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RecentError, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// RecentErrors returns the last warnings and errors this App logged, oldest
// first, whatever the Logger's level.
func (a *App) RecentErrors() []RecentError { return a.recent.list() }

// recentHandler passes records to the user's handler and keeps those at
// Warn and above.
type recentHandler struct {
	next   slog.Handler
	recent *recentErrors
	attrs  []slog.Attr
	group  string
}

func (h *recentHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *recentHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		e := RecentError{Time: r.Time, Level: r.Level.String(), Message: r.Message, Attrs: map[string]string{}}
		for _, a := range h.attrs {
			e.Attrs[a.Key] = a.Value.String()
		}
		r.Attrs(func(a slog.Attr) bool {
			e.Attrs[h.group+a.Key] = a.Value.String()
			return true
		})
		h.recent.add(e)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *recentHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		a.Key = h.group + a.Key
		c.attrs = append(c.attrs, a)
	}
	return &c
}

func (h *recentHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.group = h.group + name + "."
	return &c
}

func (a *App) serveErrors(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, a.RecentErrors())
}
