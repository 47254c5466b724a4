package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// BuildChannels builds every configured channel through the channels registry and
// returns them by name. An unknown type is an error at the channel's line listing the
// known types; a type's own errors keep their lines, and a plain error from a type is
// placed at its channel's line. Every channel's problems are reported together, as
// yamlx.Errors; on error the channels already built are closed.
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
		ch, err := t.New(cc.Decode)
		if err != nil {
			var many yamlx.Errors
			var one yamlx.Error
			if !errors.As(err, &many) && !errors.As(err, &one) {
				err = yamlx.Error{File: c.File, Line: cc.Line, Msg: fmt.Sprintf("channels.%s: %v", name, err)}
			}
			errs.Add(c.File, err)
			continue
		}
		set[name] = channels.Named{Name: name, Type: t, Channel: ch}
	}
	if err := errs.Err(); err != nil {
		set.Close()
		return nil, err
	}
	return set, nil
}
