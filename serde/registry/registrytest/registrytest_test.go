package registrytest

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

const (
	v1 = `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`
	// v2 adds b with a default: readable both ways.
	v2 = `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":""}]}`
	// v3 drops a (no default in v1): new readers read old data, old
	// readers cannot read new data.
	v3 = `{"type":"record","name":"R","fields":[{"name":"b","type":"string","default":""}]}`
	// v4 adds c without a default: old readers read new data, new readers
	// cannot read old data.
	v4 = `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"c","type":"int"}]}`
	// v5 brings a back as a string with a default: it reads v3's data,
	// but not v1's, whose a is a long.
	v5 = `{"type":"record","name":"R","fields":[{"name":"a","type":"string","default":""},{"name":"b","type":"string","default":""}]}`
)

func TestCompatibilityLevels(t *testing.T) {
	for _, c := range []struct {
		level   sr.CompatibilityLevel
		schemas []string
		refused int // index of the first refused schema, -1 for none
	}{
		{sr.CompatNone, []string{v1, v4, v3}, -1},
		{sr.CompatBackward, []string{v1, v2, v3}, -1},
		{sr.CompatBackward, []string{v1, v4}, 1},
		{sr.CompatForward, []string{v1, v4}, -1},
		{sr.CompatForward, []string{v1, v3}, 1},
		{sr.CompatFull, []string{v1, v2}, -1},
		{sr.CompatFull, []string{v1, v4}, 1},
		// BACKWARD checks against the latest version only, the transitive
		// level against all of them.
		{sr.CompatBackward, []string{v1, v3, v5}, -1},
		{sr.CompatBackwardTransitive, []string{v1, v3, v5}, 2},
	} {
		t.Run(c.level.String(), func(t *testing.T) {
			srv := New()
			defer srv.Close()
			cl, err := sr.NewClient(sr.URLs(srv.URL()))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, r := range cl.SetCompatibility(ctx, sr.SetCompatibility{Level: c.level}, "s") {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			for i, s := range c.schemas {
				_, err := cl.CreateSchema(ctx, "s", sr.Schema{Schema: s})
				var re *sr.ResponseError
				switch {
				case i == c.refused && (!errors.As(err, &re) || re.StatusCode != 409):
					t.Fatalf("schema %d: %v, want HTTP 409", i, err)
				case i == c.refused:
					return
				case err != nil:
					t.Fatalf("schema %d: %v", i, err)
				}
			}
			if c.refused >= 0 {
				t.Fatalf("schema %d was accepted", c.refused)
			}
		})
	}
}
