-- nn.Linear(in, out [, {bias = true}]): y = x W^T + b, for x of shape (N, in) or (in).
-- W is (out, in), as PyTorch; both are initialised U(-1/sqrt(in), 1/sqrt(in)).
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local is_tensor, linear, relu_ = cnn.is_tensor, cnn.linear, cnn.relu_

local Linear = Module:extend("nn.Linear")
Linear.reads_output = false

function Linear:__init(n_in, n_out, opts)
  Module.__init(self)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "bias" then error("nn.Linear: unknown option '" .. tostring(k) .. "'", 3) end
  end
  if math.type(n_in) ~= "integer" or n_in < 1 or math.type(n_out) ~= "integer" or n_out < 1 then
    error(string.format("nn.Linear: sizes must be positive integers, got %s and %s", n_in, n_out), 3)
  end
  self.in_features, self.out_features = n_in, n_out
  local bound = 1 / math.sqrt(n_in)
  self.weight = Module.uniform({ n_out, n_in }, bound)
  self.grad_weight = cnn.zeros(n_out, n_in)
  if opts.bias ~= false then
    self.bias = Module.uniform({ n_out }, bound)
    self.grad_bias = cnn.zeros(n_out)
  end
end

function Linear:check_input(x)
  if not is_tensor(x) then self:check_tensor(x) end
  if (x:dim() ~= 1 and x:dim() ~= 2) or x:size(-1) ~= self.in_features then
    self:fail("expected input of shape (N, %d) or (%d), got (%s)", self.in_features, self.in_features,
      table.concat(x:shape(), ", "))
  end
end

-- The kernel checks the shapes; the layer's own message is made only when it
-- refuses them (checking first cost a third of a small layer's call).
local function product(self, x)
  local ok, y = pcall(linear, x, self.weight, self.bias, self.reuse and self.output or nil)
  if ok then return y end
  self:check_input(x)
  error(y, 0)
end

function Linear:update_output(x)
  return product(self, x)
end

-- The output rectified in the same call, as Conv2d's (see there).
function Linear:update_output_relu(x)
  if self.forward ~= Module.forward or self.update_output ~= Linear.update_output then return nil end
  return relu_(product(self, x))
end

function Linear:update_grad_input(x, dy)
  return cnn.matmul(dy, self.weight, self:into("grad_input"))
end

function Linear:acc_grad_parameters(x, dy)
  if x:dim() == 1 then
    x, dy = x:view(1, -1), dy:view(1, -1)
  end
  self.grad_weight:addmm_(dy:transpose(1, 2), x)
  if self.bias then self.grad_bias:add_(dy:sum(1)) end
end

function Linear:describe()
  return string.format("nn.Linear(%d -> %d%s)", self.in_features, self.out_features, self.bias and "" or ", no bias")
end

return Linear
