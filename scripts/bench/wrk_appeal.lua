-- wrk script: every request files a new appeal through POST /api/v1/appeals,
-- each with its own phone and service number; statuses are counted per thread.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  local today = os.date("!%Y-%m-%d")
  event_date = os.date("!%Y-%m-%d", os.time() - 30 * 86400)
  complaint_date = os.date("!%Y-%m-%d", os.time() - 20 * 86400)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local number = string.format("139%02d%06d", id, counter % 1000000)
  local body = string.format([[{"complainant_name":"压测用户","phone":"%s","id_number":"","address":"吉林省长春市朝阳区人民大街1号","postcode":"130000","email":"","operator":"cmcc_jl","service_type":"mobile","service_number":"%s","category":"charging","event_date":"%s","operator_complaint_date":"%s","operator_ticket_no":"GD%d","request":"退还多扣的话费50元","facts":"话费账单多扣50元，已向客服投诉，答复不予退还。","pledge":true,"eligibility":{"complained_to_operator":true,"operator_replied":true,"satisfied":false,"court_or_arbitration":false,"settled_and_performed":false}}]],
    number, number, event_date, complaint_date, counter)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do totals[code] = (totals[code] or 0) + n end
  end
  for code, n in pairs(totals) do io.write(string.format("STATUS %d %d\n", code, n)) end
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("LATENCY_P%d_US %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("REQUESTS %d\nDURATION_US %d\nERRORS %d\n", summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
