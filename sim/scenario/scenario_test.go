package scenario_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/sim"
	"github.com/rapporthq/rapport/sim/scenario"
)

func shipped(t *testing.T) *sim.Setup {
	t.Helper()
	cfg, err := config.Load("../../config/rapport.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Workflows, cfg.Templates = "../../workflows", "../../templates"
	setup, err := sim.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return setup
}

// A cart abandoned and never ordered: the reminder at +1h, the last chance at +1d1h.
const cart = `customer: {id: c1, email: anna@example.com, first_name: Anna}
events:
  - {at: 0s, type: cart.abandoned, data: {cart_id: K1, total: 30}}
run_for: 2d
`

func TestExpectationsMatchByEveryField(t *testing.T) {
	setup := shipped(t)
	for _, tc := range []struct {
		name, expect string
		pass         bool
	}{
		{"an exact time", "- {at: 1h, journey: abandoned-cart, step: reminder}", true},
		{"an exact time a second off", "- {at: 1h1s, journey: abandoned-cart, step: reminder}", false},
		{"a time within its tolerance", `- {at: "~1d ±2h", journey: abandoned-cart, step: last-chance}`, true},
		{"a time outside its tolerance", `- {at: "~2d ±2h", journey: abandoned-cart, step: last-chance}`, false},
		{"+- for ±", `- {at: "~1d +-2h", step: last-chance}`, true},
		{"a part of the subject", `- {journey: abandoned-cart, subject: "~left something"}`, true},
		{"the whole subject, exactly", `- {journey: abandoned-cart, subject: "You left something"}`, false},
		{"a part of the text", `- {step: reminder, text: "~Anna"}`, true},
		{"the channel", "- {step: reminder, channel: email}", true},
		{"another outcome", "- {step: reminder, outcome: capped}", false},
		{"another customer", "- {step: reminder, customer: c2}", false},
		{"in order", "- {step: reminder}\n- {step: last-chance}", true},
		{"out of order", "- {step: last-chance}\n- {step: reminder}", false},
		{"one message for one expectation only", "- {step: reminder}\n- {step: reminder}", false},
		{"none: of a journey that sent nothing", "- {none: true, journey: win-back}", true},
		{"none: of a journey that sent", "- {none: true, journey: abandoned-cart}", false},
		{"none: of an outcome that did not happen", "- {none: true, journey: abandoned-cart, outcome: capped}", true},
		{"exhaustive, every message named", "- {step: reminder}\n- {step: last-chance}\nexhaustive: true", true},
		{"exhaustive, one message not named", "- {step: reminder}\nexhaustive: true", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := cart + "expect:\n  " + strings.ReplaceAll(tc.expect, "\n- ", "\n  - ")
			sc, err := scenario.Parse("t.test.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			r, err := scenario.Run(context.Background(), setup, sc)
			if err != nil {
				t.Fatal(err)
			}
			if r.Passed() != tc.pass {
				var b strings.Builder
				r.WriteDiff(&b)
				t.Fatalf("passed = %v, want %v\n%s", r.Passed(), tc.pass, b.String())
			}
		})
	}
}

func TestAValueThatIsNotWhatItsTagSaysIsAnError(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"a number", "!!float many", `t.test.yaml:3: "many" is not a number`},
		{"a bool", "!!bool perhaps", `t.test.yaml:3: "perhaps" is not true or false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "customer: {id: c1}\nevents:\n  - {at: 0s, type: cart.abandoned, data: {x: " + tc.value + "}}\nrun_for: 1d\n"
			_, err := scenario.Parse("t.test.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

func TestAScenarioWithoutStartOrRunForTakesTheSpecDefaults(t *testing.T) {
	sc, err := scenario.Parse("t.test.yaml", []byte("customer: {id: c1}\nevents:\n  - {at: 0s, type: cart.abandoned}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.RunFor != 365*24*time.Hour {
		t.Errorf("run_for = %v, want one year (testing.md)", sc.RunFor)
	}
	if !sc.Start.Equal(sim.DefaultStart) {
		t.Errorf("start = %v, want the fixed date %v", sc.Start, sim.DefaultStart)
	}
	if sc.CustomerID != "c1" || len(sc.Events) != 1 || sc.Events[0].CustomerID != "c1" {
		t.Errorf("customer %q, events %+v: want the event for c1", sc.CustomerID, sc.Events)
	}
}
