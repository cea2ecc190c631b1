-- Classes for nn modules, criteria and optimizers: single inheritance through
-- __index, instances made by calling the class, and a registry by name so
-- that cnn.load can restore an object's class without running code from the file.
local cnn = require "cnn"

local class = {}

-- The registry belongs to the cnn module table, so that every copy of this
-- module loaded with the same cnn (a host may reload modules) shares it.
local registry = rawget(cnn, "_classes") or {}
rawset(cnn, "_classes", registry)

-- Metamethods are looked up with rawget, so each class carries its own copy.
local metamethods = { "__tostring", "__len", "__call", "__concat", "__eq", "__close" }

local function construct(cls, ...)
  local obj = setmetatable({}, cls)
  obj:__init(...)
  return obj
end

-- A new class named name (as shown by tostring and stored by cnn.save),
-- inheriting from parent when given.
function class.new(name, parent)
  assert(type(name) == "string" and name ~= "", "class name must be a non-empty string")
  local cls = { __name = name, super = parent }
  cls.__index = cls
  if parent then
    for _, m in ipairs(metamethods) do cls[m] = rawget(parent, m) end
  end
  if not parent then
    function cls.extend(base, subname) -- every class can make subclasses: Base:extend("Name")
      return class.new(subname, base)
    end
  end
  setmetatable(cls, { __index = parent, __call = construct })
  registry[name] = cls
  return cls
end

function class.get(name)
  return registry[name]
end

-- The name of obj's class, or nil if obj is not an instance of a class.
function class.name_of(obj)
  local mt = getmetatable(obj)
  if type(obj) == "table" and type(mt) == "table" and registry[rawget(mt, "__name")] == mt then
    return mt.__name
  end
end

function class.is_instance(obj, cls)
  local mt = type(obj) == "table" and getmetatable(obj) or nil
  while mt do
    if mt == cls then return true end
    mt = rawget(mt, "super")
  end
  return false
end

return class
