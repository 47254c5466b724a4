package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rapporthq/rapport/internal/store"
)

// CustomerView is everything Rapport knows about one customer.
type CustomerView struct {
	ID         string          `json:"id"`
	Profile    map[string]any  `json:"profile"`
	Consent    map[string]bool `json:"consent"`
	Enrolments []EnrolmentView `json:"enrolments"`
	History    []store.Record  `json:"history"`
	// Blocked are the channels closed for the customer at their current address, and
	// why: bounced or unreachable.
	Blocked map[string]string `json:"blocked"`
}

// EnrolmentView is an active enrolment and its next step.
type EnrolmentView struct {
	Journey   string    `json:"journey"`
	StartedAt time.Time `json:"started_at"`
	NextStep  string    `json:"next_step"`
	Due       time.Time `json:"due"`
}

// ErrUnknownCustomer is returned by Customer for an id Rapport knows nothing about: no
// profile, no consent, no enrolment and no history.
var ErrUnknownCustomer = errors.New("unknown customer")

// Customer returns the customer's profile, consent per configured channel, active
// enrolments with their next step, and recent history; ErrUnknownCustomer when there is
// none of these.
func (e *Engine) Customer(ctx context.Context, id string) (CustomerView, error) {
	st := e.cfg.Store
	v := CustomerView{ID: id, Consent: map[string]bool{}, Enrolments: []EnrolmentView{}}
	var err error
	if v.Profile, err = st.Profile(ctx, id); err != nil {
		return v, err
	}
	consent, err := st.Consent(ctx, id)
	if err != nil {
		return v, err
	}
	for name := range e.Snapshot().Channels {
		subscribed, recorded := consent[name]
		v.Consent[name] = subscribed || !recorded
	}
	ens, err := st.Enrolments(ctx, id)
	if err != nil {
		return v, err
	}
	for _, en := range ens {
		ev := EnrolmentView{Journey: en.Journey, StartedAt: en.StartedAt, Due: en.Due, NextStep: en.Step}
		v.Enrolments = append(v.Enrolments, ev)
	}
	if v.History, err = st.History(ctx, id); err != nil {
		return v, err
	}
	marks, err := st.Marks(ctx, id)
	if err != nil {
		return v, err
	}
	for i, r := range v.History {
		if m, ok := marks[r.MessageID]; ok && r.MessageID != "" {
			v.History[i].Delivery, v.History[i].Clicked = m.Delivery, m.Clicked
		}
	}
	blocked, err := st.Blocked(ctx, id)
	if err != nil {
		return v, err
	}
	v.Blocked = map[string]string{}
	for name, ch := range e.Snapshot().Channels {
		addr := address(ch.Type.AddressKey, &Delivery{CustomerID: id, Customer: v.Profile})
		if d := blocked[name]; d != "" && d == store.AddressDigest(addr) {
			v.Blocked[name] = store.BlockReason(blocked, name)
		}
	}
	if len(v.Profile) == 0 && len(consent) == 0 && len(ens) == 0 && len(v.History) == 0 {
		return v, fmt.Errorf("%w %q", ErrUnknownCustomer, id)
	}
	return v, nil
}

// ErrUnknownChannel is returned for consent on a channel the config does not have.
var ErrUnknownChannel = fmt.Errorf("unknown channel")

// SetConsent records that the customer subscribed to or unsubscribed from a channel.
// From then on an unsubscribed channel is never chosen for the customer. The customer's
// address on the channel goes on the suppression list, or off it, too, so that the
// opt-out outlives an erasure of the customer.
func (e *Engine) SetConsent(ctx context.Context, id, channel string, subscribed bool) error {
	ch, ok := e.Snapshot().Channels.Get(channel)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownChannel, channel)
	}
	st := e.cfg.Store
	if err := st.SetConsent(ctx, id, channel, subscribed); err != nil {
		return err
	}
	profile, err := st.Profile(ctx, id)
	if err != nil {
		return err
	}
	addr := address(ch.Type.AddressKey, &Delivery{CustomerID: id, Customer: profile})
	if err := st.Suppress(ctx, channel, addr, !subscribed); err != nil {
		return err
	}
	e.log.Info("consent changed", "customer", id, "channel", channel, "subscribed", subscribed)
	return nil
}

// suppressionAddresses are the addresses attrs (the attributes an event sets) puts on a
// profile, by channel name, to be looked up on the suppression lists; nil for the usual
// event, which says nothing about where to reach the customer.
func (e *Engine) suppressionAddresses(cid string, attrs map[string]any) map[string]string {
	var addresses map[string]string
	for name, ch := range e.Snapshot().Channels {
		if _, ok := attrs[ch.Type.AddressKey]; ok || ch.Type.AddressKey == "customer_id" {
			if addresses == nil {
				addresses = map[string]string{}
			}
			addresses[name] = address(ch.Type.AddressKey, &Delivery{CustomerID: cid, Customer: attrs})
		}
	}
	return addresses
}

// applySuppression records an opt-out for every channel in on, the channels whose new
// address is on their suppression list: a customer who unsubscribed and was erased stays
// unsubscribed when the shop sends the same address again, under any customer id. It must
// run before the event enrols anyone, since a first step may send at once.
func (e *Engine) applySuppression(ctx context.Context, cid string, on map[string]bool) error {
	for name := range on {
		if err := e.cfg.Store.SetConsent(ctx, cid, name, false); err != nil {
			return err
		}
	}
	return nil
}

// Forget erases the customer: every pending step and timer is cancelled, then the
// profile, consent, history and enrolments are deleted.
func (e *Engine) Forget(ctx context.Context, id string) error {
	ens, err := e.cfg.Store.Enrolments(ctx, id)
	if err != nil {
		return err
	}
	for _, en := range ens {
		if err := e.cfg.Scheduler.Cancel(ctx, en.Task); err != nil {
			return err
		}
	}
	var journeys []string
	for _, en := range ens {
		journeys = append(journeys, en.Journey) // also journeys since removed from the config
	}
	for _, j := range e.Journeys().All() {
		journeys = append(journeys, j.ID)
	}
	// Every timer in the customer's hash, of any journey, and those earlier versions kept
	// for the journeys named.
	timers, err := e.cfg.Store.Timers(ctx, id, journeys)
	if err != nil {
		return err
	}
	for j, due := range timers {
		if err := e.cfg.Scheduler.Cancel(ctx, timerTaskID(j, id, due)); err != nil {
			return err
		}
		journeys = append(journeys, j)
	}
	// An opt-out outlives the erasure, as a digest of the address on the suppression
	// list: what the customer said no to, they must not get again if they come back.
	profile, err := e.cfg.Store.Profile(ctx, id)
	if err != nil {
		return err
	}
	consent, err := e.cfg.Store.Consent(ctx, id)
	if err != nil {
		return err
	}
	for name, ch := range e.Snapshot().Channels {
		if subscribed, recorded := consent[name]; recorded && !subscribed {
			addr := address(ch.Type.AddressKey, &Delivery{CustomerID: id, Customer: profile})
			if err := e.cfg.Store.Suppress(ctx, name, addr, true); err != nil {
				return err
			}
		}
	}
	counters := []string{"all"}
	for name := range e.Snapshot().Channels {
		counters = append(counters, name)
	}
	if err := e.cfg.Store.Forget(ctx, id, e.cfg.Clock.Now(), journeys, counters); err != nil {
		return err
	}
	for _, en := range ens {
		e.cfg.Observer.Enrolment(ctx, EnrolmentChange{Journey: en.Journey, CustomerID: id, Change: Ended})
	}
	e.log.Info("customer erased", "customer", id)
	return nil
}
