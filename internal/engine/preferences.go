package engine

import (
	"context"
	"sort"
)

// Preferences is what the preference page shows a customer: every topic and every
// channel they have an address on, each with its state, in their locale.
type Preferences struct {
	Locale   string   `json:"locale"`
	Topics   []Choice `json:"topics"`
	Channels []Choice `json:"channels"`
}

// Choice is one topic or channel on the preference page.
type Choice struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	Subscribed bool   `json:"subscribed"`
}

// Preferences returns the customer's preference page: the config's topics titled in the
// customer's locale (else the default locale, else the topic id), and the channels the
// profile has an address for.
func (e *Engine) Preferences(ctx context.Context, id string) (Preferences, error) {
	st := e.cfg.Store
	profile, err := st.Profile(ctx, id)
	if err != nil {
		return Preferences{}, err
	}
	consent, err := st.Consent(ctx, id)
	if err != nil {
		return Preferences{}, err
	}
	p := Preferences{Locale: e.cfg.Locale, Topics: []Choice{}, Channels: []Choice{}}
	if l, _ := profile["locale"].(string); l != "" {
		p.Locale = l
	}
	topics, err := st.TopicConsent(ctx, id)
	if err != nil {
		return Preferences{}, err
	}
	for t, subscribed := range e.topicView(topics) {
		title := e.cfg.TopicTitles[t][p.Locale]
		if title == "" {
			title = e.cfg.TopicTitles[t][e.cfg.Locale]
		}
		if title == "" {
			title = t
		}
		p.Topics = append(p.Topics, Choice{ID: t, Title: title, Subscribed: subscribed})
	}
	for name, ch := range e.Snapshot().Channels {
		if address(ch.Type.AddressKey, &Delivery{CustomerID: id, Customer: profile}) == "" || ch.Type.AddressKey == "customer_id" {
			continue // no address, or a webhook to the shop's own systems
		}
		subscribed, recorded := consent[name]
		p.Channels = append(p.Channels, Choice{ID: name, Title: name, Subscribed: subscribed || !recorded})
	}
	sort.Slice(p.Topics, func(i, j int) bool { return p.Topics[i].ID < p.Topics[j].ID })
	sort.Slice(p.Channels, func(i, j int) bool { return p.Channels[i].ID < p.Channels[j].ID })
	return p, nil
}

// SavePreferences sets the customer's consent to each topic and channel that choices
// name, changing only those whose state differs from what Preferences shows now.
func (e *Engine) SavePreferences(ctx context.Context, id string, topics, channels map[string]bool) error {
	now, err := e.Preferences(ctx, id)
	if err != nil {
		return err
	}
	for _, c := range now.Topics {
		if want, ok := topics[c.ID]; ok && want != c.Subscribed {
			if err := e.SetTopicConsent(ctx, id, c.ID, want); err != nil {
				return err
			}
		}
	}
	for _, c := range now.Channels {
		if want, ok := channels[c.ID]; ok && want != c.Subscribed {
			if err := e.SetConsent(ctx, id, c.ID, want); err != nil {
				return err
			}
		}
	}
	return nil
}
