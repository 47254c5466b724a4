package main

import (
	"encoding/json"
	"mime"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rapporthq/rapport/sim"
	"github.com/rapporthq/rapport/sim/scenario"
)

// TestSimulationAndProductionAgree runs one scenario twice: through `rapport simulate`'s
// code on the virtual clock, and against a real `rapport serve` on a real redis-server
// with an SMTP server, its events posted at their offsets in real seconds. The same
// emails must come out, to the same people, in the same order.
func TestSimulationAndProductionAgree(t *testing.T) {
	file := "testdata/agree.test.yaml"
	dir, _ := filepath.Abs("testdata/agree")
	s := newSetup(t, dir, "")

	// The simulation, as `rapport simulate testdata/agree.test.yaml --config ...` runs it.
	res, err := runScenario(&setups{defaultPath: s.config}, file)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() {
		t.Fatalf("the scenario's own expectations failed on the simulator")
	}
	var simulated []string
	for _, e := range res.Timeline {
		if e.Kind == sim.KindMessage && e.Outcome == "sent" {
			simulated = append(simulated, e.To+": "+e.Subject)
		}
	}

	// Production: the same events, at the same offsets, in real time.
	sc, err := scenario.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s.start(t, "serve")
	post := func(ev map[string]any) {
		body, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if code, resp := s.post(t, "/v1/events", string(body)); code != 202 {
			t.Fatalf("POST %s = %d %v", body, code, resp)
		}
	}
	start := time.Now()
	post(map[string]any{"id": "scenario-customer", "type": scenario.ProfileUpdated, "customer_id": sc.CustomerID, "customer": sc.Customer})
	for _, ev := range sc.Events {
		time.Sleep(time.Until(start.Add(ev.At)))
		post(map[string]any{"id": ev.ID, "type": ev.Type, "customer_id": ev.CustomerID, "customer": ev.Customer, "data": ev.Data})
	}
	s.smtp.WaitFor(t, len(simulated), sc.RunFor+10*time.Second)
	// Then until the scenario's end, so that a send the simulation did not make shows up.
	time.Sleep(time.Until(start.Add(sc.RunFor)))
	var produced []string
	dec := new(mime.WordDecoder)
	for _, m := range s.smtp.Messages() {
		subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		produced = append(produced, m.To[0]+": "+subject)
	}
	if !slices.Equal(simulated, produced) {
		t.Fatalf("simulated sends:\n  %q\nproduction sends:\n  %q", simulated, produced)
	}
	t.Logf("both sent, in order: %q", produced)
}
