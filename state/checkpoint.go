package state

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The checkpoint file format, version 1, is text:
//
//	kstreams-checkpoint 1
//	2
//	app-counts-changelog 0 1042
//	app-counts-changelog 1 77
//	crc32c 58b9774b
//
// a version line; the number of entries; one line per entry with a topic, a
// partition and the offset to resume from, sorted by topic then partition;
// and the CRC-32C (Castagnoli) of every byte before that last line, in eight
// lowercase hex digits. Every line ends with "\n". Java's OffsetCheckpoint
// has the same shape without the checksum.
const (
	checkpointHeader = "kstreams-checkpoint 1"
	checkpointMagic  = "kstreams-checkpoint "
	checksumPrefix   = "crc32c "
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteCheckpoint writes offsets, changelog offsets by topic and partition,
// to the checkpoint file at path, atomically: it writes a temporary file in
// the same directory, syncs it, renames it over path and syncs the
// directory, so path holds either the old or the new checkpoint after a
// crash. Topics must be legal Kafka topic names, and partitions and offsets
// must not be negative.
func WriteCheckpoint(path string, offsets map[string]map[int32]int64) error {
	data, err := encodeCheckpoint(offsets)
	if err == nil {
		err = writeFileAtomic(path, data)
	}
	if err != nil {
		return fmt.Errorf("state: write checkpoint %s: %w", path, err)
	}
	return nil
}

// ReadCheckpoint reads the checkpoint file at path. A missing file is an
// empty checkpoint: it returns an empty map and no error. A file that is
// damaged, truncated or of an unknown version gives an error wrapping
// [ErrCheckpointCorrupt].
func ReadCheckpoint(path string) (map[string]map[int32]int64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]map[int32]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: read checkpoint %s: %w", path, err)
	}
	offsets, err := parseCheckpoint(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCheckpointCorrupt, path, err)
	}
	return offsets, nil
}

// encodeCheckpoint returns the file content for offsets.
func encodeCheckpoint(offsets map[string]map[int32]int64) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n", checkpointHeader, countEntries(offsets))
	for _, topic := range slices.Sorted(maps.Keys(offsets)) {
		if !validTopic(topic) {
			return nil, fmt.Errorf("invalid topic name %q", topic)
		}
		parts := offsets[topic]
		for _, p := range slices.Sorted(maps.Keys(parts)) {
			if err := checkEntry(p, parts[p]); err != nil {
				return nil, fmt.Errorf("topic %s: %w", topic, err)
			}
			fmt.Fprintf(&b, "%s %d %d\n", topic, p, parts[p])
		}
	}
	fmt.Fprintf(&b, "%s%08x\n", checksumPrefix, crc32.Checksum(b.Bytes(), castagnoli))
	return b.Bytes(), nil
}

func countEntries(offsets map[string]map[int32]int64) int {
	n := 0
	for _, parts := range offsets {
		n += len(parts)
	}
	return n
}

// checkEntry reports a negative partition or offset.
func checkEntry(partition int32, offset int64) error {
	if partition < 0 {
		return fmt.Errorf("negative partition %d", partition)
	}
	if offset < 0 {
		return fmt.Errorf("partition %d: negative offset %d", partition, offset)
	}
	return nil
}

// validTopic reports whether name is a legal Kafka topic name: 1 to 249
// characters among ASCII letters, digits, '.', '_' and '-'.
func validTopic(name string) bool {
	if name == "" || len(name) > 249 {
		return false
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// parseCheckpoint parses a checkpoint file's content.
func parseCheckpoint(data []byte) (map[string]map[int32]int64, error) {
	body, err := verifyChecksum(data)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if lines[0] != checkpointHeader {
		if strings.HasPrefix(lines[0], checkpointMagic) {
			return nil, fmt.Errorf("unsupported version %q", strings.TrimPrefix(lines[0], checkpointMagic))
		}
		return nil, errors.New("not a checkpoint file")
	}
	if len(lines) < 2 {
		return nil, errors.New("missing entry count")
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n != len(lines)-2 {
		return nil, fmt.Errorf("entry count %q does not match %d entries", lines[1], len(lines)-2)
	}
	return parseEntries(lines[2:])
}

// verifyChecksum checks the last line of data and returns the bytes before
// it.
func verifyChecksum(data []byte) ([]byte, error) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, errors.New("truncated: no final newline")
	}
	start := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	if start == 0 {
		return nil, errors.New("truncated: single line")
	}
	body, last := data[:start], string(data[start:len(data)-1])
	want := fmt.Sprintf("%s%08x", checksumPrefix, crc32.Checksum(body, castagnoli))
	if last != want {
		return nil, fmt.Errorf("checksum line %q, want %q", last, want)
	}
	return body, nil
}

// parseEntries parses the entry lines.
func parseEntries(lines []string) (map[string]map[int32]int64, error) {
	offsets := make(map[string]map[int32]int64)
	for i, line := range lines {
		topic, p, off, err := parseEntry(line)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		if _, dup := offsets[topic][p]; dup {
			return nil, fmt.Errorf("entry %d: duplicate %s-%d", i+1, topic, p)
		}
		if offsets[topic] == nil {
			offsets[topic] = make(map[int32]int64)
		}
		offsets[topic][p] = off
	}
	return offsets, nil
}

// parseEntry parses one "topic partition offset" line.
func parseEntry(line string) (string, int32, int64, error) {
	fields := strings.Split(line, " ")
	if len(fields) != 3 {
		return "", 0, 0, fmt.Errorf("%q: want topic, partition and offset", line)
	}
	if !validTopic(fields[0]) {
		return "", 0, 0, fmt.Errorf("invalid topic name %q", fields[0])
	}
	p, err1 := strconv.ParseInt(fields[1], 10, 32)
	off, err2 := strconv.ParseInt(fields[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return "", 0, 0, err
	}
	if err := checkEntry(int32(p), off); err != nil {
		return "", 0, 0, err
	}
	return fields[0], int32(p), off, nil
}

// writeFileAtomic replaces the file at path with data, durably.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
