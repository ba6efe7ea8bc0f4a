package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrMissingSourceTopics is returned when topics the topology reads do not
// exist (use errors.Is).
var ErrMissingSourceTopics = errors.New("kstreams: missing source topics")

// ErrInternalTopicMismatch is returned when an internal topic exists with a
// partition count other than the one the topology needs (use errors.Is).
var ErrInternalTopicMismatch = errors.New("kstreams: internal topic has the wrong partition count")

// ErrNotCopartitioned is returned by Run when topics that must have the
// same partition count, such as the inputs of a join, do not (use
// errors.Is).
var ErrNotCopartitioned = errors.New("kstreams: topics not co-partitioned")

// prepareTopics checks that the user's source topics exist and creates the
// internal topics (and dead-letter topics) that are missing.
func (e *Engine) prepareTopics(ctx context.Context) error {
	opts := []kgo.Opt{kgo.SeedBrokers(e.cfg.Brokers...), kgo.MetadataMinAge(50 * time.Millisecond)}
	cl, err := kgo.NewClient(append(opts, e.cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("kstreams: admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	existing, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("kstreams: listing topics: %w", err)
	}
	counts := map[string]int32{}
	for name, d := range existing {
		if d.Err == nil {
			counts[name] = int32(len(d.Partitions))
		}
	}
	if err := e.checkSources(counts); err != nil {
		return err
	}
	want, err := e.internalPartitions(counts)
	if err != nil {
		return err
	}
	if err := e.checkCopartitioned(counts, want); err != nil {
		return err
	}
	e.warnSplitState(counts, want)
	for _, name := range sortedNames(want) {
		if err := ensureTopic(ctx, adm, name, want[name], counts, e.internalConfigs(name)); err != nil {
			return err
		}
	}
	for _, p := range []Policy{e.cfg.OnBadRecord, e.cfg.OnProduceError, e.cfg.OnProcessingError.Policy} {
		if p.Kind == PolicyDeadLetter {
			if _, ok := counts[p.Topic]; !ok {
				if err := ensureTopic(ctx, adm, p.Topic, 1, counts, nil); err != nil {
					return err
				}
				counts[p.Topic] = 1
				want[p.Topic] = 1
			}
		}
	}
	return waitForTopics(ctx, adm, want)
}

// waitForTopics waits until the metadata shows every topic of want with
// its partitions, so that the group leader, which computes tasks from
// metadata, does not find a topic just created missing.
func waitForTopics(ctx context.Context, adm *kadm.Client, want map[string]int32) error {
	if len(want) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		md, err := adm.ListTopics(ctx, sortedNames(want)...)
		ready := err == nil
		for name, n := range want {
			d, ok := md[name]
			ready = ready && ok && d.Err == nil && int32(len(d.Partitions)) == n
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kstreams: waiting for internal topics %q to appear: %w", sortedNames(want), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (e *Engine) checkSources(counts map[string]int32) error {
	var missing []string
	for _, st := range e.plan.Subtopologies {
		for _, t := range st.Sources {
			if _, ok := counts[t.Name]; !t.Internal && !ok && !slices.Contains(missing, t.Name) {
				missing = append(missing, t.Name)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("%w: %q (create them before starting application %q)", ErrMissingSourceTopics, missing, e.cfg.AppID)
	}
	return nil
}

// internalPartitions decides each internal topic's partition count: the
// declared one, or the largest partition count among the source topics of
// the sub-topology that writes it (resolved repeatedly for chains of
// repartitions).
func (e *Engine) internalPartitions(counts map[string]int32) (map[string]int32, error) {
	known := map[Topic]int32{}
	want := map[string]int32{}
	for _, it := range e.plan.InternalTopics {
		if it.Partitions > 0 {
			known[Topic{Name: it.Name, Internal: true}] = it.Partitions
		}
	}
	// Internal topics that must be co-partitioned with user topics take
	// their count, as in Kafka Streams.
	for _, group := range e.plan.Copartitioned {
		n, ok := userCount(group, counts)
		for _, t := range group {
			if _, declared := known[t]; ok && t.Internal && !declared {
				known[t] = n
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, st := range e.plan.Subtopologies {
			n, ok := sourcePartitions(st, counts, known)
			if !ok {
				continue
			}
			for _, s := range st.Sinks {
				if _, done := known[s]; s.Internal && !done {
					known[s] = n
					changed = true
				}
			}
		}
	}
	for _, it := range e.plan.InternalTopics {
		t := Topic{Name: it.Name, Internal: true}
		n, ok := known[t]
		if !ok {
			return nil, fmt.Errorf("kstreams: cannot decide the partition count of internal topic %q", t.Resolve(e.cfg.AppID))
		}
		want[t.Resolve(e.cfg.AppID)] = n
	}
	for _, st := range e.plan.Subtopologies {
		n, _ := sourcePartitions(st, counts, known)
		for _, s := range st.Stores {
			if s.Logged {
				want[s.Changelog().Resolve(e.cfg.AppID)] = n
			}
		}
	}
	return want, nil
}

// userCount returns the largest partition count among the user (not
// internal) topics of group, and whether it has any that exist.
func userCount(group []Topic, counts map[string]int32) (int32, bool) {
	var n int32
	for _, t := range group {
		if c, ok := counts[t.Name]; ok && !t.Internal {
			n = max(n, c)
		}
	}
	return n, n > 0
}

// partitionCounts returns "name (n)" for each topic of ts, with the
// partition counts of user topics from counts and of internal topics
// (by resolved name) from internal, and whether the counts differ.
func (e *Engine) partitionCounts(ts []Topic, counts, internal map[string]int32) (string, bool) {
	var parts []string
	seen := map[int32]bool{}
	for _, t := range ts {
		name := t.Resolve(e.cfg.AppID)
		c, ok := counts[name]
		if t.Internal {
			c, ok = internal[name]
		}
		if !ok {
			continue
		}
		seen[c] = true
		parts = append(parts, fmt.Sprintf("%q (%d)", name, c))
	}
	return strings.Join(parts, ", "), len(seen) > 1
}

// checkCopartitioned fails when a group of topics that must be
// co-partitioned has different partition counts.
func (e *Engine) checkCopartitioned(counts, internal map[string]int32) error {
	for _, group := range e.plan.Copartitioned {
		if list, differ := e.partitionCounts(group, counts, internal); differ {
			return fmt.Errorf("%w: %s must have the same partition count; repartition one side (Repartitioned.Partitions) or recreate the topics", ErrNotCopartitioned, list)
		}
	}
	return nil
}

// warnSplitState warns about each sub-topology that keeps state and reads
// topics with different partition counts: legal, but the records of one
// key then reach different tasks, so its state is split between them.
func (e *Engine) warnSplitState(counts, internal map[string]int32) {
	for _, st := range e.plan.Subtopologies {
		if len(st.Stores) == 0 {
			continue
		}
		if list, differ := e.partitionCounts(st.Sources, counts, internal); differ {
			e.cfg.Logger.Warn("kstreams: a sub-topology with state stores reads topics with different partition counts, "+
				"so the records of one key may reach different tasks and its state be split; "+
				"repartition the inputs (Repartition with Repartitioned.Partitions) to one partition count before they meet",
				"subtopology", st.ID, "topics", list)
		}
	}
}

func sourcePartitions(st *Subtopology, counts map[string]int32, known map[Topic]int32) (int32, bool) {
	var n int32
	for _, t := range st.Sources {
		c, ok := counts[t.Name]
		if t.Internal {
			c, ok = known[t]
		}
		if !ok {
			return 0, false
		}
		n = max(n, c)
	}
	return n, n > 0
}

func (e *Engine) internalConfigs(resolved string) map[string]*string {
	for _, st := range e.plan.Subtopologies {
		for _, s := range st.Stores {
			if s.Changelog().Resolve(e.cfg.AppID) == resolved {
				out := map[string]*string{"cleanup.policy": ptr("compact")}
				for k, v := range s.ChangelogConfigs {
					out[k] = ptr(v)
				}
				return out
			}
		}
	}
	for _, it := range e.plan.InternalTopics {
		if (Topic{Name: it.Name, Internal: true}).Resolve(e.cfg.AppID) != resolved {
			continue
		}
		out := map[string]*string{}
		for k, v := range it.Configs {
			out[k] = &v
		}
		return out
	}
	return nil
}

func ensureTopic(ctx context.Context, adm *kadm.Client, name string, partitions int32, counts map[string]int32, configs map[string]*string) error {
	if have, ok := counts[name]; ok {
		if have != partitions {
			return fmt.Errorf("%w: %q has %d partitions, the topology needs %d", ErrInternalTopicMismatch, name, have, partitions)
		}
		return nil
	}
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("kstreams: creating topic %q: %w", name, err)
	}
	return nil
}

func sortedNames(m map[string]int32) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func ptr(s string) *string { return &s }
