-- Runs one script of a generated TouchOSC document in lua5.4 with small
-- stand-ins for the parts of TouchOSC's script API the layouts use
-- (sendOSC, getMillis, self, root, findByName, values), and prints what
-- the script did, one JSON object a line:
--   {"send": ["/path", [["i", 9000], ["s", "/chain/*/*"]]], "t": 0}
--   {"set": ["node name", "key", value]}
--
--   lua5.4 touchosc_run.lua SCRIPT root        init(); update() at +RENEW ms; then
--                                             each stdin line "ADDRESS f V f V ..."
--                                             goes to onReceiveOSC
--   lua5.4 touchosc_run.lua SCRIPT press [SONG] a button pressed (x = 1), with the
--                                             snapshot_song label's text SONG

local script_file, mode, song = arg[1], arg[2], arg[3] or ""

local function json(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "number" then
    if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", v) end
    return string.format("%.17g", v)
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = json(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  return "null"
end

local clock = 0
local nodes = {}

-- A node: `values` records every write.
local function node(name)
  if nodes[name] then return nodes[name] end
  local store = { x = 0, text = "" }
  local n = { name = name }
  n.values = setmetatable({}, {
    __index = store,
    __newindex = function(_, k, v)
      store[k] = v
      print('{"set": ' .. json({ name, k, v }) .. "}")
    end,
  })
  function n:findByName(other, _recursive) return node(other) end
  nodes[name] = n
  return n
end

local function send(msg, ...)
  local path, args
  if type(msg) == "table" then
    path, args = msg[1], msg[2] or {}
  else
    path, args = msg, { ... }
  end
  local out = {}
  for i, a in ipairs(args) do
    if type(a) == "table" then
      out[i] = { a.tag, a.value }
    else
      out[i] = { math.type(a) == "integer" and "i" or type(a) == "number" and "f" or "s", a }
    end
  end
  print('{"send": ' .. json({ path, out }) .. ', "t": ' .. clock .. "}")
end

local self_node = node("self")
local env = setmetatable({
  sendOSC = send,
  getMillis = function() return clock end,
  self = self_node,
  root = node("root"),
}, { __index = _G })

local chunk, err = loadfile(script_file, "t", env)
if not chunk then
  io.stderr:write("load: " .. err .. "\n")
  os.exit(2)
end
chunk()

if mode == "root" then
  if env.init then env.init() end
  clock = clock + tonumber(os.getenv("RENEW_MS") or "5000")
  if env.update then env.update() end
  for line in io.lines() do
    local words = {}
    for w in line:gmatch("%S+") do words[#words + 1] = w end
    local args = {}
    for i = 2, #words - 1, 2 do
      local tag, v = words[i], words[i + 1]
      args[#args + 1] = { tag = tag, value = (tag == "s") and v or tonumber(v) }
    end
    if env.onReceiveOSC then env.onReceiveOSC({ words[1], args }, {}) end
  end
elseif mode == "press" then
  node("snapshot_song").values.text = song
  self_node.values.x = 1
  if env.onValueChanged then env.onValueChanged("x") end
else
  io.stderr:write("mode: root or press\n")
  os.exit(2)
end
