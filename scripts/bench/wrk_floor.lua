-- wrk script for the floor: a trivial route of the same app, same server, same reporting.
function done(summary, latency, requests)
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("LATENCY_P%d_US %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("REQUESTS %d\nDURATION_US %d\n", summary.requests, summary.duration))
end
