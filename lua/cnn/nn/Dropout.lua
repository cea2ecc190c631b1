-- nn.Dropout([p = 0.5]): in training, zeroes each element with probability p
-- and scales the rest by 1/(1-p) (inverted dropout, the library's seeded
-- generator); in evaluation, the identity.
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor = cnn.is_tensor

local Dropout = Module:extend("nn.Dropout")
Dropout.__transient = { output = true, grad_input = true, mask = true }

function Dropout:__init(p)
  Module.__init(self)
  p = p or 0.5
  if type(p) ~= "number" or p < 0 or p > 1 then
    error("nn.Dropout: probability must be in [0, 1], got " .. tostring(p), 3)
  end
  self.p = p
end

function Dropout:update_output(x)
  if not is_tensor(x) then self:check_tensor(x) end
  if not self.training or self.p == 0 then
    self.mask = nil
    return x
  end
  local y
  y, self.mask = cnn.dropout(x, self.p)
  return y
end

function Dropout:update_grad_input(x, dy)
  if self.mask then return dy * self.mask end
  return dy
end

function Dropout:describe()
  return string.format("nn.Dropout(%g)", self.p)
end

return Dropout
