package messenger

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/rapporthq/rapport/channels/whatsapp"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/store"
)

// AddressMemory is how long after Rapport last sent to a phone a message from it is
// still matched to the customer.
const AddressMemory = 90 * 24 * time.Hour

// HandleNotification applies one WhatsApp notification of the channel name (its
// verified JSON body): every status and message in it, each once.
func (l *Listener) HandleNotification(ctx context.Context, name string, body []byte) error {
	n, err := whatsapp.Decode(body)
	if err != nil {
		l.reject(name, err.Error())
		return nil
	}
	for _, s := range n.Statuses {
		if err := l.once(ctx, "wa-"+s.ID+"-"+s.Status, func() error { return l.status(ctx, name, s) }); err != nil {
			return err
		}
	}
	for _, m := range n.Messages {
		if err := l.once(ctx, "wa-"+m.ID, func() error { return l.inbound(ctx, name, m) }); err != nil {
			return err
		}
	}
	return nil
}

// status marks the history line of the message (delivered, read, bounced); a permanent
// failure also raises message.bounced and closes the channel at the phone.
func (l *Listener) status(ctx context.Context, name string, s whatsapp.Status) error {
	st := l.cfg.Store
	if s.Status == "sent" {
		return nil
	}
	cid, err := st.ProviderCustomer(ctx, name, s.ID)
	if errors.Is(err, store.ErrNotFound) {
		l.reject(name, "a status of a message Rapport does not know")
		return nil
	}
	if err != nil {
		return err
	}
	history, err := st.History(ctx, cid)
	if err != nil {
		return err
	}
	var line *store.Record
	for i := range history {
		if history[i].ProviderID == s.ID && history[i].Channel == name {
			line = &history[i]
			break
		}
	}
	if line == nil {
		l.reject(name, "a status of a message no longer in the history")
		return nil
	}
	switch s.Status {
	case "delivered", "read":
		if err := st.MarkDelivery(ctx, cid, line.MessageID, s.Status); err != nil {
			return err
		}
		l.cfg.Count(name, s.Status) // KindDelivered, KindRead
	case "failed":
		kind, count := "soft", KindBounceSoft
		if s.Permanent() {
			kind, count = "hard", KindBounceHard
			if err := st.MarkDelivery(ctx, cid, line.MessageID, "bounced"); err != nil {
				return err
			}
			if err := st.Block(ctx, cid, name, store.AddressDigest("+"+s.RecipientID), store.BlockedBounced); err != nil {
				return err
			}
		}
		ev := event.Event{ID: "wa-" + s.ID + "-failed", Type: TypeBounced, CustomerID: cid, Data: map[string]any{
			"channel": name, "message_id": line.MessageID, "journey": line.Journey, "step": line.Step,
			"kind": kind, "status": strconv.Itoa(s.Code), "diagnostic": s.Title}}
		if err := l.raise(ctx, ev); err != nil {
			return err
		}
		l.cfg.Count(name, count)
	}
	return nil
}

// inbound raises message.replied for the customer who owns the phone and opens the
// service window for 24 hours from the message's time.
func (l *Listener) inbound(ctx context.Context, name string, m whatsapp.Inbound) error {
	st := l.cfg.Store
	cid, err := st.Owner(ctx, name, m.From)
	if errors.Is(err, store.ErrNotFound) {
		l.reject(name, "a message from a number Rapport does not know")
		return nil
	}
	if err != nil {
		return err
	}
	at := m.At
	if at.IsZero() || at.After(l.cfg.Now()) {
		at = l.cfg.Now()
	}
	if err := st.OpenWindow(ctx, name, m.From, at.Add(whatsapp.Window)); err != nil {
		return err
	}
	ev := event.Event{ID: "wa-" + m.ID, Type: TypeReplied, CustomerID: cid, OccurredAt: at.UTC(),
		Data: map[string]any{"channel": name, "text": m.Text}}
	if err := l.raise(ctx, ev); err != nil {
		return err
	}
	l.cfg.Count(name, KindReply)
	return nil
}

// FreeForm reports whether a message to address on channel may go as text rather than
// as its approved WhatsApp template: the customer's service window is open. It is the
// engine's Config.FreeForm.
func (l *Listener) FreeForm(ctx context.Context, channel, address string, now time.Time) (bool, error) {
	p, ok := whatsapp.Phone(address)
	if !ok {
		return false, nil
	}
	return l.cfg.Store.WindowOpen(ctx, channel, p, now)
}

// Outcome keeps, of each message sent on a WhatsApp channel, which customer its wamid
// and their phone belong to, so that statuses and messages that come back find them. It
// is an engine.Observer method; a failure is logged.
func (l *Listener) Outcome(ctx context.Context, o engine.Observation) {
	if o.Outcome != engine.OutcomeSent || o.ProviderID == "" {
		return
	}
	ch, ok := l.cfg.Channels().Get(o.Channel)
	if !ok {
		return
	}
	if _, ok := ch.Channel.(*whatsapp.WhatsApp); !ok {
		return
	}
	st := l.cfg.Store
	err := st.SaveProviderID(ctx, o.Channel, o.ProviderID, o.CustomerID, AddressMemory)
	if err == nil {
		var profile map[string]any
		if profile, err = st.Profile(ctx, o.CustomerID); err == nil {
			if p, ok := whatsapp.Phone(stringOf(profile[ch.Type.AddressKey])); ok {
				err = st.SetOwner(ctx, o.Channel, p, o.CustomerID, AddressMemory)
			}
		}
	}
	if err != nil {
		l.cfg.Logger.Warn("whatsapp: the sent message will not be matched to what comes back", "customer", o.CustomerID, "err", err)
	}
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}
