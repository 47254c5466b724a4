package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/store"
)

// keysNaming returns every key whose name holds id, by SCAN.
func keysNaming(t *testing.T, rdb *redis.Client, id string) []string {
	t.Helper()
	var out []string
	iter := rdb.Scan(context.Background(), 0, "*"+id+"*", 100).Iterator()
	for iter.Next(context.Background()) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestErasureFindsEveryKeyWithoutBeingTold: a customer gets everything the store can
// write for one: a profile, an order's applied marker, once_per, re-entry and goal
// markers, enrolments, timers, consent, an answer, more claims than the history keeps,
// blocked channels and cap counters, one of them of a kind no policy has. Forget is told
// nothing but the customer id, and a SCAN for it afterwards finds only the erasure's own
// marker.
func TestErasureFindsEveryKeyWithoutBeingTold(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	const cid = "erin-42"
	order := event.Event{ID: "o1", Type: store.OrderPlaced, CustomerID: cid, OccurredAt: t0,
		Customer: map[string]any{"email": "erin@example.com"}, Data: map[string]any{"total": 10.0}}
	if _, err := st.ApplyEvent(ctx, order); err != nil {
		t.Fatal(err)
	}
	for i, r := range []store.Rule{{Once: "cart-1"}, {ReenterAfter: time.Hour}} {
		e := store.Enrolment{ID: fmt.Sprint("n", i), Journey: fmt.Sprint("j", i), CustomerID: cid, StartedAt: t0,
			Step: "s1", Due: t0.Add(time.Hour), Task: store.StepTaskID(fmt.Sprint("n", i), "s1"), Since: t0}
		if got, _, err := st.Enrol(ctx, e, r); err != nil || got != store.Started {
			t.Fatalf("Enrol %d = %v, %v", i, got, err)
		}
	}
	if _, _, err := st.Exit(ctx, "goal-journey", cid, t0); err != nil {
		t.Fatal(err)
	}
	if err := st.SetTimer(ctx, "j0", cid, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.SetConsent(ctx, cid, "sms", false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordAnswer(ctx, cid, "nps", store.Answer{EventID: "a1", At: t0, Value: "9"}); err != nil {
		t.Fatal(err)
	}
	windows := []store.Window{{Counter: "all", Limit: 1000, Per: time.Hour},
		{Counter: "a-kind-no-policy-has", Limit: 0, Per: 48 * time.Hour}}
	for i := range store.HistoryLength + 20 {
		msg := fmt.Sprint("m", i)
		r := store.Reservation{CustomerID: cid, MessageID: msg, Token: "t", Channel: "email",
			Address: "erin@example.com", At: t0, Lease: time.Minute, Windows: windows}
		if res, err := st.Reserve(ctx, r); err != nil || res.Status != store.ReserveOK {
			t.Fatalf("Reserve %s = %v, %v", msg, res, err)
		}
		c := store.Commit{CustomerID: cid, MessageID: msg, Token: "t",
			Record: store.Record{At: t0, Journey: "j0", Step: "s1", Outcome: "sent", MessageID: msg},
			Move:   store.Move{Journey: "j0", CustomerID: cid, Enrolment: "none", From: "s1"}}
		if _, err := st.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	rel := store.Reservation{CustomerID: cid, MessageID: "bounced", Token: "t", Channel: "email",
		Address: "erin@example.com", At: t0, Lease: time.Minute}
	if _, err := st.Reserve(ctx, rel); err != nil {
		t.Fatal(err)
	}
	if err := st.Release(ctx, store.Release{CustomerID: cid, MessageID: "bounced", Token: "t", Block: true,
		Channel: "email", Address: "erin@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Suppress(ctx, "sms", "+4912345", true); err != nil {
		t.Fatal(err)
	}
	if n := len(keysNaming(t, rdb, cid)); n < store.HistoryLength+10 {
		t.Fatalf("the customer has %d keys before the erasure; the test wrote too little", n)
	}

	if err := st.Forget(ctx, cid, t0); err != nil {
		t.Fatal(err)
	}
	left := keysNaming(t, rdb, cid)
	if len(left) != 1 || !strings.HasSuffix(left[0], ":erased") {
		t.Fatalf("after the erasure a SCAN for %s finds %v, want only the erasure marker", cid, left)
	}
	if on, err := st.Suppressed(ctx, "sms", "+4912345"); err != nil || !on {
		t.Fatalf("the suppression list lost the opt-out: %v, %v", on, err)
	}
}
