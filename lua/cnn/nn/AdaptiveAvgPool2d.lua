-- nn.AdaptiveAvgPool2d(out_hw): averages each plane down to out_hw (a number
-- or {h, w}) with PyTorch's bins [floor(i*H/h), ceil((i+1)*H/h)).
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor = cnn.is_tensor

local AdaptiveAvgPool2d = Module:extend("nn.AdaptiveAvgPool2d")
AdaptiveAvgPool2d.reads_output = false

function AdaptiveAvgPool2d:__init(out_hw)
  Module.__init(self)
  self.output_size = out_hw
  cnn.adaptive_avg_pool2d(cnn.zeros(1, 1, 1, 1), out_hw) -- checks out_hw now
end

function AdaptiveAvgPool2d:update_output(x)
  if not is_tensor(x) then self:check_tensor(x) end
  return cnn.adaptive_avg_pool2d(x, self.output_size)
end

function AdaptiveAvgPool2d:update_grad_input(x, dy)
  return cnn.adaptive_avg_pool2d_backward(x, dy)
end

function AdaptiveAvgPool2d:describe()
  local o = self.output_size
  return "nn.AdaptiveAvgPool2d(" .. (type(o) == "table" and table.concat(o, "x") or tostring(o)) .. ")"
end

return AdaptiveAvgPool2d
