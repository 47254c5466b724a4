package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// What the messengers tell Rapport back is kept here: which customer a Telegram start
// token's ref names, which customer owns a chat or phone, which customer a provider's
// message id was sent to, and the WhatsApp customer service window. These keys are
// looked up by what a provider sends (a ref, a chat id, a message id), so they live
// outside the customer's hash tag; ForgetListening erases those of a customer.

func (s *Store) startRefKey(ref string) string { return s.prefix + "start:" + ref }
func (s *Store) ownerKey(channel, address string) string {
	return s.prefix + "owner:" + channel + ":" + AddressDigest(address)
}
func (s *Store) providerKey(channel, id string) string { return s.prefix + "pid:" + channel + ":" + id }
func (s *Store) windowKey(channel, address string) string {
	return s.prefix + "window:" + channel + ":" + AddressDigest(address)
}

// ErrNotFound is returned by the look-ups of this file for what Rapport does not know
// (any more).
var ErrNotFound = errors.New("not known")

// SaveStartRef keeps that ref (signing.RefFor of the customer id, carried by a Telegram
// start token) names the customer, for ttl.
func (s *Store) SaveStartRef(ctx context.Context, ref, cid string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, s.startRefKey(ref), cid, ttl).Err(); err != nil {
		return fmt.Errorf("save start link of %s: %w", cid, err)
	}
	return nil
}

// StartRef returns the customer that ref names, or ErrNotFound.
func (s *Store) StartRef(ctx context.Context, ref string) (string, error) {
	return s.get(ctx, s.startRefKey(ref), "start link")
}

func (s *Store) get(ctx context.Context, key, what string) (string, error) {
	v, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("load %s: %w", what, err)
	}
	return v, nil
}

// SetOwner keeps that the customer owns address (a chat id, a phone) on channel, for ttl
// (0: until changed or erased).
func (s *Store) SetOwner(ctx context.Context, channel, address, cid string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, s.ownerKey(channel, address), cid, ttl).Err(); err != nil {
		return fmt.Errorf("save the owner of a %s address: %w", channel, err)
	}
	return nil
}

// Owner returns the customer that owns address on channel, or ErrNotFound.
func (s *Store) Owner(ctx context.Context, channel, address string) (string, error) {
	return s.get(ctx, s.ownerKey(channel, address), channel+" address owner")
}

// SaveProviderID keeps that the channel's message id (a wamid) was sent to the
// customer, for ttl, so that its statuses find the history line.
func (s *Store) SaveProviderID(ctx context.Context, channel, id, cid string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, s.providerKey(channel, id), cid, ttl).Err(); err != nil {
		return fmt.Errorf("save %s message id: %w", channel, err)
	}
	return nil
}

// ProviderCustomer returns the customer the channel's message id was sent to, or
// ErrNotFound.
func (s *Store) ProviderCustomer(ctx context.Context, channel, id string) (string, error) {
	return s.get(ctx, s.providerKey(channel, id), channel+" message id")
}

// OpenWindow opens the channel's customer service window at address until then; a
// window already open longer stays so.
func (s *Store) OpenWindow(ctx context.Context, channel, address string, until time.Time) error {
	if !until.After(time.Now()) {
		return nil
	}
	err := s.rdb.SetArgs(ctx, s.windowKey(channel, address), until.UnixMilli(), redis.SetArgs{ExpireAt: until, Mode: ""}).Err()
	if err != nil {
		return fmt.Errorf("open the %s window: %w", channel, err)
	}
	return nil
}

// WindowOpen reports whether the channel's customer service window at address is open
// at now.
func (s *Store) WindowOpen(ctx context.Context, channel, address string, now time.Time) (bool, error) {
	v, err := s.rdb.Get(ctx, s.windowKey(channel, address)).Int64()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load the %s window: %w", channel, err)
	}
	return now.UnixMilli() < v, nil
}

// Listening names what ForgetListening erases of one customer.
type Listening struct {
	// StartRef is the ref of the customer's start tokens.
	StartRef string
	// Addresses are the customer's addresses by channel (chat id, phone): their owner
	// and window keys go, when the customer owns them.
	Addresses map[string]string
	// ProviderIDs are the channels' ids of the customer's messages, by channel.
	ProviderIDs map[string][]string
}

// ForgetListening erases what this file keeps of the customer cid: the start ref, the
// ownership and windows of their addresses, and their provider message ids. Another
// customer's ownership of the same address is left alone.
func (s *Store) ForgetListening(ctx context.Context, cid string, l Listening) error {
	keys := []string{s.startRefKey(l.StartRef)}
	for ch, ids := range l.ProviderIDs {
		for _, id := range ids {
			keys = append(keys, s.providerKey(ch, id))
		}
	}
	owners := map[string]*redis.StringCmd{}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for ch, addr := range l.Addresses {
			owners[ch] = p.Get(ctx, s.ownerKey(ch, addr))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("erase messenger links of %s: %w", cid, err)
	}
	for ch, cmd := range owners {
		if cmd.Val() == cid {
			keys = append(keys, s.ownerKey(ch, l.Addresses[ch]), s.windowKey(ch, l.Addresses[ch]))
		}
	}
	// One key at a time: they live in other slots of a cluster.
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("erase messenger links of %s: %w", cid, err)
	}
	return nil
}

func (s *Store) updateKey(id string) string { return s.prefix + "upd:" + id }

// UpdateMemory is how long an applied update's id is remembered, so that the same update
// delivered again (Telegram retrying a webhook, a poll repeated after a crash) is
// applied once.
const UpdateMemory = 7 * 24 * time.Hour

// UpdateDone reports whether the update id was applied (MarkUpdate).
func (s *Store) UpdateDone(ctx context.Context, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.updateKey(id)).Result()
	if err != nil {
		return false, fmt.Errorf("look up update %s: %w", id, err)
	}
	return n == 1, nil
}

// MarkUpdate records that the update id was applied, for UpdateMemory.
func (s *Store) MarkUpdate(ctx context.Context, id string) error {
	if err := s.rdb.Set(ctx, s.updateKey(id), "1", UpdateMemory).Err(); err != nil {
		return fmt.Errorf("mark update %s: %w", id, err)
	}
	return nil
}
