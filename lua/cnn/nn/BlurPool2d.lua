-- nn.BlurPool2d(channels [, {filter_size = 3, stride = 2, pad_type = "reflect"}]):
-- anti-aliased downsampling (Zhang, "Making Convolutional Networks
-- Shift-Invariant Again", ICML 2019): a normalised binomial filter ([1, 2, 1]
-- for size 3, [1, 4, 6, 4, 1] for 5) applied to each channel after padding
-- (reflect as Zhang's default, or zeros, replicate, circular), then
-- subsampling by stride. The filter is fixed (a buffer, not a parameter).
-- Zhang's anti-aliased max pooling is nn.MaxPool2d(2, {stride = 1}) followed by this.
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor = cnn.is_tensor

local BlurPool2d = Module:extend("nn.BlurPool2d")
BlurPool2d.buffer_names = { "filter" }

local function binomial(n)
  local row = { 1 }
  for _ = 2, n do
    local next_row = { 1 }
    for i = 2, #row do next_row[i] = row[i - 1] + row[i] end
    next_row[#row + 1] = 1
    row = next_row
  end
  return row
end

function BlurPool2d:__init(channels, opts)
  Module.__init(self)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "filter_size" and k ~= "stride" and k ~= "pad_type" then
      error("nn.BlurPool2d: unknown option '" .. tostring(k) .. "'", 3)
    end
  end
  local size, stride = opts.filter_size or 3, opts.stride or 2
  self.pad_type = opts.pad_type or "reflect"
  local modes = { reflect = true, zeros = true, replicate = true, circular = true }
  if not modes[self.pad_type] then
    error("nn.BlurPool2d: pad_type must be reflect, zeros, replicate or circular, got " .. tostring(opts.pad_type), 3)
  end
  if math.type(channels) ~= "integer" or channels < 1 then
    error("nn.BlurPool2d: channel count must be a positive integer", 3)
  end
  if math.type(size) ~= "integer" or size < 1 or size > 7 then
    error("nn.BlurPool2d: filter_size must be an integer from 1 to 7, got " .. tostring(size), 3)
  end
  if math.type(stride) ~= "integer" or stride < 1 then error("nn.BlurPool2d: stride must be a positive integer", 3) end
  local a = cnn.tensor(binomial(size))
  local f = cnn.matmul(a:view(size, 1), a:view(1, size))
  f = f / f:sum()
  self.channels, self.filter_size, self.stride = channels, size, stride
  self.filter = cnn.zeros(channels, 1, size, size):add_(f)
  local before, after = (size - 1) // 2, size // 2 -- Zhang's pad sizes: floor and ceil of (size - 1) / 2
  self.pads = { before, after, before, after }
  self.conv_opts = { stride = stride, groups = channels }
end

function BlurPool2d:update_output(x)
  if not is_tensor(x) then self:check_tensor(x) end
  if x:dim() ~= 4 or x:size(2) ~= self.channels then
    self:fail("expected input (N, %d, H, W), got (%s)", self.channels, table.concat(x:shape(), ", "))
  end
  self._padded = cnn.pad(x, self.pads, self.pad_type)
  return cnn.conv2d(self._padded, self.filter, nil, self.conv_opts)
end

function BlurPool2d:update_grad_input(x, dy)
  local g = cnn.conv2d_backward(self._padded, self.filter, dy, self.conv_opts, nil, nil, true)
  return cnn.pad_backward(x, g, self.pads, self.pad_type)
end

function BlurPool2d:describe()
  return string.format("nn.BlurPool2d(%d, filter_size=%d, stride=%d%s)", self.channels, self.filter_size, self.stride,
    self.pad_type == "reflect" and "" or ", " .. self.pad_type)
end

return BlurPool2d
