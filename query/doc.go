// Package query answers interactive queries on the state stores of a
// kstreams application, across its instances.
//
// # Metadata
//
// Every instance that sets [kstreams.ApplicationServer] advertises its
// query endpoint when it joins the group; each assignment tells every
// instance which endpoint runs which tasks, actively or as standby. A
// [Querier] uses that map and the partitioner that placed the keys to say
// where a key lives ([Querier.MetadataForKey], [KeyValue.Metadata]) and
// which instances host a store ([Querier.StoreHosts]).
//
// # Typed queries
//
// [KeyValueStore] returns a typed handle on a key-value store: Get, Range,
// Prefix and All read this instance's partitions. While the instance
// rebalances or restores, queries fail with an error matching
// [ErrUnavailable], which is retriable; a key that another instance hosts
// fails with [ErrNotLocal], naming the owner.
//
// Before the instance's first assignment, [Querier.StoreHosts],
// [Querier.MetadataForKey] and every typed read fail with [ErrUnavailable]
// rather than answer an empty list: callers retry (they do not wait inside
// the call).
//
// [WindowStore] returns a typed handle on a window store (a windowed
// aggregation's, read without the record timestamps, as Kafka Streams'
// windowStore() query type): Fetch and BackwardFetch read a key's windows
// over a time range, FetchAll every key's windows over a time range,
// paged. [SessionStore] returns one on a session store: Fetch reads a
// key's sessions. Their FetchStandby methods read a standby replica within
// a maximum lag, as [KeyValue.GetStandby]. Key-value reads go through the
// record cache, so they see every processed update; window and session
// stores have no cache in kstreams, so their reads see every update too.
//
// # HTTP
//
// [Server] is a thin net/http layer over the typed handles: any instance
// answers any key by forwarding the request to the owner, and ranges are
// gathered from every instance hosting the store, merged and paginated.
// Errors are JSON objects with a stable code from the catalog ([Code]).
// [TLS] serves HTTPS and forwards over HTTPS; [BearerToken] requires a
// token, which forwarded requests carry.
package query
