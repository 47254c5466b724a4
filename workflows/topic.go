package workflows

import "gopkg.in/yaml.v3"

// The topics every journey may name without the config listing them.
const (
	// DefaultTopic is the topic of a journey that names none.
	DefaultTopic = "news"
	// ServiceTopic is the topic of messages a customer cannot opt out of by topic (an
	// order's thank-you, an apology): only a channel opt-out stops them.
	ServiceTopic = "service"
)

// topic reads a journey's topic: [a-z0-9-]+, DefaultTopic when absent, and one the
// config lists (Options.HasTopic) unless it is ServiceTopic.
func (c *checker) topic(n *yaml.Node) string {
	if n.IsZero() {
		return DefaultTopic
	}
	t := n.Value
	switch {
	case n.Kind != yaml.ScalarNode || !idRE.MatchString(t):
		c.addf(n, "topic %q must be lower-case letters, digits and dashes, like tips", t)
	case t != ServiceTopic && c.opts.HasTopic != nil && !c.opts.HasTopic(t):
		c.addf(n, "topic %q is not one of the config's topics (add it under topics: with its titles, or use %s)", t, ServiceTopic)
	}
	return t
}

// Tier is one loyalty tier: a customer is in the last tier, in order, whose If holds.
type Tier struct {
	ID string
	If *Condition
}
