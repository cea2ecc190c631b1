-- Criteria: loss = c:forward(output, target) (a Lua number);
-- grad = c:backward(output, target) (d loss / d output).
--   nn.CrossEntropyLoss([{reduction = "mean"}])  scores (N, C), 1-based class labels
--   nn.NLLLoss([...])                            log-probabilities (N, C), labels
--   nn.MSELoss([...])                            any shape, target of the same shape
-- reduction "mean" averages over the batch (MSELoss: over all elements), "sum" adds.
local cnn = require "cnn"
local class = require "cnn.class"

local Criterion = class.new("nn.Criterion")
Criterion.__transient = { output = true, grad_input = true }

function Criterion:__init(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "reduction" then error(self.__name .. ": unknown option '" .. tostring(k) .. "'", 3) end
  end
  self.reduction = opts.reduction or "mean"
  if self.reduction ~= "mean" and self.reduction ~= "sum" then
    error(self.__name .. ": reduction must be 'mean' or 'sum', got '" .. tostring(self.reduction) .. "'", 3)
  end
end

-- Calls a kernel, naming this criterion in its errors.
function Criterion:call(fn, ...)
  local ok, result = pcall(fn, ...)
  if not ok then error(self.__name .. ": " .. tostring(result), 3) end
  return result
end

function Criterion:forward(output, target)
  self.output = self:call(self.loss, output, target, self.reduction)
  return self.output
end

function Criterion:backward(output, target)
  self.grad_input = self:call(self.loss_backward, output, target, self.reduction)
  return self.grad_input
end

function Criterion:__tostring()
  return string.format("%s(reduction=%s)", self.__name, self.reduction)
end

local CrossEntropyLoss = Criterion:extend("nn.CrossEntropyLoss")
CrossEntropyLoss.loss, CrossEntropyLoss.loss_backward = cnn.cross_entropy, cnn.cross_entropy_backward

local NLLLoss = Criterion:extend("nn.NLLLoss")
NLLLoss.loss, NLLLoss.loss_backward = cnn.nll_loss, cnn.nll_loss_backward

local MSELoss = Criterion:extend("nn.MSELoss")
MSELoss.loss, MSELoss.loss_backward = cnn.mse_loss, cnn.mse_loss_backward

return { Criterion = Criterion, CrossEntropyLoss = CrossEntropyLoss, NLLLoss = NLLLoss, MSELoss = MSELoss }
