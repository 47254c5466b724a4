package config

import (
	"net"

	"github.com/rapporthq/rapport/internal/inbound/providers"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// Inbound configures what Rapport hears back from its channels.
type Inbound struct {
	// SMTP, when set, runs Rapport's own SMTP server for the bounces and replies
	// addresses of smtp channels; nil when absent.
	SMTP *InboundSMTP `yaml:"smtp"`
	// SoftBounceLimit is how many soft bounces at an address, with no delivery in
	// between, count as a hard bounce; default 3.
	SoftBounceLimit int `yaml:"soft_bounce_limit"`
}

// InboundSMTP configures the inbound SMTP server.
type InboundSMTP struct {
	// Addr is the listen address, like ":2525".
	Addr string `yaml:"addr"`
	// MaxSize is the largest message accepted, in bytes; default 1 MB.
	MaxSize int64 `yaml:"max_size"`
	// Domain is the name the server greets with; default the host name of http.base_url.
	Domain string `yaml:"domain"`
}

// Tracking configures click tracking.
type Tracking struct {
	// Clicks wraps the links of messages for click tracking; default true.
	Clicks *bool `yaml:"clicks"`
}

// ClicksOn reports whether links are tracked.
func (t Tracking) ClicksOn() bool { return t.Clicks == nil || *t.Clicks }

// Returns are a channel's return addresses, as its `bounces` and `replies` keys set
// them; empty when not set.
type Returns struct {
	Bounces, Replies string
}

// Returns reads the channel's `bounces` and `replies` keys.
func (c ChannelConfig) Returns() Returns {
	var r Returns
	if n := yamlx.Field(c.node, "bounces"); n != nil {
		r.Bounces = n.Value
	}
	if n := yamlx.Field(c.node, "replies"); n != nil {
		r.Replies = n.Value
	}
	return r
}

// Events reads the channel's `events:` block, the provider that posts its delivery
// events to /hooks/CHANNEL; nil when it has none.
func (c ChannelConfig) Events() (*providers.Config, error) {
	n := yamlx.Field(c.node, "events")
	if n == nil {
		return nil, nil
	}
	var pc providers.Config
	if err := yamlx.Decode(c.File, n, &pc); err != nil {
		return nil, err
	}
	return &pc, nil
}

// Listens reports whether the channel hears back: it has return addresses or events.
func (c ChannelConfig) Listens() bool {
	r := c.Returns()
	return r.Bounces != "" || r.Replies != "" || yamlx.Field(c.node, "events") != nil
}

func (v *validator) inbound() {
	c := v.c
	if s := c.Inbound.SMTP; s != nil {
		if _, port, err := net.SplitHostPort(s.Addr); err != nil || !validPort(port) {
			v.addf(v.at("inbound", "smtp", "addr"), "inbound.smtp.addr %q must be host:port or :port, like \":2525\"", s.Addr)
		}
		if s.MaxSize < 0 {
			v.addf(v.at("inbound", "smtp", "max_size"), "inbound.smtp.max_size must be a number of bytes above zero")
		}
	}
	if c.Inbound.SoftBounceLimit < 0 {
		v.addf(v.at("inbound", "soft_bounce_limit"), "inbound.soft_bounce_limit must be at least 1")
	}
	for _, name := range sortedKeys(c.Channels) {
		ch := c.Channels[name]
		if ch.node == nil {
			continue
		}
		pc, err := ch.Events()
		if err != nil {
			v.errs.Add(c.File, err)
			continue
		}
		if pc == nil {
			continue
		}
		if _, err := providers.New(*pc); err != nil {
			v.addf(yamlx.Field(ch.node, "events"), "channels.%s.%v", name, err)
		}
	}
}

// listeningKeys are the keys of a channel block that config reads itself, for every
// channel type: the channel type's Decode does not see them.
var listeningKeys = map[string]bool{"type": true, "rate": true, "events": true}
