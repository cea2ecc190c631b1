-- nn.Softmax(d) and nn.LogSoftmax(d): normalise along dimension d (1-based,
-- negative counts from the end), numerically stable.
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor = cnn.is_tensor

local function define(name, forward, backward)
  local M = Module:extend("nn." .. name)
  function M:__init(d)
    Module.__init(self)
    if math.type(d) ~= "integer" then error("nn." .. name .. ": dimension must be an integer, got " .. tostring(d), 3) end
    self.dim = d
  end
  function M:update_output(x)
    if not is_tensor(x) then self:check_tensor(x) end
    return forward(x, self.dim)
  end
  function M:update_grad_input(x, dy)
    return backward(self.output, dy, self.dim)
  end
  function M:describe()
    return string.format("nn.%s(%d)", name, self.dim)
  end
  return M
end

return {
  Softmax = define("Softmax", cnn.softmax, cnn.softmax_backward),
  LogSoftmax = define("LogSoftmax", cnn.log_softmax, cnn.log_softmax_backward),
}
