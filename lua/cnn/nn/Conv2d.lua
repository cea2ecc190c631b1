-- nn.Conv2d(in, out, k [, opts]): 2-D convolution over (N, in, H, W) images.
-- opts: stride, padding, dilation (a number or {h, w}), groups, bias (default
-- true), padding_mode: "zeros" (default), "circular", "reflect" or "replicate"
-- (the input is padded that way first, as PyTorch does).
-- The weight is (out, in/groups, kh, kw), initialised as PyTorch does:
-- U(-b, b) with b = 1/sqrt(in/groups * kh * kw), and the bias likewise.
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor, conv2d = cnn.is_tensor, cnn.conv2d

local Conv2d = Module:extend("nn.Conv2d")
Conv2d.reads_output = false

local conv_keys = { stride = true, padding = true, dilation = true, groups = true }
local padding_modes = { zeros = true, circular = true, reflect = true, replicate = true }

local pair = Module.pair

function Conv2d:__init(n_in, n_out, k, opts)
  Module.__init(self)
  opts = opts or {}
  self.conv_opts = {}
  for key, v in pairs(opts) do
    if conv_keys[key] then
      self.conv_opts[key] = v
    elseif key ~= "bias" and key ~= "padding_mode" then
      error("nn.Conv2d: unknown option '" .. tostring(key) .. "'", 3)
    end
  end
  self.padding_mode = opts.padding_mode or "zeros"
  if not padding_modes[self.padding_mode] then
    error("nn.Conv2d: padding_mode must be zeros, circular, reflect or replicate, got " .. tostring(opts.padding_mode), 3)
  end
  if self.padding_mode ~= "zeros" then -- pad explicitly, then convolve without padding
    local p = pair(self.conv_opts.padding or 0)
    self.pads = { p[2], p[2], p[1], p[1] }
    self.conv_opts.padding = nil
  end
  local groups = opts.groups or 1
  if math.type(n_in) ~= "integer" or math.type(n_out) ~= "integer" or n_in < 1 or n_out < 1 then
    error(string.format("nn.Conv2d: channel counts must be positive integers, got %s and %s", n_in, n_out), 3)
  end
  if math.type(groups) ~= "integer" or groups < 1 or n_in % groups ~= 0 or n_out % groups ~= 0 then
    error(string.format("nn.Conv2d: %d input and %d output channels are not divisible by %s groups", n_in, n_out,
      tostring(groups)), 3)
  end
  local kk = pair(k)
  if math.type(kk[1]) ~= "integer" or math.type(kk[2]) ~= "integer" or kk[1] < 1 or kk[2] < 1 then
    error("nn.Conv2d: kernel size must be a positive integer or an {h, w} pair of them", 3)
  end
  self.in_channels, self.out_channels, self.kernel_size, self.groups = n_in, n_out, kk, groups
  local bound = 1 / math.sqrt(n_in // groups * kk[1] * kk[2])
  local shape = { n_out, n_in // groups, kk[1], kk[2] }
  self.weight = Module.uniform(shape, bound)
  self.grad_weight = cnn.zeros(shape)
  if opts.bias ~= false then
    self.bias = Module.uniform({ n_out }, bound)
    self.grad_bias = cnn.zeros(n_out)
  end
end

-- The input as the convolution sees it: padded when padding_mode is not
-- zeros. forward pads and keeps the result; backward, which follows forward
-- on the same input (the module protocol), reuses it.
function Conv2d:padded(x, fresh)
  if not self.pads then return x end
  if fresh or not self._padded then self._padded = cnn.pad(x, self.pads, self.padding_mode) end
  return self._padded
end

-- The layer's convolution of x with the options opts (its own, or with relu).
local function convolve(self, x, opts)
  if not is_tensor(x) then self:check_tensor(x) end
  if self.pads then x = self:padded(x, true) end
  return conv2d(x, self.weight, self.bias, opts, self.reuse and self.output or nil)
end

function Conv2d:update_output(x)
  return convolve(self, x, self.conv_opts)
end

-- The output rectified in the same call (cnn.conv2d's relu option): what an
-- in-place nn.ReLU after the layer would make of it (nn.Sequential calls it
-- then and skips the ReLU's pass). nil where a subclass changed forward or
-- update_output, whose own results this could not be.
function Conv2d:update_output_relu(x)
  if self.forward ~= Module.forward or self.update_output ~= Conv2d.update_output then return nil end
  local opts = self._relu_opts
  if not opts then
    opts = { relu = true }
    for k, v in pairs(self.conv_opts) do opts[k] = v end
    self._relu_opts = opts
  end
  return convolve(self, x, opts)
end

function Conv2d:update_grad_input(x, dy)
  if not self.pads then
    return cnn.conv2d_backward(x, self.weight, dy, self.conv_opts, nil, nil, true, self:into("grad_input"))
  end
  local g = cnn.conv2d_backward(self:padded(x), self.weight, dy, self.conv_opts, nil, nil, true)
  return cnn.pad_backward(x, g, self.pads, self.padding_mode)
end

function Conv2d:acc_grad_parameters(x, dy)
  cnn.conv2d_backward(self:padded(x), self.weight, dy, self.conv_opts, self.grad_weight, self.grad_bias, false)
end

function Conv2d:describe()
  local parts = { string.format("%d -> %d, %dx%d", self.in_channels, self.out_channels, self.kernel_size[1],
    self.kernel_size[2]) }
  for _, key in ipairs({ "stride", "padding", "dilation", "groups" }) do
    local v = self.conv_opts[key]
    if v ~= nil then
      parts[#parts + 1] = key .. "=" .. (type(v) == "table" and table.concat(v, "x") or tostring(v))
    end
  end
  if self.pads then parts[#parts + 1] = string.format("padding=%dx%d %s", self.pads[3], self.pads[1], self.padding_mode) end
  if not self.bias then parts[#parts + 1] = "no bias" end
  return "nn.Conv2d(" .. table.concat(parts, ", ") .. ")"
end

return Conv2d
