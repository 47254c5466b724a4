package engine

import (
	"context"
	"fmt"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/workflows"
)

// TierReached is the event type raised when a customer moves up to a loyalty tier, with
// data {tier, previous} (previous "" below the first tier).
const TierReached = "tier.reached"

// promote re-evaluates the customer's loyalty tier after an event, with the profile it
// left, and moves them up when a higher tier's rule holds: it raises tier.reached,
// handled at once like any event (so the tier-welcome journey enrols), and then records
// the tier in the profile. The raised event's id names the customer and the tier, so a
// retry after a failure in between raises the same event again, which changes nothing
// more; once the tier is recorded, nothing raises it again. A customer never moves down.
func (e *Engine) promote(ctx context.Context, ev event.Event, profile map[string]any) error {
	tiers := e.cfg.Tiers
	if len(tiers) == 0 || ev.Type == TierReached {
		return nil
	}
	prev, _ := profile["tier"].(string)
	cur := tierRank(tiers, prev)
	env := workflows.Env{Event: eventEnv(ev), Customer: profile, Now: e.cfg.Clock.Now()}
	next := -1
	for i := len(tiers) - 1; i > cur; i-- {
		ok, err := tiers[i].If.Eval(env)
		if err != nil {
			e.log.Warn("loyalty tier condition failed", "tier", tiers[i].ID, "customer", ev.CustomerID, "err", err)
			continue
		}
		if ok {
			next = i
			break
		}
	}
	if next < 0 {
		return nil
	}
	tier := tiers[next].ID
	reached := event.Event{ID: "tier-" + shortHash(ev.CustomerID, tier), Type: TierReached, CustomerID: ev.CustomerID,
		OccurredAt: ev.OccurredAt, Data: map[string]any{"tier": tier, "previous": prev}}
	if err := e.HandleEvent(ctx, reached); err != nil {
		return fmt.Errorf("raise %s %s: %w", TierReached, tier, err)
	}
	higher := make([]string, 0, len(tiers)-next-1)
	for _, t := range tiers[next+1:] {
		higher = append(higher, t.ID)
	}
	moved, err := e.cfg.Store.RaiseTier(ctx, ev.CustomerID, tier, higher)
	if err != nil {
		return err
	}
	if moved {
		profile["tier"] = tier
		e.log.Info("customer reached a loyalty tier", "customer", ev.CustomerID, "tier", tier, "previous", prev)
	}
	return nil
}

// tierRank is the position of tier among tiers, -1 for none or one no longer listed.
func tierRank(tiers []workflows.Tier, tier string) int {
	for i, t := range tiers {
		if t.ID == tier {
			return i
		}
	}
	return -1
}
