package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The suppression list remembers the addresses that opted out, one set per channel
// name, so that an opt-out outlives the customer's erasure: a customer who unsubscribed
// and then asked to be forgotten must not be mailed again when the shop sends their
// address anew. It keeps a digest of each address, never the address, and no customer
// id, so it tells nothing about who the customer was; it only answers whether an address
// it is shown opted out.

func (s *Store) suppressedKey(channel string) string { return s.prefix + "suppressed:" + channel }

// SuppressionDigest is what the suppression list keeps of an address: a SHA-256 of it,
// trimmed and in lower case, so that Anna@Example.com and anna@example.com are one.
func SuppressionDigest(address string) string {
	sum := sha256.Sum256([]byte("rapport suppression\x00" + strings.ToLower(strings.TrimSpace(address))))
	return hex.EncodeToString(sum[:])
}

// Suppress puts address on the channel's suppression list, or takes it off it when
// suppressed is false (the customer subscribed again). An empty address changes nothing.
func (s *Store) Suppress(ctx context.Context, channel, address string, suppressed bool) error {
	if address == "" {
		return nil
	}
	var err error
	if suppressed {
		err = s.rdb.SAdd(ctx, s.suppressedKey(channel), SuppressionDigest(address)).Err()
	} else {
		err = s.rdb.SRem(ctx, s.suppressedKey(channel), SuppressionDigest(address)).Err()
	}
	if err != nil {
		return fmt.Errorf("suppression list of %s: %w", channel, err)
	}
	return nil
}

// Suppressed reports whether address is on the channel's suppression list.
func (s *Store) Suppressed(ctx context.Context, channel, address string) (bool, error) {
	on, err := s.SuppressedOn(ctx, map[string]string{channel: address})
	return on[channel], err
}

// SuppressedOn looks up several addresses at once, each on its channel's list, in one
// round trip: addresses maps a channel name to an address. It returns the channels whose
// address is on their list.
func (s *Store) SuppressedOn(ctx context.Context, addresses map[string]string) (map[string]bool, error) {
	var cmds map[string]*redis.BoolCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cmds = s.suppressedCmds(ctx, p, addresses)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read suppression lists: %w", err)
	}
	return suppressedOn(cmds), nil
}

// suppressedCmds queues the lookups of SuppressedOn on p.
func (s *Store) suppressedCmds(ctx context.Context, p redis.Pipeliner, addresses map[string]string) map[string]*redis.BoolCmd {
	cmds := map[string]*redis.BoolCmd{}
	for ch, addr := range addresses {
		if addr != "" {
			cmds[ch] = p.SIsMember(ctx, s.suppressedKey(ch), SuppressionDigest(addr))
		}
	}
	return cmds
}

// suppressedOn reads the answers of suppressedCmds.
func suppressedOn(cmds map[string]*redis.BoolCmd) map[string]bool {
	on := map[string]bool{}
	for ch, c := range cmds {
		if c.Val() {
			on[ch] = true
		}
	}
	return on
}
