package compat

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Random exploration: a search for divergences on inputs no committed case
// covers, run by hand, in three steps (the Java run takes about a minute
// for a thousand cases):
//
//	EXPLORE_GEN=/tmp/x EXPLORE_N=8 EXPLORE_SEED=1 [EXPLORE_ONLY=a,b] go test ./compat -run TestExploreGen
//	compat/run-java.sh rewrite /tmp/x
//	EXPLORE_DIR=/tmp/x go test ./compat -run TestExploreCheck -v
//
// The generator writes EXPLORE_N random cases per topology (keys and
// values from small sets with nulls and empty strings, timestamps walking
// forward with jumps back across window and grace boundaries; a wall-clock
// second before each record of a stream-stream join, whose Java test
// driver looks for closed windows on every record). The check lists the
// topologies whose kstreams output differs from Java's. Known differences
// of Java's test driver (repartition-clocks) show up too. A divergence
// found becomes a small committed case.

// exploreVals and exploreKeys are the tokens random cases draw from.
var exploreVals = []string{"a", "ab", "abc", "b", "ba", "x", "xy", "del", "clear", "n1", "apple", "berry", "cherry", "a,b", "b,c,a", `""`, "<null>", "<null>", "c", "ca"}
var exploreKeys = []string{"a", "b", "c", "k", "a", "b", "k"}

// TestExploreGen writes random cases into $EXPLORE_GEN; skipped without it.
func TestExploreGen(t *testing.T) {
	dir := os.Getenv("EXPLORE_GEN")
	if dir == "" {
		t.Skip()
	}
	n := 8
	_, _ = fmt.Sscan(os.Getenv("EXPLORE_N"), &n)
	only := os.Getenv("EXPLORE_ONLY")
	seed := int64(1)
	_, _ = fmt.Sscan(os.Getenv("EXPLORE_SEED"), &seed)
	r := rand.New(rand.NewSource(seed))
	names := make([]string, 0)
	for name := range topologies {
		if only != "" && !strings.Contains(","+only+",", ","+name+",") {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		topo := topologies[name]
		ins, _ := parseTopics(topo.inputs)
		for i := 0; i < n; i++ {
			var b strings.Builder
			fmt.Fprintf(&b, "topology %s\n\n", name)
			ts := int64(r.Intn(10))
			recs := 6 + r.Intn(16)
			for j := 0; j < recs; j++ {
				if strings.HasPrefix(name, "ss-") {
					fmt.Fprintf(&b, "advance 1000\n")
				} else if r.Intn(10) == 0 {
					fmt.Fprintf(&b, "advance %d\n", []int{1, 5, 10, 100}[r.Intn(4)])
				}
				in := ins[r.Intn(len(ins))]
				k := exploreKeys[r.Intn(len(exploreKeys))]
				if r.Intn(20) == 0 && name != "global-store-papi" {
					k = "<null>"
				}
				var v string
				if in.value == 'L' {
					v = fmt.Sprint(r.Intn(5))
					if r.Intn(8) == 0 {
						v = "<null>"
					}
				} else {
					v = exploreVals[r.Intn(len(exploreVals))]
				}
				switch d := r.Intn(10); {
				case d < 6:
					ts += int64(r.Intn(6))
				case d < 9:
					ts -= int64(r.Intn(14))
				default:
					ts += 10 + int64(r.Intn(15))
				}
				if ts < 0 {
					ts = 0
				}
				if name == "repartition-merge-shifted" && ts < 5 {
					ts = 5
				}
				fmt.Fprintf(&b, "pipe %s %s %s %d\n", in.name, k, v, ts)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s--%03d.txt", name, i)), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestExploreCheck compares kstreams with the Java sections of the cases in
// $EXPLORE_DIR and prints, per topology, how many differ; skipped without it.
func TestExploreCheck(t *testing.T) {
	dir := os.Getenv("EXPLORE_DIR")
	if dir == "" {
		t.Skip()
	}
	cases, err := loadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]int{}
	tot := map[string]int{}
	for _, c := range cases {
		tot[c.topology]++
		got, err := runCase(c)
		if err != nil {
			got = append(got, "error: "+err.Error())
		}
		if d := compare(c, got); d != "" {
			bad[c.topology]++
			if bad[c.topology] <= 2 {
				t.Logf("%s:\n%s", c.file, d)
			}
		}
	}
	var names []string
	for n := range bad {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("DIFF %s %d/%d\n", n, bad[n], tot[n])
	}
	fmt.Printf("explore: %d cases, %d topologies differ\n", len(cases), len(names))
}
