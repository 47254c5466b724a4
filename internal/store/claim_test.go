package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/store"
)

func reservation(token string, lease time.Duration, windows ...store.Window) store.Reservation {
	return store.Reservation{CustomerID: "c", MessageID: "m", Token: token, Channel: "email", Address: "c@x.example",
		At: t0, Lease: lease, Windows: windows}
}

func commit(token string) store.Commit {
	return store.Commit{CustomerID: "c", MessageID: "m", Token: token,
		Record: store.Record{At: t0, Journey: "j", Step: "s", Outcome: "sent"},
		Move:   store.Move{Journey: "j", CustomerID: "c", Enrolment: "a", From: "s"}}
}

func TestAStaleAttemptCannotUndoANewerOne(t *testing.T) {
	st := store.New(redistest.Start(t).Client(t))
	ctx := context.Background()
	cap2 := store.Window{Counter: "email", Limit: 2, Per: 24 * time.Hour}

	// Attempt A takes the message and stalls past its lease; B takes it over.
	if r, err := st.Reserve(ctx, reservation("A", time.Millisecond, cap2)); err != nil || r.Status != store.ReserveOK {
		t.Fatalf("A: %+v, %v", r, err)
	}
	time.Sleep(5 * time.Millisecond)
	r, err := st.Reserve(ctx, reservation("B", time.Hour, cap2))
	if err != nil || r.Status != store.ReserveOK || r.Found.Token != "A" || r.Found.State != store.ClaimReserved {
		t.Fatalf("B taking over A's dead reservation: %+v, %v", r, err)
	}
	// A wakes up: it can neither hand over, nor release, nor record.
	if err := st.HandOver(ctx, "c", "m", "A", time.Hour); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("A's hand-over: %v, want ErrClaimLost", err)
	}
	if err := st.Release(ctx, store.Release{CustomerID: "c", MessageID: "m", Token: "A", Windows: []store.Window{cap2}}); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("A's release: %v, want ErrClaimLost", err)
	}
	if _, err := st.Commit(ctx, commit("A")); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("A's commit: %v, want ErrClaimLost", err)
	}
	// B's claim and its place in the cap are intact; a third attempt sees B alive.
	if r, err := st.Reserve(ctx, reservation("C", time.Hour, cap2)); err != nil || r.Status != store.ReserveBusy || r.Found.Token != "B" {
		t.Fatalf("C while B is alive: %+v, %v; want busy", r, err)
	}
	if err := st.HandOver(ctx, "c", "m", "B", time.Hour); err != nil {
		t.Fatal(err)
	}
	res, err := st.Commit(ctx, commit("B"))
	if err != nil || !res.Recorded {
		t.Fatalf("B's commit: %+v, %v", res, err)
	}
	if res, err := st.Commit(ctx, commit("B")); err != nil || res.Recorded {
		t.Fatalf("B's commit again (its answer lost): %+v, %v; want nothing written twice", res, err)
	}
	if c, _ := st.Claim(ctx, "c", "m"); c.State != store.ClaimDone || c.Token != "B" {
		t.Fatalf("claim = %+v, want done by B", c)
	}
	if h, _ := st.History(ctx, "c"); len(h) != 1 {
		t.Fatalf("history has %d lines, want 1", len(h))
	}
	if r, _ := st.Reserve(ctx, reservation("D", time.Hour, cap2)); r.Status != store.ReserveDone {
		t.Fatalf("a later attempt: %v, want done", r.Status)
	}
}

func TestAHandedClaimOfADeadAttemptIsUncertainOrResent(t *testing.T) {
	st := store.New(redistest.Start(t).Client(t))
	ctx := context.Background()
	st.Reserve(ctx, reservation("A", time.Millisecond))
	if err := st.HandOver(ctx, "c", "m", "A", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	r, err := st.Reserve(ctx, reservation("B", time.Hour))
	if err != nil || r.Status != store.ReserveHanded {
		t.Fatalf("%+v, %v; want handed", r, err)
	}
	// B owns it now, to record it; a resend would have taken it to send.
	if _, err := st.Commit(ctx, commit("B")); err != nil {
		t.Fatal(err)
	}

	st.Reserve(ctx, store.Reservation{CustomerID: "c", MessageID: "m2", Token: "A", Channel: "email", At: t0, Lease: time.Millisecond})
	st.HandOver(ctx, "c", "m2", "A", time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	r, err = st.Reserve(ctx, store.Reservation{CustomerID: "c", MessageID: "m2", Token: "B", Channel: "email", At: t0, Lease: time.Hour, Resend: true})
	if err != nil || r.Status != store.ReserveOK || r.Found.State != store.ClaimHanded {
		t.Fatalf("resend: %+v, %v; want the claim, found handed", r, err)
	}
}

func TestReserveHoldsCapsForAttemptsAtOnce(t *testing.T) {
	st := store.New(redistest.Start(t).Client(t))
	ctx := context.Background()
	email := store.Window{Counter: "email", Limit: 2, Per: 24 * time.Hour}
	all := store.Window{Counter: "all", Limit: 3, Per: 24 * time.Hour}
	var mu sync.Mutex
	got := map[store.ReserveStatus]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := store.Reservation{CustomerID: "c", MessageID: string(rune('a' + i)), Token: "t", Channel: "email",
				At: t0, Lease: time.Hour, Windows: []store.Window{email, all}}
			res, err := st.Reserve(ctx, r)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[res.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got[store.ReserveOK] != 2 || got[store.ReserveCapped] != 18 {
		t.Fatalf("reservations = %v, want 2 ok and 18 capped", got)
	}
	// A bypassing message (limit 0) counts but is never stopped; then "all" is full too.
	bypass := store.Reservation{CustomerID: "c", MessageID: "receipt", Token: "t", Channel: "email", At: t0, Lease: time.Hour,
		Windows: []store.Window{{Counter: "email", Per: 24 * time.Hour}, {Counter: "all", Per: 24 * time.Hour}}}
	if r, _ := st.Reserve(ctx, bypass); r.Status != store.ReserveOK {
		t.Fatalf("bypass: %v", r.Status)
	}
	chat := store.Reservation{CustomerID: "c", MessageID: "chat", Token: "t", Channel: "chat", At: t0, Lease: time.Hour,
		Windows: []store.Window{all}}
	if r, _ := st.Reserve(ctx, chat); r.Status != store.ReserveCapped || r.Full.Counter != "all" {
		t.Fatalf("chat after 3 of all: %+v, want capped by all", r)
	}
	// A release gives the place back; a day later the window is empty again.
	if err := st.Release(ctx, store.Release{CustomerID: "c", MessageID: "receipt", Token: "t", Windows: bypass.Windows}); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Reserve(ctx, chat); r.Status != store.ReserveOK {
		t.Fatalf("chat after a release: %v, want ok", r.Status)
	}
	later := chat
	later.MessageID, later.At = "later", t0.Add(25*time.Hour)
	later.Windows = []store.Window{email, all}
	if r, _ := st.Reserve(ctx, later); r.Status != store.ReserveOK {
		t.Fatalf("a day later: %v, want ok", r.Status)
	}
}

func TestReserveRespectsConsentAndBlockedAddresses(t *testing.T) {
	st := store.New(redistest.Start(t).Client(t))
	ctx := context.Background()
	r := reservation("A", time.Hour)
	if err := st.SetConsent(ctx, "c", "email", false); err != nil {
		t.Fatal(err)
	}
	if res, _ := st.Reserve(ctx, r); res.Status != store.ReserveUnsubscribed {
		t.Fatalf("%v, want unsubscribed", res.Status)
	}
	st.SetConsent(ctx, "c", "email", true)
	if res, _ := st.Reserve(ctx, r); res.Status != store.ReserveOK {
		t.Fatalf("%v, want ok", res.Status)
	}
	if err := st.Release(ctx, store.Release{CustomerID: "c", MessageID: "m", Token: "A", Block: true, Channel: "email", Address: "c@x.example"}); err != nil {
		t.Fatal(err)
	}
	if res, _ := st.Reserve(ctx, r); res.Status != store.ReserveBlocked {
		t.Fatalf("%v, want blocked", res.Status)
	}
	r.Address = "new@x.example"
	if res, _ := st.Reserve(ctx, r); res.Status != store.ReserveOK || res.Found.Channel != "email" || res.Found.State != store.ClaimReleased {
		t.Fatalf("%+v, want ok at a new address", res)
	}
}
