package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/redistest"
)

// With WaitForReplicas, a hand-over that no replica has in time fails, sending nothing;
// one the replica has goes on.
func TestAHandOverWaitsForAReplica(t *testing.T) {
	ctx := context.Background()
	reserve := func(s *Store, msg string) {
		t.Helper()
		r, err := s.Reserve(ctx, Reservation{CustomerID: "c", MessageID: msg, Token: "tok", Channel: "email",
			Address: "c@example.com", At: time.Now(), Lease: time.Minute})
		if err != nil || r.Status != ReserveOK {
			t.Fatal(r, err)
		}
	}
	alone := New(redistest.Start(t).Client(t), WaitForReplicas(1, 200*time.Millisecond))
	reserve(alone, "m1")
	if err := alone.HandOver(ctx, "c", "m1", "tok", time.Minute); err == nil || !strings.Contains(err.Error(), "0 of 1 replicas") {
		t.Fatalf("a hand-over with no replica: %v, want it refused", err)
	}
	master, replica := redistest.StartReplicated(t)
	replicated := New(master.Client(t), WaitForReplicas(1, 5*time.Second))
	reserve(replicated, "m2")
	if err := replicated.HandOver(ctx, "c", "m2", "tok", time.Minute); err != nil {
		t.Fatalf("a hand-over the replica has: %v", err)
	}
	state, err := replica.Client(t).HGet(ctx, replicated.claimKey("c", "m2"), "state").Result()
	if err != nil || state != string(ClaimHanded) {
		t.Fatalf("the replica's claim: %q, %v; want handed", state, err)
	}
}

// A fence passes once the replica has every write, and fails without one.
func TestAFenceWaitsForTheReplica(t *testing.T) {
	ctx := context.Background()
	alone := New(redistest.Start(t).Client(t), WaitForReplicas(1, 200*time.Millisecond))
	if err := alone.Fence(ctx); err == nil {
		t.Fatal("a fence with no replica passed")
	}
	master, replica := redistest.StartReplicated(t)
	rdb := master.Client(t)
	s := New(rdb, WaitForReplicas(1, 5*time.Second))
	if err := rdb.Set(ctx, "written-before", "1", 0).Err(); err != nil { // on another connection
		t.Fatal(err)
	}
	if err := s.Fence(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := replica.Client(t).Get(ctx, "written-before").Result(); err != nil || v != "1" {
		t.Fatalf("the replica after the fence: %q, %v; want the earlier write", v, err)
	}
	if err := New(rdb).Fence(ctx); err != nil {
		t.Fatalf("a fence without WaitForReplicas: %v, want nothing done", err)
	}
}
