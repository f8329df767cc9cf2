-- wrk: a new connection per request, each beginning with a PROXY header in the same write as
-- the request, as a load balancer that merges them sends it (`-- v2`; none without).
-- wrk checks that the first request() it gets parses as HTTP, before any is sent: that one
-- goes without the header (wrk -t1: one Lua state, so one such check).
local prefix = ""
local plain, req
local checked = false

function init(args)
  if args[1] == "v2" then
    -- signature, v2 PROXY, TCP over IPv4, 12 bytes: 203.0.113.7:40000 -> 127.0.0.1:80
    prefix = "\r\n\r\n\0\r\nQUIT\n" .. string.char(0x21, 0x11, 0x00, 0x0c, 203, 0, 113, 7, 127, 0, 0, 1, 0x9c, 0x40, 0x00, 0x50)
  end
  plain = wrk.format(nil, nil, { ["Connection"] = "close" })
  req = prefix .. plain
end

function request()
  if not checked then
    checked = true
    return plain
  end
  return req
end
