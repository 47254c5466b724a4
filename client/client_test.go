package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/redistest"
)

func TestSendEnqueuesOnceAndReportsDuplicates(t *testing.T) {
	srv := redistest.Start(t)
	c, err := client.New(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	ev := event.Event{ID: "evt-1", Type: "order.placed", CustomerID: "c-42", Data: map[string]any{"total": 59.9}}

	res, err := c.Send(ctx, ev)
	if err != nil || res.ID != "evt-1" || res.Duplicate {
		t.Fatalf("first send = %+v, %v; want accepted evt-1", res, err)
	}
	res, err = c.Send(ctx, ev)
	if err != nil || !res.Duplicate {
		t.Fatalf("second send = %+v, %v; want a duplicate", res, err)
	}

	insp := asynq.NewInspectorFromRedisClient(srv.Client(t))
	info, err := insp.GetTaskInfo(event.Queue, event.TaskID("evt-1"))
	if err != nil {
		t.Fatalf("the event is not in the queue: %v", err)
	}
	got, err := event.Unmarshal(info.Payload)
	if err != nil || got.CustomerID != "c-42" || got.OccurredAt.IsZero() {
		t.Fatalf("queued payload = %+v, %v; want customer c-42 with occurred_at filled", got, err)
	}
	if q, err := insp.GetQueueInfo(event.Queue); err != nil || q.Size != 1 {
		t.Fatalf("queue info = %+v, %v; want exactly 1 task", q, err)
	}
}

func TestSendFillsAMissingID(t *testing.T) {
	srv := redistest.Start(t)
	c := client.NewFromRedis(srv.Client(t))
	a, err := c.Send(context.Background(), event.Event{Type: "cart.abandoned", CustomerID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Send(context.Background(), event.Event{Type: "cart.abandoned", CustomerID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || a.ID == b.ID || a.Duplicate || b.Duplicate {
		t.Fatalf("ids %q and %q: want two distinct accepted events", a.ID, b.ID)
	}
}

func TestSendRejectsAnInvalidEventNamingTheField(t *testing.T) {
	srv := redistest.Start(t)
	c := client.NewFromRedis(srv.Client(t))
	_, err := c.Send(context.Background(), event.Event{Type: "order.placed"})
	var fe *event.FieldError
	if !errors.As(err, &fe) || fe.Field != "customer_id" {
		t.Fatalf("got %v, want a FieldError for customer_id", err)
	}
}

func TestSendWithoutRedisIsUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill()
	c := client.NewFromRedis(redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1}))
	_, err := c.Send(context.Background(), event.Event{ID: "x", Type: "order.placed", CustomerID: "c"})
	if !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
}

func TestSendOnARedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	c, err := client.NewUniversal(&redis.UniversalOptions{Addrs: cl.Addrs()[:1], IsClusterMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	ev := event.Event{ID: "evt-c1", Type: "order.placed", CustomerID: "c-7"}
	if res, err := c.Send(ctx, ev); err != nil || res.Duplicate {
		t.Fatalf("first send on the cluster = %+v, %v; want accepted", res, err)
	}
	if res, err := c.Send(ctx, ev); err != nil || !res.Duplicate {
		t.Fatalf("second send on the cluster = %+v, %v; want a duplicate", res, err)
	}
	insp := asynq.NewInspectorFromRedisClient(cl.Client(t))
	if q, err := insp.GetQueueInfo(event.Queue); err != nil || q.Size != 1 {
		t.Fatalf("the cluster's event queue = %+v, %v; want exactly 1 event", q, err)
	}
}

func TestNewUniversalNeedsAnAddress(t *testing.T) {
	if _, err := client.NewUniversal(&redis.UniversalOptions{}); err == nil {
		t.Fatal("NewUniversal without an address succeeded")
	}
}

func TestSendThroughSentinel(t *testing.T) {
	sen := redistest.StartSentinel(t)
	c, err := client.NewUniversal(&redis.UniversalOptions{MasterName: sen.MasterName, Addrs: []string{sen.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if res, err := c.Send(context.Background(), event.Event{ID: "evt-s1", Type: "order.placed", CustomerID: "c-8"}); err != nil || res.Duplicate {
		t.Fatalf("send through Sentinel = %+v, %v; want accepted", res, err)
	}
	insp := asynq.NewInspectorFromRedisClient(sen.Master.Client(t))
	if _, err := insp.GetTaskInfo(event.Queue, event.TaskID("evt-s1")); err != nil {
		t.Fatalf("the event is not on the master: %v", err)
	}
}

// The Go client refuses the ids the API refuses: braces would move a key's Redis hash
// tag and let one customer's keys be another's.
func TestSendRefusesIdsThatCouldCollide(t *testing.T) {
	srv := redistest.Start(t)
	c := client.NewFromRedis(srv.Client(t))
	for _, tc := range []struct {
		ev    event.Event
		field string
	}{
		{event.Event{ID: "q}:customer", Type: "order.placed", CustomerID: "zz"}, "id"},
		{event.Event{ID: "evt-2", Type: "order.placed", CustomerID: "zz}:applied:q"}, "customer_id"},
		{event.Event{ID: "evt-3", Type: "order.placed", CustomerID: "zz\r\n"}, "customer_id"},
	} {
		_, err := c.Send(context.Background(), tc.ev)
		var fe *event.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Send(id %q, customer %q) = %v, want a field error naming %s", tc.ev.ID, tc.ev.CustomerID, err, tc.field)
		}
	}
	if _, err := asynq.NewInspectorFromRedisClient(srv.Client(t)).GetQueueInfo(event.Queue); err == nil {
		t.Fatal("the events queue exists: a refused event was queued")
	}
}
