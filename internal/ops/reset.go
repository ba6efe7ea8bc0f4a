package ops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kstreams-go/kstreams/state"
	"github.com/twmb/franz-go/pkg/kadm"
)

// ErrGroupActive is returned by Reset while the application's group has
// members: the instances must be stopped first (use errors.Is).
var ErrGroupActive = errors.New("kstreams: the application's consumer group has active members; stop every instance first")

// ResetMode says where Reset moves the input offsets.
type ResetMode int

// The reset modes, as the Java reset tool's --to-earliest (the default),
// --to-latest, --to-datetime and --shift-by.
const (
	ToEarliest ResetMode = iota
	ToLatest
	ToDateTime
	ShiftBy
)

// ResetSpec says what Reset does.
type ResetSpec struct {
	// AppID is the application id: the group and the internal topics' prefix.
	AppID string
	// InputTopics get their offsets moved as Mode says.
	InputTopics []string
	// IntermediateTopics (user topics written and read by the app) are
	// moved to their end, as the Java tool's --intermediate-topics.
	IntermediateTopics []string
	Mode               ResetMode
	// Millis is the time of ToDateTime (Unix milliseconds).
	Millis int64
	// Shift is the number of offsets of ShiftBy (negative moves back),
	// applied to the committed offset (the start offset without a commit)
	// and clamped to the partition's start and end.
	Shift int64
	// DryRun computes and returns the plan without changing anything.
	DryRun bool
}

// OffsetChange is one partition whose committed offset Reset moves.
type OffsetChange struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	From      int64  `json:"from"` // -1: no commit
	To        int64  `json:"to"`
}

// ResetPlan is what Reset did (or, with DryRun, would do).
type ResetPlan struct {
	Offsets []OffsetChange `json:"offsets"`
	// DeleteTopics are the internal topics (repartition and changelog)
	// deleted, with the group's commits on them.
	DeleteTopics []string `json:"delete_topics"`
}

// IsInternalTopic reports whether topic is one of application appID's
// internal topics, as Kafka Streams' reset tool decides it.
func IsInternalTopic(appID, topic string) bool {
	return strings.HasPrefix(topic, appID+"-") &&
		(strings.HasSuffix(topic, "-repartition") || strings.HasSuffix(topic, "-changelog"))
}

// Reset resets an application as Kafka Streams' application-reset tool
// does: it refuses while the group has members, commits new offsets for the
// input and intermediate topics, and deletes the internal topics. Local
// state is CleanLocalState's business.
func Reset(ctx context.Context, adm *kadm.Client, spec ResetSpec) (*ResetPlan, error) {
	groups, err := adm.DescribeGroups(ctx, spec.AppID)
	if err != nil {
		return nil, fmt.Errorf("kstreams: reset %q: describing the group: %w", spec.AppID, err)
	}
	if g, ok := groups[spec.AppID]; ok && len(g.Members) > 0 {
		return nil, fmt.Errorf("%w (group %q: %d members, state %s)", ErrGroupActive, spec.AppID, len(g.Members), g.State)
	}
	plan := &ResetPlan{}
	if plan.DeleteTopics, err = internalTopics(ctx, adm, spec.AppID); err != nil {
		return nil, err
	}
	committed, err := adm.FetchOffsets(ctx, spec.AppID)
	if err != nil {
		return nil, fmt.Errorf("kstreams: reset %q: fetching committed offsets: %w", spec.AppID, err)
	}
	if err := planOffsets(ctx, adm, spec, committed, plan); err != nil {
		return nil, err
	}
	if spec.DryRun {
		return plan, nil
	}
	return plan, apply(ctx, adm, spec.AppID, committed, plan)
}

func internalTopics(ctx context.Context, adm *kadm.Client, appID string) ([]string, error) {
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("kstreams: reset %q: listing topics: %w", appID, err)
	}
	var out []string
	for _, t := range topics.Names() {
		if IsInternalTopic(appID, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out, nil
}

// planOffsets fills plan.Offsets for every partition of the input and
// intermediate topics.
func planOffsets(ctx context.Context, adm *kadm.Client, spec ResetSpec, committed kadm.OffsetResponses, plan *ResetPlan) error {
	all := append(slices.Clone(spec.InputTopics), spec.IntermediateTopics...)
	if len(all) == 0 {
		return nil
	}
	starts, err := adm.ListStartOffsets(ctx, all...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("kstreams: reset %q: start offsets: %w", spec.AppID, err)
	}
	ends, err := adm.ListEndOffsets(ctx, all...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("kstreams: reset %q: end offsets: %w", spec.AppID, err)
	}
	var atTime kadm.ListedOffsets
	if spec.Mode == ToDateTime && len(spec.InputTopics) > 0 {
		if atTime, err = adm.ListOffsetsAfterMilli(ctx, spec.Millis, spec.InputTopics...); err == nil {
			err = atTime.Error()
		}
		if err != nil {
			return fmt.Errorf("kstreams: reset %q: offsets at %d: %w", spec.AppID, spec.Millis, err)
		}
	}
	for _, topic := range all {
		intermediate := !slices.Contains(spec.InputTopics, topic)
		ps, ok := starts[topic]
		if !ok {
			return fmt.Errorf("kstreams: reset %q: topic %q does not exist", spec.AppID, topic)
		}
		for _, p := range sortedPartitions(ps) {
			start, end := ps[p].Offset, ends[topic][p].Offset
			from := int64(-1)
			if c, ok := committed.Lookup(topic, p); ok && c.Err == nil {
				from = c.At
			}
			to := end
			if !intermediate {
				to = target(spec, start, end, from, atTime, topic, p)
			}
			plan.Offsets = append(plan.Offsets, OffsetChange{Topic: topic, Partition: p, From: from, To: to})
		}
	}
	return nil
}

func target(spec ResetSpec, start, end, from int64, atTime kadm.ListedOffsets, topic string, p int32) int64 {
	switch spec.Mode {
	case ToLatest:
		return end
	case ToDateTime:
		if o, ok := atTime.Lookup(topic, p); ok && o.Offset >= 0 {
			return o.Offset
		}
		return end
	case ShiftBy:
		base := from
		if base < 0 {
			base = start
		}
		return min(max(base+spec.Shift, start), end)
	}
	return start
}

func sortedPartitions(m map[int32]kadm.ListedOffset) []int32 {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// apply commits the new offsets, removes the group's commits on the
// internal topics and deletes them.
func apply(ctx context.Context, adm *kadm.Client, group string, committed kadm.OffsetResponses, plan *ResetPlan) error {
	if len(plan.Offsets) > 0 {
		var os kadm.Offsets
		for _, c := range plan.Offsets {
			os.Add(kadm.Offset{Topic: c.Topic, Partition: c.Partition, At: c.To, LeaderEpoch: -1})
		}
		resp, err := adm.CommitOffsets(ctx, group, os)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("kstreams: reset %q: committing offsets: %w", group, err)
		}
	}
	if len(plan.DeleteTopics) == 0 {
		return nil
	}
	set := kadm.TopicsSet{}
	for _, t := range plan.DeleteTopics {
		for p := range committed[t] {
			set.Add(t, p)
		}
	}
	if len(set) > 0 {
		resp, err := adm.DeleteOffsets(ctx, group, set)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("kstreams: reset %q: deleting commits of internal topics: %w", group, err)
		}
	}
	resp, err := adm.DeleteTopics(ctx, plan.DeleteTopics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("kstreams: reset %q: deleting internal topics: %w", group, err)
	}
	return nil
}

// CleanLocalState deletes the local state of application appID under
// stateDir (the directory given to kstreams.StateDir), as Kafka Streams'
// KafkaStreams.cleanUp does. It refuses while an instance holds the
// directory's lock. It returns the directory removed ("" if none existed).
func CleanLocalState(stateDir, appID string) (string, error) {
	dir := filepath.Join(stateDir, appID)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	l, err := state.LockDir(dir)
	if err != nil {
		return "", fmt.Errorf("kstreams: cleaning the local state of %q: %w", appID, err)
	}
	defer func() { _ = l.Unlock() }()
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("kstreams: cleaning the local state of %q: %w", appID, err)
	}
	return dir, nil
}
