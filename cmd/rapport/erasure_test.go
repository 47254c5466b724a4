package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/testutil"
)

// TestErasureLeavesNothingBehindButTheOptOut drives the binary: a customer orders,
// unsubscribes and is erased. Afterwards no Redis copy of the event holds their email
// or name, the event's id is still a duplicate, and their address stays opted out.
func TestErasureLeavesNothingBehindButTheOptOut(t *testing.T) {
	s := newSetup(t, "../../workflows", "")
	s.start(t, "serve")
	order := `{"id": "evt-erase", "type": "order.placed", "customer_id": "e-1",
	  "customer": {"email": "erin.erasable@example.com", "first_name": "Erinna"}, "data": {"order_id": "A-1", "total": 10}}`
	if code, body := s.post(t, "/v1/events", order); code != 202 {
		t.Fatalf("order = %d %v", code, body)
	}
	msgs := s.smtp.WaitFor(t, 1, 15*time.Second)
	link := strings.Trim(msgs[0].Header.Get("List-Unsubscribe"), "<>")
	resp, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("one-click POST: %v %v", resp, err)
	}
	resp.Body.Close()

	// An event of theirs that failed for good (here: no type, as only a hand-made task can
	// be) waits in asynq's archive with their email in it.
	rdb := s.redis.Client(t)
	ctx := context.Background()
	bad := `{"id": "evt-bad", "customer_id": "e-1", "customer": {"email": "erin.erasable@example.com"}}`
	if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask(event.TaskType, []byte(bad)),
		asynq.Queue(event.Queue), asynq.TaskID(event.TaskID("evt-bad"))); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	testutil.WaitFor(t, 15*time.Second, "the bad event in the archive", func() bool {
		info, err := insp.GetTaskInfo(event.Queue, event.TaskID("evt-bad"))
		return err == nil && info.State == asynq.TaskStateArchived
	})

	req := must(http.NewRequest("DELETE", "http://"+s.addr+"/v1/customers/e-1", nil))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("DELETE: %v %v", resp, err)
	}
	resp.Body.Close()
	if v := s.customer(t, "e-1"); len(v) != 0 {
		t.Fatalf("customer after erasing: %v, want 404", v)
	}
	// Nothing that names the customer is left but the erasure's marker (api.md).
	var named []string
	iter := rdb.Scan(ctx, 0, "*e-1*", 100).Iterator()
	for iter.Next(ctx) {
		named = append(named, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(named) != 1 || named[0] != "rapport:{e-1}:erased" {
		t.Fatalf("keys naming the customer after the erasure: %v, want only rapport:{e-1}:erased", named)
	}

	testutil.WaitFor(t, 10*time.Second, "no key in Redis to hold the email or the name (the retained event task did)", func() bool {
		keys, err := rdb.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if v := contents(ctx, rdb, k); strings.Contains(v, "erin.erasable") || strings.Contains(v, "Erinna") {
				return false
			}
		}
		return true
	})
	if code, body := s.post(t, "/v1/events", order); code != 200 || body["duplicate"] != true {
		t.Fatalf("the erased customer's event again = %d %v, want 200 duplicate", code, body)
	}

	// They come back with the same address: the opt-out holds. A second customer's order
	// is the sentinel: once its email is in, the first one's would be too.
	again := `{"id": "evt-back", "type": "order.placed", "customer_id": "e-1",
	  "customer": {"email": "Erin.Erasable@example.com", "first_name": "Erinna"}, "data": {"order_id": "A-2", "total": 10}}`
	sentinel := `{"id": "evt-sentinel", "type": "order.placed", "customer_id": "s-1",
	  "customer": {"email": "sam@example.com"}, "data": {"order_id": "A-3", "total": 10}}`
	for _, ev := range []string{again, sentinel} {
		if code, body := s.post(t, "/v1/events", ev); code != 202 {
			t.Fatalf("order = %d %v", code, body)
		}
	}
	msgs = s.smtp.WaitFor(t, 2, 15*time.Second)
	testutil.WaitFor(t, 10*time.Second, "the returning customer's thank-you to be recorded", func() bool {
		h, _ := s.customer(t, "e-1")["history"].([]any)
		return len(h) > 0
	})
	if n := countTo(msgs, "erin.erasable@example.com") + countTo(msgs, "Erin.Erasable@example.com"); n != 1 {
		t.Fatalf("the address that opted out got %d emails in all, want only the one before", n)
	}
	if got := s.customer(t, "e-1")["consent"].(map[string]any)["email"]; got != false {
		t.Fatalf("consent of the returning customer = %v, want unsubscribed", got)
	}
}

// contents reads whatever a key holds, as text.
func contents(ctx context.Context, rdb *redis.Client, key string) string {
	var v any
	switch rdb.Type(ctx, key).Val() {
	case "string":
		v = rdb.Get(ctx, key).Val()
	case "hash":
		v = rdb.HGetAll(ctx, key).Val()
	case "list":
		v = rdb.LRange(ctx, key, 0, -1).Val()
	case "set":
		v = rdb.SMembers(ctx, key).Val()
	case "zset":
		v = rdb.ZRange(ctx, key, 0, -1).Val()
	}
	return fmt.Sprint(v)
}
