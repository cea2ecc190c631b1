-- Pointwise activations: nn.ReLU(), nn.LeakyReLU([slope = 0.01]), nn.Sigmoid(), nn.Tanh().
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor = cnn.is_tensor

local function define(name, forward, backward)
  local M = Module:extend("nn." .. name)
  -- the slope (LeakyReLU's) comes before the destination
  function M:update_output(x)
    if not is_tensor(x) then self:check_tensor(x) end
    if self.negative_slope then return forward(x, self.negative_slope, self:into("output")) end
    return forward(x, self:into("output"))
  end
  function M:update_grad_input(x, dy)
    if self.negative_slope then return backward(x, self.output, dy, self.negative_slope, self:into("grad_input")) end
    return backward(x, self.output, dy, self:into("grad_input"))
  end
  return M
end

local ReLU = define("ReLU", cnn.relu, cnn.relu_backward)

-- nn.ReLU({inplace = true}) rectifies its input in place (Torch7's ReLU(true),
-- PyTorch's inplace=True): one activation less to hold in training. The
-- input's owner (the layer before) then sees the rectified values; the
-- gradient is the same, since x > 0 exactly where max(0, x) > 0. Backward
-- masks the gradient it is given in place too, as Torch7's did, and returns
-- it: one gradient less to hold. Where a Sequential with reuse_outputs gives
-- it its own output as grad_input (the layer before reads no output in
-- backward, and nothing after needs it any more), backward writes the
-- gradient over its output instead.
function ReLU:__init(opts)
  Module.__init(self)
  if opts ~= nil then
    if type(opts) ~= "table" then error("nn.ReLU: options must be a table, got " .. type(opts), 3) end
    for k in pairs(opts) do
      if k ~= "inplace" then error("nn.ReLU: unknown option '" .. tostring(k) .. "'", 3) end
    end
    self.inplace = opts.inplace == true
  end
end

function ReLU:update_output(x)
  if not is_tensor(x) then self:check_tensor(x) end
  if self.inplace then
    -- output may be the last input, another module's tensor: never written into
    return x:is_contiguous() and cnn.relu_(x) or cnn.relu(x)
  end
  return cnn.relu(x, self:into("output"))
end

function ReLU:update_grad_input(x, dy)
  if self.inplace then
    local y = self.output
    if y ~= nil and rawequal(self.grad_input, y) then return cnn.relu_backward_(y, dy, y) end
    return dy:is_contiguous() and cnn.relu_backward_(y, dy) or cnn.relu_backward(x, y, dy)
  end
  return cnn.relu_backward(x, self.output, dy, self:into("grad_input"))
end

function ReLU:describe()
  return self.inplace and "nn.ReLU(inplace)" or "nn.ReLU()"
end
local Sigmoid = define("Sigmoid", cnn.sigmoid, cnn.sigmoid_backward)
local Tanh = define("Tanh", cnn.tanh, cnn.tanh_backward)
local LeakyReLU = define("LeakyReLU", cnn.leaky_relu, cnn.leaky_relu_backward)

function LeakyReLU:__init(slope)
  Module.__init(self)
  if slope ~= nil and type(slope) ~= "number" then
    error("nn.LeakyReLU: slope must be a number, got " .. type(slope), 3)
  end
  self.negative_slope = slope or 0.01
end

function LeakyReLU:describe()
  return string.format("nn.LeakyReLU(%g)", self.negative_slope)
end

return { ReLU = ReLU, LeakyReLU = LeakyReLU, Sigmoid = Sigmoid, Tanh = Tanh }
