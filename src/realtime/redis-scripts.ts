/**
 * Lua scripts of the Redis broker. Each runs atomically, so offsets, history and pub/sub can never
 * disagree. Keys per channel (under the broker's prefix):
 *   meta:<channel>  HASH  { o = newest offset, e = epoch }        PEXPIRE meta TTL (refreshed on use)
 *   hist:<channel>  LIST  newest first, entries "<offset> <json>"  LTRIM to size, PEXPIRE history TTL
 * The list always holds a contiguous run of offsets ending at `o`, so offset n sits at index o - n.
 * A new epoch (meta gone) deletes the list, so stale entries can never be read under a new epoch.
 */

/**
 * KEYS: meta, hist. ARGV: data, history size, history TTL ms, meta TTL ms, pub/sub channel, new epoch.
 * Returns { offset, epoch } and publishes "<offset> <epoch> <json>" to the channel's pub/sub name.
 */
export const PUBLISH_LUA = `
local epoch = redis.call('hget', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[6]
  redis.call('hset', KEYS[1], 'e', epoch)
  redis.call('del', KEYS[2])
end
local offset = redis.call('hincrby', KEYS[1], 'o', 1)
redis.call('pexpire', KEYS[1], ARGV[4])
local id = string.format('%d', offset)
local size = tonumber(ARGV[2])
if size > 0 then
  redis.call('lpush', KEYS[2], id .. ' ' .. ARGV[1])
  redis.call('ltrim', KEYS[2], 0, size - 1)
  redis.call('pexpire', KEYS[2], ARGV[3])
else
  redis.call('del', KEYS[2])
end
redis.call('publish', ARGV[5], id .. ' ' .. epoch .. ' ' .. ARGV[1])
return {offset, epoch}
`;

/**
 * KEYS: meta, hist. ARGV: use since (0|1), since offset, since epoch ('' = any), limit (-1 = all),
 * reverse (0|1), meta TTL ms, new epoch. Same arithmetic as `historyRange` in broker.ts.
 * Returns { top offset, epoch, 'u' when unrecoverable else '', entries newest first }.
 */
export const HISTORY_LUA = `
local epoch = redis.call('hget', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[7]
  redis.call('hset', KEYS[1], 'e', epoch)
  redis.call('del', KEYS[2])
end
redis.call('pexpire', KEYS[1], ARGV[6])
local top = tonumber(redis.call('hget', KEYS[1], 'o') or '0')
local lo = top - redis.call('llen', KEYS[2]) + 1
local hi = top
local limit = tonumber(ARGV[4])
local reverse = ARGV[5] == '1'
if ARGV[1] == '1' then
  local since = tonumber(ARGV[2])
  if (ARGV[3] ~= '' and ARGV[3] ~= epoch) or since > top then
    return {top, epoch, 'u', {}}
  end
  if reverse then
    hi = math.min(top, since - 1)
  else
    if since < lo - 1 then
      return {top, epoch, 'u', {}}
    end
    lo = since + 1
  end
end
if limit == 0 or lo > hi then
  return {top, epoch, '', {}}
end
if limit > 0 then
  if reverse then lo = math.max(lo, hi - limit + 1) else hi = math.min(hi, lo + limit - 1) end
end
return {top, epoch, '', redis.call('lrange', KEYS[2], top - hi, top - lo)}
`;
