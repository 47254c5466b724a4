package workflows_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/rapporthq/rapport/workflows"
)

// schema compiles journey.schema.json, the JSON Schema editors use for journey files.
func schema(t *testing.T) *jsonschema.Schema { return compile(t, "journey.schema.json") }

func compile(t *testing.T, file string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	s, err := c.Compile(file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// instance turns journey YAML into the JSON value an editor's YAML language server checks.
func instance(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestEveryShippedJourneyFollowsTheSchema(t *testing.T) {
	s := schema(t)
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) < 6 {
		t.Fatalf("shipped journeys: %v, %v", files, err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(instance(t, src)); err != nil {
			t.Errorf("%s does not follow journey.schema.json:\n%v", f, err)
		}
		if !strings.HasPrefix(string(src), "# yaml-language-server: $schema=journey.schema.json\n") {
			t.Errorf("%s does not start with the yaml-language-server modeline", f)
		}
	}
}

// The schema and the loader agree on what a journey may say.
func TestTheSchemaAndTheLoaderAgree(t *testing.T) {
	s := schema(t)
	send := "    send: {template: hello, channels: [email]}\n"
	for _, tc := range []struct {
		name, src string
		valid     bool
	}{
		{"an event trigger with a condition and once_per", "trigger: {event: cart.abandoned, if: event.data.total > 0, once_per: event.data.cart_id}\nsteps:\n  - wait: 1d12h\n" + send, true},
		{"a date trigger with seconds", "trigger: {date: customer.birthday, at: \"10:00:30\"}\nsteps:\n  -\n" + send, true},
		{"an inactivity trigger", "trigger: {inactivity: {event: order.placed, after: 60d}}\nexit_on: [order.placed]\nsteps:\n  - id: nudge\n" + send, true},
		{"a transactional send", "trigger: {event: order.placed}\nreenter_after: 2w\nsteps:\n  - send: {template: hello, channels: [preferred, email], caps: bypass}\n", true},
		{"two trigger kinds", "trigger: {event: order.placed, date: customer.birthday, at: \"10:00\"}\nsteps:\n  -\n" + send, false},
		{"a wait in words", "trigger: {event: order.placed}\nsteps:\n  - wait: 3 days\n" + send, false},
		{"an unknown key", "trigger: {event: order.placed}\ncolour: red\nsteps:\n  -\n" + send, false},
		{"caps neither apply nor bypass", "trigger: {event: order.placed}\nsteps:\n  - send: {template: hello, channels: [email], caps: sometimes}\n", false},
		{"an id with capitals", "id: Win_Back\ntrigger: {event: order.placed}\nsteps:\n  -\n" + send, false},
		{"no steps", "trigger: {event: order.placed}\n", false},
		{"a date trigger without at", "trigger: {date: customer.birthday}\nsteps:\n  -\n" + send, false},
		{"inactivity without after", "trigger: {inactivity: {event: order.placed}}\nsteps:\n  -\n" + send, false},
		{"a send without channels", "trigger: {event: order.placed}\nsteps:\n  - send: {template: hello}\n", false},
		{"a holdout and a split with a winner", "trigger: {event: order.placed}\nholdout: 12.5%\nsteps:\n  - send: {channels: [email], variants: [{id: a, template: x, weight: 2.5}, {id: b, template: y, weight: 0}, {id: c, template: z, weight: 1}], winner: {metric: click, min_sent: 10, confidence: 0.9}}\n", true},
		{"a holdout above half", "trigger: {event: order.placed}\nholdout: 51%\nsteps:\n  -\n" + send, false},
		{"a holdout without its percent sign", "trigger: {event: order.placed}\nholdout: 10\nsteps:\n  -\n" + send, false},
		{"template and variants in one step", "trigger: {event: order.placed}\nsteps:\n  - send: {template: t, channels: [email], variants: [{id: a, template: x}]}\n", false},
		{"a winner without variants", "trigger: {event: order.placed}\nsteps:\n  - send: {template: t, channels: [email], winner: {metric: click}}\n", false},
		{"an unknown winner metric", "trigger: {event: order.placed}\nsteps:\n  - send: {channels: [email], variants: [{id: a, template: x}], winner: {metric: revenue}}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, loadErr := workflows.LoadFile("j.yaml", []byte(tc.src), workflows.Options{})
			schemaErr := s.Validate(instance(t, []byte(tc.src)))
			if (loadErr == nil) != tc.valid || (schemaErr == nil) != tc.valid {
				t.Fatalf("valid = %v, but the loader says %v and the schema %v", tc.valid, loadErr, schemaErr)
			}
		})
	}
}

// The scenarios of workflows/tests follow their schema too, and carry its modeline.
func TestEveryShippedScenarioFollowsItsSchema(t *testing.T) {
	s := compile(t, "tests/scenario.schema.json")
	files, err := filepath.Glob("tests/*.test.yaml")
	if err != nil || len(files) < 6 {
		t.Fatalf("shipped scenarios: %v, %v", files, err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(instance(t, src)); err != nil {
			t.Errorf("%s does not follow tests/scenario.schema.json:\n%v", f, err)
		}
		if !strings.HasPrefix(string(src), "# yaml-language-server: $schema=scenario.schema.json\n") {
			t.Errorf("%s does not start with the yaml-language-server modeline", f)
		}
	}
	bad := "events:\n  - {at: 3 days, type: x}\nexpect:\n  - {journey: a, outcome: delivered, colour: red}\n"
	if err := s.Validate(instance(t, []byte(bad))); err == nil {
		t.Error("the scenario schema accepts a duration in words, an unknown outcome and an unknown key")
	}
}
