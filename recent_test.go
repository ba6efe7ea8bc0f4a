package kstreams

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRecentErrorsKeepsWarningsAndErrors(t *testing.T) {
	var out strings.Builder
	next := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError})
	recent := &recentErrors{}
	log := slog.New(&recentHandler{next: next, recent: recent}).With("application_id", "app")
	log.Info("not kept")
	log.WithGroup("g").Warn("kept", "k", "v")
	for i := range recentCap + 5 {
		log.Error(fmt.Sprintf("error %d", i), "task", "0_1")
	}
	got := recent.list()
	if len(got) != recentCap {
		t.Fatalf("kept %d, want %d", len(got), recentCap)
	}
	if got[0].Message != "error 5" || got[len(got)-1].Message != fmt.Sprintf("error %d", recentCap+4) {
		t.Errorf("oldest %q, newest %q: want the last %d in order", got[0].Message, got[len(got)-1].Message, recentCap)
	}
	if got[0].Attrs["application_id"] != "app" || got[0].Attrs["task"] != "0_1" || got[0].Level != "ERROR" {
		t.Errorf("attributes: %+v", got[0])
	}
	if strings.Contains(out.String(), "not kept") || strings.Contains(out.String(), "msg=kept") || !strings.Contains(out.String(), "error 0") {
		t.Errorf("the user's handler must see what its level allows, and only that:\n%s", out.String()[:200])
	}

	recent = &recentErrors{}
	slog.New(&recentHandler{next: next, recent: recent}).WithGroup("g").Warn("kept", "k", "v")
	if l := recent.list(); len(l) != 1 || l[0].Attrs["g.k"] != "v" || l[0].Level != "WARN" {
		t.Errorf("grouped warning: %+v", l)
	}
}
