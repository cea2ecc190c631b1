-- nn.MaxPool2d(k [, opts]): max pooling; opts stride (default k), padding,
-- dilation, ceil_mode. Backward finds the maxima again in its input (the
-- positions forward found) instead of keeping them: as much memory less as
-- the output takes.
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor, max_pool2d = cnn.is_tensor, cnn.max_pool2d

local MaxPool2d = Module:extend("nn.MaxPool2d")
MaxPool2d.reads_output = false

function MaxPool2d:__init(k, opts)
  Module.__init(self)
  self.kernel_size, self.opts = k, opts or {}
end

function MaxPool2d:update_output(x)
  if not is_tensor(x) then self:check_tensor(x) end
  return max_pool2d(x, self.kernel_size, self.opts, self.reuse and self.output or nil, false)
end

function MaxPool2d:update_grad_input(x, dy)
  return cnn.max_pool2d_backward(x, nil, dy, self.kernel_size, self.opts, self:into("grad_input"))
end

local size_str = Module.size_str

function MaxPool2d:describe()
  local parts = { size_str(self.kernel_size) }
  for _, key in ipairs({ "stride", "padding", "dilation", "ceil_mode" }) do
    if self.opts[key] ~= nil then parts[#parts + 1] = key .. "=" .. size_str(self.opts[key]) end
  end
  return "nn.MaxPool2d(" .. table.concat(parts, ", ") .. ")"
end

return MaxPool2d
