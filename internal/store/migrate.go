package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// SchemaVersion is the layout of Rapport's keys this build writes and reads, recorded in
// rapport:schema. Version 1 is every layout before the version was recorded: enrolments
// in hashes of their own, timers in keys of their own, keys no index lists. Version 2
// keeps enrolments and timers in the customer's hash and lists every key of a customer
// whose name holds more than the customer id in the customer's index (see indexKey).
const SchemaVersion = 2

func (s *Store) schemaKey() string { return s.prefix + "schema" }

// ErrNewerSchema says that the data was written by a newer Rapport than this one, in a
// layout this build does not know: it must not touch it.
var ErrNewerSchema = errors.New("the data in Redis is of a newer Rapport")

// ErrMigrationNeeded says that the data is in an older layout: run `rapport migrate`.
var ErrMigrationNeeded = errors.New("the data in Redis is of an older Rapport: run `rapport migrate` first")

// Schema returns the recorded schema version: 0 when none is, on a Redis that holds no
// Rapport customer (a new one), and 1 when none is on one that holds some.
func (s *Store) Schema(ctx context.Context) (int, error) {
	v, err := s.rdb.Get(ctx, s.schemaKey()).Result()
	if err == nil {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("schema version %q: %w", v, err)
		}
		return n, nil
	}
	if !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	any, err := s.anyCustomerKey(ctx)
	if err != nil || !any {
		return 0, err
	}
	return 1, nil
}

// CheckSchema is what a worker does before it starts: on a new Redis it records
// SchemaVersion; on data of a newer layout it returns ErrNewerSchema, of an older one
// ErrMigrationNeeded.
func (s *Store) CheckSchema(ctx context.Context) error {
	v, err := s.Schema(ctx)
	switch {
	case err != nil:
		return err
	case v == 0:
		return s.rdb.SetNX(ctx, s.schemaKey(), SchemaVersion, 0).Err()
	case v > SchemaVersion:
		return fmt.Errorf("%w (schema %d; this build understands up to %d)", ErrNewerSchema, v, SchemaVersion)
	case v < SchemaVersion:
		return fmt.Errorf("%w (schema %d, this build's is %d)", ErrMigrationNeeded, v, SchemaVersion)
	}
	return nil
}

// customerPattern matches every key of every customer.
func (s *Store) customerPattern() string { return s.prefix + "{*}:*" }

// anyCustomerKey reports whether some customer's key exists, on any master.
func (s *Store) anyCustomerKey(ctx context.Context) (bool, error) {
	nodes, err := s.masters(ctx)
	if err != nil {
		return false, err
	}
	for _, n := range nodes {
		var cursor uint64
		for {
			keys, next, err := n.Scan(ctx, cursor, s.customerPattern(), 1000).Result()
			if err != nil {
				return false, fmt.Errorf("scan for customers: %w", err)
			}
			if len(keys) > 0 {
				return true, nil
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return false, nil
}

// master is one Redis master: the client itself, or one node of a cluster.
type master struct {
	addr string
	*redis.Client
}

// masters lists the Redis masters that hold keys: the client's, or each of a cluster's.
func (s *Store) masters(ctx context.Context) ([]master, error) {
	switch c := s.rdb.(type) {
	case *redis.Client:
		return []master{{addr: c.Options().Addr, Client: c}}, nil
	case *redis.ClusterClient:
		var mu sync.Mutex
		var out []master
		err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			out = append(out, master{addr: n.Options().Addr, Client: n})
			return nil
		})
		return out, err
	}
	return nil, fmt.Errorf("scan keys: a %T is not a client of one Redis or of a cluster", s.rdb)
}

// Migration options; the zero value migrates in batches of 500 with a 30 s lease.
type MigrateOptions struct {
	// Batch is the COUNT of each SCAN.
	Batch int
	// Lease is how long the migration holds its lease between two batches.
	Lease time.Duration
	// Log gets a line of progress per batch.
	Log *slog.Logger
}

// MigrateReport says what Migrate did.
type MigrateReport struct {
	From, To int
	// Scanned counts the keys looked at, Moved those whose data moved (enrolments and
	// timers), Listed those put in their customer's index.
	Scanned, Moved, Listed int
}

// ErrMigrationRunning says that another migration holds the lease.
var ErrMigrationRunning = errors.New("another migration is running")

func (s *Store) migrateKey() string { return s.prefix + "migrate" }

// lease takes, renews or gives back the migration's lease, and keeps its progress. It
// answers 1 when token holds it, 0 when another does.
var lease = redis.NewScript(`
local m = KEYS[1]
local token, ttl, node, cursor = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local owner = redis.call('HGET', m, 'token')
if owner and owner ~= token then return 0 end
redis.call('HSET', m, 'token', token)
if node ~= '' then redis.call('HSET', m, 'cursor:' .. node, cursor) end
redis.call('PEXPIRE', m, ttl)
return 1
`)

// leaseCall is lease's arguments.
type leaseCall struct {
	key, token   string
	ttl          time.Duration
	node, cursor string
}

func (c leaseCall) keys() []string { return []string{c.key} }
func (c leaseCall) argv() []any    { return []any{c.token, c.ttl.Milliseconds(), c.node, c.cursor} }

// Migrate moves data of an earlier layout to SchemaVersion, in SCAN batches, and records
// the version when done. One migration runs at a time: it holds a lease, renewed every
// batch, and keeps its place after each batch, so that a migration stopped half-way (or
// whose lease ran out) goes on from there when run again. It is safe to run on data that
// is current: it changes nothing but what is missing.
func (s *Store) Migrate(ctx context.Context, opt MigrateOptions) (MigrateReport, error) {
	if opt.Batch <= 0 {
		opt.Batch = 500
	}
	if opt.Lease <= 0 {
		opt.Lease = 30 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	from, err := s.Schema(ctx)
	if err != nil {
		return MigrateReport{}, err
	}
	rep := MigrateReport{From: from, To: SchemaVersion}
	if from > SchemaVersion {
		return rep, fmt.Errorf("%w (schema %d; this build understands up to %d)", ErrNewerSchema, from, SchemaVersion)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return rep, err
	}
	token := hex.EncodeToString(b)
	hold := func(node, cursor string) error {
		ok, err := s.run(ctx, lease, leaseCall{key: s.migrateKey(), token: token, ttl: opt.Lease, node: node, cursor: cursor}).Int()
		if err != nil {
			return fmt.Errorf("migration lease: %w", err)
		}
		if ok != 1 {
			return ErrMigrationRunning
		}
		return nil
	}
	if err := hold("", ""); err != nil {
		return rep, err
	}
	nodes, err := s.masters(ctx)
	if err != nil {
		return rep, err
	}
	for _, n := range nodes {
		cursor, err := s.rdb.HGet(ctx, s.migrateKey(), "cursor:"+n.addr).Uint64()
		if errors.Is(err, redis.Nil) {
			cursor, err = 0, nil
		}
		if err != nil {
			return rep, fmt.Errorf("migration progress: %w", err)
		}
		if cursor != 0 {
			opt.Log.Info("migration goes on where it stopped", "node", n.addr, "cursor", cursor)
		}
		for {
			keys, next, err := n.Scan(ctx, cursor, s.customerPattern(), int64(opt.Batch)).Result()
			if err != nil {
				return rep, fmt.Errorf("scan %s: %w", n.addr, err)
			}
			for _, k := range keys {
				moved, listed, err := s.migrateOne(ctx, k)
				if err != nil {
					return rep, err
				}
				rep.Scanned++
				rep.Moved += moved
				rep.Listed += listed
			}
			cursor = next
			done := "done"
			if cursor != 0 {
				done = strconv.FormatUint(cursor, 10)
			}
			if err := hold(n.addr, done); err != nil {
				return rep, err
			}
			opt.Log.Info("migration batch", "node", n.addr, "scanned", rep.Scanned, "moved", rep.Moved, "listed", rep.Listed)
			if cursor == 0 {
				break
			}
		}
	}
	if err := s.rdb.Set(ctx, s.schemaKey(), SchemaVersion, 0).Err(); err != nil {
		return rep, fmt.Errorf("record schema version: %w", err)
	}
	if err := s.rdb.Del(ctx, s.migrateKey()).Err(); err != nil {
		return rep, fmt.Errorf("end migration: %w", err)
	}
	opt.Log.Info("migration done", "from", from, "to", SchemaVersion, "scanned", rep.Scanned)
	return rep, nil
}

// migrate moves one key of a customer to the current layout: an enrolment's hash of an
// earlier version into the customer's hash (its event, if it keeps one, beside it), a
// timer's task ID into the customer's hash as its due time, the lists of an earlier
// version's enrolments away, and any other key whose name holds more than the customer
// id into the customer's index, until it expires. It answers {moved, listed}.
var migrate = redis.NewScript(numLua + indexLua + `
local key, c, idx = KEYS[1], KEYS[2], KEYS[3]
local kind, journey = ARGV[1], ARGV[2]
if kind == 'enrol' then
  local f = redis.call('HMGET', key, 'id', 'step', 'idx', 'since', 'started', 'due', 'task', 'event')
  if f[1] and not redis.call('HGET', c, '` + enrolPrefix + `' .. journey) then
    local since, started, due = tonumber(f[4] or '') or 0, tonumber(f[5] or '') or 0, tonumber(f[6] or '') or 0
    local v = f[1] .. ' ' .. (f[2] or '') .. ' ' .. b36(tonumber(f[3] or '') or 0) .. ' ' .. b36(since) .. ' ' ..
      b36(started * 1000 - since) .. ' ' .. b36(due - started)
    local task = f[7] or ('step:' .. f[1] .. ':' .. (f[2] or ''))
    if task ~= 'step:' .. f[1] .. ':' .. (f[2] or '') then v = v .. ' ' .. task end
    redis.call('HSET', c, '` + enrolPrefix + `' .. journey, v)
    if f[8] then redis.call('HSET', c, '` + eventPrefix + `' .. journey, f[8]) end
  end
  redis.call('DEL', key)
  return {1, 0}
elseif kind == 'timer' then
  local id = redis.call('GET', key)
  local due = id and tonumber(string.match(id, ':(%d+)$') or '')
  if due and not redis.call('HGET', c, '` + timerPrefix + `' .. journey) then
    redis.call('HSET', c, '` + timerPrefix + `' .. journey, b36(due))
  end
  redis.call('DEL', key)
  return {1, 0}
elseif kind == 'list' then
  redis.call('DEL', key)
  return {1, 0}
end
local ttl = redis.call('PTTL', key)
if ttl == -2 then return {0, 0} end
if ttl == -1 then
  redis.call('ZADD', idx, 'GT', '+inf', key)
else
  index(idx, ttl, key)
end
return {0, 1}
`)

// migrateCall is migrate's arguments.
type migrateCall struct {
	key, customer, index string
	kind, journey        string
}

func (c migrateCall) keys() []string { return []string{c.key, c.customer, c.index} }
func (c migrateCall) argv() []any    { return []any{c.kind, c.journey} }

// migrateOne migrates key, one of a customer's.
func (s *Store) migrateOne(ctx context.Context, key string) (moved, listed int, err error) {
	rest, ok := strings.CutPrefix(key, s.prefix+"{")
	cid, kind, ok2 := strings.Cut(rest, "}:")
	if !ok || !ok2 {
		return 0, 0, nil
	}
	c := migrateCall{key: key, customer: s.customerKey(cid), index: s.indexKey(cid)}
	if slices.Contains(s.fixedKeys(cid), key) || key == s.erasedKey(cid) {
		return 0, 0, nil
	}
	switch {
	case strings.HasPrefix(kind, "enrol:"):
		c.kind, c.journey = "enrol", strings.TrimPrefix(kind, "enrol:")
	case strings.HasPrefix(kind, "timer:"):
		c.kind, c.journey = "timer", strings.TrimPrefix(kind, "timer:")
	case kind == "enrolled" || kind == "enrols":
		c.kind = "list"
	}
	res, err := s.run(ctx, migrate, c).Result()
	var n []any
	if err == nil {
		n, err = replyList(res, 2)
	}
	var m, l int64
	if err == nil {
		if m, err = replyInt(n[0]); err == nil {
			l, err = replyInt(n[1])
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("migrate %s: %w", key, err)
	}
	return int(m), int(l), nil
}
