-- Shape layers: nn.Flatten([start = 2 [, end = -1]]) merges dimensions start..end
-- (the default keeps the batch dimension, as PyTorch's Flatten);
-- nn.View(...) reshapes the whole input to the given sizes (one may be -1);
-- nn.Identity() passes its input through.
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor = cnn.is_tensor
local flatten = getmetatable(cnn.empty(0)).__index.flatten

local Flatten = Module:extend("nn.Flatten")

function Flatten:__init(start_dim, end_dim)
  Module.__init(self)
  self.start_dim, self.end_dim = start_dim or 2, end_dim or -1
end

-- One call to the tensor's flatten; the layer's own message only where it
-- refuses the dimensions (any other error as it was).
function Flatten:update_output(x)
  local ok, y = pcall(flatten, x, self.start_dim, self.end_dim)
  if ok then return y end
  self:check_tensor(x)
  local n = x:dim()
  local s = self.start_dim < 0 and n + 1 + self.start_dim or self.start_dim
  local e = self.end_dim < 0 and n + 1 + self.end_dim or self.end_dim
  if s < 1 or e > n or s > e then
    self:fail("dimensions %d..%d out of range for a %d-d input", self.start_dim, self.end_dim, n)
  end
  error(y, 0)
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
