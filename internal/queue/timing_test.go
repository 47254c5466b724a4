package queue_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/testutil"
)

// TestNoStepStartsBeforeItIsDue spreads twenty steps over one second. asynq scores due
// times in whole seconds and would wake most of them early; the worker must hold each one
// until its due time, to the millisecond.
func TestNoStepStartsBeforeItIsDue(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	clock := &setClock{}
	sends := &timedChannel{at: map[string]time.Time{}}
	set := channels.Set{"email": {Name: "email", Type: channels.Type{Name: "timed", Kind: channels.KindEmail, AddressKey: "email"}, Channel: sends}}
	eng := newEngineClock(t, rdb, "testdata/templates", set, clock, `
id: soon
trigger: {event: order.placed}
steps:
  - wait: 10s
    send: {template: hello, channels: [email]}
`)
	// Each customer enrols at a clock set 10 s before its due time: due times 47 ms apart,
	// from the next whole second plus two.
	first := time.Now().Truncate(time.Second).Add(2 * time.Second)
	due := map[string]time.Time{}
	for i := 0; i < 20; i++ {
		addr := fmt.Sprintf("c%d@x.example", i)
		due[addr] = first.Add(time.Duration(i*47) * time.Millisecond)
		clock.set(due[addr].Add(-10 * time.Second))
		err := eng.HandleEvent(context.Background(), event.Event{ID: fmt.Sprint("e", i), Type: "order.placed",
			CustomerID: fmt.Sprint("c", i), OccurredAt: time.Now(), Customer: map[string]any{"email": addr}})
		if err != nil {
			t.Fatal(err)
		}
	}
	clock.set(time.Time{})
	startWorker(t, eng, rdb)
	testutil.WaitFor(t, 10*time.Second, "twenty messages", func() bool { return sends.n.Load() == 20 })
	for addr, at := range sends.times() {
		if at.Before(due[addr]) {
			t.Errorf("%s: sent %v before its due time %s", addr, due[addr].Sub(at), due[addr].Format("15:04:05.000"))
		}
	}
}

// setClock is the system clock, or a fixed time while one is set.
type setClock struct{ at atomic.Pointer[time.Time] }

func (c *setClock) set(t time.Time) { c.at.Store(&t) }

func (c *setClock) Now() time.Time {
	if t := c.at.Load(); t != nil && !t.IsZero() {
		return *t
	}
	return time.Now()
}

// timedChannel remembers when it sent to each address.
type timedChannel struct {
	mu sync.Mutex
	at map[string]time.Time
	n  atomic.Int64
}

func (c *timedChannel) Send(_ context.Context, m channels.Message) (channels.Receipt, error) {
	now := time.Now()
	c.mu.Lock()
	c.at[m.To] = now
	c.mu.Unlock()
	c.n.Add(1)
	return channels.Receipt{}, nil
}

func (c *timedChannel) times() map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]time.Time, len(c.at))
	for k, v := range c.at {
		out[k] = v
	}
	return out
}
