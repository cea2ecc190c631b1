-- nn.LocallyConnected2d(in, out, k, opts): a convolution without weight
-- sharing: every output position has its own filters (sparse interaction
-- without parameter sharing). opts: input_size = {h, w} (required: the number
-- of positions depends on it), stride, padding, dilation, bias (true).
-- weight: (P*Q, out, in*kh*kw) for the P x Q output positions; bias: (out, P, Q).
-- Initialised as Conv2d: U(-1/sqrt(in*kh*kw), +).
--   y[n, k, p] = bias[k, p] + sum_c weight[p, k, c] * unfold(x)[n, c, p]
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor = cnn.is_tensor

local LocallyConnected2d = Module:extend("nn.LocallyConnected2d")
LocallyConnected2d.reads_output = false

local pair = Module.pair

function LocallyConnected2d:__init(n_in, n_out, k, opts)
  Module.__init(self)
  opts = opts or {}
  self.opts = {}
  for key, v in pairs(opts) do
    if key == "stride" or key == "padding" or key == "dilation" then
      self.opts[key] = v
    elseif key ~= "bias" and key ~= "input_size" then
      error("nn.LocallyConnected2d: unknown option '" .. tostring(key) .. "'", 3)
    end
  end
  if not opts.input_size then error("nn.LocallyConnected2d: option input_size = {h, w} is required", 3) end
  if math.type(n_in) ~= "integer" or math.type(n_out) ~= "integer" or n_in < 1 or n_out < 1 then
    error("nn.LocallyConnected2d: channel counts must be positive integers", 3)
  end
  local hw, kk = pair(opts.input_size), pair(k)
  local ok, probe = pcall(cnn.unfold, cnn.zeros(1, 1, hw[1], hw[2]), kk, self.opts)
  if not ok then error("nn.LocallyConnected2d: " .. tostring(probe):gsub("^.-unfold: ", ""), 3) end
  local s, p, d = pair(opts.stride or 1), pair(opts.padding or 0), pair(opts.dilation or 1)
  self.out_size = { (hw[1] + 2 * p[1] - d[1] * (kk[1] - 1) - 1) // s[1] + 1,
    (hw[2] + 2 * p[2] - d[2] * (kk[2] - 1) - 1) // s[2] + 1 }
  assert(self.out_size[1] * self.out_size[2] == probe:size(3))
  self.in_channels, self.out_channels, self.kernel_size, self.input_size = n_in, n_out, kk, hw
  local positions, taps = self.out_size[1] * self.out_size[2], n_in * kk[1] * kk[2]
  local bound = 1 / math.sqrt(taps)
  self.weight = Module.uniform({ positions, n_out, taps }, bound)
  self.grad_weight = cnn.zeros(positions, n_out, taps)
  if opts.bias ~= false then
    self.bias = Module.uniform({ n_out, self.out_size[1], self.out_size[2] }, bound)
    self.grad_bias = cnn.zeros(n_out, self.out_size[1], self.out_size[2])
  end
end

function LocallyConnected2d:update_output(x)
  if not is_tensor(x) then self:check_tensor(x) end
  if x:dim() ~= 4 or x:size(2) ~= self.in_channels or x:size(3) ~= self.input_size[1] or x:size(4) ~= self.input_size[2] then
    self:fail("expected input (N, %d, %d, %d), got (%s)", self.in_channels, self.input_size[1], self.input_size[2],
      table.concat(x:shape(), ", "))
  end
  return cnn.locally_connected2d(x, self.weight, self.bias, self.kernel_size, self.opts)
end

function LocallyConnected2d:update_grad_input(x, dy)
  return cnn.locally_connected2d_backward(x, self.weight, dy, self.kernel_size, self.opts, nil, nil, true)
end

function LocallyConnected2d:acc_grad_parameters(x, dy)
  cnn.locally_connected2d_backward(x, self.weight, dy, self.kernel_size, self.opts, self.grad_weight, self.grad_bias,
    false)
end

function LocallyConnected2d:describe()
  return string.format("nn.LocallyConnected2d(%d -> %d, %dx%d, %dx%d -> %dx%d positions)", self.in_channels,
    self.out_channels, self.kernel_size[1], self.kernel_size[2], self.input_size[1], self.input_size[2],
    self.out_size[1], self.out_size[2])
end

return LocallyConnected2d
