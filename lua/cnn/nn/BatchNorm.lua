-- nn.BatchNorm2d(c [, opts]) over (N, c, H, W), nn.BatchNorm1d(c [, opts]) over
-- (N, c) or (N, c, L). opts: eps (1e-5), momentum (0.1), affine (true).
-- Training normalises with the batch statistics and updates running_mean and
-- running_var (the unbiased batch variance, as PyTorch); evaluation uses them.
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor = cnn.is_tensor

local BatchNorm = Module:extend("nn.BatchNorm")
BatchNorm.reads_output = false
BatchNorm.buffer_names = { "running_mean", "running_var" }
BatchNorm.__transient = { output = true, grad_input = true, save_mean = true, save_invstd = true }

function BatchNorm:__init(c, opts)
  Module.__init(self)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "eps" and k ~= "momentum" and k ~= "affine" then
      error(self.__name .. ": unknown option '" .. tostring(k) .. "'", 3)
    end
  end
  if math.type(c) ~= "integer" or c < 1 then
    error(self.__name .. ": channel count must be a positive integer, got " .. tostring(c), 3)
  end
  self.num_features, self.eps, self.momentum = c, opts.eps or 1e-5, opts.momentum or 0.1
  if opts.affine ~= false then
    self.weight, self.grad_weight = cnn.ones(c), cnn.zeros(c)
    self.bias, self.grad_bias = cnn.zeros(c), cnn.zeros(c)
  end
  self.running_mean, self.running_var = cnn.zeros(c), cnn.ones(c)
end

function BatchNorm:update_output(x)
  if not is_tensor(x) then self:check_tensor(x) end
  local ok = false
  for _, d in ipairs(self.input_dims) do ok = ok or x:dim() == d end
  if not ok then
    self:fail("expected a %s input, got shape (%s)", self.input_desc, table.concat(x:shape(), ", "))
  end
  if x:size(2) ~= self.num_features then
    self:fail("input has %d channels, expected %d", x:size(2), self.num_features)
  end
  local y
  y, self.save_mean, self.save_invstd = cnn.batch_norm(x, self.running_mean, self.running_var, self.weight,
    self.bias, self.training, self.momentum, self.eps, self:into("output"))
  return y
end

-- Both gradients from one sweep: the kernel's sums serve the input gradient
-- and the parameter gradients alike (update_grad_input and
-- acc_grad_parameters, called apart, each make that sweep).
function BatchNorm:backward(x, dy, need_input_grad)
  self.grad_input = cnn.batch_norm_backward(x, dy, self.weight, self.save_mean, self.save_invstd, self.training,
    self.grad_weight, self.grad_bias, need_input_grad ~= false, self:into("grad_input"))
  return self.grad_input
end

function BatchNorm:update_grad_input(x, dy)
  return cnn.batch_norm_backward(x, dy, self.weight, self.save_mean, self.save_invstd, self.training, nil, nil, true,
    self:into("grad_input"))
end

function BatchNorm:acc_grad_parameters(x, dy)
  if self.weight then
    cnn.batch_norm_backward(x, dy, self.weight, self.save_mean, self.save_invstd, self.training, self.grad_weight,
      self.grad_bias, false)
  end
end

function BatchNorm:describe()
  return string.format("%s(%d, eps=%g, momentum=%g%s)", self.__name, self.num_features, self.eps, self.momentum,
    self.weight and "" or ", affine=false")
end

local BatchNorm2d = BatchNorm:extend("nn.BatchNorm2d")
BatchNorm2d.input_dims, BatchNorm2d.input_desc = { 4 }, "4-d (N, C, H, W)"

local BatchNorm1d = BatchNorm:extend("nn.BatchNorm1d")
BatchNorm1d.input_dims, BatchNorm1d.input_desc = { 2, 3 }, "2-d (N, C) or 3-d (N, C, L)"

return { BatchNorm2d = BatchNorm2d, BatchNorm1d = BatchNorm1d }
