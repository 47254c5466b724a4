package engine

import (
	"context"

	"github.com/rapporthq/rapport/workflows"
)

// ArmExisting arms the timer of a date or inactivity journey for a customer who has none:
// the backfill of a journey added while customers already exist. A date journey's timer
// falls on the customer's next date; an inactivity clock starts now, since the customer's
// last matching event before the journey existed is not known. A customer whose timer is
// armed already is left as is, so running it twice changes nothing.
func (e *Engine) ArmExisting(ctx context.Context, j *workflows.Journey, cid string) error {
	if j.Trigger.Kind != workflows.TriggerDate && j.Trigger.Kind != workflows.TriggerInactivity {
		return nil
	}
	cur, err := e.cfg.Store.Timer(ctx, j.ID, cid)
	if err != nil || !cur.IsZero() {
		return err
	}
	now := e.cfg.Clock.Now()
	if j.Trigger.Kind == workflows.TriggerInactivity {
		return e.armInactivity(ctx, j, cid, now)
	}
	profile, err := e.cfg.Store.Profile(ctx, cid)
	if err != nil {
		return err
	}
	return e.armDate(ctx, j, cid, profile, now)
}
