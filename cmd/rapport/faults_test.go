//go:build faults

package main

// Fault tests: the real binary, a real redis-server and a real SMTP server that misbehaves
// on command. They take minutes, not seconds (asynq takes a killed worker's tasks back
// after their lease has run out), so they are kept out of `make test` by the faults build
// tag: `make faults` runs them, and CI calls it. Each prints its figures as a line
// starting "FAULT", the source of the table in docs/guarantees-and-faults.md.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/testutil"
)

// faultSetup is a rapport under test whose journeys, SMTP settings and Redis are the
// fault test's to choose.
type faultSetup struct {
	*setup
	rdb *redis.Client
}

// journeys, keyed by file name: "now" sends at once to customers sent fault.now, "later"
// five seconds after fault.later; both with the given on_uncertain.
func faultJourneys(t *testing.T, onUncertain string) string {
	dir := t.TempDir()
	for name, wait := range map[string]string{"now": "0s", "later": "5s"} {
		j := fmt.Sprintf(`id: %s
trigger: {event: fault.%s}
on_uncertain: %s
steps:
  - id: note
    wait: %s
    send: {template: thank-you, channels: [email]}
`, name, name, onUncertain, wait)
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(j), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newFaultSetup(t *testing.T, onUncertain, smtpTimeout string, pool int, redisOpts []redistest.Option, smtpOpts ...smtptest.Option) *faultSetup {
	t.Helper()
	s := &setup{redis: redistest.Start(t, redisOpts...), smtp: smtptest.Start(t, smtpOpts...),
		workflows: faultJourneys(t, onUncertain), addr: freeAddr(t)}
	s.config = filepath.Join(t.TempDir(), "rapport.yaml")
	repo, _ := filepath.Abs("../..")
	cfg := fmt.Sprintf(`redis: {url: %q}
http: {addr: %q, base_url: "http://%s", api_tokens: [%q]}
secret: "a-test-secret-of-enough-length"
workflows: %q
templates: %q
worker: {concurrency: 20}
channels:
  email: {type: smtp, host: %q, port: %d, from: "Shop <hello@shop.example>", tls: none, pool: %d, timeout: %s}
`, s.redis.URL(), s.addr, s.addr, token, s.workflows, filepath.Join(repo, "templates"), s.smtp.Host, s.smtp.Port, pool, smtpTimeout)
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return &faultSetup{setup: s, rdb: s.redis.Client(t)}
}

// customer is one message the test expects: one customer, one event, one step.
type customer struct{ id, kind, email string }

func customers(prefix string, now, later int) []customer {
	var cs []customer
	for i := range now + later {
		kind := "now"
		if i >= now {
			kind = "later"
		}
		id := fmt.Sprintf("%s%d", prefix, i)
		cs = append(cs, customer{id: id, kind: kind, email: id + "@example.com"})
	}
	return cs
}

// send posts every customer's event through the batch API, 500 at a time.
func (s *faultSetup) send(t *testing.T, cs []customer) {
	t.Helper()
	for start := 0; start < len(cs); start += 500 {
		var evs []map[string]any
		for _, c := range cs[start:min(start+500, len(cs))] {
			evs = append(evs, map[string]any{"id": "ev-" + c.id, "type": "fault." + c.kind, "customer_id": c.id,
				"customer": map[string]any{"email": c.email, "first_name": "F"}, "data": map[string]any{"order_id": c.id}})
		}
		body, _ := json.Marshal(map[string]any{"events": evs})
		if code, out := s.post(t, "/v1/events/batch", string(body)); code != 200 {
			t.Fatalf("batch = %d %v", code, out)
		}
	}
}

// figures are a scenario's outcome, counted per customer once everything settled.
type figures struct {
	messages, lost, duplicated, uncertain, failed, inFlight int
	// stuck is how many have no outcome (only a scenario that does not wait for every
	// outcome can see one).
	stuck int
}

func (f figures) String() string {
	return fmt.Sprintf("messages=%d lost=%d duplicated=%d uncertain=%d failed=%d in_flight_at_kills=%d stuck=%d",
		f.messages, f.lost, f.duplicated, f.uncertain, f.failed, f.inFlight, f.stuck)
}

// outcomes reads each customer's recorded outcome, "" while none is recorded.
func (s *faultSetup) outcomes(t *testing.T, cs []customer) map[string]string {
	ctx := context.Background()
	st := store.New(s.rdb)
	out := map[string]string{}
	for _, c := range cs {
		h, err := st.History(ctx, c.id)
		if err != nil {
			return nil // Redis away for a moment: not settled
		}
		if len(h) > 0 {
			out[c.id] = h[0].Outcome
		}
	}
	return out
}

// waitOutcomes waits until every customer has an outcome and returns them. When d
// passes first, it fails the test and says where each customer still waiting stands.
func (s *faultSetup) waitOutcomes(t *testing.T, cs []customer, d time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out := s.outcomes(t, cs)
		if out != nil && len(out) == len(cs) {
			return out
		}
		if time.Now().After(deadline) {
			var waiting []string
			for _, c := range cs {
				if out != nil && out[c.id] == "" {
					waiting = append(waiting, s.pending(c))
				}
			}
			if out == nil {
				t.Fatalf("timed out after %v waiting for every message to have an outcome; Redis did not answer", d)
			}
			t.Fatalf("timed out after %v waiting for every message to have an outcome; %d without one:\n%s",
				d, len(waiting), strings.Join(waiting[:min(len(waiting), 20)], "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pending says where the step of a customer without an outcome stands: its task's state,
// how often it was retried, its last error and when it runs next.
func (s *faultSetup) pending(c customer) string {
	ctx := context.Background()
	en, err := store.New(s.rdb).Enrolment(ctx, c.kind, c.id)
	switch {
	case err != nil:
		return fmt.Sprintf("%s: %v", c.id, err)
	case en == nil:
		return c.id + ": no enrolment"
	}
	info, err := asynq.NewInspectorFromRedisClient(s.rdb).GetTaskInfo(queue.StepQueue(en.Task, 0), en.Task)
	if err != nil {
		return fmt.Sprintf("%s: step %s, task %s: %v", c.id, en.Step, en.Task, err)
	}
	next := ""
	if !info.NextProcessAt.IsZero() {
		next = fmt.Sprintf(", next in %v", time.Until(info.NextProcessAt).Round(time.Second))
	}
	return fmt.Sprintf("%s: step %s, task %s: %s, retried %d%s, last error %q", c.id, en.Step, en.Task,
		info.State, info.Retried, next, info.LastErr)
}

// settle waits until every customer has an outcome, then counts.
func (s *faultSetup) settle(t *testing.T, cs []customer, d time.Duration) figures {
	t.Helper()
	out := s.waitOutcomes(t, cs, d)
	time.Sleep(2 * time.Second) // a late SMTP answer still on its way lands in the count
	return s.count(cs, out)
}

// count is the figures of cs from what the SMTP server received and the outcomes out.
func (s *faultSetup) count(cs []customer, out map[string]string) (f figures) {
	received := map[string]int{}
	for _, m := range s.smtp.Messages() {
		received[strings.ToLower(m.To[0])]++
	}
	f.messages = len(cs)
	for _, c := range cs {
		switch n := received[c.email]; {
		case n == 0:
			f.lost++
		case n > 1:
			f.duplicated += n - 1
		}
		switch out[c.id] {
		case "":
			f.stuck++
		case "uncertain":
			f.uncertain++
		case "failed":
			f.failed++
		}
	}
	return f
}

// handed adds to seen the claims in the channel's hands right now (handed over, no
// answer yet) and returns how many there are. A claim a killed worker left handed stays
// so until the message is taken up again, so seen counts each message once over kills.
func (s *faultSetup) handed(t *testing.T, seen map[string]bool) int {
	ctx := context.Background()
	n := 0
	iter := s.rdb.Scan(ctx, 0, "rapport:*:claim:*", 1000).Iterator()
	for iter.Next(ctx) {
		if st, _ := s.rdb.HGet(ctx, iter.Val(), "state").Result(); st == "handed" {
			seen[iter.Val()] = true
			n++
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan claims: %v", err)
	}
	return n
}

func report(t *testing.T, scenario string, f figures) {
	t.Logf("FAULT %-48s %s", scenario, f)
}

// TestFaultWorkerKilled kills the worker with kill -9 three times while 500 immediate
// and 500 scheduled sends are in flight, starting a new one each time.
func TestFaultWorkerKilled(t *testing.T) {
	for _, mode := range []string{"skip", "resend"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			// A short pause before each answer to DATA keeps messages in the channel's
			// hands at any moment, so the kills catch some there.
			s := newFaultSetup(t, mode, "10s", 8, nil, smtptest.WithDelay(20*time.Millisecond))
			s.start(t, "api")
			worker := s.start(t, "worker")
			cs := customers("k"+mode[:1], 500, 500)
			s.send(t, cs)
			inFlight := map[string]bool{}
			for _, at := range []int{150, 450, 750} {
				testutil.WaitFor(t, 90*time.Second, fmt.Sprintf("%d messages before a kill", at), func() bool { return s.smtp.Count() >= at })
				worker.kill()
				h := s.handed(t, inFlight)
				t.Logf("killed at %d messages with %d in the channel's hands", s.smtp.Count(), h)
				worker = s.start(t, "worker")
			}
			f := s.settle(t, cs, 5*time.Minute)
			f.inFlight = len(inFlight)
			report(t, "worker kill -9 x3, 500+500, on_uncertain "+mode, f)
			switch mode {
			case "skip":
				if f.duplicated != 0 || f.lost > f.inFlight {
					t.Errorf("%s: want no duplicate and at most the %d in flight lost", f, f.inFlight)
				}
			case "resend":
				if f.lost != 0 || f.duplicated > f.inFlight {
					t.Errorf("%s: want nothing lost and at most the %d in flight duplicated", f, f.inFlight)
				}
			}
		})
	}
}

// TestFaultRedisRestart kills redis-server (append-only file, fsync always) while sends
// are in flight and starts it again on the same port two seconds later.
func TestFaultRedisRestart(t *testing.T) {
	s := newFaultSetup(t, "skip", "10s", 8, []redistest.Option{redistest.Durable()}, smtptest.WithDelay(10*time.Millisecond))
	s.start(t, "serve")
	cs := customers("r", 300, 300)
	s.send(t, cs)
	testutil.WaitFor(t, 60*time.Second, "sends under way", func() bool { return s.smtp.Count() >= 150 })
	s.redis.Kill()
	time.Sleep(2 * time.Second)
	if err := s.redis.Resume(); err != nil {
		t.Fatal(err)
	}
	f := s.settle(t, cs, 3*time.Minute)
	report(t, "redis kill -9 and restart (AOF always), 300+300", f)
	if f.lost != 0 || f.duplicated != 0 || f.uncertain != 0 || f.failed != 0 {
		t.Errorf("%s: want nothing lost, doubled, uncertain or failed", f)
	}
}

// TestFaultRedisFailover has the Sentinel fail Redis over to its replica while sends are
// under way. The worker, the intake and the claims follow the new master, and no message
// is sent twice: a hand-over waits until the replica has it (store.WaitForReplicas), and a
// task is marked done only once the replica has its writes (queue.Fenced), so the work the
// old master takes with it is done again on the new one without sending again.
// Replication is asynchronous, and a task whose writes straddle the switch can lose the
// part on the old master; the figures say whether any was left without an outcome
// ("stuck") or not sent ("lost"), and nothing is asserted of those.
func TestFaultRedisFailover(t *testing.T) {
	fo := redistest.StartFailover(t, redistest.Durable())
	s := newFaultSetup(t, "skip", "10s", 8, nil, smtptest.WithDelay(10*time.Millisecond))
	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("redis: {sentinel: {master: %s, addrs: [%q]}}", fo.MasterName, fo.Addr)
	cfg = []byte(line + string(cfg[bytes.IndexByte(cfg, '\n'):]))
	if err := os.WriteFile(s.config, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	s.rdb = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: fo.MasterName, SentinelAddrs: []string{fo.Addr}})
	t.Cleanup(func() { s.rdb.Close() })
	s.start(t, "serve")
	cs := customers("fo", 300, 300)
	s.send(t, cs)
	testutil.WaitFor(t, 60*time.Second, "sends under way", func() bool { return s.smtp.Count() >= 150 })
	fo.Promote(t, 30*time.Second)
	// Wait until the queues are empty and nothing moved for 15 s, or 4 minutes pass: a
	// task whose state the old master took with it is run again once its lease ran out.
	insp := asynq.NewInspectorFromRedisClient(s.rdb)
	busy := func() bool {
		for _, q := range []string{event.Queue, queue.Steps} {
			info, err := insp.GetQueueInfo(q)
			if err != nil || info.Pending+info.Active+info.Scheduled+info.Retry > 0 {
				return true
			}
		}
		return false
	}
	var outcomes map[string]string
	last, still := -1, time.Now()
	for deadline := time.Now().Add(4 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		outcomes = s.outcomes(t, cs)
		if n := len(outcomes)*1000000 + s.smtp.Count(); n != last || busy() {
			last, still = n, time.Now()
		} else if time.Since(still) > 15*time.Second {
			break
		}
	}
	f := s.count(cs, outcomes)
	report(t, "redis failover (Sentinel), 300+300", f)
	if f.duplicated != 0 || f.failed != 0 {
		t.Errorf("%s: want nothing sent twice and nothing failed", f)
	}
}

// TestFaultLateAnswerAfterData: the server takes the whole message but answers the end of
// DATA only after the client gave up waiting. The message is uncertain, and not sent again.
func TestFaultLateAnswerAfterData(t *testing.T) {
	s := newFaultSetup(t, "skip", "1s", 8, nil, smtptest.WithDelayFor(func(rcpt string) time.Duration {
		if strings.HasPrefix(rcpt, "late") {
			return 3 * time.Second
		}
		return 0
	}))
	s.start(t, "serve")
	cs := append(customers("late", 20, 0), customers("ok", 20, 0)...)
	s.send(t, cs)
	f := s.settle(t, cs, 2*time.Minute)
	s.smtp.WaitFor(t, len(cs), 10*time.Second) // the late ones are accepted in the end
	f = s.settle(t, cs, time.Second)
	report(t, "SMTP answers DATA after the timeout, 20 of 40", f)
	if f.duplicated != 0 || f.lost != 0 || f.uncertain != 20 {
		t.Errorf("%s: want no duplicate, nothing lost, the 20 late ones uncertain", f)
	}
}

// TestFaultSlowRecipients: the server takes 20 s to answer for ten recipients, more than
// the pool of 8; 200 other emails must not wait for them.
func TestFaultSlowRecipients(t *testing.T) {
	s := newFaultSetup(t, "skip", "30s", 8, nil, smtptest.WithDelayFor(func(rcpt string) time.Duration {
		if strings.HasPrefix(rcpt, "slow") {
			return 20 * time.Second
		}
		return 0
	}))
	s.start(t, "serve")
	s.send(t, customers("slow", 10, 0))
	testutil.WaitFor(t, 10*time.Second, "the slow sends to hold the pool", func() bool { return s.smtp.Connections() >= 8 })
	normal := customers("fast", 200, 0)
	start := time.Now()
	s.send(t, normal)
	testutil.WaitFor(t, 10*time.Second, "200 normal emails while 10 are slow", func() bool {
		n := 0
		for _, m := range s.smtp.Messages() {
			if strings.HasPrefix(m.To[0], "fast") {
				n++
			}
		}
		return n == len(normal)
	})
	t.Logf("FAULT %-48s 200 normal emails delivered in %.1fs while 10 wait 20s each", "SMTP slow for 10 recipients, pool 8", time.Since(start).Seconds())
	f := s.settle(t, append(customers("slow", 10, 0), normal...), time.Minute)
	report(t, "SMTP slow for 10 recipients, pool 8", f)
	if f.lost != 0 || f.duplicated != 0 {
		t.Errorf("%s: want nothing lost or doubled", f)
	}
}

// TestFaultRefusalsAndDrops: 550 for some recipients (failed, never retried), 451 twice
// for others (sent on a later try), and every connection dropped every 300 ms until
// every message has its outcome, so the retries meet the drops too.
func TestFaultRefusalsAndDrops(t *testing.T) {
	var tries triesByRecipient
	s := newFaultSetup(t, "skip", "10s", 8, nil, smtptest.WithDelay(5*time.Millisecond),
		smtptest.WithReject(func(rcpt string) *smtp.SMTPError {
			switch {
			case strings.HasPrefix(rcpt, "hard"):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
			case strings.HasPrefix(rcpt, "soft") && tries.add(rcpt) <= 2:
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
			}
			return nil
		}))
	s.start(t, "serve")
	hard, soft, plain := customers("hard", 10, 0), customers("soft", 10, 0), customers("plain", 150, 150)
	all := append(append(hard, soft...), plain...)
	stop := make(chan struct{})
	dropped := make(chan int)
	go func() { // drop every connection every 300 ms until stopped
		n := 0
		defer func() { dropped <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
				s.smtp.DropConnections()
				n++
			}
		}
	}()
	s.send(t, all)
	// A soft message goes out on its third try, 10 s in (the first retry comes at once);
	// each try a drop costs doubles the wait for the next, 10 s, 20 s, 40 s ... So every
	// outcome is in well within the deadline unless drops cost tries they should not.
	s.waitOutcomes(t, all, 2*time.Minute)
	close(stop)
	drops := <-dropped
	f := s.settle(t, all, time.Minute)
	out := s.outcomes(t, all)
	report(t, fmt.Sprintf("550 x10, 451 twice x10, %d connection drops", drops), f)
	received := map[string]int{}
	for _, m := range s.smtp.Messages() {
		received[strings.ToLower(m.To[0])]++
	}
	for _, c := range hard {
		if out[c.id] != "failed" || received[c.email] != 0 {
			t.Errorf("%s after 550: %q and %d received, want failed and none", c.id, out[c.id], received[c.email])
		}
	}
	// Whatever was recorded sent arrived exactly once. Whatever did not arrive is
	// uncertain: a connection dropped between the end of DATA and its answer, which
	// on_uncertain: skip does not send again (one drop can do that to every message in
	// the middle of it). A 451 or a drop is never a failure.
	for _, c := range append(soft, plain...) {
		switch n := received[c.email]; {
		case n > 1:
			t.Errorf("%s arrived %d times", c.id, n)
		case n == 0 && out[c.id] != "uncertain":
			t.Errorf("%s did not arrive and is %q, want uncertain", c.id, out[c.id])
		case out[c.id] != "sent" && out[c.id] != "uncertain":
			t.Errorf("%s: %q, want sent", c.id, out[c.id])
		}
	}
}

// triesByRecipient counts the RCPT TOs the server saw per recipient.
type triesByRecipient struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *triesByRecipient) add(rcpt string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[rcpt]++
	return r.n[rcpt]
}
