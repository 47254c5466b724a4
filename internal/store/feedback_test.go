package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/store"
)

func TestABounceBlockSaysBouncedAtItsAddressOnly(t *testing.T) {
	ctx := context.Background()
	st := store.New(redistest.Start(t).Client(t))
	if err := st.Block(ctx, "c-1", "email", "gone@example.net", store.BlockedBounced); err != nil {
		t.Fatal(err)
	}
	bl, err := st.Blocked(ctx, "c-1")
	got := store.BlockReasons(bl)
	if err != nil || len(got) != 1 || got["email"] != store.BlockedBounced || bl["email"] != store.AddressDigest("gone@example.net") {
		t.Fatalf("Blocked = %v, %v; want email bounced", got, err)
	}
	// A block at another address (an unreachable one, as the release script writes it)
	// is no bounce.
	h := map[string]string{"email": store.AddressDigest("new@example.net"), "email\x00why": "bounced\x00" + store.AddressDigest("gone@example.net")}
	if r := store.BlockReason(h, "email"); r != store.BlockedUnreachable {
		t.Errorf("BlockReason at another address = %q, want unreachable", r)
	}
}

func TestSoftBouncesCountUntilADelivery(t *testing.T) {
	ctx := context.Background()
	st := store.New(redistest.Start(t).Client(t))
	for want := int64(1); want <= 2; want++ {
		if n, err := st.SoftBounce(ctx, "email", "Anna@Example.org"); err != nil || n != want {
			t.Fatalf("SoftBounce = %d, %v; want %d", n, err, want)
		}
	}
	if err := st.ResetSoftBounces(ctx, "email", "anna@example.org"); err != nil {
		t.Fatal(err)
	}
	if n, err := st.SoftBounce(ctx, "email", "anna@example.org"); err != nil || n != 1 {
		t.Fatalf("SoftBounce after a delivery = %d, %v; want 1", n, err)
	}
}

func TestMarksAndRefsAreErasedWithTheCustomer(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	ref := store.Ref{CustomerID: "c-1", MessageID: "e1-s1", Channel: "email", Journey: "j", Step: "s1"}
	id, err := st.SaveRef(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.LoadRef(ctx, id); err != nil || got != ref {
		t.Fatalf("LoadRef = %+v, %v", got, err)
	}
	if _, err := st.LoadRef(ctx, "nothing"); !errors.Is(err, store.ErrUnknownRef) {
		t.Errorf("LoadRef(unknown) = %v, want ErrUnknownRef", err)
	}
	if err := st.MarkDelivery(ctx, "c-1", "e1-s1", "bounced"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		if first, err := st.Click(ctx, "c-1", "e1-s1", "https://shop.example/p"); err != nil || first != want {
			t.Fatalf("click %d: first = %v, %v; want %v", i, first, err, want)
		}
	}
	m, err := st.Marks(ctx, "c-1")
	if err != nil || m["e1-s1"] != (store.Marks{Delivery: "bounced", Clicked: true}) {
		t.Fatalf("Marks = %+v, %v", m, err)
	}
	// The history line of the message, as the send's commit writes it.
	if err := rdb.LPush(ctx, "rapport:{c-1}:history", `{"journey":"j","step":"s1","outcome":"sent","message_id":"e1-s1"}`).Err(); err != nil {
		t.Fatal(err)
	}
	if err := st.Forget(ctx, "c-1", t0, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LoadRef(ctx, id); !errors.Is(err, store.ErrUnknownRef) {
		t.Errorf("LoadRef after erasure = %v, want ErrUnknownRef", err)
	}
	if m, err := st.Marks(ctx, "c-1"); err != nil || len(m) != 0 {
		t.Errorf("Marks after erasure = %v, %v", m, err)
	}
}
