package sim

import (
	"fmt"
	"sort"
	"time"

	"github.com/rapporthq/rapport/channels"
	_ "github.com/rapporthq/rapport/channels/all" // registers every channel type
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/policy"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/yamlx"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// Setup is what a simulation runs: journeys, templates, channels and policies. Load
// reads one from a config file; one Setup serves any number of simulations.
type Setup struct {
	// File is the config file the setup was loaded from, if any.
	File      string
	Journeys  *workflows.Set
	Templates *templates.Set
	// Channels maps each channel name to its type (which template kind it renders and
	// which profile attribute holds the address). Each gets a recording channel.
	Channels map[string]channels.Type
	// Policies builds the send pipeline's checks (quiet hours, caps) on the
	// simulation's store; nil means none. Load sets it from the config; only code inside
	// this module can write one by hand.
	Policies func(*store.Store) ([]engine.Policy, error)
	// Location and Locale are the defaults for customers without timezone or locale.
	Location *time.Location
	Locale   string
	// UnsubscribeURL signs one-click unsubscribe links; nil means messages carry none.
	UnsubscribeURL func(customerID, channel string) string
	// FeedbackURL signs feedback links (.feedback_url); nil means messages carry none.
	FeedbackURL func(l signing.Link) string
	// Tiers are the loyalty tiers, lowest first; none: no loyalty programme.
	Tiers []workflows.Tier
	// Topics are the topics a customer may opt out of.
	Topics []string
}

// Load reads the config file at path and the journeys and templates it names, exactly as
// `rapport serve` does, and returns them as a Setup. Every problem of every file comes
// back at once as yamlx.Errors (file:line: message).
func Load(path string) (*Setup, error) {
	cfg, err := config.Load(path)
	if cfg == nil {
		return nil, err
	}
	setup, serr := FromConfig(cfg)
	if err != nil || serr != nil {
		var errs yamlx.Errors
		errs.Add(path, err)
		errs.Add(path, serr)
		return nil, errs
	}
	return setup, nil
}

// FromConfig is Load for a config already read.
func FromConfig(cfg *config.Config) (*Setup, error) {
	var errs yamlx.Errors
	links := signing.NewLinks(signing.NewKeys(cfg.Secret, cfg.PreviousSecrets...), cfg.HTTP.BaseURL)
	s := &Setup{File: cfg.File, Channels: map[string]channels.Type{}, Location: cfg.Location(),
		Locale: cfg.Defaults.Locale, UnsubscribeURL: links.UnsubscribeURL, FeedbackURL: links.FeedbackURL,
		Policies: func(*store.Store) ([]engine.Policy, error) { return policy.FromConfig(cfg) }}
	names := make([]string, 0, len(cfg.Channels))
	for name := range cfg.Channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cc := cfg.Channels[name]
		t, ok := channels.Lookup(cc.Type)
		if !ok {
			errs = append(errs, yamlx.Error{File: cfg.File, Line: cc.Line,
				Msg: fmt.Sprintf("channels.%s: unknown type %q", name, cc.Type)})
			continue
		}
		s.Channels[name] = t
	}
	tiers, err := cfg.TierRules()
	errs.Add(cfg.File, err)
	s.Tiers, s.Topics = tiers, cfg.TopicNames()
	s.Templates, s.Journeys, err = cfg.LoadFiles()
	errs.Add(cfg.File, err)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}
