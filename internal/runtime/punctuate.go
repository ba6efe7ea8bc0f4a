package runtime

import (
	"fmt"
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

// punctQueues holds a task's schedules, one queue per punctuation type.
type punctQueues struct{ stream, wall punctQueue }

func (p *punctQueues) of(typ processor.PunctuationType) *punctQueue {
	if typ == processor.WallClockTime {
		return &p.wall
	}
	return &p.stream
}

// punctQueue is a binary min-heap of schedules by due time that moves
// entries exactly as java.util.PriorityQueue does, so that schedules due at
// the same time fire in the order Kafka Streams' punctuation queue fires
// them. Cancelled schedules stay until they come out, as there.
type punctQueue []*schedule

func (q *punctQueue) push(s *schedule) {
	h := append(*q, s)
	k := len(h) - 1
	for k > 0 {
		parent := (k - 1) / 2
		if s.next >= h[parent].next {
			break
		}
		h[k] = h[parent]
		k = parent
	}
	h[k] = s
	*q = h
}

func (q *punctQueue) pop() *schedule {
	h := *q
	top, n := h[0], len(h)-1
	x := h[n]
	h[n] = nil
	h = h[:n]
	if n > 0 {
		k := 0
		for k < n/2 {
			child := 2*k + 1
			if right := child + 1; right < n && h[child].next > h[right].next {
				child = right
			}
			if x.next <= h[child].next {
				break
			}
			h[k] = h[child]
			k = child
		}
		h[k] = x
	}
	*q = h
	return top
}

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
	t.punct.of(typ).push(s)
	return s
}

// punctuate fires the schedules of typ that are due at now, in order of
// their due time.
func (t *Task) punctuate(typ processor.PunctuationType, now int64) error {
	if t.err != nil {
		return t.err
	}
	if now < 0 {
		return nil
	}
	q := t.punct.of(typ)
	for len(*q) > 0 && (*q)[0].next <= now {
		s := q.pop()
		if s.cancelled {
			continue
		}
		t.cfg.Counters.Punctuations.Add(1)
		t.runPunctuator(s, now)
		if !s.cancelled {
			s.next = nextPunctuation(s.next, s.interval, now)
			q.push(s)
		}
		if t.err != nil {
			return t.err
		}
	}
	return nil
}

// runPunctuator calls s's punctuator; an error or a panic goes to the
// processing-error policy.
func (t *Task) runPunctuator(s *schedule, now int64) {
	defer t.recoverUser(s.node)
	if err := s.fn(now); err != nil {
		t.processingError(s.node, err)
	}
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
