package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/testutil"
)

// These tests drive the real binary: built once, started with a config that points at a
// private redis-server and an in-process SMTP server, fed through its HTTP API.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rapport-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "rapport")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build rapport: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const token = "test-token"

// setup describes one rapport under test.
type setup struct {
	redis     *redistest.Server
	smtp      *smtptest.Server
	workflows string
	addr      string
	config    string
}

// newSetup writes a config for a rapport on a private redis-server and an in-process SMTP
// server; extra is appended to the config (worker settings, say).
func newSetup(t testing.TB, workflowsDir, extra string, smtpOpts ...smtptest.Option) *setup {
	t.Helper()
	s := &setup{redis: redistest.Start(t), smtp: smtptest.Start(t, smtpOpts...), workflows: workflowsDir, addr: freeAddr(t)}
	s.config = filepath.Join(t.TempDir(), "rapport.yaml")
	repo, _ := filepath.Abs("../..")
	cfg := fmt.Sprintf(`redis: {url: %q}
http: {addr: %q, base_url: "http://%s", api_tokens: [%q]}
secret: "a-test-secret-of-enough-length"
workflows: %q
templates: %q
defaults: {timezone: UTC, locale: en}
channels:
  email: {type: smtp, host: %q, port: %d, from: "Shop <hello@shop.example>", tls: none, pool: 32}
  support: {type: smtp, host: %[7]q, port: %[8]d, from: "Support tasks <tasks@shop.example>", tls: none}
%[9]s`, s.redis.URL(), s.addr, s.addr, token, workflowsDir, filepath.Join(repo, "templates"), s.smtp.Host, s.smtp.Port, extra)
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// proc is a running rapport process.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func (s *setup) start(t testing.TB, command string) *proc {
	t.Helper()
	p := &proc{out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, command, "--config", s.config)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("rapport %s output:\n%s", command, p.out.String())
		}
	})
	if command != "worker" {
		testutil.WaitFor(t, 10*time.Second, "rapport to answer /healthz", func() bool {
			select {
			case <-p.done:
				t.Fatalf("rapport %s exited:\n%s", command, p.out.String())
			default:
			}
			resp, err := http.Get("http://" + s.addr + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
	}
	return p
}

// kill stops the process at once, as a crash or an OOM kill would.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (s *setup) post(t testing.TB, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+s.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestOrderPlacedSendsOnePersonalEmailWithOneClickUnsubscribe(t *testing.T) {
	s := newSetup(t, "../../workflows", "")
	s.start(t, "serve")

	order := `{"id": "evt-1", "type": "order.placed", "customer_id": "c-42",
	  "customer": {"email": "anna@example.com", "first_name": "Anna <b>&", "locale": "en"},
	  "data": {"order_id": "A-1001", "total": 59.9,
	           "items": [{"sku": "CF-1", "name": "Ethiopia Guji", "category": "coffee", "price": 19.9}]}}`
	if code, body := s.post(t, "/v1/events", order); code != 202 || body["id"] != "evt-1" {
		t.Fatalf("POST /v1/events = %d %v, want 202 with the id", code, body)
	}
	if code, body := s.post(t, "/v1/events", order); code != 200 || body["duplicate"] != true {
		t.Fatalf("the same event again = %d %v, want 200 duplicate", code, body)
	}

	msgs := s.smtp.WaitFor(t, 1, 15*time.Second)
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != "anna@example.com" {
		t.Fatalf("sent to %v, want anna@example.com", m.To)
	}
	parts := mimeParts(t, m.Data)
	html, text := parts["text/html"], parts["text/plain"]
	for _, want := range []string{"Anna &lt;b&gt;&amp;", "Ethiopia Guji", "A-1001"} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML part lacks %q", want)
		}
	}
	if strings.Contains(html, "Anna <b>") {
		t.Error("the HTML part carries the name unescaped")
	}
	if !strings.Contains(text, "Anna <b>&") || !strings.Contains(text, "Ethiopia Guji") {
		t.Errorf("the text part lacks the plain name or the item:\n%s", text)
	}
	unsub := m.Header.Get("List-Unsubscribe")
	if !strings.HasPrefix(unsub, "<http://"+s.addr+"/unsubscribe/") || !strings.HasSuffix(unsub, ">") {
		t.Errorf("List-Unsubscribe = %q, want <BASE_URL/unsubscribe/TOKEN>", unsub)
	}
	if got := m.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}

	// A second customer's order is a sentinel: once its thank-you has arrived, the
	// duplicate would have been processed too, had it been accepted.
	other := `{"id": "evt-2", "type": "order.placed", "customer_id": "c-43",
	  "customer": {"email": "boris@example.com", "first_name": "Boris"}, "data": {"order_id": "A-1002", "total": 5}}`
	if code, _ := s.post(t, "/v1/events", other); code != 202 {
		t.Fatalf("second order = %d", code)
	}
	msgs = s.smtp.WaitFor(t, 2, 15*time.Second)
	if n := countTo(msgs, "anna@example.com"); n != 1 {
		t.Fatalf("anna got %d emails, want exactly 1", n)
	}
}

func TestAStepWaitsAndAGoalEventCancelsIt(t *testing.T) {
	dir, _ := filepath.Abs("testdata/wait-exit")
	s := newSetup(t, dir, "")
	s.start(t, "serve")

	// The step is due 2s after the worker took the cart in, which is after the moment the
	// event says it occurred: the history line of the reminder must not be earlier.
	occurred := time.Now().UTC()
	for _, cid := range []string{"waits", "orders"} {
		body := fmt.Sprintf(`{"type": "cart.abandoned", "customer_id": %q, "occurred_at": %q,
		  "customer": {"email": "%s@example.com", "first_name": "Kim"},
		  "data": {"total": 30, "cart_url": "https://shop.example/cart", "items": [{"name": "Kenya AA", "price": 30}]}}`,
			cid, occurred.Format(time.RFC3339Nano), cid)
		if code, resp := s.post(t, "/v1/events", body); code != 202 {
			t.Fatalf("cart.abandoned for %s = %d %v", cid, code, resp)
		}
	}
	if code, _ := s.post(t, "/v1/events", `{"type": "order.placed", "customer_id": "orders", "data": {"total": 30}}`); code != 202 {
		t.Fatal("order.placed refused")
	}

	msgs := s.smtp.WaitFor(t, 1, 15*time.Second)
	if msgs[0].To[0] != "waits@example.com" {
		t.Fatalf("the reminder went to %v", msgs[0].To)
	}
	var sent string
	testutil.WaitFor(t, 10*time.Second, "the reminder in the history", func() bool {
		h, _ := s.customer(t, "waits")["history"].([]any)
		for _, r := range h {
			if r, _ := r.(map[string]any); r["step"] == "reminder" && r["outcome"] == "sent" {
				sent, _ = r["at"].(string)
				return true
			}
		}
		return false
	})
	at, err := time.Parse(time.RFC3339Nano, sent)
	if err != nil {
		t.Fatalf("the reminder's history line: %v", err)
	}
	if at.Before(occurred.Add(2 * time.Second)) {
		t.Errorf("the reminder went out at %s, before its 2s wait after the cart (%s)",
			at.Format(time.StampMilli), occurred.Format(time.StampMilli))
	}
	// The other customer's step was due at the same time; its task must be gone.
	insp := asynq.NewInspectorFromRedisClient(s.redis.Client(t))
	testutil.WaitFor(t, 10*time.Second, "no step left scheduled or pending", func() bool {
		q, err := insp.GetQueueInfo(queue.Steps)
		return err == nil && q.Scheduled == 0 && q.Pending == 0 && q.Active == 0 && q.Retry == 0
	})
	if n := len(s.smtp.Messages()); n != 1 {
		t.Fatalf("%d emails sent, want 1: the customer who ordered got the reminder", n)
	}
}

func TestPendingStepsSurviveAWorkerKilledMidway(t *testing.T) {
	dir, _ := filepath.Abs("testdata/kill")
	s := newSetup(t, dir, "")
	s.start(t, "api")
	worker := s.start(t, "worker")

	const n = 30
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"id": "signup-%d", "type": "customer.signed_up", "customer_id": "k-%d",
		  "customer": {"email": "k%d@example.com", "first_name": "K%d"}}`, i, i, i, i)
		if code, _ := s.post(t, "/v1/events", body); code != 202 {
			t.Fatalf("event %d refused: %d", i, code)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(s.redis.Client(t))
	testutil.WaitFor(t, 15*time.Second, "every step to be scheduled", func() bool {
		q, err := insp.GetQueueInfo(queue.Steps)
		return err == nil && q.Scheduled == n
	})
	worker.kill()
	if n := len(s.smtp.Messages()); n != 0 {
		t.Fatalf("%d messages went out before their 10s wait", n)
	}

	s.start(t, "worker")
	msgs := s.smtp.WaitFor(t, n, 30*time.Second)
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.To[0]]++
	}
	for i := 0; i < n; i++ {
		if c := seen[fmt.Sprintf("k%d@example.com", i)]; c != 1 {
			t.Errorf("customer k-%d got %d messages, want 1", i, c)
		}
	}
}

func TestValidateReportsEveryProblemWithFileAndLine(t *testing.T) {
	dir, _ := filepath.Abs("testdata/bad")
	s := &setup{workflows: dir, addr: "127.0.0.1:0"}
	s.config = filepath.Join(t.TempDir(), "rapport.yaml")
	repo, _ := filepath.Abs("../..")
	os.WriteFile(s.config, []byte(fmt.Sprintf(`http: {addr: ":8080", base_url: "http://localhost:8080", api_tokens: ["t"]}
secret: "a-test-secret-of-enough-length"
workflows: %q
templates: %q
channels:
  email: {type: outbox, dir: %q, from: "Shop <hello@shop.example>"}
`, dir, filepath.Join(repo, "templates"), t.TempDir())), 0o644)

	out, err := exec.Command(binary, "validate", "--config", s.config).CombinedOutput()
	if err == nil {
		t.Fatalf("validate exited 0 on a broken journey:\n%s", out)
	}
	file := filepath.Join(dir, "broken.yaml")
	for _, want := range []string{file + ":7: ", "3 days", file + ":9: ", "no-such-template"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}

func TestValidatePassesOnTheShippedFiles(t *testing.T) {
	cmd := exec.Command(binary, "validate")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("validate on the shipped config, journeys and templates failed: %v\n%s", err, out)
	}
	yamls, err := filepath.Glob("../../workflows/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d journeys", len(yamls)); !strings.Contains(string(out), want) {
		t.Errorf("validate output = %s, want every shipped journey counted (%s)", out, want)
	}
}

func countTo(msgs []smtptest.Message, addr string) int {
	n := 0
	for _, m := range msgs {
		for _, to := range m.To {
			if to == addr {
				n++
			}
		}
	}
	return n
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestOneClickUnsubscribeStopsTheEmails(t *testing.T) {
	s := newSetup(t, "../../workflows", "")
	s.start(t, "serve")
	order := func(id string) {
		body := fmt.Sprintf(`{"id": %q, "type": "order.placed", "customer_id": "u-1",
		  "customer": {"email": "una@example.com", "first_name": "Una"}, "data": {"order_id": %q, "total": 10}}`, id, id)
		if code, _ := s.post(t, "/v1/events", body); code != 202 {
			t.Fatalf("order %s refused", id)
		}
	}
	order("o-1")
	msgs := s.smtp.WaitFor(t, 1, 15*time.Second)
	link := strings.Trim(msgs[0].Header.Get("List-Unsubscribe"), "<>")

	// A forged token changes nothing; a GET (a link scanner, say) only shows the page.
	forged := link[:len(link)-22] + strings.Repeat("A", 22) // the signature, and more
	if forged == link {
		t.Fatalf("the forged link %q is the real one", link)
	}
	for _, c := range []struct {
		method, url string
		status      int
	}{{"POST", forged, 400}, {"GET", link, 200}} {
		resp, err := http.DefaultClient.Do(must(http.NewRequest(c.method, c.url, strings.NewReader("List-Unsubscribe=One-Click"))))
		if err != nil || resp.StatusCode != c.status {
			t.Fatalf("%s %s: %v %v, want %d", c.method, c.url, resp.Status, err, c.status)
		}
		resp.Body.Close()
	}
	if got := s.customer(t, "u-1")["consent"].(map[string]any)["email"]; got != true {
		t.Fatalf("consent after a forged POST and a GET = %v, want still subscribed", got)
	}

	resp, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("one-click POST: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	if got := s.customer(t, "u-1")["consent"].(map[string]any)["email"]; got != false {
		t.Fatalf("consent after one-click = %v, want unsubscribed", got)
	}

	order("o-2")
	testutil.WaitFor(t, 15*time.Second, "the second thank-you to be recorded unreachable", func() bool {
		for _, h := range s.customer(t, "u-1")["history"].([]any) {
			r := h.(map[string]any)
			if r["journey"] == "thank-you" && r["outcome"] == "unreachable" {
				return true
			}
		}
		return false
	})
	if n := len(s.smtp.Messages()); n != 1 {
		t.Fatalf("%d emails, want only the one before unsubscribing", n)
	}
}

func TestCustomersCanBeReadUpdatedAndErased(t *testing.T) {
	s := newSetup(t, "../../workflows", "")
	s.start(t, "serve")
	put := func(body string) int {
		req := must(http.NewRequest("PUT", "http://"+s.addr+"/v1/customers/p-1", strings.NewReader(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put(`{"email": "p@example.com", "birthday": "1990-06-01", "orders_count": 3}`); code != 400 {
		t.Fatalf("setting a derived attribute: %d, want 400", code)
	}
	if code := put(`{"email": "p@example.com", "birthday": "1990-06-01", "first_name": "Pia"}`); code != 202 {
		t.Fatalf("PUT: %d, want 202", code)
	}
	testutil.WaitFor(t, 10*time.Second, "the profile to be stored", func() bool {
		p, _ := s.customer(t, "p-1")["profile"].(map[string]any)
		return p["first_name"] == "Pia"
	})
	insp := asynq.NewInspectorFromRedisClient(s.redis.Client(t))
	testutil.WaitFor(t, 10*time.Second, "the birthday timer", func() bool {
		q, err := insp.GetQueueInfo(queue.Steps)
		return err == nil && q.Scheduled == 1
	})
	req := must(http.NewRequest("DELETE", "http://"+s.addr+"/v1/customers/p-1", nil))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("DELETE: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	if v := s.customer(t, "p-1"); len(v) != 0 {
		t.Fatalf("customer after erasing: %v, want 404", v)
	}
	if q, _ := insp.GetQueueInfo(queue.Steps); q.Scheduled != 0 {
		t.Fatalf("%d tasks still scheduled after erasing the customer", q.Scheduled)
	}
}

func (s *setup) customer(t testing.TB, id string) map[string]any {
	t.Helper()
	req := must(http.NewRequest("GET", "http://"+s.addr+"/v1/customers/"+id, nil))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET customer: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return map[string]any{} // nothing known about them (yet, or any more)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET customer: %v", resp.Status)
	}
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	return v
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
