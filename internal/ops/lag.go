// Package ops holds what the command-line tool (cmd/kstreams), the metrics
// and the console share: the lag of an application's group per task and
// partition, and the application reset.
package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kstreams-go/kstreams/internal/assign"
	"github.com/twmb/franz-go/pkg/kadm"
)

// PartitionLag is the lag of one input partition of an application.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Task is the id of the task reading the partition ("<sub-topology>_<partition>"),
	// or "" when no member has it (the group is empty or rebalancing).
	Task string `json:"task"`
	// Member and Host name the group member that runs the task.
	Member string `json:"member,omitempty"`
	Host   string `json:"host,omitempty"`
	// Committed is the group's committed offset, -1 when none.
	Committed int64 `json:"committed"`
	// End is the partition's end offset (high watermark).
	End int64 `json:"end"`
	// Lag is End minus Committed (End minus the start offset without a
	// commit), -1 when either is unknown.
	Lag int64 `json:"lag"`
	// Err is set when the offsets of the partition could not be read.
	Err string `json:"error,omitempty"`
}

// GroupLag is what Lag returns: the group's state and members, and the lag
// of every partition it reads or has committed.
type GroupLag struct {
	Group      string         `json:"group"`
	State      string         `json:"state"`
	Members    int            `json:"members"`
	Partitions []PartitionLag `json:"partitions"`
	// Instances are the group's members (one per stream thread) with the
	// tasks the kstreams assignment gave them.
	Instances []Member `json:"instances"`
}

// Member is one member of the group: a stream thread of an instance.
type Member struct {
	MemberID string   `json:"member_id"`
	ClientID string   `json:"client_id"`
	Host     string   `json:"host"`
	Active   []string `json:"active"`
	Standby  []string `json:"standby,omitempty"`
}

// Lag reads the lag of the consumer group of an application (its
// application id) with the admin client adm. Tasks come from the kstreams
// assignment of each member; subtopologyOf, when not nil, maps a source
// topic to its sub-topology so that a member running several tasks of one
// partition number is told apart (without it, all candidates are listed,
// joined by "|").
func Lag(ctx context.Context, adm *kadm.Client, group string, subtopologyOf map[string]int) (*GroupLag, error) {
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("kstreams: lag of group %q: %w", group, err)
	}
	dl, ok := lags[group]
	if !ok {
		return nil, fmt.Errorf("kstreams: lag of group %q: not in the answer", group)
	}
	if err := dl.Error(); err != nil {
		return nil, fmt.Errorf("kstreams: lag of group %q: %w", group, err)
	}
	out := &GroupLag{Group: group, State: dl.State, Members: len(dl.Members)}
	for i := range dl.Members {
		m := &dl.Members[i]
		mem := Member{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
		if a, ok := assignmentOf(m); ok {
			mem.Active, mem.Standby = taskIDs(a.Active), taskIDs(a.Standby)
		}
		out.Instances = append(out.Instances, mem)
	}
	for _, l := range dl.Lag.Sorted() {
		pl := PartitionLag{Topic: l.Topic, Partition: l.Partition, Committed: l.Commit.At, End: l.End.Offset, Lag: l.Lag}
		if l.Err != nil {
			pl.Err = l.Err.Error()
		}
		if l.Member != nil {
			pl.Member, pl.Host = l.Member.MemberID, l.Member.ClientHost
			pl.Task = taskOf(l.Member, l.Topic, l.Partition, subtopologyOf)
		}
		out.Partitions = append(out.Partitions, pl)
	}
	return out, nil
}

// taskOf finds the active task of member m that reads topic's partition p.
func taskOf(m *kadm.DescribedGroupMember, topic string, p int32, subtopologyOf map[string]int) string {
	a, ok := assignmentOf(m)
	if !ok {
		return ""
	}
	var ids []string
	for _, t := range a.Active {
		if t.Partition != p {
			continue
		}
		if s, ok := subtopologyOf[topic]; ok && s != t.Subtopology {
			continue
		}
		ids = append(ids, TaskID(t.Subtopology, t.Partition))
	}
	slices.Sort(ids)
	return strings.Join(ids, "|")
}

// assignmentOf decodes the kstreams assignment of member m.
func assignmentOf(m *kadm.DescribedGroupMember) (assign.Assignment, bool) {
	var a assign.Assignment
	ca, ok := m.Assigned.AsConsumer()
	if !ok || len(ca.UserData) == 0 {
		return a, false
	}
	return a, json.Unmarshal(ca.UserData, &a) == nil
}

func taskIDs(ts []assign.Task) []string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = TaskID(t.Subtopology, t.Partition)
	}
	slices.Sort(ids)
	return ids
}

// TaskID renders a task id as Kafka Streams does: "<sub-topology>_<partition>".
func TaskID(subtopology int, partition int32) string {
	return strconv.Itoa(subtopology) + "_" + strconv.Itoa(int(partition))
}
