package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// What comes back from the channels (bounces, complaints, deliveries, clicks) is kept
// here: the reason a channel is blocked, soft-bounce counts per address, and the delivery
// and click marks of a customer's messages, shown beside the history lines.

func (s *Store) feedbackKey(cid string) string { return s.key(cid, "feedback") }
func (s *Store) softKey(channel, address string) string {
	return s.prefix + "soft:" + channel + ":" + SuppressionDigest(address)
}
func (s *Store) refKey(ref string) string { return s.prefix + "ref:" + ref }

// Block reasons, as GET /v1/customers/{id} shows them.
const (
	BlockedUnreachable = "unreachable"
	BlockedBounced     = "bounced"
)

// whyField is the field of the blocked hash that says why channel is blocked, with the
// digest of the address it was blocked at: a block at another address says nothing
// about this one.
func whyField(channel string) string { return channel + "\x00why" }

// Block closes channel for the customer at address for reason (BlockedBounced): later
// steps pass over it and fall back to their next channel, until the profile has another
// address for the channel.
func (s *Store) Block(ctx context.Context, cid, channel, address, reason string) error {
	d := AddressDigest(address)
	err := s.rdb.HSet(ctx, s.blockedKey(cid), channel, d, whyField(channel), reason+"\x00"+d).Err()
	if err != nil {
		return fmt.Errorf("block %s for %s: %w", channel, cid, err)
	}
	return nil
}

// Blocked returns the customer's blocked hash as LoadStepState does: each blocked
// channel's address digest (see AddressDigest), and the fields BlockReason reads.
func (s *Store) Blocked(ctx context.Context, cid string) (map[string]string, error) {
	h, err := s.rdb.HGetAll(ctx, s.blockedKey(cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("load blocked channels of %s: %w", cid, err)
	}
	return h, nil
}

// BlockReasons reads the blocked hash as LoadStepState returns it: channel to reason.
func BlockReasons(h map[string]string) map[string]string {
	out := map[string]string{}
	for ch := range h {
		if len(ch) > 4 && ch[len(ch)-4:] == "\x00why" {
			continue
		}
		out[ch] = BlockReason(h, ch)
	}
	return out
}

// BlockReason says why channel is blocked in the blocked hash h ("" when it is not).
func BlockReason(h map[string]string, channel string) string {
	d, ok := h[channel]
	if !ok {
		return ""
	}
	if h[whyField(channel)] == BlockedBounced+"\x00"+d {
		return BlockedBounced
	}
	return BlockedUnreachable
}

// softMemory is how long a soft bounce is remembered without another one.
const softMemory = 30 * 24 * time.Hour

// SoftBounce counts a soft bounce at address on channel and returns the count since the
// last delivery (ResetSoftBounces) there.
func (s *Store) SoftBounce(ctx context.Context, channel, address string) (int64, error) {
	k := s.softKey(channel, address)
	var incr *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, k)
		p.Expire(ctx, k, softMemory)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count soft bounce on %s: %w", channel, err)
	}
	return incr.Val(), nil
}

// ResetSoftBounces forgets the soft bounces at address on channel: a message was
// delivered there.
func (s *Store) ResetSoftBounces(ctx context.Context, channel, address string) error {
	if err := s.rdb.Del(ctx, s.softKey(channel, address)).Err(); err != nil {
		return fmt.Errorf("reset soft bounces on %s: %w", channel, err)
	}
	return nil
}

// Delivery and click marks of a message, as GET /v1/customers/{id} shows them beside the
// history line of the message.
type Marks struct {
	// Delivery is delivered, read, bounced or complained, the latest the channel said.
	Delivery string `json:"delivery,omitempty"`
	// Clicked is true once a tracked link of the message was followed.
	Clicked bool `json:"clicked,omitempty"`
}

// MarkDelivery records what the channel reported of message.
func (s *Store) MarkDelivery(ctx context.Context, cid, message, delivery string) error {
	if err := s.rdb.HSet(ctx, s.feedbackKey(cid), "d:"+message, delivery).Err(); err != nil {
		return fmt.Errorf("mark delivery of %s: %w", message, err)
	}
	return nil
}

// Click records a click on link of message and reports whether it is the first on that
// link, which is the one statistics count.
func (s *Store) Click(ctx context.Context, cid, message, link string) (bool, error) {
	sum := sha256.Sum256([]byte(link))
	var first *redis.BoolCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		first = p.HSetNX(ctx, s.feedbackKey(cid), "c:"+message+":"+base64.RawURLEncoding.EncodeToString(sum[:9]), "1")
		p.HSet(ctx, s.feedbackKey(cid), "k:"+message, "1")
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("record click on %s: %w", message, err)
	}
	return first.Val(), nil
}

// Marks returns the delivery and click marks of the customer's messages, by message id.
func (s *Store) Marks(ctx context.Context, cid string) (map[string]Marks, error) {
	h, err := s.rdb.HGetAll(ctx, s.feedbackKey(cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("load delivery marks of %s: %w", cid, err)
	}
	out := map[string]Marks{}
	for k, v := range h {
		if len(k) < 2 || k[1] != ':' {
			continue
		}
		id := k[2:]
		switch k[0] {
		case 'd':
			m := out[id]
			m.Delivery = v
			out[id] = m
		case 'k':
			m := out[id]
			m.Clicked = true
			out[id] = m
		}
	}
	return out, nil
}

// Ref is what a return-path token names: one message sent to one customer.
type Ref struct {
	CustomerID string `json:"c"`
	MessageID  string `json:"m"`
	Channel    string `json:"ch"`
	Journey    string `json:"j,omitempty"`
	Step       string `json:"s,omitempty"`
}

// RefMemory is how long a sent message can be named by its return-path token: bounces
// and replies that come later are not matched to it.
const RefMemory = 30 * 24 * time.Hour

// RefID is the short id under which a message's Ref is kept: a digest of the customer
// and message ids, 12 characters of [A-Za-z0-9_-].
func RefID(cid, message string) string {
	sum := sha256.Sum256([]byte("rapport ref\x00" + cid + "\x00" + message))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// SaveRef keeps r under RefID for RefMemory and returns that id.
func (s *Store) SaveRef(ctx context.Context, r Ref) (string, error) {
	id := RefID(r.CustomerID, r.MessageID)
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	if err := s.rdb.Set(ctx, s.refKey(id), b, RefMemory).Err(); err != nil {
		return "", fmt.Errorf("save return path of %s: %w", r.MessageID, err)
	}
	return id, nil
}

// ErrUnknownRef is returned by LoadRef for an id no message is kept under (any more).
var ErrUnknownRef = errors.New("no message is known by this return path")

// LoadRef returns the Ref kept under id.
func (s *Store) LoadRef(ctx context.Context, id string) (Ref, error) {
	var r Ref
	b, err := s.rdb.Get(ctx, s.refKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return r, ErrUnknownRef
	}
	if err != nil {
		return r, fmt.Errorf("load return path %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("return path %s: %w", id, err)
	}
	return r, nil
}

// forgetRefs deletes the refs of the customer's messages, one key at a time since they
// live in other slots of a cluster.
func (s *Store) forgetRefs(ctx context.Context, cid string, messages []string) error {
	if len(messages) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range messages {
			p.Del(ctx, s.refKey(RefID(cid, m)))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("erase return paths of %s: %w", cid, err)
	}
	return nil
}
