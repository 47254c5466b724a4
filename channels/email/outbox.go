package email

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/rapporthq/rapport/channels"
)

// OutboxConfig is the config block of an outbox channel.
type OutboxConfig struct {
	// Dir is the folder the .eml files go to; it is created if missing.
	Dir string `yaml:"dir"`
	// From is the sender written into each email, like "Shop <hello@shop.example>".
	From string `yaml:"from"`
	// Return sets the return addresses (bounces, replies), as an smtp channel does, so
	// that replies to outbox mail can be tried with `rapport inbound`.
	Return `yaml:",inline"`
}

// Outbox is an outbox channel: it writes each message as an .eml file instead of sending
// it. It is safe for concurrent use.
type Outbox struct {
	dir string
	sender
}

// NewOutbox checks cfg. The folder is created by the first send, so that validating a
// config touches nothing.
func NewOutbox(cfg OutboxConfig) (*Outbox, error) {
	s, err := parseFrom(cfg.From, cfg.Return)
	if err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("dir is required: the folder .eml files are written to")
	}
	return &Outbox{dir: cfg.Dir, sender: s}, nil
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Send writes msg to DIR/<time>-<id>.eml, where time sorts in sending order and id is
// msg.ID with unsafe characters replaced. The receipt's ProviderID is the file's path.
// A bad recipient address is permanent; a failure to write is temporary.
func (o *Outbox) Send(_ context.Context, msg channels.Message) (channels.Receipt, error) {
	m, err := o.build(msg)
	if err != nil {
		return channels.Receipt{}, err
	}
	id := unsafe.ReplaceAllString(msg.ID, "_")
	if len(id) > 80 {
		id = id[:80]
	}
	if id == "" {
		id = "message"
	}
	name := time.Now().UTC().Format("20060102T150405.000000000") + "-" + id + ".eml"
	path := filepath.Join(o.dir, name)
	err = m.WriteToFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(o.dir, 0o755); err == nil {
			err = m.WriteToFile(path)
		}
	}
	if err != nil {
		return channels.Receipt{}, channels.Temporary(fmt.Errorf("write %s: %w", path, err))
	}
	return channels.Receipt{ProviderID: path}, nil
}
