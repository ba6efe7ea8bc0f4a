package runtime

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/kstreams-go/kstreams/processor"
)

type schedule struct {
	node      string
	typ       processor.PunctuationType
	interval  int64
	next      int64
	fn        processor.Punctuator
	cancelled bool
}

func (s *schedule) Cancel() { s.cancelled = true }

// schedule registers a punctuator. Stream-time schedules are aligned to
// multiples of the interval from zero and fire with the first record;
// wall-clock schedules first fire one interval from now, as in Kafka Streams.
func (t *Task) schedule(node string, interval time.Duration, typ processor.PunctuationType, fn processor.Punctuator) processor.Cancellable {
	s := &schedule{node: node, typ: typ, interval: interval.Milliseconds(), fn: fn}
	if s.interval < 1 {
		t.fail(node, fmt.Errorf("punctuation interval %v is below 1ms", interval))
		s.cancelled = true
		return s
	}
	if typ == processor.WallClockTime {
		s.next = t.cfg.Clock.NowMs() + s.interval
	}
	t.punct = append(t.punct, s)
	return s
}

// punctuate fires the schedules of typ that are due at now.
func (t *Task) punctuate(typ processor.PunctuationType, now int64) error {
	if t.err != nil {
		return t.err
	}
	if now < 0 {
		return nil
	}
	live := t.punct[:0]
	for _, s := range t.punct {
		if s.cancelled {
			continue
		}
		live = append(live, s)
	}
	clear(t.punct[len(live):])
	t.punct = live
	// As Kafka Streams' punctuation queue: the due schedules fire in
	// order of their due time (ties in the order they were scheduled).
	var due []*schedule
	for _, s := range t.punct {
		if s.typ == typ && now >= s.next {
			due = append(due, s)
		}
	}
	slices.SortStableFunc(due, func(a, b *schedule) int { return cmp.Compare(a.next, b.next) })
	for _, s := range due {
		if s.cancelled {
			continue
		}
		s.next = nextPunctuation(s.next, s.interval, now)
		t.cfg.Counters.Punctuations.Add(1)
		if err := s.fn(now); err != nil {
			t.fail(s.node, err)
		}
		if t.err != nil {
			return t.err
		}
	}
	return nil
}

// nextPunctuation returns the first time after now on the grid that starts
// at last with step interval; punctuations missed while idle are skipped.
func nextPunctuation(last, interval, now int64) int64 {
	next := last + interval
	if now >= next {
		next = now - (now-last)%interval + interval
	}
	return next
}
