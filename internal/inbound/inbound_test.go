package inbound_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/inbound"
	"github.com/rapporthq/rapport/internal/inbound/providers"
	"github.com/rapporthq/rapport/internal/inbound/smtpd"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/store"
)

// intake keeps the events raised, by id, as the real intake's idempotency would.
type intake struct {
	mu     sync.Mutex
	events map[string]event.Event
	order  []string
}

func (in *intake) Send(_ context.Context, ev event.Event) (client.Result, error) {
	if err := ev.Validate(); err != nil {
		return client.Result{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, dup := in.events[ev.ID]; dup {
		return client.Result{ID: ev.ID, Duplicate: true}, nil
	}
	in.events[ev.ID] = ev
	in.order = append(in.order, ev.ID)
	return client.Result{ID: ev.ID}, nil
}

func (in *intake) all() []event.Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []event.Event
	for _, id := range in.order {
		out = append(out, in.events[id])
	}
	return out
}

// consent records opt-outs in the store as the engine does.
type consent struct{ st *store.Store }

func (c consent) SetConsent(ctx context.Context, id, channel string, subscribed bool) error {
	return c.st.SetConsent(ctx, id, channel, subscribed)
}

type fixture struct {
	rdb    *redis.Client
	st     *store.Store
	l      *inbound.Listener
	in     *intake
	addr   string
	counts sync.Map
}

func (f *fixture) count(kind string) int {
	v, _ := f.counts.Load(kind)
	n, _ := v.(int)
	return n
}

func setup(t *testing.T) *fixture {
	t.Helper()
	rdb := redistest.Start(t).Client(t)
	f := &fixture{rdb: rdb, st: store.New(rdb), in: &intake{events: map[string]event.Event{}}}
	var mu sync.Mutex
	f.l = inbound.New(inbound.Config{Store: f.st, Intake: f.in, Consent: consent{f.st}, Keys: signing.NewKeys("a-long-enough-secret"),
		Listening: map[string]bool{"email": true},
		Count: func(_, kind string) {
			mu.Lock()
			defer mu.Unlock()
			f.counts.Store(kind, f.count(kind)+1)
		}})
	srv, err := smtpd.New(smtpd.Config{Verifier: f.l.SMTP(), Receiver: f.l.SMTP(), Addresses: []smtpd.Address{
		{Kind: smtpd.Bounces, Address: "bounces@mail.shop.example"}, {Kind: smtpd.Replies, Address: "replies@mail.shop.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f.addr = ln.Addr().String()
	return f
}

// sent names a message as the engine does before sending it.
func (f *fixture) sent(t *testing.T, cid, msg, address string) (bounces, replies, ref string) {
	t.Helper()
	r, err := f.l.Return(context.Background(), store.Ref{CustomerID: cid, MessageID: msg, Channel: "email",
		Journey: "post-purchase", Step: "thanks", Address: store.AddressDigest(address)})
	if err != nil || r == nil {
		t.Fatalf("Return = %v, %v", r, err)
	}
	if len(r.Bounces) > 64 || len(r.Replies) > 64 {
		t.Fatalf("tokens longer than 64: %q %q", r.Bounces, r.Replies)
	}
	return "bounces+" + r.Bounces + "@mail.shop.example", "replies+" + r.Replies + "@mail.shop.example", r.Ref
}

func (f *fixture) mail(t *testing.T, from, to, data string) error {
	t.Helper()
	c, err := smtp.Dial(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail(from, []string{to}, strings.NewReader(strings.ReplaceAll(data, "\n", "\r\n")))
}

func sample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("mailparse/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAHardDSNBlocksTheAddressAndRaisesBounced(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	bounces, _, _ := f.sent(t, "c-1", "e1-thanks", "nobody@example.net")
	for range 2 { // the same DSN twice is one report
		if err := f.mail(t, "", bounces, sample(t, "postfix-hard.eml")); err != nil {
			t.Fatal(err)
		}
	}
	bl, err := f.st.Blocked(ctx, "c-1")
	if err != nil || bl["email"] != store.AddressDigest("nobody@example.net") || store.BlockReason(bl, "email") != store.BlockedBounced {
		t.Fatalf("blocked = %v, %v", bl, err)
	}
	evs := f.in.all()
	if len(evs) != 1 {
		t.Fatalf("events = %+v, want one", evs)
	}
	e := evs[0]
	if e.Type != inbound.TypeBounced || e.CustomerID != "c-1" || e.Data["kind"] != "hard" || e.Data["status"] != "5.1.1" ||
		e.Data["message_id"] != "e1-thanks" || e.Data["journey"] != "post-purchase" || e.Data["step"] != "thanks" || e.Data["channel"] != "email" {
		t.Errorf("event = %+v", e)
	}
	if m, err := f.st.Marks(ctx, "c-1"); err != nil || m["e1-thanks"].Delivery != "bounced" {
		t.Errorf("marks = %v, %v", m, err)
	}
	if f.count(inbound.KindBounceHard) != 1 {
		t.Errorf("bounce_hard counted %d times, want 1", f.count(inbound.KindBounceHard))
	}
}

func TestSoftDSNsCountAsHardAtTheLimitAndADeliveryResetsThem(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	soft := func(n int) string {
		return strings.Replace(sample(t, "postfix-delayed.eml"), "Subject: Delayed Mail", fmt.Sprintf("Message-ID: <delay-%d@mx>\nSubject: Delayed Mail", n), 1)
	}
	bounces, _, _ := f.sent(t, "c-2", "e2-thanks", "anna@example.org")
	for i := range 2 {
		if err := f.mail(t, "", bounces, soft(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A delivery in between resets the count.
	delivered := strings.NewReplacer("Action: delayed", "Action: delivered", "Status: 4.4.1", "Status: 2.0.0").Replace(soft(99))
	if err := f.mail(t, "", bounces, delivered); err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 4; i++ {
		if err := f.mail(t, "", bounces, soft(i)); err != nil {
			t.Fatal(err)
		}
	}
	if bl, _ := f.st.Blocked(ctx, "c-2"); len(bl) != 0 {
		t.Fatalf("blocked after 2 soft bounces since a delivery: %v", bl)
	}
	if err := f.mail(t, "", bounces, soft(4)); err != nil {
		t.Fatal(err)
	}
	bl, err := f.st.Blocked(ctx, "c-2")
	if err != nil || store.BlockReason(bl, "email") != store.BlockedBounced {
		t.Fatalf("blocked after 3 soft bounces = %v, %v", bl, err)
	}
	evs := f.in.all()
	if len(evs) != 5 || evs[4].Data["kind"] != "hard" || evs[3].Data["kind"] != "soft" {
		t.Errorf("events = %+v, want 5 bounces, the last one hard", evs)
	}
}

func TestAnARFReportUnsubscribesAndSuppresses(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	bounces, _, _ := f.sent(t, "c-3", "e3-thanks", "anna@yahoo.com")
	if err := f.mail(t, "feedbackloop@yahoo-inc.com", bounces, sample(t, "yahoo-arf.eml")); err != nil {
		t.Fatal(err)
	}
	c, err := f.st.Consent(ctx, "c-3")
	if err != nil || len(c) != 1 || c["email"] {
		t.Fatalf("consent = %v, %v; want email unsubscribed", c, err)
	}
	if on, err := f.st.Suppressed(ctx, "email", "anna@yahoo.com"); err != nil || !on {
		t.Errorf("suppressed = %v, %v", on, err)
	}
	if evs := f.in.all(); len(evs) != 1 || evs[0].Type != inbound.TypeComplained {
		t.Errorf("events = %+v", evs)
	}
}

func TestARepliesTextIsRaisedAndAnAutomaticAnswerIsNot(t *testing.T) {
	f := setup(t)
	_, replies, _ := f.sent(t, "c-4", "e4-thanks", "anna@gmail.com")
	if err := f.mail(t, "anna@gmail.com", replies, sample(t, "gmail-reply.eml")); err != nil {
		t.Fatal(err)
	}
	if err := f.mail(t, "clara@example.com", replies, sample(t, "out-of-office.eml")); err != nil {
		t.Fatal(err)
	}
	if err := f.mail(t, "dan@example.com", replies, sample(t, "image-only-reply.eml")); err != nil {
		t.Fatal(err)
	}
	if err := f.mail(t, "", replies, "From: x@example.com\nSubject: hi\n\nAn answer from the null sender."); err != nil {
		t.Fatal(err)
	}
	evs := f.in.all()
	if len(evs) != 1 {
		t.Fatalf("events = %+v, want one reply", evs)
	}
	if e := evs[0]; e.Type != inbound.TypeReplied || e.Data["text"] != "Hi! The grinder arrived broken — can someone help?\n\nAnna" ||
		e.Data["subject"] != "Re: Thanks for your order" || e.Data["message_id"] != "e4-thanks" {
		t.Errorf("reply = %+v", e)
	}
	if n := f.count(inbound.KindRejected); n != 3 {
		t.Errorf("rejected = %d, want 3 (out of office, no text, null sender)", n)
	}
}

func TestForgedTokensAndUnknownMessagesChangeNothing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	bounces, replies, _ := f.sent(t, "c-5", "e5-thanks", "nobody@example.net")
	forged := strings.Replace(bounces, "+", "+X", 1)
	if err := f.mail(t, "", forged, sample(t, "postfix-hard.eml")); err == nil {
		t.Error("a forged token was accepted")
	}
	// A replies token at the bounces address.
	swapped := "bounces+" + strings.TrimSuffix(strings.TrimPrefix(replies, "replies+"), "@mail.shop.example") + "@mail.shop.example"
	if err := f.mail(t, "", swapped, sample(t, "postfix-hard.eml")); err == nil {
		t.Error("a replies token was accepted at the bounces address")
	}
	// A token of a message whose ref is gone (erased, or older than RefMemory): the
	// customer is erased, with the history line the send wrote.
	if err := f.rdb.LPush(ctx, "rapport:{c-5}:history", `{"outcome":"sent","message_id":"e5-thanks"}`).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Forget(ctx, "c-5", t0()); err != nil {
		t.Fatal(err)
	}
	if err := f.mail(t, "", bounces, sample(t, "postfix-hard.eml")); err != nil {
		t.Fatalf("a verified token of an unknown message: %v", err)
	}
	if bl, _ := f.st.Blocked(ctx, "c-5"); len(bl) != 0 {
		t.Errorf("blocked = %v", bl)
	}
	if len(f.in.all()) != 0 || f.count(inbound.KindRejected) != 1 {
		t.Errorf("events = %v, rejected = %d", f.in.all(), f.count(inbound.KindRejected))
	}
}

func TestAProviderHardBounceFindsTheMessageByItsMessageID(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.sent(t, "c-6", "e6-thanks", "gone@example.net")
	p, err := providers.New(providers.Config{Provider: "postmark", Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.l.Hook("email", p))
	defer srv.Close()
	post := func(user, body string) int {
		req, err := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, "p")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"RecordType": "Bounce", "ID": 42, "Type": "HardBounce", "Email": "gone@example.net", "Details": "550 5.1.1",
	  "Metadata": {}, "MessageID": "x", "Headers": []}`
	if code := post("intruder", body); code != http.StatusUnauthorized {
		t.Errorf("unsigned: %d, want 401", code)
	}
	if on, _ := f.st.Suppressed(ctx, "email", "gone@example.net"); on {
		t.Fatal("an unverified webhook changed the suppression list")
	}
	if code := post("u", body); code != http.StatusOK {
		t.Errorf("signed: %d, want 200", code)
	}
	// Postmark names its own message id: the event names no message Rapport knows, so
	// the hard bounce goes to the address.
	if on, _ := f.st.Suppressed(ctx, "email", "gone@example.net"); !on {
		t.Error("a hard bounce of an unknown message did not suppress the address")
	}
}

func t0() time.Time { return time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC) }

func TestAMailgunBounceOfAKnownMessageBlocksItsCustomer(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, _, ref := f.sent(t, "c-7", "e7-thanks", "gone@example.net")
	p, err := providers.New(providers.Config{Provider: "mailgun", SigningKey: "key-1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.l.Hook("email", p))
	defer srv.Close()
	sig := p.(*providers.Mailgun).Sign("1765015200", "tok")
	body := `{"signature": {"timestamp": "1765015200", "token": "tok", "signature": "` + sig + `"},
	  "event-data": {"id": "ev-1", "event": "failed", "severity": "permanent", "recipient": "gone@example.net",
	  "message": {"headers": {"message-id": "r` + ref + `.0123456789abcdef@shop.example"}}, "delivery-status": {"code": 550}}}`
	for range 2 { // a retried webhook is one event
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	bl, err := f.st.Blocked(ctx, "c-7")
	if err != nil || store.BlockReason(bl, "email") != store.BlockedBounced {
		t.Fatalf("blocked = %v, %v", bl, err)
	}
	if evs := f.in.all(); len(evs) != 1 || evs[0].Data["message_id"] != "e7-thanks" || evs[0].Data["status"] != "5.0.0" {
		t.Errorf("events = %+v", evs)
	}
}

func TestAClickRedirectsOnlyToItsMessagesURLAndScannersAreNotCounted(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(t0().UnixNano())
	var clicks atomic.Int32
	l := inbound.New(inbound.Config{Store: f.st, Intake: f.in, Keys: signing.NewKeys("a-long-enough-secret"),
		Now: func() time.Time { return time.Unix(0, clock.Load()) },
		Count: func(_, kind string) {
			if kind == inbound.KindClick {
				clicks.Add(1)
			}
		}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /c/{token}", l.Click)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	track := l.ClickURL(srv.URL)
	ref := store.Ref{CustomerID: "c-8", MessageID: "e8-thanks", Channel: "email", Journey: "post-purchase", Step: "thanks"}
	if own := srv.URL + "/unsubscribe/x"; track(ref, own) != own {
		t.Errorf("Rapport's own link was tracked")
	}
	tracked := track(ref, "https://shop.example/p?x=1")
	if !strings.HasPrefix(tracked, srv.URL+"/c/") {
		t.Fatalf("tracked = %s", tracked)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(method, u string) *http.Response {
		req, err := http.NewRequest(method, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// A scanner: at once after sending, or a HEAD request.
	clock.Add(int64(time.Second))
	if resp := get("GET", tracked); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://shop.example/p?x=1" {
		t.Fatalf("scanner GET: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	clock.Add(int64(time.Minute))
	if resp := get("HEAD", tracked); resp.StatusCode != http.StatusFound {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
	if n := clicks.Load(); n != 0 {
		t.Fatalf("scanners counted: %d clicks", n)
	}
	for range 2 {
		if resp := get("GET", tracked); resp.StatusCode != http.StatusFound {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	}
	if n := clicks.Load(); n != 2 {
		t.Errorf("%d clicks counted, want 2 (each click raises its event)", n)
	}
	if evs := f.in.all(); len(evs) != 2 || evs[0].Type != inbound.TypeClicked || evs[0].Data["url"] != "https://shop.example/p?x=1" || evs[0].Data["step"] != "thanks" {
		t.Errorf("events = %+v", evs)
	}
	if m, err := f.st.Marks(ctx, "c-8"); err != nil || !m["e8-thanks"].Clicked {
		t.Errorf("marks = %v, %v", m, err)
	}
	// A forged or altered token.
	tok := strings.TrimPrefix(tracked, srv.URL+"/c/")
	altered := tok[:len(tok)-1] + map[bool]string{true: "A", false: "B"}[tok[len(tok)-1] != 'A']
	for _, u := range []string{srv.URL + "/c/" + altered, srv.URL + "/c/forged", srv.URL + "/c/" + strings.Replace(tok, tok[5:6], "x", 1)} {
		if resp := get("GET", u); resp.StatusCode != http.StatusNotFound || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %s, want 404", u, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if n := clicks.Load(); n != 2 {
		t.Errorf("a forged click was counted")
	}
}

// The send path's click tracking is signing only: a Listener with no store at all
// tracks links, so a tracked message costs no Redis round trip.
func TestTrackingALinkTouchesNoState(t *testing.T) {
	l := inbound.New(inbound.Config{Keys: signing.NewKeys("a-long-enough-secret")})
	u := l.ClickURL("https://rapport.example")(store.Ref{CustomerID: "c", MessageID: "m", Channel: "email"}, "https://shop.example/")
	if !strings.HasPrefix(u, "https://rapport.example/c/") {
		t.Fatalf("ClickURL = %s", u)
	}
}

func BenchmarkClickURL(b *testing.B) {
	track := inbound.New(inbound.Config{Keys: signing.NewKeys("a-long-enough-secret")}).ClickURL("https://rapport.example")
	ref := store.Ref{CustomerID: "c-42", MessageID: "0123456789abcdef0123-thank-you", Channel: "email", Journey: "post-purchase", Step: "thank-you"}
	for range b.N {
		track(ref, "https://shop.example/p/ethiopia-guji?utm_source=rapport")
	}
}
