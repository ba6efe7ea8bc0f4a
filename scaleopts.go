package kstreams

import (
	"fmt"
	"time"

	"github.com/kstreams-go/kstreams/internal/link"
	"github.com/kstreams-go/kstreams/internal/runtime"
)

func init() {
	link.EngineOf = func(a any) *runtime.Engine { return a.(*App).engine }
}

// ApplicationServer sets the address (host:port) where this instance
// answers interactive queries. It is sent to the group when the instance
// joins, and every instance learns from each assignment which address
// hosts which tasks, so that the query package can route a key to the
// instance that has it. The query package's server listens on it. Default:
// none. This corresponds to the Java application.server setting.
func ApplicationServer(hostPort string) Option {
	return optFn(func(c *config) { c.endpoint = hostPort })
}

// InstanceID makes this instance a static member of the consumer group:
// each thread joins with the instance id "<id>-<thread number>". A static
// member that stops and comes back within the session timeout gets its
// tasks back without a rebalance, and a static member that stops does not
// leave the group (its tasks wait for it until its session times out).
// Give every instance its own stable id. Default: none (dynamic
// membership). This corresponds to the Java group.instance.id setting.
func InstanceID(id string) Option { return optFn(func(c *config) { c.instanceID = id }) }

// RepartitionPurgeInterval sets how often, at most, each thread deletes
// the records of repartition topics below the offsets it committed (they
// are never read again). Zero or less never purges. Default: 30s. This
// corresponds to the Java repartition.purge.interval.ms setting.
func RepartitionPurgeInterval(d time.Duration) Option {
	return optFn(func(c *config) { c.purgeInterval = d })
}

// AcceptableRecoveryLag sets how far behind the end of its changelogs (in
// records, summed over a task's changelog partitions) an instance's copy
// of a task's state may be for the instance to count as caught up. The
// group leader makes a stateful task active only on a caught-up instance
// when there is one; an instance that balance wants the task on but that
// is further behind first warms the state up (see MaxWarmupReplicas).
// Must not be negative. Default: 10,000. This corresponds to the Java
// acceptable.recovery.lag setting.
func AcceptableRecoveryLag(records int64) Option {
	return optFn(func(c *config) { c.warmup.AcceptableRecoveryLag = records })
}

// MaxWarmupReplicas bounds the warm-up replicas of one assignment, over
// all tasks. A warm-up replica is an extra standby on the instance a
// stateful task is to move to, while the task keeps running on an
// instance whose state is caught up; the task moves at a probing
// rebalance once the warm-up is within AcceptableRecoveryLag. More
// warm-ups move more tasks per probing rebalance and take more broker
// and disk bandwidth at once. Must be at least 1. Default: 2. This
// corresponds to the Java max.warmup.replicas setting.
func MaxWarmupReplicas(n int) Option {
	return optFn(func(c *config) { c.warmup.MaxWarmupReplicas = n })
}

// ProbingRebalanceInterval sets how long after an assignment with warm-up
// replicas the group rebalances again to check which warm-ups caught up
// (one member of the leader's instance rejoins the group then). Must be
// positive; Kafka Streams requires at least a minute, kstreams allows
// shorter intervals (tests). Default: 10m. This corresponds to the Java
// probing.rebalance.interval.ms setting.
func ProbingRebalanceInterval(d time.Duration) Option {
	return optFn(func(c *config) { c.warmup.ProbingRebalanceInterval = d })
}

func (c *config) validateWarmup() []error {
	var errs []error
	if w := c.warmup; w.AcceptableRecoveryLag < 0 {
		errs = append(errs, fmt.Errorf("kstreams: AcceptableRecoveryLag(%d): must not be negative", w.AcceptableRecoveryLag))
	}
	if w := c.warmup; w.MaxWarmupReplicas < 1 {
		errs = append(errs, fmt.Errorf("kstreams: MaxWarmupReplicas(%d): need at least 1", w.MaxWarmupReplicas))
	}
	if w := c.warmup; w.ProbingRebalanceInterval <= 0 {
		errs = append(errs, fmt.Errorf("kstreams: ProbingRebalanceInterval(%v): must be positive", w.ProbingRebalanceInterval))
	}
	return errs
}
