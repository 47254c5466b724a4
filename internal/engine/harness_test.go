package engine_test

import (
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/engine/enginetest"
)

// newHarness runs the given journeys on the engine with the test templates.
func newHarness(t *testing.T, start time.Time, journeys ...string) *enginetest.Harness {
	return enginetest.New(t, enginetest.Config{Start: start, Journeys: journeys, Templates: "testdata/templates"})
}
