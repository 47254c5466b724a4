package engine

import (
	"context"

	"github.com/rapporthq/rapport/internal/abstat"
	"github.com/rapporthq/rapport/workflows"
)

// OutcomeHeldOut records a step of a customer in the journey's holdout group: nothing
// was sent, and the caps did not count it.
const OutcomeHeldOut Outcome = "held_out"

// The groups of a journey with a holdout.
const (
	GroupTreatment = "treatment"
	GroupHoldout   = "holdout"
)

// Assigner forces a customer's group or variant, as the simulator's `assign:` does.
// Anything it does not force is assigned by hash, as in production.
type Assigner interface {
	// Group returns GroupHoldout or GroupTreatment when it forces the customer's group
	// in the journey.
	Group(journey, customer string) (string, bool)
	// Variant returns the variant id when it forces the customer's variant of the step.
	Variant(journey, step, customer string) (string, bool)
}

// Winners knows the declared winners of split steps; internal/stats decides and keeps
// them.
type Winners interface {
	// Winner returns the id of the step's winning variant, or "" while the split goes
	// on. An error asks for the step to be retried.
	Winner(ctx context.Context, j *workflows.Journey, s *workflows.Step) (string, error)
}

// HeldOut reports whether the customer is in the journey's holdout group: by the
// Assigner when it forces one, else by hash (abstat.HeldOut).
func (e *Engine) HeldOut(j *workflows.Journey, customer string) bool {
	if a := e.cfg.Assign; a != nil {
		if g, ok := a.Group(j.ID, customer); ok {
			return g == GroupHoldout
		}
	}
	return abstat.HeldOut(j.ID, customer, j.Holdout)
}

// choose sets the delivery's template, and for a split step its variant: the one the
// Assigner forces, else the declared winner, else the customer's by hash. A variant
// removed from the file is never chosen.
func (e *Engine) choose(ctx context.Context, d *Delivery) error {
	s := d.Step.Send
	d.Template, d.Variant = s.Template, ""
	if len(s.Variants) == 0 {
		return nil
	}
	pick := func(id string) bool {
		v, ok := s.Variant(id)
		if ok {
			d.Variant, d.Template = v.ID, v.Template
		}
		return ok
	}
	if a := e.cfg.Assign; a != nil {
		if id, ok := a.Variant(d.Journey.ID, d.Step.ID, d.CustomerID); ok && pick(id) {
			return nil
		}
	}
	if s.Winner != nil && e.cfg.Winners != nil {
		id, err := e.cfg.Winners.Winner(ctx, d.Journey, d.Step)
		if err != nil {
			return err
		}
		if id != "" && pick(id) {
			return nil
		}
	}
	ws := make([]abstat.Weighted, len(s.Variants))
	for i, v := range s.Variants {
		ws[i] = abstat.Weighted{ID: v.ID, Weight: v.Weight}
	}
	if i := abstat.Variant(d.Journey.ID, d.Step.ID, d.CustomerID, ws); i >= 0 {
		pick(s.Variants[i].ID)
	}
	return nil
}
