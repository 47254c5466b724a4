package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// harness runs the engine on a real Redis with a virtual clock and an in-memory scheduler:
// tasks run when the test advances the clock past their time, so a journey of weeks takes
// milliseconds. This is the seam a journey simulator builds on.
type harness struct {
	t     *testing.T
	eng   *engine.Engine
	store *store.Store
	clock *virtualClock
	sched *memScheduler
	sent  *recorder
}

func newHarness(t *testing.T, start time.Time, journeys ...string) *harness {
	t.Helper()
	dir := t.TempDir()
	for i, j := range journeys {
		if err := os.WriteFile(filepath.Join(dir, "j"+string(rune('a'+i))+".yaml"), []byte(j), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := templates.Load("testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	set, err := workflows.Load(dir, workflows.Options{HasTemplate: tmpl.Has})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Start(t).Client(t)
	h := &harness{t: t, store: store.New(rdb), clock: &virtualClock{now: start}, sent: &recorder{}}
	h.sched = &memScheduler{tasks: map[string]engine.Task{}}
	h.eng, err = engine.New(engine.Config{
		Store: h.store, Scheduler: h.sched, Journeys: set, Templates: tmpl, Clock: h.clock,
		Channels: channels.Set{
			"email": {Name: "email", Type: channels.Type{Name: "rec", Kind: channels.KindEmail, AddressKey: "email"}, Channel: h.sent},
			"chat":  {Name: "chat", Type: channels.Type{Name: "rec", Kind: channels.KindMsg, AddressKey: "chat_id"}, Channel: h.sent},
		},
		UnsubscribeURL: func(cid, ch string) string { return "https://r.example/unsubscribe/" + ch + "/" + cid },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// event processes an event at the current virtual time.
func (h *harness) event(ev event.Event) {
	h.t.Helper()
	if ev.ID == "" {
		ev.ID = ev.Type + "-" + ev.CustomerID + "-" + h.clock.Now().Format(time.RFC3339Nano)
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = h.clock.Now()
	}
	if err := h.eng.HandleEvent(context.Background(), ev); err != nil {
		h.t.Fatalf("HandleEvent(%s): %v", ev.Type, err)
	}
}

// advance moves the clock forward by d, running every task that falls due on the way at
// its own time. A handler error is retried a minute later, three times at most.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	until := h.clock.Now().Add(d)
	for {
		task, ok := h.sched.next(until)
		if !ok {
			break
		}
		if task.At.After(h.clock.Now()) {
			h.clock.set(task.At)
		}
		var err error
		ctx := context.Background()
		switch task.Kind {
		case engine.KindStep:
			err = h.eng.HandleStep(ctx, task.Payload, engine.Attempt{Retry: task.retries, MaxRetry: 3})
		case engine.KindTimer:
			err = h.eng.HandleTimer(ctx, task.ID, task.Payload)
		}
		if err != nil {
			if errors.Is(err, engine.ErrPermanent) || task.retries >= 3 {
				h.t.Fatalf("task %s failed for good: %v", task.ID, err)
			}
			task.retries++
			task.At = h.clock.Now().Add(time.Minute)
			h.sched.put(task)
		}
	}
	h.clock.set(until)
}

func (h *harness) history(cid string) []store.Record {
	h.t.Helper()
	r, err := h.store.History(context.Background(), cid)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

type virtualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *virtualClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *virtualClock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

type pending struct {
	engine.Task
	retries int
}

// memScheduler keeps tasks in memory with asynq's ID semantics: an ID is unique while
// its task is pending.
type memScheduler struct {
	mu    sync.Mutex
	tasks map[string]engine.Task
	retry map[string]int
	// cancelled counts Cancel calls that removed a task.
	cancelled int
}

func (s *memScheduler) Schedule(_ context.Context, t engine.Task) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tasks[t.ID]; !ok {
		s.tasks[t.ID] = t
	}
	return nil
}

func (s *memScheduler) Cancel(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tasks[id]; ok {
		delete(s.tasks, id)
		s.cancelled++
	}
	return nil
}

// next removes and returns the earliest task due no later than until.
func (s *memScheduler) next(until time.Time) (pending, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []engine.Task
	for _, t := range s.tasks {
		if !t.At.After(until) {
			due = append(due, t)
		}
	}
	if len(due) == 0 {
		return pending{}, false
	}
	sort.Slice(due, func(i, j int) bool {
		if due[i].At.Equal(due[j].At) {
			return due[i].ID < due[j].ID
		}
		return due[i].At.Before(due[j].At)
	})
	t := due[0]
	delete(s.tasks, t.ID)
	n := s.retry[t.ID]
	return pending{Task: t, retries: n}, true
}

func (s *memScheduler) put(p pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retry == nil {
		s.retry = map[string]int{}
	}
	s.retry[p.ID] = p.retries
	s.tasks[p.ID] = p.Task
}

// timers returns the pending timer tasks.
func (s *memScheduler) timers() []engine.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []engine.Task
	for _, t := range s.tasks {
		if t.Kind == engine.KindTimer {
			out = append(out, t)
		}
	}
	return out
}

// recorder is a channel that keeps what it is asked to send, and can be told to fail.
type recorder struct {
	mu   sync.Mutex
	msgs []channels.Message
	// fail, when set, decides the error of a send.
	fail func(channels.Message) error
}

func (r *recorder) Send(_ context.Context, m channels.Message) (channels.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(m); err != nil {
			return channels.Receipt{}, err
		}
	}
	r.msgs = append(r.msgs, m)
	return channels.Receipt{}, nil
}

func (r *recorder) to(addr string) []channels.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []channels.Message
	for _, m := range r.msgs {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}
