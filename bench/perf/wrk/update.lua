-- wrk script: PATCH the phone number of a customer drawn at random from a list.
-- Arguments (after `--`): token, channel id, then the customer ids to draw from.
local token, channel
local ids = {}
local headers = {}

function init(args)
  token, channel = args[1], args[2]
  for i = 3, #args do ids[#ids + 1] = args[i] end
  headers["Authorization"] = "Token " .. token
  headers["Content-Type"] = "application/json"
  math.randomseed(os.time())
end

function request()
  local id = ids[math.random(#ids)]
  local path = string.format("/api/v1/channel/%s/customers/%s/", channel, id)
  local body = string.format('{"phone_number": "+90 5%02d %03d %02d %02d"}',
    math.random(30, 59), math.random(100, 999), math.random(10, 99), math.random(10, 99))
  return wrk.format("PATCH", path, headers, body)
end
