package kstreams

// processorMetadata is what the runtime offers a processor to keep a few
// numbers across restarts: Kafka Streams' ProcessorMetadata, committed in
// the metadata of the input partitions' offsets and read back when the
// task is assigned. The test driver does not offer it.
type processorMetadata interface {
	ProcessorMetadata(key string) (int64, bool)
	AddProcessorMetadata(key string, value int64)
}

// restoredLastEmit returns the close time of the last emission of the
// aggregation on store that emits on window close, as committed before a
// restart (Java keys it by the store's name), or -1.
func restoredLastEmit(ctx any, store string) int64 {
	if m, ok := ctx.(processorMetadata); ok {
		if v, ok := m.ProcessorMetadata(store); ok {
			return v
		}
	}
	return -1
}

// keepLastEmit records closeTime as the close time of the last emission of
// the aggregation on store, to be committed with the offsets, so that a
// restarted instance does not forward the windows it closed again.
func keepLastEmit(ctx any, store string, closeTime int64) {
	if m, ok := ctx.(processorMetadata); ok {
		m.AddProcessorMetadata(store, closeTime)
	}
}
