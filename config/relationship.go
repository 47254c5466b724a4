package config

import (
	"regexp"

	"gopkg.in/yaml.v3"

	"github.com/rapporthq/rapport/internal/yamlx"
	"github.com/rapporthq/rapport/workflows"
)

// Loyalty is the loyalty programme: the tiers a customer moves up through.
type Loyalty struct {
	// Tiers are in order, lowest first; a customer is in the last tier whose rule holds.
	Tiers []TierRule `yaml:"tiers"`
}

// TierRule is one loyalty tier and the condition (over customer, event and now, like a
// journey's) that puts a customer in it.
type TierRule struct {
	ID string `yaml:"id"`
	If string `yaml:"if"`
}

// Topic is one kind of message a customer may opt out of, with its title per locale for
// the preference page.
type Topic struct {
	Title map[string]string `yaml:"title"`
}

// ServiceTopic is the topic of messages a customer cannot opt out of (order news,
// apologies); it needs no entry in topics.
const ServiceTopic = workflows.ServiceTopic

var tierIDRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// relationship checks loyalty and topics.
func (v *validator) relationship() {
	c := v.c
	seen := map[string]bool{}
	list := v.at("loyalty", "tiers")
	for i, t := range c.Loyalty.Tiers {
		n := list
		if n.Kind == yaml.SequenceNode && i < len(n.Content) {
			n = n.Content[i]
		}
		switch {
		case !tierIDRE.MatchString(t.ID):
			v.addf(n, "loyalty.tiers[%d].id %q must match [a-z0-9-]+", i, t.ID)
		case seen[t.ID]:
			v.addf(n, "loyalty.tiers[%d].id %q is listed twice", i, t.ID)
		}
		seen[t.ID] = true
		if t.If == "" {
			v.addf(n, "loyalty.tiers[%d] (%s) needs an if, like customer.orders_count >= 3", i, t.ID)
		} else if _, err := workflows.CompileCondition(t.If); err != nil {
			if f := yamlx.Field(n, "if"); f != nil {
				n = f
			}
			v.addf(n, "loyalty.tiers[%d].if %q: %v", i, t.If, err)
		}
	}
	topics := v.at("topics")
	for _, name := range sortedKeys(c.Topics) {
		n := keyNode(topics, name)
		switch {
		case !tierIDRE.MatchString(name):
			v.addf(n, "topics.%s: a topic name must match [a-z0-9-]+", name)
		case name == ServiceTopic:
			v.addf(n, "topics.%s: %s is the topic of messages a customer cannot opt out of; it is not listed", name, name)
		case len(c.Topics[name].Title) == 0:
			v.addf(n, "topics.%s needs a title per locale, like {title: {en: \"Tips for what you bought\"}}", name)
		}
	}
}

// TierRules compiles the loyalty tiers, lowest first. The config was validated, so a
// rule that does not compile is an error here only for a Config built by hand.
func (c *Config) TierRules() ([]workflows.Tier, error) {
	out := make([]workflows.Tier, 0, len(c.Loyalty.Tiers))
	for _, t := range c.Loyalty.Tiers {
		cond, err := workflows.CompileCondition(t.If)
		if err != nil {
			return nil, err
		}
		out = append(out, workflows.Tier{ID: t.ID, If: cond})
	}
	return out, nil
}

// HasTopic reports whether a journey may name topic: one the config lists, or service.
func (c *Config) HasTopic(topic string) bool {
	_, ok := c.Topics[topic]
	return ok || topic == ServiceTopic
}

// DefaultTopics are the topics of a config that lists none: those the shipped journeys
// name, titled in English and Russian.
func DefaultTopics() map[string]Topic {
	return map[string]Topic{
		"news":     {Title: map[string]string{"en": "News and offers", "ru": "Новости и предложения"}},
		"tips":     {Title: map[string]string{"en": "Tips for what you bought", "ru": "Советы по покупкам"}},
		"feedback": {Title: map[string]string{"en": "Surveys and review requests", "ru": "Опросы и просьбы об отзыве"}},
		"loyalty":  {Title: map[string]string{"en": "Loyalty programme", "ru": "Программа лояльности"}},
	}
}

// TopicNames are the topics a customer may opt out of, sorted.
func (c *Config) TopicNames() []string { return sortedKeys(c.Topics) }

// TopicTitles are the topics' titles by topic and locale.
func (c *Config) TopicTitles() map[string]map[string]string {
	out := make(map[string]map[string]string, len(c.Topics))
	for name, t := range c.Topics {
		out[name] = t.Title
	}
	return out
}
