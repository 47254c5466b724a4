package config

import (
	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/yamlx"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// LoadFiles loads the templates and the journeys the config names, checking each
// journey's channels against the config's and its templates against those loaded. Every
// problem of both comes back at once as yamlx.Errors; whatever loaded is returned too.
func (c *Config) LoadFiles() (*templates.Set, *workflows.Set, error) {
	var errs yamlx.Errors
	tmpl, err := templates.Load(c.Templates)
	errs.Add(c.Templates, err)
	opts := workflows.Options{Channel: c.channelKind, HasTopic: c.HasTopic}
	if tmpl != nil {
		opts.HasTemplate = tmpl.Has
	}
	journeys, err := workflows.Load(c.Workflows, opts)
	errs.Add(c.Workflows, err)
	return tmpl, journeys, errs.Err()
}

// channelKind is the kind of the config's channel name, if it has one of a known type.
func (c *Config) channelKind(name string) (channels.Kind, bool) {
	cc, ok := c.Channels[name]
	if !ok {
		return "", false
	}
	t, ok := channels.Lookup(cc.Type)
	return t.Kind, ok
}
