package assign

import (
	"cmp"
	"context"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"
)

// LatestOffset is the offset sum a member reports for a task it runs as a
// restored active task: its state is as current as the changelog, whatever
// the end offsets say when the leader reads them (Kafka Streams'
// Task.LATEST_OFFSET).
const LatestOffset int64 = -2

// Defaults of the warm-up settings, Kafka Streams' defaults.
const (
	DefaultAcceptableRecoveryLag    = 10_000
	DefaultMaxWarmupReplicas        = 2
	DefaultProbingRebalanceInterval = 10 * time.Minute
)

// Warmup makes the balancer a high-availability assignor: it reads the end
// offsets of the changelogs to learn how far behind each instance's copy
// of each task's state is, gives a stateful task's active only to an
// instance whose copy is caught up (when one is), warms the state up
// where balance wants the task, and asks for a follow-up (probing)
// rebalance to move tasks whose warm-up has caught up.
type Warmup struct {
	// AcceptableRecoveryLag is the largest lag (changelog records, summed
	// over a task's changelog partitions) at which an instance's copy of
	// a task's state counts as caught up.
	AcceptableRecoveryLag int64
	// MaxWarmupReplicas bounds the warm-up replicas of one assignment,
	// across all tasks.
	MaxWarmupReplicas int
	// ProbingRebalanceInterval is how long after an assignment with
	// warm-ups the group rebalances again.
	ProbingRebalanceInterval time.Duration
	// Changelogs maps each stateful sub-topology to the changelog topics
	// of its logged stores: partition p of each belongs to task p.
	Changelogs map[int][]string
	// EndOffsets lists the end offsets of every partition of topics; a
	// topic that does not exist is left out.
	EndOffsets func(ctx context.Context, topics []string) (map[string]map[int32]int64, error)
	// Timeout bounds EndOffsets; zero means 10s.
	Timeout time.Duration
	// Now is the clock of the probing deadline; nil means time.Now.
	Now func() time.Time
	// Log, if set, receives the assignor's decisions and failures.
	Log *slog.Logger
}

// HAConfig is what the high-availability assignment needs besides the
// members and tasks.
type HAConfig struct {
	AcceptableRecoveryLag int64
	MaxWarmupReplicas     int
	Standbys              int
}

// HAPlan is a high-availability assignment.
type HAPlan struct {
	// Active and Standby map member ids to their tasks; Standby includes
	// the warm-ups.
	Active, Standby map[string][]Task
	// Warmups maps member ids to the warm-up replicas among their
	// standbys.
	Warmups map[string][]Task
	// Movements counts the stateful tasks that balance wants elsewhere
	// than where they are assigned: a follow-up rebalance is due when
	// there are any.
	Movements int
}

// EndSums sums, for every stateful task, the end offsets of its changelog
// partitions; a partition missing from ends counts as empty.
func EndSums(tasks []Task, changelogs map[int][]string, ends map[string]map[int32]int64) map[Task]int64 {
	out := map[Task]int64{}
	for _, t := range tasks {
		cls, ok := changelogs[t.Subtopology]
		if !ok {
			continue
		}
		var s int64
		for _, c := range cls {
			s += ends[c][t.Partition]
		}
		out[t] = s
	}
	return out
}

// Lags computes, per process and stateful task, how far the process's
// copy of the task's state is behind the changelog: the end offset sum
// minus the offset sum its members reported (the best report of the
// process's members counts). LatestOffset gives LatestOffset, below every
// real lag; a task the process reported nothing for lags by its whole
// changelog; a report past the end (a changelog recreated since) lags by
// the whole changelog too, as Kafka Streams counts it.
func Lags(members []Member, endSums map[Task]int64) map[string]map[Task]int64 {
	best := map[string]map[Task]int64{}
	for _, m := range members {
		p := m.Sub.Process
		if best[p] == nil {
			best[p] = map[Task]int64{}
		}
		for _, s := range m.Sub.State {
			if _, stateful := endSums[s.Task]; !stateful {
				continue
			}
			cur, ok := best[p][s.Task]
			switch {
			case !ok, s.Offset == LatestOffset:
				best[p][s.Task] = s.Offset
			case cur != LatestOffset && s.Offset > cur:
				best[p][s.Task] = s.Offset
			}
		}
	}
	out := make(map[string]map[Task]int64, len(best))
	for p, offs := range best {
		lags := make(map[Task]int64, len(endSums))
		for t, end := range endSums {
			off, ok := offs[t]
			switch {
			case ok && off == LatestOffset:
				lags[t] = LatestOffset
			case !ok || off < 0 || off > end:
				lags[t] = end
			default:
				lags[t] = end - off
			}
		}
		out[p] = lags
	}
	return out
}

// AssignHA is the high-availability assignment (Kafka Streams'
// HighAvailabilityTaskAssignor, over processes and their members):
//
//  1. Each stateful task gets a target process, a balanced placement that
//     depends only on the set of processes and their member counts, not on
//     where tasks run (highest rendezvous hash among processes with room,
//     spreading each sub-topology's tasks),
//     so that successive probing rebalances aim at the same placement.
//  2. A task whose target is not caught up (lag above
//     AcceptableRecoveryLag) while another process is more caught up is a
//     movement: it goes active to the least loaded caught-up process (the
//     most caught up one when none is), and its target gets a warm-up
//     replica while fewer than MaxWarmupReplicas are handed out.
//  3. Within a process, tasks go to the member that ran them, then to the
//     least loaded member.
//  4. Stateless tasks stay with the member that ran them while it is under
//     the balanced share, then go to the least loaded member.
//  5. Standbys: as DistributeStandbys, never in the process of the active
//     task nor of a warm-up of the task.
//
// lags comes from Lags; a stateful task is one in it.
func AssignHA(tasks []Task, stateful map[Task]bool, members []Member, lags map[string]map[Task]int64, cfg HAConfig) HAPlan {
	plan := HAPlan{Active: map[string][]Task{}, Standby: map[string][]Task{}, Warmups: map[string][]Task{}}
	if len(members) == 0 {
		return plan
	}
	procs, capOf, membersOf := processes(members)
	var sful, sless []Task
	for _, t := range tasks {
		if stateful[t] {
			sful = append(sful, t)
		} else {
			sless = append(sless, t)
		}
	}
	target := rendezvous(sful, procs, capOf)
	lagOf := func(p string, t Task) int64 {
		if l, ok := lags[p][t]; ok {
			return l
		}
		return int64(^uint64(0) >> 1)
	}
	caughtUp := func(p string, t Task) bool { return lagOf(p, t) <= cfg.AcceptableRecoveryLag }
	owner := map[Task]string{}
	load := map[string]int{}
	type movement struct {
		task     Task
		dest     string
		caughtUp int
	}
	var moves []movement
	for _, t := range sful {
		p := target[t]
		if !caughtUp(p, t) && mostCaughtUp(procs, t, lagOf) < lagOf(p, t) {
			n := 0
			for _, q := range procs {
				if caughtUp(q, t) {
					n++
				}
			}
			moves = append(moves, movement{t, p, n})
			continue
		}
		owner[t] = p
		load[p]++
	}
	// Tasks with the fewest caught-up processes first: they have the
	// fewest places to go.
	slices.SortStableFunc(moves, func(a, b movement) int {
		return cmp.Or(cmp.Compare(a.caughtUp, b.caughtUp), compareTasks(a.task, b.task))
	})
	warm := map[string][]Task{}
	remaining := cfg.MaxWarmupReplicas
	for _, mv := range moves {
		src := ""
		for _, q := range procs {
			if q == mv.dest || !caughtUp(q, mv.task) {
				continue
			}
			if src == "" || lessLoaded(q, src, load, capOf) {
				src = q
			}
		}
		if src == "" {
			for _, q := range procs {
				if q != mv.dest && (src == "" || lagOf(q, mv.task) < lagOf(src, mv.task)) {
					src = q
				}
			}
		}
		owner[mv.task] = src
		load[src]++
		if remaining > 0 {
			remaining--
			warm[mv.dest] = append(warm[mv.dest], mv.task)
		}
	}
	plan.Movements = len(moves)

	// Members: stateful tasks within their process.
	ran := map[Task]string{}
	for _, m := range members {
		for _, t := range m.Previous {
			ran[t] = m.ID
		}
		for _, t := range m.Sub.Active {
			if _, ok := ran[t]; !ok {
				ran[t] = m.ID
			}
		}
	}
	mload := map[string]int{}
	byProc := map[string][]Task{}
	for _, t := range sful {
		byProc[owner[t]] = append(byProc[owner[t]], t)
	}
	procOf := map[string]string{}
	for _, m := range members {
		procOf[m.ID] = m.Sub.Process
	}
	for _, p := range procs {
		ids := membersOf[p]
		share := (len(byProc[p]) + len(ids) - 1) / len(ids)
		var rest []Task
		for _, t := range byProc[p] {
			if id, ok := ran[t]; ok && procOf[id] == p && mload[id] < share {
				plan.Active[id] = append(plan.Active[id], t)
				mload[id]++
				continue
			}
			rest = append(rest, t)
		}
		for _, t := range rest {
			id := leastLoaded(ids, mload)
			plan.Active[id] = append(plan.Active[id], t)
			mload[id]++
		}
	}

	// Stateless tasks balance the members' loads.
	share := (len(tasks) + len(members) - 1) / len(members)
	var rest []Task
	for _, t := range sless {
		if id, ok := ran[t]; ok && mload[id] < share {
			plan.Active[id] = append(plan.Active[id], t)
			mload[id]++
			continue
		}
		rest = append(rest, t)
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	for _, t := range rest {
		id := leastLoaded(ids, mload)
		plan.Active[id] = append(plan.Active[id], t)
		mload[id]++
	}
	for id := range plan.Active {
		slices.SortFunc(plan.Active[id], compareTasks)
	}

	// Warm-ups go to the least loaded member of their process; standbys
	// avoid the processes of a task's active and warm-ups.
	sload := map[string]int{}
	exclude := map[Task][]string{}
	for _, p := range procs {
		for _, t := range warm[p] {
			id := leastLoaded(membersOf[p], sload)
			sload[id]++
			plan.Warmups[id] = append(plan.Warmups[id], t)
			exclude[t] = append(exclude[t], p)
		}
	}
	standby := distributeStandbys(sful, members, plan.Active, cfg.Standbys, exclude)
	for id, ts := range plan.Warmups {
		plan.Standby[id] = append(plan.Standby[id], ts...)
	}
	for id, ts := range standby {
		plan.Standby[id] = append(plan.Standby[id], ts...)
	}
	for id := range plan.Standby {
		slices.SortFunc(plan.Standby[id], compareTasks)
	}
	return plan
}

// processes returns the process ids of members in order, the number of
// members of each, and their member ids in member order.
func processes(members []Member) ([]string, map[string]int, map[string][]string) {
	capOf := map[string]int{}
	membersOf := map[string][]string{}
	var procs []string
	for _, m := range members {
		p := m.Sub.Process
		if capOf[p] == 0 {
			procs = append(procs, p)
		}
		capOf[p]++
		membersOf[p] = append(membersOf[p], m.ID)
	}
	slices.Sort(procs)
	return procs, capOf, membersOf
}

// rendezvous places each task on a process, one sub-topology at a time so
// that the tasks of each spread over the processes (as Kafka Streams'
// round-robin over sorted tasks does; one query store's partitions all on
// one instance would make that instance do all of that work): the process
// ranking the task highest (by a hash of both) among those below their
// share of the sub-topology, a share proportional to the process's
// members; the remainder of each division goes, one task each, to the
// processes least loaded over every sub-topology so far (then by rank).
func rendezvous(tasks []Task, procs []string, capOf map[string]int) map[Task]string {
	out := make(map[Task]string, len(tasks))
	total := 0
	for _, p := range procs {
		total += capOf[p]
	}
	load := map[string]int{}
	bySub := map[int][]Task{}
	for _, t := range tasks {
		bySub[t.Subtopology] = append(bySub[t.Subtopology], t)
	}
	ranked := slices.Clone(procs)
	for _, sub := range slices.Sorted(maps.Keys(bySub)) {
		group := bySub[sub]
		quota := map[string]int{}
		extra := len(group)
		for _, p := range procs {
			quota[p] = len(group) * capOf[p] / total
			extra -= quota[p]
		}
		count := map[string]int{}
		for _, t := range group {
			slices.SortFunc(ranked, func(a, b string) int {
				return cmp.Or(-cmp.Compare(score(t, a), score(t, b)), cmp.Compare(a, b))
			})
			pick := ranked[0]
			if i := slices.IndexFunc(ranked, func(p string) bool { return count[p] < quota[p] }); i >= 0 {
				pick = ranked[i]
			} else if extra > 0 {
				pick = ""
				for _, p := range ranked {
					if count[p] == quota[p] && (pick == "" || lessLoaded(p, pick, load, capOf)) {
						pick = p
					}
				}
				if pick == "" {
					pick = ranked[0]
				}
				extra--
			}
			out[t] = pick
			count[pick]++
			load[pick]++
		}
	}
	return out
}

func score(t Task, p string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(p))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write(strconv.AppendInt(nil, int64(t.Subtopology), 10))
	_, _ = h.Write([]byte{'_'})
	_, _ = h.Write(strconv.AppendInt(nil, int64(t.Partition), 10))
	return h.Sum64()
}

func mostCaughtUp(procs []string, t Task, lagOf func(string, Task) int64) int64 {
	best := int64(^uint64(0) >> 1)
	for _, p := range procs {
		best = min(best, lagOf(p, t))
	}
	return best
}

// lessLoaded reports whether process a has fewer tasks per member than b
// (process id breaking ties).
func lessLoaded(a, b string, load, capOf map[string]int) bool {
	la, lb := load[a]*capOf[b], load[b]*capOf[a]
	if la != lb {
		return la < lb
	}
	return a < b
}

func leastLoaded(ids []string, load map[string]int) string {
	best := ids[0]
	for _, id := range ids[1:] {
		if load[id] < load[best] {
			best = id
		}
	}
	return best
}

// SetWarmup makes the balancer, as the group leader, assign with warm-up
// replicas and probing rebalances. Call it before the member joins.
func (b *Balancer) SetWarmup(w Warmup) {
	if w.Timeout <= 0 {
		w.Timeout = 10 * time.Second
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	b.warm = &w
}

// ProbeDue reports whether the member's probing rebalance is due at now;
// it reports it once per assignment that asked for one.
func (b *Balancer) ProbeDue(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probeAt == 0 || now.UnixMilli() < b.probeAt {
		return false
	}
	b.probeAt = 0
	return true
}

// balanceHA is Balance with warm-ups: it reads the changelogs' end
// offsets, computes every instance's lag on every stateful task and
// assigns with AssignHA. When the end offsets cannot be read, it assigns
// as without warm-ups (each task stays with whoever holds it) and asks
// for a probing rebalance to try again, as Kafka Streams does. It returns
// the active and standby tasks of each member and the probing deadline
// (zero for none).
func (b *Balancer) balanceHA(tasks []Task, members []Member) (active, standby map[string][]Task, probeAt int64) {
	w := b.warm
	stateful := b.statefulTasks(tasks)
	probeAt = w.Now().Add(w.ProbingRebalanceInterval).UnixMilli()
	var cls []string
	seen := map[string]bool{}
	for _, t := range stateful {
		for _, c := range w.Changelogs[t.Subtopology] {
			if !seen[c] {
				seen[c] = true
				cls = append(cls, c)
			}
		}
	}
	var ends map[string]map[int32]int64
	if len(cls) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), w.Timeout)
		var err error
		ends, err = w.EndOffsets(ctx, cls)
		cancel()
		if err != nil {
			if w.Log != nil {
				w.Log.Warn("kstreams: reading the changelogs' end offsets failed; assigning tasks where their state is and probing again later", "error", err)
			}
			active = Distribute(tasks, members)
			return active, DistributeStandbys(stateful, members, active, b.standbys), probeAt
		}
	}
	isStateful := make(map[Task]bool, len(stateful))
	for _, t := range stateful {
		isStateful[t] = true
	}
	lags := Lags(members, EndSums(stateful, w.Changelogs, ends))
	plan := AssignHA(tasks, isStateful, members, lags, HAConfig{
		AcceptableRecoveryLag: w.AcceptableRecoveryLag, MaxWarmupReplicas: w.MaxWarmupReplicas, Standbys: b.standbys,
	})
	if plan.Movements == 0 {
		probeAt = 0
	}
	if w.Log != nil {
		w.Log.Info("kstreams: assignment computed", "members", len(members), "tasks", len(tasks), "stateful", len(stateful),
			"movements", plan.Movements, "warmups", plan.Warmups, "probing_rebalance", probeAt != 0)
	}
	return plan.Active, plan.Standby, probeAt
}
