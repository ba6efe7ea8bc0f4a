package runtime

import (
	"strconv"
	"time"

	"github.com/kstreams-go/kstreams/state"
)

// Window and session stores run on the key-value store machinery: a
// StoreSpec whose Open opens the store and returns its state.BytesStore view
// (keyed by Kafka Streams' window or session store keys), so that the
// changelogging layer logs those keys, as Java's windowed changelogs hold
// them, and restoration, checkpoints, wiping and standbys apply unchanged.
// The typed store processors get (Typed) writes through the layers and
// reads the store below them; at the debug level its reads are timed
// (meteredwindow.go).

// Unwrap returns the store below the changelogging layer, for the typed
// window and session stores that read it directly
// (state.WindowStoreWritingTo).
func (s *loggedStore) Unwrap() state.BytesStore { return s.BytesStore }

// WindowChangelogAdditionalRetention is what a windowed changelog topic
// keeps beyond the store's retention: Kafka Streams'
// windowstore.changelog.additional.retention.ms default, one day.
const WindowChangelogAdditionalRetention = 24 * time.Hour

// WindowStoreOpen returns the StoreSpec.Open of a window store with opts,
// on Pebble when the spec is Persistent (dir set), in memory otherwise.
func WindowStoreOpen(opts state.WindowStoreOptions) func(name, dir string, pebble *state.PebbleOptions) (state.BytesStore, error) {
	return segmentedOpen(opts, state.OpenPebbleWindowStore, state.NewMemoryWindowStore, state.WindowStoreBytes)
}

// SessionStoreOpen returns the StoreSpec.Open of a session store with
// opts, as WindowStoreOpen.
func SessionStoreOpen(opts state.SessionStoreOptions) func(name, dir string, pebble *state.PebbleOptions) (state.BytesStore, error) {
	return segmentedOpen(opts, state.OpenPebbleSessionStore, state.NewMemorySessionStore, state.SessionStoreBytes)
}

// segmentedOpen is the StoreSpec.Open of a window or session store: on
// Pebble with onDisk when dir is set, in memory otherwise, seen as a
// BytesStore through asBytes.
func segmentedOpen[O, S any](opts O,
	onDisk func(name, dir string, opts O, pebble *state.PebbleOptions) (S, error),
	inMemory func(name string, opts O) (S, error),
	asBytes func(S) (state.BytesStore, error),
) func(name, dir string, pebble *state.PebbleOptions) (state.BytesStore, error) {
	return func(name, dir string, pebble *state.PebbleOptions) (state.BytesStore, error) {
		var s S
		var err error
		if dir != "" {
			s, err = onDisk(name, dir, opts, pebble)
		} else {
			s, err = inMemory(name, opts)
		}
		if err != nil {
			return nil, err
		}
		return asBytes(s)
	}
}

// WindowStoreTyped returns the StoreSpec.Typed of a window store opened by
// WindowStoreOpen: processors get wrap applied to a state.WindowBytesStore
// writing through the store's layers, or that store itself if wrap is nil.
// Over a spec without WindowStoreOpen they get the error instead.
func WindowStoreTyped(wrap func(s state.WindowBytesStore, topic string) any) func(state.BytesStore, string) any {
	return func(top state.BytesStore, topic string) any {
		s, err := state.WindowStoreWritingTo(top)
		if err != nil {
			return err
		}
		s = meterWindow(top, s)
		if wrap != nil {
			return wrap(s, topic)
		}
		return s
	}
}

// SessionStoreTyped returns the StoreSpec.Typed of a session store opened
// by SessionStoreOpen, as WindowStoreTyped.
func SessionStoreTyped(wrap func(s state.SessionBytesStore, topic string) any) func(state.BytesStore, string) any {
	return func(top state.BytesStore, topic string) any {
		s, err := state.SessionStoreWritingTo(top)
		if err != nil {
			return err
		}
		s = meterSession(top, s)
		if wrap != nil {
			return wrap(s, topic)
		}
		return s
	}
}

// WindowedChangelogConfigs returns the configs of the changelog topic of a
// window or session store keeping data for retention, as Kafka Streams'
// WindowedChangelogTopicConfig: cleanup.policy=compact,delete (compacted by
// key, and old windows deleted) and retention.ms = retention plus
// WindowChangelogAdditionalRetention (which cannot overflow from a
// time.Duration, unlike Java's long). user's configs override both.
func WindowedChangelogConfigs(retention time.Duration, user map[string]string) map[string]string {
	ms := retention.Milliseconds() + WindowChangelogAdditionalRetention.Milliseconds()
	out := map[string]string{
		"cleanup.policy": "compact,delete",
		"retention.ms":   strconv.FormatInt(ms, 10),
	}
	for k, v := range user {
		out[k] = v
	}
	return out
}
