package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rapporthq/rapport/event"
)

// A customer's hash, rapport:{c-42}:customer, holds the profile attributes and, beside
// them, the customer's small per-journey state: fields whose names start with
// event.ReservedPrefix, which no attribute may. A field there costs a few bytes of the
// hash's listpack, where a key of its own costs at least ~90 bytes.
//
//	~e:<journey>  the active enrolment, packed (see packEnrolment)
//	~t:<journey>  the pending timer: its due time in unix seconds, base 36
//
// The set of ~e: fields is the customer's list of journeys. A value is kept to 64 bytes
// or less in the common case, so that the hash stays listpack-encoded on Redis 7.0.
//
//	~v:<journey>  the enrolling event (JSON) of an enrolment whose pending task does not
//	              carry it: one an earlier version made, moved here by Migrate
//
// Earlier versions kept an enrolment in a hash of its own (enrol:<journey>, listed in the
// enrolled hash or, before that, the enrols set) and a timer's task ID in a string
// (timer:<journey>). Migrate moves those here; nothing else reads them.
const (
	enrolPrefix = event.ReservedPrefix + "e:"
	timerPrefix = event.ReservedPrefix + "t:"
	eventPrefix = event.ReservedPrefix + "v:"
)

func enrolField(journey string) string { return enrolPrefix + journey }
func timerField(journey string) string { return timerPrefix + journey }

// customerHash is a customer's hash read whole: the profile, and Rapport's own fields.
type customerHash struct {
	profile map[string]any
	// enrolments, timers and events map a journey to its packed enrolment, its timer's
	// base-36 due time and its enrolment's kept event.
	enrolments, timers, events map[string]string
}

// decodeCustomer splits a customer's hash into the profile and Rapport's own fields. It
// is the one place that tells them apart: every read of a profile goes through it.
func decodeCustomer(h map[string]string) customerHash {
	c := customerHash{profile: make(map[string]any, len(h))}
	for k, v := range h {
		if !strings.HasPrefix(k, event.ReservedPrefix) {
			c.profile[k] = decodeValue(v)
			continue
		}
		if j, ok := strings.CutPrefix(k, enrolPrefix); ok {
			if c.enrolments == nil {
				c.enrolments = map[string]string{}
			}
			c.enrolments[j] = v
		} else if j, ok := strings.CutPrefix(k, timerPrefix); ok {
			if c.timers == nil {
				c.timers = map[string]string{}
			}
			c.timers[j] = v
		} else if j, ok := strings.CutPrefix(k, eventPrefix); ok {
			if c.events == nil {
				c.events = map[string]string{}
			}
			c.events[j] = v
		}
	}
	return c
}

// pairs turns a flat HGETALL answer, as a script returns it, into a map.
func pairs(flat []string) map[string]string {
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		h[flat[i]] = flat[i+1]
	}
	return h
}

// A packed enrolment is one line of space-separated parts, integers in base 36:
//
//	id step idx since started due [task]
//
// since in unix microseconds; started as the microseconds from since to it (it is
// milliseconds); due as the milliseconds from started to it. The pending task is there
// only when StepTaskID does not name it: @ alone stands for StepTaskID + "@" + the due
// unix second (a step held back until then), a part starting with @ follows StepTaskID,
// any other is the whole task. Ids never hold spaces: enrolment ids are hex digits, step
// ids [a-z0-9-].
//
// An enrolment of a review request due in three days packs to about 50 bytes:
//
//	3f2a9c0d11e4b7a85c21 step-1 0 1bv6e8yk3k0 2bi 4ac3k0
//
// The scripts pack (enrolLua); Go only unpacks.
func unpackEnrolment(journey, cid, v string) (*Enrolment, error) {
	p := strings.Split(v, " ")
	if len(p) != 6 && len(p) != 7 {
		return nil, fmt.Errorf("enrolment of %s in %s: %q is not a packed enrolment", cid, journey, v)
	}
	var n [4]int64
	for i, s := range p[2:6] {
		var err error
		if n[i], err = strconv.ParseInt(s, 36, 64); err != nil {
			return nil, fmt.Errorf("enrolment of %s in %s: %q: %w", cid, journey, v, err)
		}
	}
	since, started := n[1], (n[1]+n[2])/1000
	due := time.UnixMilli(started + n[3]).UTC()
	task := StepTaskID(p[0], p[1])
	if len(p) == 7 {
		switch {
		case p[6] == "@":
			task += "@" + strconv.FormatInt(due.Unix(), 10)
		case strings.HasPrefix(p[6], "@"):
			task += p[6]
		default:
			task = p[6]
		}
	}
	return &Enrolment{
		ID:         p[0],
		Journey:    journey,
		CustomerID: cid,
		StartedAt:  time.UnixMilli(started).UTC(),
		Step:       p[1],
		Index:      int(n[0]),
		Due:        due,
		Task:       task,
		Since:      time.UnixMicro(since).UTC(),
	}, nil
}

// numLua converts the integers the customer's fields keep: b36 and from36 to and from
// base 36, int a decimal argument; each fails on what is not a number, so call them
// before a script's first write. Lua keeps numbers as doubles, exact to 2^53: unix
// microseconds fit.
const numLua = `
local digits = '0123456789abcdefghijklmnopqrstuvwxyz'
local function b36(n)
  if n ~= math.floor(n) then error('not an integer: ' .. tostring(n)) end
  local sign = ''
  if n < 0 then sign, n = '-', -n end
  local s = ''
  repeat
    local d = n % 36
    s = string.sub(digits, d + 1, d + 1) .. s
    n = (n - d) / 36
  until n == 0
  return sign .. s
end
local function from36(s)
  local n
  if string.sub(s, 1, 1) == '-' then
    n = tonumber(string.sub(s, 2), 36)
    if n then n = -n end
  else
    n = tonumber(s, 36)
  end
  if not n then error('not a base-36 number: ' .. s) end
  return n
end
local function int(s)
  local n = tonumber(s)
  if not n then error('not a number: ' .. tostring(s)) end
  return n
end
`

// enrolLua reads and writes a journey's enrolment in the scripts, in the customer's hash
// c. getEnrol returns the enrolment of journey j (id, step, idx, since, started, due,
// task), or nil. packEnrol packs one, failing on a number that is not one. putEnrol
// writes one back, packing it before its first write. delEnrol deletes the enrolment and
// the event it may keep.
const enrolLua = numLua + `
local function stepTask(id, step) return 'step:' .. id .. ':' .. step end
local function heldTask(e) return stepTask(e.id, e.step) .. '@' .. string.format('%.0f', math.floor(e.due / 1000)) end
local function getEnrol(c, j)
  local v = redis.call('HGET', c, '` + enrolPrefix + `' .. j)
  if not v then return nil end
  local p = {}
  for w in string.gmatch(v .. ' ', '([^ ]*) ') do p[#p + 1] = w end
  if #p < 6 then error('not a packed enrolment: ' .. v) end
  local e = {id = p[1], step = p[2], idx = from36(p[3]), since = from36(p[4])}
  e.started = (e.since + from36(p[5])) / 1000
  e.due = e.started + from36(p[6])
  e.task = stepTask(e.id, e.step)
  if p[7] == '@' then
    e.task = heldTask(e)
  elseif p[7] and string.sub(p[7], 1, 1) == '@' then
    e.task = e.task .. p[7]
  elseif p[7] then
    e.task = p[7]
  end
  return e
end
local function packEnrol(e)
  local v = e.id .. ' ' .. e.step .. ' ' .. b36(e.idx) .. ' ' .. b36(e.since) .. ' ' ..
    b36(e.started * 1000 - e.since) .. ' ' .. b36(e.due - e.started)
  local base = stepTask(e.id, e.step)
  if e.task == base then return v end
  if e.task == heldTask(e) then return v .. ' @' end
  local rest = string.sub(e.task, #base + 1)
  if string.sub(e.task, 1, #base) == base and string.sub(rest, 1, 1) == '@' then return v .. ' ' .. rest end
  return v .. ' ' .. e.task
end
local function delEnrol(c, j)
  redis.call('HDEL', c, '` + enrolPrefix + `' .. j, '` + eventPrefix + `' .. j)
end
local function putEnrol(c, j, e)
  redis.call('HSET', c, '` + enrolPrefix + `' .. j, packEnrol(e))
end
`
