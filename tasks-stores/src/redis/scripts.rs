//! The Lua scripts of [`RedisStore`](super::RedisStore): each claim,
//! renewal and lease one script, which Redis runs alone, judged by its
//! `TIME`.

use redis::Script;

/// A Lua function of the claim and acquire scripts: the loop's next token
/// in the counter at `key` at Redis's `TIME` `time`, as text: the greater
/// of the last plus one and the time in microseconds, as
/// `tasks_runtime::cluster::rules::next_fence` makes it. Kept as text, and
/// compared by length first, so that no token passes through a Lua number
/// (exact only to 2^53).
macro_rules! next_fence_lua {
    () => {
        r"
local function next_fence(key, time)
  local now = time[1] .. string.format('%06d', tonumber(time[2]))
  local last = redis.call('GET', key)
  if last and (#last > #now or (#last == #now and last >= now)) then
    redis.call('INCR', key)
    return redis.call('GET', key)
  end
  redis.call('SET', key, now)
  return now
end
"
    };
}

/// Claims a slot. KEYS: the loop's token counter, the slot's claim. ARGV:
/// holder, tzdb, the earliest time the claim is accepted (µs), lease (µs),
/// `1` if takeover is allowed, the end of the takeover window (µs), the
/// time the claim is held until at least (the end of the late tolerance
/// or the takeover window, whichever is later; µs), retention (ms), the
/// latest time the claim is accepted (µs).
pub(super) const CLAIM: &str = concat!(
    next_fence_lua!(),
    r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
if now < tonumber(ARGV[3]) then
  return {'early', string.format('%d', now)}
end
local too_late = now > tonumber(ARGV[9])
local held = redis.call('HMGET', KEYS[2], 'holder', 'tzdb', 'lease_until', 'outcome')
if held[1] then
  local may_take_over = ARGV[5] == '1' and not held[4]
    and tonumber(held[3]) <= now and now <= tonumber(ARGV[6])
  if too_late or not may_take_over then
    return {'taken', held[1], held[2]}
  end
end
if too_late then
  return {'late', string.format('%d', now)}
end
local fence = next_fence(KEYS[1], time)
local lease_until = now + tonumber(ARGV[4])
local keep_ms = math.ceil((math.max(lease_until, tonumber(ARGV[7])) - now) / 1000)
  + tonumber(ARGV[8])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'holder', ARGV[1], 'fence', fence,
  'tzdb', ARGV[2], 'lease_until', string.format('%d', lease_until))
redis.call('PEXPIRE', KEYS[2], string.format('%d', math.max(keep_ms, 1)))
return {'won', fence}
"
);

/// Renews a claim, if it is the holder's, with its token, and has not
/// finished. KEYS: the slot's claim. ARGV: holder, token, lease (µs),
/// retention (ms).
const RENEW_CLAIM: &str = r"
local held = redis.call('HMGET', KEYS[1], 'holder', 'fence', 'outcome')
if held[1] ~= ARGV[1] or held[2] ~= ARGV[2] or held[3] then
  return {'lost'}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local lease = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'lease_until', string.format('%d', now + lease))
local keep_ms = math.ceil(lease / 1000) + tonumber(ARGV[4])
if redis.call('PTTL', KEYS[1]) < keep_ms then
  redis.call('PEXPIRE', KEYS[1], string.format('%d', keep_ms))
end
return {'extended'}
";

/// Records how a slot ended, if the token is the claim's. KEYS: the slot's
/// claim, the loop's last finished slot. ARGV: token, outcome, slot (ns).
const FINISH: &str = r"
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'outcome', ARGV[2])
local last = redis.call('HGET', KEYS[2], 'slot')
local slot = ARGV[3]
if not last or #slot > #last or (#slot == #last and slot >= last) then
  redis.call('HSET', KEYS[2], 'slot', slot, 'outcome', ARGV[2], 'fence', ARGV[1])
end
return 1
";

/// Takes a free lease for a new term. KEYS: the loop's token counter, the
/// lease. ARGV: holder, lease (ms).
const ACQUIRE: &str = concat!(
    next_fence_lua!(),
    r"
local holder = redis.call('HGET', KEYS[2], 'holder')
if holder then
  return {'held_by', holder}
end
local fence = next_fence(KEYS[1], redis.call('TIME'))
redis.call('HSET', KEYS[2], 'holder', ARGV[1], 'fence', fence)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {'won', fence}
"
);

/// Renews a term, if it is the holder's and has not expired. KEYS: the
/// lease. ARGV: holder, token, lease (ms).
const RENEW: &str = r"
local lease = redis.call('HMGET', KEYS[1], 'holder', 'fence')
if lease[1] == ARGV[1] and lease[2] == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'held'}
end
return {'held_by', lease[1]}
";

/// Ends a term, if it is the holder's: compare and delete. KEYS: the
/// lease. ARGV: holder, token.
const RELEASE: &str = r"
local lease = redis.call('HMGET', KEYS[1], 'holder', 'fence')
if lease[1] == ARGV[1] and lease[2] == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// The scripts, hashed once: each call sends the hash, and the script
/// only when Redis does not know it yet.
pub(super) struct Scripts {
    pub(super) claim: Script,
    pub(super) renew_claim: Script,
    pub(super) finish: Script,
    pub(super) acquire: Script,
    pub(super) renew: Script,
    pub(super) release: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            claim: Script::new(CLAIM),
            renew_claim: Script::new(RENEW_CLAIM),
            finish: Script::new(FINISH),
            acquire: Script::new(ACQUIRE),
            renew: Script::new(RENEW),
            release: Script::new(RELEASE),
        }
    }

    /// Every script, to load them all.
    pub(super) fn all(&self) -> [&Script; 6] {
        [
            &self.claim,
            &self.renew_claim,
            &self.finish,
            &self.acquire,
            &self.renew,
            &self.release,
        ]
    }
}
