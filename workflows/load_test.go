package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
)

var testOpts = Options{
	HasTemplate: func(name string, kind channels.Kind) bool { return name != "missing" },
	Channel: func(name string) (channels.Kind, bool) {
		switch name {
		case "email":
			return channels.KindEmail, true
		case "telegram", "support":
			return channels.KindMsg, true
		}
		return "", false
	},
}

func TestEveryProblemOfEveryFileIsReportedWithItsLine(t *testing.T) {
	_, err := Load("testdata/bad", testOpts)
	if err == nil {
		t.Fatal("bad journeys loaded")
	}
	got := err.Error()
	for _, want := range []string{
		`testdata/bad/many.yaml:4: if "event.totl > 1": event has no field totl`,
		`testdata/bad/many.yaml:5: unknown key "colour"`,
		`testdata/bad/many.yaml:8: wait: invalid duration "3 days"`,
		`testdata/bad/many.yaml:10: unknown template "missing"`,
		`testdata/bad/many.yaml:11: unknown channel "fax"`,
		`testdata/bad/many.yaml:12: step id "one" is used twice`,
		`testdata/bad/many.yaml:16: caps must be apply or bypass`,
		`testdata/bad/syntax.yaml:`,
		`testdata/bad/triggers.yaml:3: trigger has more than one`,
		`testdata/bad/once.yaml:5: once_per belongs to an event trigger`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q; got:\n%s", want, got)
		}
	}
}

func TestTwoJourneysWithOneIDNameBothFiles(t *testing.T) {
	_, err := Load("testdata/dup", testOpts)
	if err == nil || !strings.Contains(err.Error(), "testdata/dup/b.yaml") || !strings.Contains(err.Error(), "testdata/dup/a.yaml") {
		t.Fatalf("got %v, want an error naming both files", err)
	}
}

func TestTheShippedJourneysLoadAsDocumented(t *testing.T) {
	set, err := Load(".", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	type step struct {
		id       string
		wait     time.Duration
		template string
	}
	want := map[string]struct {
		trigger TriggerKind
		event   string
		exitOn  []string
		steps   []step
	}{
		"thank-you":      {TriggerEvent, "order.placed", nil, []step{{"thank-you", 0, "thank-you"}}},
		"review-request": {TriggerEvent, "order.placed", []string{"review.submitted"}, []step{{"ask-for-review", 3 * day, "review-request"}}},
		"usage-tip": {TriggerEvent, "order.placed", nil, []step{{"coffee-tip", 7 * day, "usage-tip-coffee"},
			{"tea-tip", 0, "usage-tip-tea"}, {"general-tip", 0, "usage-tip-general"}}},
		"birthday":             {TriggerDate, "", nil, []step{{"greeting", 0, "birthday"}}},
		"abandoned-cart":       {TriggerEvent, "cart.abandoned", []string{"order.placed"}, []step{{"reminder", time.Hour, "cart-reminder"}, {"last-chance", day, "cart-last-chance"}}},
		"win-back":             {TriggerInactivity, "order.placed", []string{"order.placed"}, []step{{"we-miss-you", 0, "win-back"}, {"last-note", 30 * day, "win-back-last"}}},
		"nps-survey":           {TriggerEvent, "order.placed", []string{"nps.submitted"}, []step{{"ask", 14 * day, "nps-survey"}}},
		"detractor-follow-up":  {TriggerEvent, "nps.submitted", nil, []step{{"task-for-support", 0, "detractor-task"}, {"apology", 0, "detractor-apology"}}},
		"low-review-follow-up": {TriggerEvent, "review.submitted", nil, []step{{"task-for-support", 0, "detractor-task"}, {"apology", 0, "detractor-apology"}}},
		"promoter-referral":    {TriggerEvent, "nps.submitted", nil, []step{{"thanks", time.Hour, "promoter-thanks"}}},
		"reply-to-human":       {TriggerEvent, "message.replied", nil, []step{{"task-for-support", 0, "reply-task"}}},
		"tier-welcome":         {TriggerEvent, "tier.reached", nil, []step{{"welcome", 0, "tier-welcome"}}},
	}
	if len(set.All()) != len(want) {
		t.Fatalf("%d journeys shipped, want %d", len(set.All()), len(want))
	}
	for id, w := range want {
		t.Run(id, func(t *testing.T) {
			j, ok := set.Get(id)
			if !ok {
				t.Fatalf("journey %s is not shipped", id)
			}
			if j.Trigger.Kind != w.trigger || j.Trigger.Event != w.event || strings.Join(j.ExitOn, ",") != strings.Join(w.exitOn, ",") {
				t.Errorf("trigger %+v exit_on %v; want %s %s exit_on %v", j.Trigger, j.ExitOn, w.trigger, w.event, w.exitOn)
			}
			if len(j.Steps) != len(w.steps) {
				t.Fatalf("%d steps, want %d", len(j.Steps), len(w.steps))
			}
			for i, s := range w.steps {
				g := j.Steps[i]
				if g.ID != s.id || g.Wait != s.wait || g.Send.Template != s.template {
					t.Errorf("step %d = %s %v %s; want %s %v %s", i, g.ID, g.Wait, g.Send.Template, s.id, s.wait, s.template)
				}
			}
		})
	}
	b, _ := set.Get("birthday")
	if b.Trigger.DateAttr != "birthday" || b.Trigger.AtHour != 10 || b.Trigger.AtMinute != 0 {
		t.Errorf("birthday trigger = %+v, want customer.birthday at 10:00", b.Trigger)
	}
	if c, _ := set.Get("abandoned-cart"); c.Trigger.OncePer == nil || c.Trigger.OncePer.Source != "event.data.cart_id" {
		t.Errorf("abandoned-cart once_per = %+v, want event.data.cart_id", c.Trigger.OncePer)
	}
	if w, _ := set.Get("win-back"); w.Trigger.After != 60*day {
		t.Errorf("win-back after = %v, want 60d", w.Trigger.After)
	}
	if tk, _ := set.Get("thank-you"); tk.Steps[0].Send.Caps != CapsBypass {
		t.Error("thank-you does not bypass caps")
	}
}

func TestUsageTipSendsExactlyOneTipFittingTheOrder(t *testing.T) {
	set, err := Load(".", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := set.Get("usage-tip")
	items := func(cats ...string) map[string]any {
		var list []any
		for _, c := range cats {
			list = append(list, map[string]any{"name": "x", "category": c})
		}
		return map[string]any{"items": list}
	}
	cases := []struct {
		name string
		data map[string]any
		want string
	}{
		{"coffee gets the coffee tip", items("coffee"), "coffee-tip"},
		{"tea gets the tea tip", items("tea"), "tea-tip"},
		{"coffee and tea get only the coffee tip", items("tea", "coffee"), "coffee-tip"},
		{"other things get the general tip", items("mug"), "general-tip"},
		{"an order without items gets the general tip", map[string]any{}, "general-tip"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sent []string
			for _, s := range j.Steps {
				ok, err := s.If.Eval(Env{Event: EventEnv{Data: c.data}, Customer: map[string]any{}, Now: time.Now()})
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					sent = append(sent, s.ID)
				}
			}
			if len(sent) != 1 || sent[0] != c.want {
				t.Fatalf("steps that send: %v, want only %s", sent, c.want)
			}
		})
	}
}

func TestConditionsSeeTheDocumentedEnvironment(t *testing.T) {
	good := []string{
		"event.data.total >= 10", "customer.orders_count == 0", "now > event.occurred_at",
		`any(event.data.items, .category == "coffee")`, `event.type == "order.placed" && event.customer_id != ""`,
		`(event.data.total ?? 0) > 50`, `now - customer.last_order_at > duration("720h")`,
	}
	for _, src := range good {
		if _, err := CompileCondition(src); err != nil {
			t.Errorf("%q does not compile: %v", src, err)
		}
	}
	for _, src := range []string{"event.totl > 1", "event.type + 1", "customer.orders_count ==", "now()"} {
		if _, err := CompileCondition(src); err == nil {
			t.Errorf("%q compiled, want an error", src)
		}
	}
	quiet, _ := CompileCondition(`now - customer.last_order_at > duration("720h")`)
	ok, err := quiet.Eval(Env{Now: time.Now(), Customer: map[string]any{"last_order_at": time.Now().Add(-31 * 24 * time.Hour)}})
	if err != nil || !ok {
		t.Fatalf("a month since the last order = %v, %v", ok, err)
	}
	c, _ := CompileCondition("now > event.occurred_at")
	ok, err = c.Eval(Env{Now: time.Now(), Event: EventEnv{OccurredAt: time.Now().Add(-time.Hour)}})
	if err != nil || !ok {
		t.Fatalf("now > event.occurred_at = %v, %v", ok, err)
	}
}

func TestIDsDefaultToTheFileNameAndStepN(t *testing.T) {
	set, err := Load("testdata/defaults", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	j, ok := set.Get("welcome-series")
	if !ok || j.Name != "welcome-series" {
		t.Fatalf("journeys = %v, want one named after its file", set.All())
	}
	if j.Steps[0].ID != "step-1" || j.Steps[1].ID != "step-2" || j.Steps[0].Wait != 0 || j.Steps[1].Send.Caps != CapsApply {
		t.Fatalf("steps = %+v, want step-1 and step-2, no wait by default, caps applied", j.Steps)
	}
}

func TestOnUncertainIsSetPerJourneyAndPerStep(t *testing.T) {
	j, err := LoadFile("u.yaml", []byte(`
trigger: {event: signed.up}
on_uncertain: resend
steps:
  - {id: a, send: {template: t, channels: [email]}}
  - {id: b, on_uncertain: skip, send: {template: t, channels: [email]}}
`), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if j.Steps[0].OnUncertain != UncertainResend || j.Steps[1].OnUncertain != UncertainSkip {
		t.Fatalf("on_uncertain = %q, %q; want the journey's resend, then the step's own skip", j.Steps[0].OnUncertain, j.Steps[1].OnUncertain)
	}
	j, err = LoadFile("d.yaml", []byte("trigger: {event: x}\nsteps: [{send: {template: t, channels: [email]}}]\n"), testOpts)
	if err != nil || j.Steps[0].OnUncertain != UncertainSkip {
		t.Fatalf("default on_uncertain = %q, %v; want skip", j.Steps[0].OnUncertain, err)
	}
	_, err = LoadFile("bad.yaml", []byte(`
trigger: {event: signed.up}
on_uncertain: maybe
steps:
  - {id: a, on_uncertain: twice, send: {template: t, channels: [email]}}
`), testOpts)
	for _, want := range []string{`bad.yaml:3: on_uncertain must be skip (at most once) or resend (at least once), not "maybe"`,
		`bad.yaml:5: on_uncertain must be skip (at most once) or resend (at least once), not "twice"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q; got %v", want, err)
		}
	}
}
