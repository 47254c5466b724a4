package sim

import (
	"container/heap"
	"context"
	"sort"
	"sync"
	"time"

	"github.com/rapporthq/rapport/internal/engine"
)

// Scheduler implements engine.Scheduler in memory with asynq's ID semantics: an ID is
// taken while its task is pending or running, so scheduling it again changes nothing,
// and cancelling a running task leaves it alone. Pending tasks wait in a heap ordered by
// due time, then by the order they were scheduled in.
type Scheduler struct {
	mu    sync.Mutex
	byID  map[string]*item
	queue taskHeap
	seq   uint64
	// Cancelled counts Cancel calls that removed a pending task.
	Cancelled int
}

type item struct {
	engine.Task
	retries int
	seq     uint64
	index   int // in the heap; -1 while running
}

func newScheduler() *Scheduler { return &Scheduler{byID: map[string]*item{}} }

// Schedule implements engine.Scheduler.
func (s *Scheduler) Schedule(_ context.Context, t engine.Task) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.byID[t.ID]; !taken {
		s.push(&item{Task: t})
	}
	return nil
}

func (s *Scheduler) push(it *item) {
	s.seq++
	it.seq = s.seq
	s.byID[it.ID] = it
	heap.Push(&s.queue, it)
}

// Cancel implements engine.Scheduler.
func (s *Scheduler) Cancel(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it, ok := s.byID[id]; ok && it.index >= 0 {
		heap.Remove(&s.queue, it.index)
		delete(s.byID, id)
		s.Cancelled++
	}
	return nil
}

// take removes the earliest task due no later than until from the heap; its ID stays
// taken until done or retry.
func (s *Scheduler) take(until time.Time) (*item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 || s.queue[0].At.After(until) {
		return nil, false
	}
	return heap.Pop(&s.queue).(*item), true
}

// done frees the ID of a task that ran.
func (s *Scheduler) done(it *item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, it.ID)
}

// retry puts a task that failed back, due at at.
func (s *Scheduler) retry(it *item, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it.retries++
	it.At = at
	s.push(it)
}

// Len is the number of pending tasks.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Next returns when the earliest pending task is due, and false when none is pending.
func (s *Scheduler) Next() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return time.Time{}, false
	}
	return s.queue[0].At, true
}

// Pending returns the pending tasks in the order they will run.
func (s *Scheduler) Pending() []engine.Task {
	s.mu.Lock()
	items := append([]*item(nil), s.queue...)
	s.mu.Unlock()
	sort.Slice(items, func(i, j int) bool { return taskHeap(items).Less(i, j) })
	out := make([]engine.Task, len(items))
	for i, it := range items {
		out[i] = it.Task
	}
	return out
}

// Timers returns the pending date and inactivity timers, in the order they will run.
func (s *Scheduler) Timers() []engine.Task {
	var out []engine.Task
	for _, t := range s.Pending() {
		if t.Kind == engine.KindTimer {
			out = append(out, t)
		}
	}
	return out
}

// taskHeap orders items by due time, then by scheduling order.
type taskHeap []*item

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if !h[i].At.Equal(h[j].At) {
		return h[i].At.Before(h[j].At)
	}
	return h[i].seq < h[j].seq
}
func (h taskHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *taskHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *taskHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}
