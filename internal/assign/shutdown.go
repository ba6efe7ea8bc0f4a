package assign

import (
	"encoding/json"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// RequestShutdown makes the member ask, at its next join, that every
// member of the group shut down (Kafka Streams' SHUTDOWN_APPLICATION).
func (b *Balancer) RequestShutdown(req ShutdownRequest) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.self.Shutdown = &req
}

// shutdownRequested returns the first shutdown request among the members'
// subscriptions, or nil.
func shutdownRequested(members []Member) *ShutdownRequest {
	for _, m := range members {
		if m.Sub.Shutdown != nil {
			return m.Sub.Shutdown
		}
	}
	return nil
}

// shutdownAssignment answers every member with req and no partitions.
func shutdownAssignment(members []Member, req *ShutdownRequest) syncAssignment {
	out := make(syncAssignment, 0, len(members))
	for _, m := range members {
		ka := kmsg.NewConsumerMemberAssignment()
		ka.UserData, _ = json.Marshal(Assignment{Version: version, Shutdown: req})
		out = append(out, kmsg.SyncGroupRequestGroupAssignment{MemberID: m.ID, MemberAssignment: ka.AppendTo(nil)})
	}
	return out
}
