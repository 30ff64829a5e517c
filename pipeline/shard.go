package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Shard selects one of Count deterministic, weight-balanced subsets of a
// stage's tasks. Every shard of a cluster run plans the same tasks (plans
// are pure functions of the configuration and, for derived stages, of the
// lake the earlier phases completed), so every shard computes the same
// assignment without talking to the others.
type Shard struct {
	Index, Count int // 0 <= Index < Count; Count 0 or 1 means everything
}

// ParseShard reads "i/N" (0-based i).
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/N with 0 <= i < N", s)
	}
	return Shard{Index: i, Count: n}, nil
}

func (s Shard) String() string {
	if s.Count <= 1 {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Assign returns the shard of every task (same order as tasks): greedy
// longest-processing-time first over the tasks sorted by weight, heaviest
// first, then by partition key, each going to the least-loaded shard
// (lowest index on ties). LPT keeps the heaviest shard within 4/3 of the
// optimum makespan. Pinned tasks go to shard 0.
func Assign(tasks []Task, n int) []int {
	out := make([]int, len(tasks))
	if n <= 1 {
		return out
	}
	idx := make([]int, len(tasks))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ta, tb := tasks[idx[a]], tasks[idx[b]]
		if ta.Weight != tb.Weight {
			return ta.Weight > tb.Weight
		}
		return taskKey(ta) < taskKey(tb)
	})
	load := make([]int64, n)
	for _, i := range idx {
		if tasks[i].Pinned {
			out[i] = 0
			load[0] += max(tasks[i].Weight, 1)
			continue
		}
		best := 0
		for s := 1; s < n; s++ {
			if load[s] < load[best] {
				best = s
			}
		}
		out[i] = best
		// A zero weight still counts, so empty tasks spread out too.
		load[best] += max(tasks[i].Weight, 1)
	}
	return out
}

// Select returns this shard's tasks, in their planned order.
func (s Shard) Select(tasks []Task) []Task {
	if s.Count <= 1 {
		return tasks
	}
	var out []Task
	for i, sh := range Assign(tasks, s.Count) {
		if sh == s.Index {
			out = append(out, tasks[i])
		}
	}
	return out
}

func taskKey(t Task) string { return t.Partition.Dir() }

// PlannedTask is one task of a plan, as `battlake plan` prints it.
type PlannedTask struct {
	Stage     string           `json:"stage"`
	Job       string           `json:"job"`
	Table     string           `json:"table"`
	Partition string           `json:"partition"` // Hive path below the table, "" when unpartitioned
	Key       string           `json:"key"`       // the partition's directory: unique in a plan
	Segments  []PlannedSegment `json:"segments"`
	Inputs    []string         `json:"inputs"`
	Weight    int64            `json:"weight"` // estimated rows
	Shard     int              `json:"shard"`  // of Plan's shard count
}

// PlannedSegment is one segment a task may write.
type PlannedSegment struct {
	Name    string   `json:"name"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Inputs  []string `json:"inputs,omitempty"`
	Lineage []string `json:"lineage,omitempty"`
}

// Plan plans jobs stage by stage, as RunJobs would, and returns every task
// with the shard (of shards) that runs it, in run order per stage. Derived
// stages plan from what the lake holds: plan them after the phases they
// read have run.
// keep, if set, drops tasks as Runner.Keep does.
func Plan(ctx context.Context, jobs []Job, shards int, keep func(Task) bool) ([]PlannedTask, error) {
	var out []PlannedTask
	for i := 0; i < len(jobs); {
		stage := jobs[i].Stage()
		var tasks []Task
		var names []string
		for ; i < len(jobs) && jobs[i].Stage() == stage; i++ {
			ts, err := jobs[i].Plan(ctx)
			if err != nil {
				return nil, fmt.Errorf("plan %s: %w", jobs[i].Name(), err)
			}
			ts = keepTasks(ts, keep)
			tasks = append(tasks, ts...)
			for range ts {
				names = append(names, jobs[i].Name())
			}
		}
		assign := Assign(tasks, shards)
		for k, t := range tasks {
			pt := PlannedTask{Stage: stage, Job: names[k], Table: t.Partition.Table.Name, Key: t.Partition.Dir(),
				Inputs: append([]string{}, t.Meta.Inputs...), Weight: t.Weight, Shard: assign[k]}
			pt.Partition = strings.TrimPrefix(strings.TrimPrefix(t.Partition.Dir(), t.Partition.Table.Dir()), "/")
			for _, s := range t.Segments {
				ps := PlannedSegment{Name: s.Name, From: s.From.UTC().Format(time.RFC3339), To: s.To.UTC().Format(time.RFC3339), Inputs: s.Inputs}
				for _, l := range s.Lineage {
					ps.Lineage = append(ps.Lineage, l.String())
				}
				pt.Segments = append(pt.Segments, ps)
			}
			out = append(out, pt)
		}
	}
	return out, nil
}
