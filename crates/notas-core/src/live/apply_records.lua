-- Applies one batch of route 2's records to the live view, each record at most once.
-- KEYS: total, counts, recent, events, then one `applied` bitmap per record.
-- ARGV: recent limit, bitmap lifetime (s), then per record: bit, count field, JSON.
-- A record's bit is set in the same atomic step as its counts, so a batch applied twice
-- (a MULTI whose reply timed out and its outbox replay) counts once.
local limit, lifetime = tonumber(ARGV[1]), tonumber(ARGV[2])
local fresh = {}
for i = 1, (#ARGV - 2) / 3 do
  local bit, field, record = tonumber(ARGV[3 * i]), ARGV[3 * i + 1], ARGV[3 * i + 2]
  local applied = KEYS[4 + i]
  if redis.call('SETBIT', applied, bit, 1) == 0 then
    redis.call('EXPIRE', applied, lifetime)
    redis.call('HINCRBY', KEYS[2], field, 1)
    redis.call('LPUSH', KEYS[3], record)
    fresh[#fresh + 1] = record
  end
end
if #fresh > 0 then
  redis.call('INCRBY', KEYS[1], #fresh)
  redis.call('LTRIM', KEYS[3], 0, limit - 1)
  redis.call('PUBLISH', KEYS[4], '[' .. table.concat(fresh, ',') .. ']')
end
return #fresh
