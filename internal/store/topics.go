package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
)

// A customer's topic consent lives in their consent hash, beside the channels, as fields
// ~topic:<topic> ("1" subscribed, "0" opted out), so that it goes wherever the consent
// goes (an erasure, a step's state) and no channel name can be mistaken for one.
const topicPrefix = event.ReservedPrefix + "topic:"

// TopicField is the field of the consent hash, and so the key of StepState.Consent, that
// holds the customer's consent to a topic.
func TopicField(topic string) string { return topicPrefix + topic }

// SetTopicConsent records whether the customer agrees to messages about a topic, on
// every channel.
func (s *Store) SetTopicConsent(ctx context.Context, cid, topic string, subscribed bool) error {
	return s.SetConsent(ctx, cid, TopicField(topic), subscribed)
}

// TopicConsent returns the customer's recorded consent per topic; a topic not in the map
// has no record.
func (s *Store) TopicConsent(ctx context.Context, cid string) (map[string]bool, error) {
	all, err := s.Consent(ctx, cid)
	if err != nil {
		return nil, err
	}
	return topics(all), nil
}

// topics picks the topics out of a consent hash as Consent decodes it.
func topics(consent map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k, v := range consent {
		if t, ok := strings.CutPrefix(k, topicPrefix); ok {
			out[t] = v
		}
	}
	return out
}

// TopicOptedOut reports whether the customer opted out of topic.
func (s *Store) TopicOptedOut(ctx context.Context, cid, topic string) (bool, error) {
	v, err := s.rdb.HGet(ctx, s.consentKey(cid), TopicField(topic)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("load topic consent of %s: %w", cid, err)
	}
	return v == "0", nil
}
