package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// BuildChannels builds every configured channel through the channels registry and
// returns them by name. An unknown type is an error at the channel's line listing the
// known types; a type's own errors keep their lines, and a plain error from a type is
// placed at its channel's line. Every channel's problems are reported together, as
// yamlx.Errors; on error the channels already built are closed. A channel with a
// `rate: N/s` (or `N/m`) key, which every type accepts, is wrapped in
// channels.RateLimited.
func (c *Config) BuildChannels() (channels.Set, error) {
	set := channels.Set{}
	var errs yamlx.Errors
	for _, name := range sortedKeys(c.Channels) {
		cc := c.Channels[name]
		t, ok := channels.Lookup(cc.Type)
		if !ok {
			errs = append(errs, yamlx.Error{File: c.File, Line: cc.Line,
				Msg: fmt.Sprintf("channels.%s: unknown type %q (known: %s)", name, cc.Type, strings.Join(channels.TypeNames(), ", "))})
			continue
		}
		perSecond, rateErr := cc.rate(name)
		if rateErr != nil {
			errs = append(errs, *rateErr)
		}
		ch, err := t.New(cc.Decode)
		if err != nil {
			var many yamlx.Errors
			var one yamlx.Error
			if !errors.As(err, &many) && !errors.As(err, &one) {
				err = yamlx.Error{File: c.File, Line: cc.Line, Msg: fmt.Sprintf("channels.%s: %v%s", name, err, c.unsetIn(cc.node))}
			}
			errs.Add(c.File, err)
			continue
		}
		if perSecond > 0 {
			ch = channels.RateLimited(ch, perSecond)
		}
		set[name] = channels.Named{Name: name, Type: t, Channel: ch}
	}
	if err := errs.Err(); err != nil {
		set.Close()
		return nil, err
	}
	return set, nil
}

var rateRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)/(s|m)$`)

// rate reads the channel's optional `rate: N/s` or `N/m` key as messages per second;
// zero when absent. A bad value is an error at its line.
func (c ChannelConfig) rate(name string) (float64, *yamlx.Error) {
	n := yamlx.Field(c.node, "rate")
	if n == nil {
		return 0, nil
	}
	bad := &yamlx.Error{File: c.File, Line: n.Line, Msg: fmt.Sprintf(
		"channels.%s.rate %q must be a number of messages per second or minute above zero, like 30/s or 100/m", name, n.Value)}
	m := rateRE.FindStringSubmatch(strings.ReplaceAll(n.Value, " ", ""))
	if n.Kind != yaml.ScalarNode || m == nil {
		return 0, bad
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || v <= 0 {
		return 0, bad
	}
	if m[2] == "m" {
		v /= 60
	}
	return v, nil
}

// unsetIn names the variables without default that were unset or empty on the lines of
// block, since a channel's missing token or secret usually means one of them.
func (c *Config) unsetIn(block *yaml.Node) string {
	var names []string
	seen := map[int]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if !seen[n.Line] {
			seen[n.Line] = true
			names = append(names, c.unset[n.Line]...)
		}
		for _, k := range n.Content {
			walk(k)
		}
	}
	walk(block)
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf(" (environment variable %s is unset or empty)", strings.Join(names, ", "))
}
