-- Shape layers: nn.Flatten([start = 2 [, end = -1]]) merges dimensions start..end
-- (the default keeps the batch dimension, as PyTorch's Flatten);
-- nn.View(...) reshapes the whole input to the given sizes (one may be -1);
-- nn.Identity() passes its input through.
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor = cnn.is_tensor

local Flatten = Module:extend("nn.Flatten")

function Flatten:__init(start_dim, end_dim)
  Module.__init(self)
  self.start_dim, self.end_dim = start_dim or 2, end_dim or -1
end

function Flatten:update_output(x)
  if not is_tensor(x) then self:check_tensor(x) end
  local n = x:dim()
  if self.start_dim == 2 and self.end_dim == -1 and n >= 2 then -- the usual case, cheaply (-1 needs elements)
    local batch = x:size(1)
    if batch > 0 and x:numel() > 0 then return x:reshape(batch, -1) end
  end
  local s = self.start_dim < 0 and n + 1 + self.start_dim or self.start_dim
  local e = self.end_dim < 0 and n + 1 + self.end_dim or self.end_dim
  if s < 1 or e > n or s > e then
    self:fail("dimensions %d..%d out of range for a %d-d input", self.start_dim, self.end_dim, n)
  end
  local shape, merged = {}, 1
  for d = 1, n do
    if d < s or d > e then
      shape[#shape + 1] = x:size(d)
    else
      merged = merged * x:size(d)
      if d == e then shape[#shape + 1] = merged end
    end
  end
  return x:reshape(shape)
end

function Flatten:update_grad_input(x, dy)
  return dy:reshape(x:shape())
end

function Flatten:describe()
  return string.format("nn.Flatten(%d, %d)", self.start_dim, self.end_dim)
end

local View = Module:extend("nn.View")

function View:__init(...)
  Module.__init(self)
  self.size = type(...) == "table" and { table.unpack((...)) } or { ... }
end

function View:update_output(x)
  if not is_tensor(x) then self:check_tensor(x) end
  return x:reshape(self.size)
end

function View:update_grad_input(x, dy)
  return dy:reshape(x:shape())
end

function View:describe()
  return "nn.View(" .. table.concat(self.size, ", ") .. ")"
end

local Identity = Module:extend("nn.Identity")

function Identity:update_output(x)
  return x
end

function Identity:update_grad_input(x, dy)
  return dy
end

return { Flatten = Flatten, View = View, Identity = Identity }
