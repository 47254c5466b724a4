package engine

import (
	"context"
	"fmt"

	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/workflows"
)

// ErrUnknownTopic is returned for consent to a topic the config does not list.
var ErrUnknownTopic = fmt.Errorf("unknown topic")

// topicPolicy stops a message whose journey's topic the customer opted out of, on every
// channel, with the outcome skipped. A service journey's messages pass: only a channel
// opt-out stops them. It runs first of the policies.
type topicPolicy struct{ st *store.Store }

func (p topicPolicy) Check(ctx context.Context, d *Delivery) (Verdict, error) {
	topic := d.Journey.Topic
	if topic == "" {
		topic = workflows.DefaultTopic
	}
	if topic == workflows.ServiceTopic {
		return Verdict{}, nil
	}
	out := false
	if d.Consent != nil {
		subscribed, recorded := d.Consent[store.TopicField(topic)]
		out = recorded && !subscribed
	} else {
		// A first step run while its event is processed has no consent loaded.
		var err error
		if out, err = p.st.TopicOptedOut(ctx, d.CustomerID, topic); err != nil {
			return Verdict{}, err
		}
	}
	if out {
		return Verdict{Outcome: OutcomeSkipped, Reason: "opted out of topic " + topic}, nil
	}
	return Verdict{}, nil
}

// SetTopicConsent records that the customer subscribed to or opted out of a topic, on
// every channel. ErrUnknownTopic for a topic the config does not list.
func (e *Engine) SetTopicConsent(ctx context.Context, id, topic string, subscribed bool) error {
	if !e.hasTopic(topic) {
		return fmt.Errorf("%w %q (topics: %v)", ErrUnknownTopic, topic, e.cfg.Topics)
	}
	if err := e.cfg.Store.SetTopicConsent(ctx, id, topic, subscribed); err != nil {
		return err
	}
	e.log.Info("topic consent changed", "customer", id, "topic", topic, "subscribed", subscribed)
	return nil
}

// Topics are the topics a customer may opt out of, as the config lists them.
func (e *Engine) Topics() []string { return e.cfg.Topics }

func (e *Engine) hasTopic(topic string) bool {
	for _, t := range e.cfg.Topics {
		if t == topic {
			return true
		}
	}
	return false
}

// topicView is the customer's consent per listed topic: subscribed unless opted out.
func (e *Engine) topicView(recorded map[string]bool) map[string]bool {
	out := make(map[string]bool, len(e.cfg.Topics))
	for _, t := range e.cfg.Topics {
		subscribed, ok := recorded[t]
		out[t] = subscribed || !ok
	}
	return out
}
