-- cnn.save(path, value) and cnn.load(path): a versioned binary format with a
-- magic header and a CRC-32 of the payload (the format is in docs/serialization.md).
-- Values: nil-free trees of tables, numbers, strings, booleans, tensors and
-- instances of registered classes (nn modules, criteria, optimizers,
-- schedulers). A table or tensor reached twice is stored once, so shared and
-- cyclic references come back shared. Loading reads data only: classes are
-- looked up by name in the class registry, never loaded from the file.
local cnn = require "cnn"
local class = require "cnn.class"

local M = {}

local MAGIC = "\137CNN\r\n\26\n"
local VERSION = 1
local HEADER = "<c8 I4 I8 I4" -- magic, version, payload length, crc32 of the payload
local HEADER_SIZE = string.packsize(HEADER)
local MAX_DEPTH = 200

-- Tags of the payload encoding.
local T_FALSE, T_TRUE, T_INT, T_FLOAT, T_STRING = "F", "T", "I", "D", "S"
local T_TABLE, T_OBJECT, T_TENSOR, T_REF, T_END = "H", "C", "A", "R", "E"

local function is_transient(obj, key)
  local t = obj.__transient
  return type(key) == "string" and ((type(t) == "table" and t[key]) or key:sub(1, 1) == "_")
end

local function encoder(path)
  local out, ids, next_id = {}, {}, 0
  local function fail(where, msg)
    error(string.format("save: %s: cannot store %s (%s)", path, where, msg), 0)
  end
  local encode
  local function entries(t, where, depth, skip_transient)
    local keys = {}
    for k in pairs(t) do
      if not (skip_transient and is_transient(t, k)) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(a, b) -- a stable order, so equal values give equal files
      local ta, tb = type(a), type(b)
      if ta ~= tb then return ta < tb end
      if ta == "number" or ta == "string" then return a < b end
      return tostring(a) < tostring(b)
    end)
    for _, k in ipairs(keys) do
      local kt = type(k)
      if kt ~= "string" and kt ~= "number" and kt ~= "boolean" then fail(where, "a " .. kt .. " key") end
      encode(k, where, depth)
      encode(t[k], where .. "." .. tostring(k), depth)
    end
    out[#out + 1] = T_END
  end
  function encode(v, where, depth)
    if depth > MAX_DEPTH then fail(where, "nested deeper than " .. MAX_DEPTH .. " levels") end
    local tv = type(v)
    if tv == "boolean" then
      out[#out + 1] = v and T_TRUE or T_FALSE
    elseif math.type(v) == "integer" then
      out[#out + 1] = T_INT .. string.pack("<i8", v)
    elseif tv == "number" then
      out[#out + 1] = T_FLOAT .. string.pack("<d", v)
    elseif tv == "string" then
      out[#out + 1] = T_STRING .. string.pack("<s8", v)
    elseif ids[v] then
      out[#out + 1] = T_REF .. string.pack("<I4", ids[v])
    elseif cnn.is_tensor(v) then
      next_id = next_id + 1
      ids[v] = next_id
      local ok, shape = pcall(v.shape, v)
      if not ok then fail(where, "a freed tensor") end
      out[#out + 1] = T_TENSOR .. string.pack("<I4 B", next_id, #shape)
      for _, n in ipairs(shape) do out[#out + 1] = string.pack("<i8", n) end
      out[#out + 1] = v:to_bytes()
    elseif tv == "table" then
      next_id = next_id + 1
      ids[v] = next_id
      local name = class.name_of(v)
      if name then
        out[#out + 1] = T_OBJECT .. string.pack("<I4 s4", next_id, name)
        entries(v, where, depth + 1, true)
      elseif getmetatable(v) ~= nil then
        fail(where, "a table with a metatable that is not a registered class")
      else
        out[#out + 1] = T_TABLE .. string.pack("<I4", next_id)
        entries(v, where, depth + 1, false)
      end
    else
      fail(where, "a " .. tv)
    end
  end
  return function(value)
    encode(value, "value", 0)
    return table.concat(out)
  end
end

function M.save(path, value)
  if type(path) ~= "string" then error("save: path must be a string, got " .. type(path), 0) end
  if value == nil then error("save: nothing to save (value is nil)", 0) end
  local payload = encoder(path)(value)
  local header = string.pack(HEADER, MAGIC, VERSION, #payload, cnn.crc32(payload))
  cnn.write_file_atomic(path, header .. payload)
end

local function decoder(path, data)
  local pos, objects = 1, {}
  local function corrupt(msg)
    error(string.format("load: %s: corrupt file (%s)", path, msg), 0)
  end
  local function unpack(fmt)
    local ok, a, b, c = pcall(string.unpack, fmt, data, pos)
    if not ok then corrupt("data ends early") end
    if c then pos = c return a, b end
    pos = b
    return a
  end
  local function new_id(id, v)
    if id ~= #objects + 1 then corrupt("object " .. id .. " out of order") end
    objects[id] = v
  end
  local decode
  local function fill(t, depth)
    while true do
      if pos > #data then corrupt("data ends early") end
      if data:sub(pos, pos) == T_END then
        pos = pos + 1
        return t
      end
      local k = decode(depth)
      if k == nil or k ~= k then corrupt("invalid table key") end
      t[k] = decode(depth)
    end
  end
  function decode(depth)
    if depth > MAX_DEPTH then corrupt("nested too deeply") end
    local tag = data:sub(pos, pos)
    pos = pos + 1
    if tag == T_FALSE then return false end
    if tag == T_TRUE then return true end
    if tag == T_INT then return unpack("<i8") end
    if tag == T_FLOAT then return unpack("<d") end
    if tag == T_STRING then return unpack("<s8") end
    if tag == T_REF then
      local id = unpack("<I4")
      if objects[id] == nil then corrupt("reference to unknown object " .. id) end
      return objects[id]
    end
    if tag == T_TENSOR then
      local id, ndim = unpack("<I4 B")
      if ndim > 8 then corrupt("tensor with " .. ndim .. " dimensions") end
      local shape, numel = {}, 1
      for i = 1, ndim do
        shape[i] = unpack("<i8")
        if shape[i] < 0 or shape[i] > #data then corrupt("tensor size " .. shape[i]) end
        numel = numel * shape[i]
      end
      if numel * 4 > #data - pos + 1 then corrupt("tensor data ends early") end
      local t = cnn.from_bytes(data, shape, pos)
      pos = pos + numel * 4
      new_id(id, t)
      return t
    end
    if tag == T_TABLE then
      local t = {}
      new_id(unpack("<I4"), t)
      return fill(t, depth + 1)
    end
    if tag == T_OBJECT then
      local id, name = unpack("<I4 s4")
      local cls = class.get(name)
      if not cls then
        -- the library's own classes live in modules that may not be loaded yet
        local module = name:match("^(nn)%.") or name:match("^(optim)%.")
        if module then
          local _ = cnn[module]
          cls = class.get(name)
        end
      end
      if not cls then
        error(string.format("load: %s: unknown class '%s' (define or require it before loading)", path, name), 0)
      end
      local obj = setmetatable({}, cls)
      new_id(id, obj)
      return fill(obj, depth + 1)
    end
    corrupt(string.format("unknown tag %q at byte %d", tag, pos - 1))
  end
  return function()
    local v = decode(0)
    if pos ~= #data + 1 then corrupt("trailing bytes after the value") end
    return v
  end
end

function M.load(path)
  if type(path) ~= "string" then error("load: path must be a string, got " .. type(path), 0) end
  local f, err = io.open(path, "rb")
  if not f then error("load: cannot open " .. err, 0) end
  local data = f:read("a")
  f:close()
  if #data < HEADER_SIZE or data:sub(1, #MAGIC) ~= MAGIC then
    error(string.format("load: %s: not a cnnlua file (no cnnlua header)", path), 0)
  end
  local _, version, length, crc = string.unpack(HEADER, data)
  if version ~= VERSION then
    error(string.format("load: %s: format version %d, this cnnlua reads version %d", path, version, VERSION), 0)
  end
  local payload = data:sub(HEADER_SIZE + 1)
  if #payload < length then
    error(string.format("load: %s: truncated file (%d of %d payload bytes)", path, #payload, length), 0)
  elseif #payload > length then
    error(string.format("load: %s: corrupt file (%d bytes after the payload)", path, #payload - length), 0)
  end
  if cnn.crc32(payload) ~= crc then
    error(string.format("load: %s: corrupt file (checksum mismatch)", path), 0)
  end
  return decoder(path, payload)()
end

return M
