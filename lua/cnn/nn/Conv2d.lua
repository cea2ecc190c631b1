-- nn.Conv2d(in, out, k [, opts]): 2-D convolution over (N, in, H, W) images.
-- opts: stride, padding, dilation (a number or {h, w}), groups, bias (default true).
-- The weight is (out, in/groups, kh, kw), initialised as PyTorch does:
-- U(-b, b) with b = 1/sqrt(in/groups * kh * kw), and the bias likewise.
local cnn = require "cnn"
local Module = require "cnn.nn.Module"

local Conv2d = Module:extend("nn.Conv2d")

local conv_keys = { stride = true, padding = true, dilation = true, groups = true }

local function pair(v)
  if type(v) == "table" then return { v[1], v[2] } end
  return { v, v }
end

function Conv2d:__init(n_in, n_out, k, opts)
  Module.__init(self)
  opts = opts or {}
  self.conv_opts = {}
  for key, v in pairs(opts) do
    if conv_keys[key] then
      self.conv_opts[key] = v
    elseif key ~= "bias" then
      error("nn.Conv2d: unknown option '" .. tostring(key) .. "'", 3)
    end
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

function Conv2d:update_output(x)
  self:check_tensor(x)
  return cnn.conv2d(x, self.weight, self.bias, self.conv_opts)
end

function Conv2d:update_grad_input(x, dy)
  return cnn.conv2d_backward(x, self.weight, dy, self.conv_opts, nil, nil, true)
end

function Conv2d:acc_grad_parameters(x, dy)
  cnn.conv2d_backward(x, self.weight, dy, self.conv_opts, self.grad_weight, self.grad_bias, false)
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
  if not self.bias then parts[#parts + 1] = "no bias" end
  return "nn.Conv2d(" .. table.concat(parts, ", ") .. ")"
end

return Conv2d
