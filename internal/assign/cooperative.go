package assign

// Incremental cooperative rebalancing (KIP-429): a member keeps the
// partitions it owns through a rebalance and gives up only those the new
// assignment takes from it. The leader therefore never hands a task to a
// new member while another member still owns it: in the first rebalance
// the task is assigned to nobody, its owner revokes it (and only it) and
// rejoins, and the rebalance that follows gives it to its new member.
// Tasks that stay where they are keep processing throughout.

// holdMoving removes from each member's plan the tasks another member
// still owns (claims among its owned partitions), so that no task is
// active on two members at once. It returns how many tasks it held back.
func holdMoving(members []Member, plan map[string][]Task) int {
	owner := map[Task][]string{}
	for _, m := range members {
		for _, t := range m.Previous {
			owner[t] = append(owner[t], m.ID)
		}
	}
	held := 0
	for _, m := range members {
		kept := make([]Task, 0, len(plan[m.ID]))
		for _, t := range plan[m.ID] {
			if ownedElsewhere(owner[t], m.ID) {
				held++
				continue
			}
			kept = append(kept, t)
		}
		plan[m.ID] = kept
	}
	return held
}

// ownedElsewhere reports whether owners (the members claiming a task)
// name a member other than id while id itself does not own it.
func ownedElsewhere(owners []string, id string) bool {
	other := false
	for _, o := range owners {
		if o == id {
			return false
		}
		other = true
	}
	return other
}
