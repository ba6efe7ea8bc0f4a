package kstreams

import (
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
