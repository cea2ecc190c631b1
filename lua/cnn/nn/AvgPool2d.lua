-- nn.AvgPool2d(k [, opts]): average pooling; opts stride (default k), padding,
-- ceil_mode, count_include_pad (default true, as PyTorch).
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor = cnn.is_tensor

local AvgPool2d = Module:extend("nn.AvgPool2d")
AvgPool2d.reads_output = false

function AvgPool2d:__init(k, opts)
  Module.__init(self)
  self.kernel_size, self.opts = k, opts or {}
end

function AvgPool2d:update_output(x)
  if not is_tensor(x) then self:check_tensor(x) end
  return cnn.avg_pool2d(x, self.kernel_size, self.opts)
end

function AvgPool2d:update_grad_input(x, dy)
  return cnn.avg_pool2d_backward(x, dy, self.kernel_size, self.opts)
end

local size_str = Module.size_str

function AvgPool2d:describe()
  local parts = { size_str(self.kernel_size) }
  for _, key in ipairs({ "stride", "padding", "ceil_mode", "count_include_pad" }) do
    if self.opts[key] ~= nil then parts[#parts + 1] = key .. "=" .. size_str(self.opts[key]) end
  end
  return "nn.AvgPool2d(" .. table.concat(parts, ", ") .. ")"
end

return AvgPool2d
