-- wrk script: POST a new customer with a unique email and channel_code on every request.
-- Arguments (after `--`): token, channel id, a prefix unique to this wrk run.
local token, channel, prefix
local counter = 0
local headers = {}

function init(args)
  token, channel, prefix = args[1], args[2], args[3]
  headers["Authorization"] = "Token " .. token
  headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"email": "%s-%d@perf.example.com", "channel_code": "%s-%d", "first_name": "Perf",' ..
    ' "last_name": "Bench", "phone_number": "+90 555 000 %02d %02d", "is_active": true,' ..
    ' "email_allowed": true, "sms_allowed": false, "call_allowed": false, "channel": %s,' ..
    ' "erp_code": "ERP-%06d", "attributes": {"segment": "silver", "visits": 1, "city": "Izmir"},' ..
    ' "extra_field": {"source": "web", "newsletter": true}, "gender": "female",' ..
    ' "user_type": "registered", "date_of_birth": "1990-05-17"}',
    prefix, counter, prefix, counter, counter % 100, math.floor(counter / 100) % 100, channel,
    counter % 1000000)
  return wrk.format("POST", nil, headers, body)
end
