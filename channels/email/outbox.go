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
	Dir  string `yaml:"dir"`
	From string `yaml:"from"`
}

// Outbox writes each message as an .eml file instead of sending it.
type Outbox struct {
	dir string
	sender
}

// NewOutbox checks cfg. The folder is created by the first send, so that validating a
// config touches nothing.
func NewOutbox(cfg OutboxConfig) (*Outbox, error) {
	s, err := parseFrom(cfg.From)
	if err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("dir is required: the folder .eml files are written to")
	}
	return &Outbox{dir: cfg.Dir, sender: s}, nil
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Send writes msg to DIR/<time>-<id>.eml. A failure to write is temporary.
func (o *Outbox) Send(_ context.Context, msg channels.Message) (channels.Receipt, error) {
	m, err := o.build(msg)
	if err != nil {
		return channels.Receipt{}, err
	}
	name := time.Now().UTC().Format("20060102T150405.000000000") + "-" + unsafe.ReplaceAllString(msg.ID, "_") + ".eml"
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
