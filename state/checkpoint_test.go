package state

import (
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sampleOffsets() map[string]map[int32]int64 {
	return map[string]map[int32]int64{
		"app-counts-changelog":      {0: 1042, 1: 77, 12: 0},
		"app.other_store-changelog": {3: 1 << 40},
	}
}

func equalOffsets(a, b map[string]map[int32]int64) bool {
	return maps.EqualFunc(a, b, func(x, y map[int32]int64) bool { return maps.Equal(x, y) })
}

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".checkpoint")
	for _, offsets := range []map[string]map[int32]int64{sampleOffsets(), {}, {"t": {0: 5}}} {
		if err := WriteCheckpoint(path, offsets); err != nil {
			t.Fatal(err)
		}
		got, err := ReadCheckpoint(path)
		if err != nil || !equalOffsets(got, offsets) {
			t.Fatalf("ReadCheckpoint = %v, %v; want %v", got, err, offsets)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %v, %v; want only the checkpoint", entries, err)
	}
}

func TestReadCheckpointMissing(t *testing.T) {
	got, err := ReadCheckpoint(filepath.Join(t.TempDir(), "none"))
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("ReadCheckpoint(missing) = %v, %v; want an empty map", got, err)
	}
}

// checkpointFile returns the checkpoint file content of body, the lines
// before the checksum line, with a correct checksum.
func checkpointFile(body string) string {
	return fmt.Sprintf("%scrc32c %08x\n", body, crc32.Checksum([]byte(body), castagnoli))
}

func TestReadCheckpointCorrupt(t *testing.T) {
	good, err := encodeCheckpoint(sampleOffsets())
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(string(good))
	flipped[30] ^= 1
	for _, c := range []struct{ name, content string }{
		{"empty", ""},
		{"truncated", string(good[:len(good)-5])},
		{"no final newline", strings.TrimSuffix(string(good), "\n")},
		{"bit flip", string(flipped)},
		{"no checksum", "kstreams-checkpoint 1\n0\n"},
		{"unknown version", checkpointFile("kstreams-checkpoint 2\n0\n")},
		{"java format", "0\n1\nt 0 5\n"},
		{"count too high", checkpointFile("kstreams-checkpoint 1\n2\nt 0 5\n")},
		{"count too low", checkpointFile("kstreams-checkpoint 1\n0\nt 0 5\n")},
		{"no count", checkpointFile("kstreams-checkpoint 1\n")},
		{"duplicate", checkpointFile("kstreams-checkpoint 1\n2\nt 0 5\nt 0 6\n")},
		{"negative offset", checkpointFile("kstreams-checkpoint 1\n1\nt 0 -1\n")},
		{"negative partition", checkpointFile("kstreams-checkpoint 1\n1\nt -1 5\n")},
		{"partition overflow", checkpointFile("kstreams-checkpoint 1\n1\nt 2147483648 5\n")},
		{"bad topic", checkpointFile("kstreams-checkpoint 1\n1\nt/x 0 5\n")},
		{"extra field", checkpointFile("kstreams-checkpoint 1\n1\nt 0 5 6\n")},
		{"empty line", checkpointFile("kstreams-checkpoint 1\n1\n\n")},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cp")
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadCheckpoint(path)
			if !errors.Is(err, ErrCheckpointCorrupt) || got != nil {
				t.Fatalf("ReadCheckpoint = %v, %v; want ErrCheckpointCorrupt", got, err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}

func TestWriteCheckpointInvalid(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cp")
	for _, offsets := range []map[string]map[int32]int64{
		{"": {0: 1}},
		{"has space": {0: 1}},
		{strings.Repeat("t", 250): {0: 1}},
		{"t": {-1: 1}},
		{"t": {0: -1}},
	} {
		if err := WriteCheckpoint(path, offsets); err == nil {
			t.Errorf("WriteCheckpoint(%v) succeeded", offsets)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("failed writes left %v", entries)
	}
}

func TestWriteCheckpointMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "cp")
	if err := WriteCheckpoint(path, sampleOffsets()); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("WriteCheckpoint into a missing dir = %v", err)
	}
}

func FuzzReadCheckpoint(f *testing.F) {
	good, _ := encodeCheckpoint(sampleOffsets())
	f.Add(good)
	f.Add([]byte("kstreams-checkpoint 1\n1\nt +007 -0\n"))
	f.Add([]byte("kstreams-checkpoint 1\n2\nt 0 5\nt 0 6\n"))
	f.Add([]byte("kstreams-checkpoint 1\n"))
	f.Add([]byte{})
	// Each fuzzing process calls the target sequentially, so one file
	// path serves every call.
	in := filepath.Join(f.TempDir(), "in")
	f.Fuzz(func(t *testing.T, data []byte) {
		// A random input almost never carries its checksum, so each input
		// is also tried with a valid checksum line appended, to reach the
		// parser behind the checksum.
		for _, content := range [][]byte{data, []byte(checkpointFile(string(data)))} {
			checkReadCheckpoint(t, in, content)
		}
	})
}

// checkReadCheckpoint reads content from the file at path and checks that
// it is either rejected as corrupt or round-trips.
func checkReadCheckpoint(t *testing.T, path string, content []byte) {
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	offsets, err := ReadCheckpoint(path)
	if err != nil {
		if !errors.Is(err, ErrCheckpointCorrupt) {
			t.Fatalf("error %v does not wrap ErrCheckpointCorrupt", err)
		}
		return
	}
	encoded, err := encodeCheckpoint(offsets)
	if err != nil {
		t.Fatalf("encoding a parsed checkpoint: %v", err)
	}
	again, err := parseCheckpoint(encoded)
	if err != nil || !equalOffsets(again, offsets) {
		t.Fatalf("round trip = %v, %v; want %v", again, err, offsets)
	}
}

func ExampleWriteCheckpoint() {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("example-checkpoint-%d", os.Getpid()))
	defer os.Remove(path)
	offsets := map[string]map[int32]int64{"app-counts-changelog": {0: 1042, 1: 77}}
	if err := WriteCheckpoint(path, offsets); err != nil {
		fmt.Println(err)
		return
	}
	data, _ := os.ReadFile(path)
	fmt.Print(string(data))
	back, _ := ReadCheckpoint(path)
	fmt.Println(back)
	// Output:
	// kstreams-checkpoint 1
	// 2
	// app-counts-changelog 0 1042
	// app-counts-changelog 1 77
	// crc32c 58b9774b
	// map[app-counts-changelog:map[0:1042 1:77]]
}
