// Package enginetest runs the engine for tests the way a journey simulator would: on a real
// Redis for state, with a virtual clock and an in-memory scheduler, so that tasks run when
// the test advances the clock past their time and a journey of weeks takes milliseconds.
// Messages go to a recording channel that can be told to fail.
package enginetest

import (
	"context"
	"errors"
	"fmt"
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

// Harness is an engine under test.
type Harness struct {
	t         testing.TB
	Engine    *engine.Engine
	Store     *store.Store
	Clock     *Clock
	Scheduler *Scheduler
	// Redis is the harness's private redis-server, to stop and resume.
	Redis *redistest.Server
	// Sent records the messages of both channels: "email" (email kind, address from the
	// profile's email) and "chat" (msg kind, address from chat_id).
	Sent *Recorder
}

// Config says what to run.
type Config struct {
	// Start is the virtual time the harness starts at.
	Start time.Time
	// Journeys are journey YAML documents.
	Journeys []string
	// Templates is the template folder.
	Templates string
	// Policies builds the send pipeline's policies on the harness's store.
	Policies func(*store.Store) []engine.Policy
	// Channels are added to the harness's two recording channels, or replace one of
	// them by name: a real SMTP channel, a channels.ChannelFunc that misbehaves.
	Channels channels.Set
	// Observer hears of outcomes and enrolments, as engine.Config.Observer.
	Observer engine.Observer
	// SendLease is engine.Config.SendLease; zero keeps the engine's default.
	SendLease time.Duration
}

// New starts a private redis-server and builds the engine.
func New(t testing.TB, cfg Config) *Harness {
	t.Helper()
	dir := t.TempDir()
	for i, j := range cfg.Journeys {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("j%d.yaml", i)), []byte(j), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := templates.Load(cfg.Templates)
	if err != nil {
		t.Fatal(err)
	}
	set, err := workflows.Load(dir, workflows.Options{HasTemplate: tmpl.Has})
	if err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	h := &Harness{t: t, Redis: srv, Store: store.New(rdb), Clock: &Clock{now: cfg.Start}, Sent: &Recorder{},
		Scheduler: &Scheduler{tasks: map[string]engine.Task{}, retry: map[string]int{}}}
	var policies []engine.Policy
	if cfg.Policies != nil {
		policies = cfg.Policies(h.Store)
	}
	chans := channels.Set{
		"email": {Name: "email", Type: channels.Type{Name: "rec", Kind: channels.KindEmail, AddressKey: "email"}, Channel: h.Sent},
		"chat":  {Name: "chat", Type: channels.Type{Name: "rec", Kind: channels.KindMsg, AddressKey: "chat_id"}, Channel: h.Sent},
	}
	for name, c := range cfg.Channels {
		chans[name] = c
	}
	h.Engine, err = engine.New(engine.Config{
		Store: h.Store, Scheduler: h.Scheduler, Journeys: set, Templates: tmpl, Clock: h.Clock, Policies: policies,
		Channels: chans, Observer: cfg.Observer, SendLease: cfg.SendLease,
		UnsubscribeURL: func(cid, ch string) string { return "https://r.example/unsubscribe/" + ch + "/" + cid },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Event processes an event at the current virtual time, filling its id and time when
// empty.
func (h *Harness) Event(ev event.Event) {
	h.t.Helper()
	if ev.ID == "" {
		ev.ID = ev.Type + "-" + ev.CustomerID + "-" + h.Clock.Now().Format(time.RFC3339Nano)
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = h.Clock.Now()
	}
	if err := h.Engine.HandleEvent(context.Background(), ev); err != nil {
		h.t.Fatalf("HandleEvent(%s): %v", ev.Type, err)
	}
}

// Advance moves the clock forward by d, running every task that falls due on the way at
// its own time. A handler error is retried a minute later, three times at most.
func (h *Harness) Advance(d time.Duration) {
	h.t.Helper()
	until := h.Clock.Now().Add(d)
	for {
		task, ok := h.Scheduler.next(until)
		if !ok {
			break
		}
		if task.At.After(h.Clock.Now()) {
			h.Clock.set(task.At)
		}
		var err error
		ctx := context.Background()
		switch task.Kind {
		case engine.KindStep:
			err = h.Engine.HandleStep(ctx, task.Payload, engine.Attempt{Retry: task.retries, MaxRetry: 3})
		case engine.KindTimer:
			err = h.Engine.HandleTimer(ctx, task.ID, task.Payload)
		}
		if err != nil {
			if errors.Is(err, engine.ErrPermanent) || task.retries >= 3 {
				h.t.Fatalf("task %s failed for good: %v", task.ID, err)
			}
			task.retries++
			task.At = h.Clock.Now().Add(time.Minute)
			h.Scheduler.put(task)
		}
	}
	h.Clock.set(until)
}

// AdvanceConcurrently moves the clock forward by d and runs every step task due by then
// at once, each on its own goroutine, the way several workers pick up a burst of due
// steps together. A task that fails is put back to be retried by the next Advance.
func (h *Harness) AdvanceConcurrently(d time.Duration) {
	h.t.Helper()
	until := h.Clock.Now().Add(d)
	h.Clock.set(until)
	var due []pending
	for {
		task, ok := h.Scheduler.next(until)
		if !ok {
			break
		}
		due = append(due, task)
	}
	var wg sync.WaitGroup
	for _, task := range due {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch task.Kind {
			case engine.KindStep:
				err = h.Engine.HandleStep(context.Background(), task.Payload, engine.Attempt{Retry: task.retries, MaxRetry: 3})
			case engine.KindTimer:
				err = h.Engine.HandleTimer(context.Background(), task.ID, task.Payload)
			}
			if err != nil {
				task.retries++
				task.At = until.Add(time.Minute)
				h.Scheduler.put(task)
			}
		}()
	}
	wg.Wait()
}

// History returns the customer's message history, newest first.
func (h *Harness) History(cid string) []store.Record {
	h.t.Helper()
	r, err := h.Store.History(context.Background(), cid)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// Clock is a virtual clock that moves only when the harness advances it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *Clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

type pending struct {
	engine.Task
	retries int
}

// Scheduler keeps tasks in memory with asynq's ID semantics: an ID is unique while its
// task is pending.
type Scheduler struct {
	mu    sync.Mutex
	tasks map[string]engine.Task
	retry map[string]int
	// Cancelled counts Cancel calls that removed a task.
	Cancelled int
}

// Schedule implements engine.Scheduler.
func (s *Scheduler) Schedule(_ context.Context, t engine.Task) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tasks[t.ID]; !ok {
		s.tasks[t.ID] = t
	}
	return nil
}

// Cancel implements engine.Scheduler.
func (s *Scheduler) Cancel(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tasks[id]; ok {
		delete(s.tasks, id)
		s.Cancelled++
	}
	return nil
}

// next removes and returns the earliest task due no later than until.
func (s *Scheduler) next(until time.Time) (pending, bool) {
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

func (s *Scheduler) put(p pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retry[p.ID] = p.retries
	s.tasks[p.ID] = p.Task
}

// Len is the number of pending tasks.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tasks)
}

// Timers returns the pending timer tasks.
func (s *Scheduler) Timers() []engine.Task {
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

// Recorder is a channel that keeps what it is asked to send, and can be told to fail.
type Recorder struct {
	mu   sync.Mutex
	msgs []channels.Message
	// Fail, when set, decides the error of a send.
	Fail func(channels.Message) error
}

// Send records msg unless Fail says otherwise. Like a real channel it hands the message
// over (channels.HandOver) before it counts as sent.
func (r *Recorder) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Fail != nil {
		if err := r.Fail(m); err != nil {
			return channels.Receipt{}, err
		}
	}
	if err := channels.HandOver(ctx); err != nil {
		return channels.Receipt{}, channels.Temporary(err)
	}
	r.msgs = append(r.msgs, m)
	return channels.Receipt{}, nil
}

// To returns the messages sent to an address.
func (r *Recorder) To(addr string) []channels.Message {
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
