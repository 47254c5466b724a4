package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The send transaction. Every message has a claim, kept per customer and message id, that
// goes through these states, each change a compare-and-set on the token of the attempt
// that owns it:
//
//	free/released --Reserve--> reserved --HandOver--> handed --Commit--> done
//	reserved/handed --Release--> released (nothing was delivered: a retry may send)
//
// Reserve checks consent and blocked channels, reserves every cap window and takes the
// claim in one script, so two attempts for one customer can never pass the same cap.
// Commit records the outcome, marks the claim done and moves the enrolment on, also in one
// script. A claim whose owner's lease ran out belongs to a dead attempt: a reserved one is
// taken over (nothing was handed, resending is safe); a handed one is uncertain.

// ClaimState is where a message's send claim stands.
type ClaimState string

// The states of a claim.
const (
	// ClaimFree: no attempt has claimed the message.
	ClaimFree ClaimState = ""
	// ClaimReserved: an attempt owns the message; nothing was handed to a channel yet.
	ClaimReserved ClaimState = "reserved"
	// ClaimHanded: the message was handed to the channel and may have gone out.
	ClaimHanded ClaimState = "handed"
	// ClaimReleased: an attempt failed for sure and gave the message back; Channel is
	// the channel it was on, so that a retry stays there.
	ClaimReleased ClaimState = "released"
	// ClaimDone: the message's outcome is recorded.
	ClaimDone ClaimState = "done"
)

// ClaimTTL is how long a message's claim is kept: far longer than any retry schedule of
// its task, so that a retry or a replayed enrolling event never sends it twice.
const ClaimTTL = 30 * 24 * time.Hour

// Claim is a message's send claim as stored.
type Claim struct {
	MessageID string
	State     ClaimState
	// Token is the owning attempt's random token; empty when none owns it.
	Token string
	// Channel is the channel the message is, or was last, on.
	Channel string
	// Lease is when the owner counts as dead if it has not finished.
	Lease time.Time
	// Note is what an earlier attempt left to say, such as why it released the claim.
	Note string
}

// Live reports whether the claim's owner may still be working at now.
func (c Claim) Live(now time.Time) bool { return c.Lease.After(now) }

func decodeClaim(message string, h map[string]string) Claim {
	return Claim{MessageID: message, State: ClaimState(h["state"]), Token: h["token"], Channel: h["channel"],
		Lease: millis(h["lease"]), Note: h["note"]}
}

// Window is one frequency cap a message must fit in: at most Limit messages counted on
// Counter (a channel name or "all") within Per.
type Window struct {
	Counter string
	// Limit zero counts the message without ever stopping it (caps: bypass).
	Limit int
	Per   time.Duration
}

// Reservation asks to take a message's claim for one attempt on one channel.
type Reservation struct {
	CustomerID, MessageID string
	// Token is the attempt's own random token (NewToken).
	Token string
	// Channel is the channel name the attempt will send on, and Address the customer's
	// address there: a channel blocked at another address is open again.
	Channel, Address string
	// At is when the message counts in its cap windows (the engine's clock).
	At time.Time
	// Lease is how long the attempt may take before it counts as dead.
	Lease time.Duration
	// Windows are the caps the message must fit in; all are reserved or none.
	Windows []Window
	// Resend takes over a claim handed by a dead attempt to send again (on_uncertain:
	// resend); without it such a claim is taken over only to record it uncertain.
	Resend bool
}

// ReserveStatus is Reserve's answer.
type ReserveStatus string

// The answers of Reserve.
const (
	// ReserveOK: the claim and every window are the attempt's; send.
	ReserveOK ReserveStatus = "ok"
	// ReserveCapped: a window is full (ReserveResult.Full); nothing changed.
	ReserveCapped ReserveStatus = "capped"
	// ReserveDone: an earlier attempt recorded the message's outcome.
	ReserveDone ReserveStatus = "done"
	// ReserveHanded: a dead earlier attempt handed the message over and never
	// finished; the claim is now the attempt's, to record the message as uncertain.
	ReserveHanded ReserveStatus = "handed"
	// ReserveBusy: a live attempt owns the claim; try again later.
	ReserveBusy ReserveStatus = "busy"
	// ReserveUnsubscribed: the customer opted out of the channel.
	ReserveUnsubscribed ReserveStatus = "unsubscribed"
	// ReserveBlocked: the channel was unreachable at this address before.
	ReserveBlocked ReserveStatus = "blocked"
)

// ReserveResult is what Reserve found and did.
type ReserveResult struct {
	Status ReserveStatus
	// Found is the claim as Reserve found it.
	Found Claim
	// Full is the window that stopped the message when Status is ReserveCapped.
	Full Window
}

// reserve takes a message's claim and reserves its cap windows. It answers the status,
// then the claim as found (state, token, channel, lease, note), then the number of the
// full window (1-based; 0 for none).
var reserve = redis.NewScript(indexLua + `
local claim, consent, blocked, idx = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local token, now, leaseUntil, channel, digest, at, member, claimTTL, resend =
  ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local firstWindow = 5 -- KEYS from here are the windows' sets; ARGV from 10 their limit, since, trim, keep
local c = redis.call('HMGET', claim, 'state', 'token', 'channel', 'lease', 'note')
local state, owner = c[1] or '', c[2] or ''
local function found(status, full)
  return {status, state, owner, c[3] or '', c[4] or '', c[5] or '', tostring(full or 0)}
end
if state == 'done' then return found('done') end
local live = tonumber(c[4] or '0') > now
if (state == 'reserved' or state == 'handed') and owner ~= token and live then
  return found('busy')
end
if state == 'handed' and resend ~= '1' then
  redis.call('HSET', claim, 'token', token, 'lease', leaseUntil)
  return found('handed')
end
if redis.call('HGET', consent, channel) == '0' then return found('unsubscribed') end
if redis.call('HGET', blocked, channel) == digest then return found('blocked') end
for i = firstWindow, #KEYS do
  redis.call('ZREM', KEYS[i], member)
end
for i = firstWindow, #KEYS do
  local a = 10 + 4 * (i - firstWindow)
  local limit = tonumber(ARGV[a])
  if limit > 0 and redis.call('ZCOUNT', KEYS[i], ARGV[a+1], '+inf') >= limit then
    return found('capped', i - firstWindow + 1)
  end
end
local listed = {claimTTL, claim}
for i = firstWindow, #KEYS do
  local a = 10 + 4 * (i - firstWindow)
  redis.call('ZADD', KEYS[i], at, member)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[a+2])
  redis.call('PEXPIRE', KEYS[i], ARGV[a+3])
  listed[#listed + 1] = ARGV[a+3]
  listed[#listed + 1] = KEYS[i]
end
redis.call('HSET', claim, 'state', 'reserved', 'token', token, 'channel', channel, 'lease', leaseUntil)
redis.call('PEXPIRE', claim, claimTTL)
index(idx, unpack(listed))
return found('ok')
`)

// reserveCall is reserve's arguments: the reservation, the sets of its windows' counters
// and the wall clock now.
type reserveCall struct {
	claim, consent, blocked, index string
	windows                        []string
	r                              Reservation
	now                            time.Time
}

func (c reserveCall) keys() []string {
	return append([]string{c.claim, c.consent, c.blocked, c.index}, c.windows...)
}

func (c reserveCall) argv() []any {
	r, at := c.r, c.r.At.UnixMilli()
	resend := "0"
	if r.Resend {
		resend = "1"
	}
	args := []any{r.Token, c.now.UnixMilli(), c.now.Add(r.Lease).UnixMilli(), r.Channel, AddressDigest(r.Address),
		at, r.MessageID, ClaimTTL.Milliseconds(), resend}
	for _, w := range r.Windows {
		args = append(args, w.Limit, at-w.Per.Milliseconds(), at-w.Per.Milliseconds(), w.Per.Milliseconds())
	}
	return args
}

// Reserve takes the message's claim for r.Token on r.Channel, after checking that the
// customer did not opt out of the channel and that it is not blocked at r.Address, and
// reserves every cap window, all in one step: of any number of attempts for one customer
// at once, no more pass a cap than it allows.
func (s *Store) Reserve(ctx context.Context, r Reservation) (ReserveResult, error) {
	c := reserveCall{claim: s.claimKey(r.CustomerID, r.MessageID), consent: s.consentKey(r.CustomerID),
		blocked: s.blockedKey(r.CustomerID), index: s.indexKey(r.CustomerID), r: r, now: time.Now()}
	for _, w := range r.Windows {
		c.windows = append(c.windows, s.sentKey(r.CustomerID, w.Counter))
	}
	res, err := s.run(ctx, reserve, c).Result()
	var out ReserveResult
	if err == nil {
		out, err = decodeReserved(res, r)
	}
	if err != nil {
		return ReserveResult{}, fmt.Errorf("reserve message %s of %s: %w", r.MessageID, r.CustomerID, err)
	}
	return out, nil
}

// decodeReserved reads reserve's answer to r.
func decodeReserved(v any, r Reservation) (ReserveResult, error) {
	res, err := replyStrings(v, 7)
	if err != nil {
		return ReserveResult{}, err
	}
	out := ReserveResult{Status: ReserveStatus(res[0]), Found: Claim{MessageID: r.MessageID,
		State: ClaimState(res[1]), Token: res[2], Channel: res[3], Lease: millis(res[4]), Note: res[5]}}
	full, err := strconv.Atoi(res[6])
	if err != nil || full < 0 || full > len(r.Windows) {
		return ReserveResult{}, fmt.Errorf("script answered full window %q of %d", res[6], len(r.Windows))
	}
	if full > 0 {
		out.Full = r.Windows[full-1]
	}
	return out, nil
}

// ErrClaimLost says that the attempt no longer owns the message's claim: another attempt
// took it over after this one's lease ran out. The attempt must not send.
var ErrClaimLost = errors.New("the message's claim was taken over by another attempt")

// handOver marks a claim handed if the token still owns it: 1, else 0.
var handOver = redis.NewScript(`
local claim = KEYS[1]
local token, leaseUntil = ARGV[1], ARGV[2]
local c = redis.call('HMGET', claim, 'state', 'token')
if c[2] ~= token or (c[1] ~= 'reserved' and c[1] ~= 'handed') then return 0 end
redis.call('HSET', claim, 'state', 'handed', 'lease', leaseUntil)
return 1
`)

// handOverCall is handOver's arguments.
type handOverCall struct {
	claim, token string
	leaseUntil   time.Time
}

func (c handOverCall) keys() []string { return []string{c.claim} }
func (c handOverCall) argv() []any    { return []any{c.token, c.leaseUntil.UnixMilli()} }

// HandOver marks the message's claim handed, if token still owns it, and renews its
// lease: from now on the message may be out. It returns ErrClaimLost when another attempt
// owns the claim, and an error when fewer replicas than WaitForReplicas asks had the mark
// in time.
func (s *Store) HandOver(ctx context.Context, cid, message, token string, lease time.Duration) error {
	c := handOverCall{claim: s.claimKey(cid, message), token: token, leaseUntil: time.Now().Add(lease)}
	var n int
	var err error
	if s.replicas > 0 {
		n, err = s.handOverReplicated(ctx, c.keys(), c.argv())
	} else {
		n, err = s.run(ctx, handOver, c).Int()
	}
	if err != nil {
		return fmt.Errorf("hand over message %s of %s: %w", message, cid, err)
	}
	if n == 0 {
		return ErrClaimLost
	}
	return nil
}

// handOverReplicated runs handOver and WAIT in one pipeline, so on one connection: WAIT
// counts the replicas that have that connection's writes, the mark among them.
func (s *Store) handOverReplicated(ctx context.Context, keys []string, args []any) (int, error) {
	run := func(eval func(p redis.Pipeliner) *redis.Cmd) (*redis.Cmd, *redis.Cmd, error) {
		var mark, wait *redis.Cmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			mark = eval(p)
			wait = p.Do(ctx, "WAIT", s.replicas, s.replicaWait.Milliseconds())
			return nil
		})
		return mark, wait, err
	}
	mark, wait, err := run(func(p redis.Pipeliner) *redis.Cmd { return handOver.EvalSha(ctx, p, keys, args...) })
	if redis.HasErrorPrefix(mark.Err(), "NOSCRIPT") {
		mark, wait, err = run(func(p redis.Pipeliner) *redis.Cmd { return handOver.Eval(ctx, p, keys, args...) })
	}
	if err != nil {
		return 0, err
	}
	n, err := mark.Int()
	if err != nil || n == 0 {
		return n, err
	}
	acked, err := wait.Int()
	if err != nil {
		return 0, fmt.Errorf("wait for replicas: %w", err)
	}
	if acked < s.replicas {
		return 0, fmt.Errorf("%d of %d replicas had the hand-over within %v: not sending (a failover would forget it)",
			acked, s.replicas, s.replicaWait)
	}
	return n, nil
}

// Fence waits until the replicas WaitForReplicas asks for have every write made so far,
// from any connection: it writes one key and waits (WAIT) for that write, and Redis
// replicates in one ordered stream. Without WaitForReplicas it does nothing. A worker
// fences a task's work before asynq marks it done, so that a failover that forgets the
// work also forgets that it was done, and the task runs again.
func (s *Store) Fence(ctx context.Context) error {
	if s.replicas == 0 {
		return nil
	}
	var wait *redis.Cmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, s.prefix+"fence")
		wait = p.Do(ctx, "WAIT", s.replicas, s.replicaWait.Milliseconds())
		return nil
	})
	if err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	acked, err := wait.Int()
	if err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	if acked < s.replicas {
		return fmt.Errorf("fence: %d of %d replicas had the writes within %v", acked, s.replicas, s.replicaWait)
	}
	return nil
}

// Release gives back a claim whose send surely delivered nothing.
type Release struct {
	CustomerID, MessageID, Token string
	// Windows are the reserved cap windows to free.
	Windows []Window
	// Note is kept with the claim for the attempt that takes it next.
	Note string
	// Block, when set, closes the claim's channel for the customer at Address: it was
	// unreachable there.
	Block            bool
	Channel, Address string
}

// release frees a claim the token owns: 1, else 0. KEYS from the third are the window
// sets; an empty channel to block blocks none.
var release = redis.NewScript(`
local claim, blocked = KEYS[1], KEYS[2]
local token, member, note, block, digest = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local c = redis.call('HMGET', claim, 'state', 'token')
if c[2] ~= token or (c[1] ~= 'reserved' and c[1] ~= 'handed') then return 0 end
redis.call('HSET', claim, 'state', 'released', 'token', '', 'lease', '0', 'note', note)
for i = 3, #KEYS do
  redis.call('ZREM', KEYS[i], member)
end
if block ~= '' then
  redis.call('HSET', blocked, block, digest)
end
return 1
`)

// releaseCall is release's arguments.
type releaseCall struct {
	claim, blocked string
	windows        []string
	r              Release
}

func (c releaseCall) keys() []string { return append([]string{c.claim, c.blocked}, c.windows...) }
func (c releaseCall) argv() []any {
	block := ""
	if c.r.Block {
		block = c.r.Channel
	}
	return []any{c.r.Token, c.r.MessageID, c.r.Note, block, AddressDigest(c.r.Address)}
}

// Release frees the claim and its cap windows, if r.Token still owns it, so that a retry
// may send; with r.Block it also closes the channel at that address. It returns
// ErrClaimLost when another attempt owns the claim, and then changes nothing.
func (s *Store) Release(ctx context.Context, r Release) error {
	c := releaseCall{claim: s.claimKey(r.CustomerID, r.MessageID), blocked: s.blockedKey(r.CustomerID), r: r}
	for _, w := range r.Windows {
		c.windows = append(c.windows, s.sentKey(r.CustomerID, w.Counter))
	}
	res, err := s.run(ctx, release, c).Result()
	var n int64
	if err == nil {
		n, err = replyInt(res)
	}
	if err != nil {
		return fmt.Errorf("release message %s of %s: %w", r.MessageID, r.CustomerID, err)
	}
	if n == 0 {
		return ErrClaimLost
	}
	return nil
}

// Commit records a step's outcome and moves its enrolment on, at once.
type Commit struct {
	CustomerID, MessageID string
	// Token owns the message's claim, which the commit marks done. Empty for an outcome
	// reached without taking the claim (skipped, capped, unreachable): then nothing is
	// recorded unless the enrolment is still at the step.
	Token  string
	Record Record
	Move   Move
	// Free are the cap windows whose reservation the message gives back: it surely did
	// not go out (failed).
	Free []Window
}

// CommitResult says what Commit did.
type CommitResult struct {
	// Recorded: this call wrote the record. False after a commit that had already
	// happened (an earlier call whose answer was lost), and for an outcome without a
	// claim whose enrolment moved on meanwhile.
	Recorded bool
	// Move is what became of the enrolment; after a repeated commit, what the first did.
	Move MoveResult
}

// commit records, settles the claim and moves the enrolment. It answers {recorded,
// move}: recorded -1 when the token lost the claim, 0 when nothing was written.
var commit = redis.NewScript(moveLua + `
local claim, history, c = KEYS[1], KEYS[2], KEYS[3]
local token, record, historyLength, claimTTL, message = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[12]
local firstWindow = 4 -- KEYS from here are the window sets to free; ARGV 5 to 11 the move
local moved
if token ~= '' then
  local cl = redis.call('HMGET', claim, 'state', 'token', 'moved')
  if cl[2] ~= token then return {-1, 0} end
  if cl[1] == 'done' then return {0, tonumber(cl[3] or '0')} end
  moved = move(c, ARGV, 5)
  redis.call('HSET', claim, 'state', 'done', 'lease', '0', 'moved', moved)
  redis.call('PEXPIRE', claim, claimTTL)
  for i = firstWindow, #KEYS do
    redis.call('ZREM', KEYS[i], message)
  end
else
  moved = move(c, ARGV, 5)
  if moved == 0 then return {0, 0} end
end
redis.call('LPUSH', history, record)
redis.call('LTRIM', history, 0, historyLength - 1)
return {1, moved}
`)

// commitCall is commit's arguments.
type commitCall struct {
	claim, history, customer string
	windows                  []string
	c                        Commit
	record                   []byte
}

func (c commitCall) keys() []string {
	return append([]string{c.claim, c.history, c.customer}, c.windows...)
}

func (c commitCall) argv() []any {
	args := append([]any{c.c.Token, c.record, HistoryLength, ClaimTTL.Milliseconds()}, c.c.Move.argv()...)
	return append(args, c.c.MessageID)
}

// Commit writes c.Record to the customer's history, keeping the newest HistoryLength,
// marks the message's claim done and applies c.Move, in one step. It returns ErrClaimLost,
// writing nothing, when c.Token no longer owns the claim. Calling it again after an
// answer was lost writes nothing twice.
func (s *Store) Commit(ctx context.Context, c Commit) (CommitResult, error) {
	b, err := json.Marshal(c.Record)
	if err != nil {
		return CommitResult{}, err
	}
	call := commitCall{claim: s.claimKey(c.CustomerID, c.MessageID), history: s.historyKey(c.CustomerID),
		customer: s.customerKey(c.CustomerID), c: c, record: b}
	for _, w := range c.Free {
		call.windows = append(call.windows, s.sentKey(c.CustomerID, w.Counter))
	}
	res, err := s.run(ctx, commit, call).Result()
	var out CommitResult
	if err == nil {
		out, err = decodeCommitted(res)
	}
	if errors.Is(err, ErrClaimLost) {
		return CommitResult{}, err
	}
	if err != nil {
		return CommitResult{}, fmt.Errorf("record message %s of %s: %w", c.MessageID, c.CustomerID, err)
	}
	return out, nil
}

// decodeCommitted reads commit's answer.
func decodeCommitted(v any) (CommitResult, error) {
	l, err := replyList(v, 2)
	if err != nil {
		return CommitResult{}, err
	}
	recorded, err := replyInt(l[0])
	if err != nil {
		return CommitResult{}, err
	}
	if recorded < 0 {
		return CommitResult{}, ErrClaimLost
	}
	moved, err := decodeMoved(l[1])
	if err != nil {
		return CommitResult{}, err
	}
	return CommitResult{Recorded: recorded == 1, Move: moved}, nil
}

// Claim returns the message's claim.
func (s *Store) Claim(ctx context.Context, cid, message string) (Claim, error) {
	h, err := s.rdb.HGetAll(ctx, s.claimKey(cid, message)).Result()
	if err != nil {
		return Claim{}, fmt.Errorf("load claim of message %s: %w", message, err)
	}
	return decodeClaim(message, h), nil
}

// AddressDigest is what Rapport keeps of an address a channel was blocked at: enough to
// see that the address changed, nothing to read it from.
func AddressDigest(addr string) string {
	sum := sha256.Sum256([]byte(addr))
	return hex.EncodeToString(sum[:8])
}
