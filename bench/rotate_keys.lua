-- wrk script: each request carries the next of the keys listed in KEYGATE_KEYS
-- (comma-separated), so load spreads over several keys' Durable Objects.
local keys = {}
for key in string.gmatch(os.getenv("KEYGATE_KEYS") or "", "[^,]+") do
  keys[#keys + 1] = key
end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, { ["X-API-Key"] = keys[(n % #keys) + 1] })
end
