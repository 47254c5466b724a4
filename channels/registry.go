package channels

import (
	"fmt"
	"sort"
	"sync"
)

// Kind is the family of templates a channel type renders: "email" uses NAME.email.html
// (and .email.txt), "msg" uses NAME.msg.txt.
type Kind string

// The template kinds.
const (
	KindEmail Kind = "email"
	KindMsg   Kind = "msg"
)

// Type describes one channel type that can appear as `type:` in the config.
type Type struct {
	// Name is the config's `type` value, e.g. "smtp" or "telegram".
	Name string
	// Kind picks which template files the type renders.
	Kind Kind
	// AddressKey is the profile attribute holding the customer's address on this type,
	// e.g. "email" or "telegram_chat_id".
	AddressKey string
	// New builds a channel from its config block. decode fills a struct from the block and
	// reports unknown keys and bad values with their file:line.
	New func(decode func(v any) error) (Channel, error)
}

// NewFrom adapts a constructor that takes a type's config struct into Type.New: the
// block is decoded into a C (unknown keys and bad values are errors at their lines),
// then newFn builds the channel from it.
func NewFrom[C any, Ch Channel](newFn func(C) (Ch, error)) func(decode func(v any) error) (Channel, error) {
	return func(decode func(v any) error) (Channel, error) {
		var cfg C
		if err := decode(&cfg); err != nil {
			return nil, err
		}
		return newFn(cfg)
	}
}

var (
	mu    sync.RWMutex
	types = map[string]Type{}
)

// Register makes a channel type available by name. It panics if the name is empty or
// already taken: registration happens in init functions, where that is a programming error.
func Register(t Type) {
	mu.Lock()
	defer mu.Unlock()
	if t.Name == "" || t.New == nil {
		panic("channels: Register needs a Name and a New function")
	}
	if _, dup := types[t.Name]; dup {
		panic("channels: type " + t.Name + " registered twice")
	}
	types[t.Name] = t
}

// Lookup returns the registered type with that name.
func Lookup(name string) (Type, bool) {
	mu.RLock()
	defer mu.RUnlock()
	t, ok := types[name]
	return t, ok
}

// TypeNames lists the registered type names, sorted, for error messages.
func TypeNames() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Named is a configured channel: the name the config gives it, its type, and the built
// Channel.
type Named struct {
	Name string
	Type Type
	Channel
}

// Set holds the configured channels by their config name.
type Set map[string]Named

// Get returns the channel configured under name.
func (s Set) Get(name string) (Named, bool) {
	n, ok := s[name]
	return n, ok
}

// Close releases every channel that holds resources.
func (s Set) Close() error {
	var first error
	for _, n := range s {
		if c, ok := n.Channel.(Closer); ok {
			if err := c.Close(); err != nil && first == nil {
				first = fmt.Errorf("close channel %s: %w", n.Name, err)
			}
		}
	}
	return first
}
