-- After a rebuild, whose old records were pushed on top of those written since Redis
-- restarted: merges in the newest records MySQL holds and orders the list newest (highest
-- id) first, each once, bounded.
-- KEYS: recent. ARGV: recent limit, then records as JSON.
local limit = tonumber(ARGV[1])
local by_id, ids = {}, {}
local function add(record)
  local id = cjson.decode(record).id
  if not by_id[id] then
    by_id[id] = record
    ids[#ids + 1] = id
  end
end
for _, record in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do add(record) end
for i = 2, #ARGV do add(ARGV[i]) end
table.sort(ids, function(a, b) return a > b end)
redis.call('DEL', KEYS[1])
for i = 1, math.min(limit, #ids) do
  redis.call('RPUSH', KEYS[1], by_id[ids[i]])
end
return #ids
