package runtime

import "github.com/kstreams-go/kstreams/state"

// VersionedStoreOpen returns the StoreSpec.Open of a versioned store with
// opts, on Pebble when the spec is Persistent (dir set), in memory
// otherwise; the spec must set Versioned.
func VersionedStoreOpen(opts state.VersionedStoreOptions) func(name, dir string, pebble *state.PebbleOptions) (state.BytesStore, error) {
	return func(name, dir string, pebble *state.PebbleOptions) (state.BytesStore, error) {
		var s state.VersionedBytesStore
		var err error
		if dir != "" {
			s, err = state.OpenPebbleVersionedStore(name, dir, opts, pebble)
		} else {
			s, err = state.NewMemoryVersionedStore(name, opts)
		}
		if err != nil {
			return nil, err
		}
		return state.VersionedStoreBytes(s)
	}
}

// VersionedStoreTyped returns the StoreSpec.Typed of a versioned store
// opened by VersionedStoreOpen: wrap gets the versioned store that reads
// the store below the layers and writes through them (nil: that store).
func VersionedStoreTyped(wrap func(s state.VersionedBytesStore, topic string) any) func(state.BytesStore, string) any {
	return func(top state.BytesStore, topic string) any {
		s, err := state.VersionedStoreWritingTo(top)
		switch {
		case err != nil:
			return err
		case wrap != nil:
			return wrap(s, topic)
		}
		return s
	}
}
