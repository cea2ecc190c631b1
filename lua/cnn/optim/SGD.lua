-- optim.SGD(model, {lr, momentum = 0, dampening = 0, nesterov = false, weight_decay = 0}),
-- with PyTorch's update rule:
--   d = g + weight_decay * p
--   buf = d (first step) or momentum * buf + (1 - dampening) * d
--   d = nesterov and d + momentum * buf or buf        (when momentum ~= 0)
--   p = p - lr * d
local Optimizer = require "cnn.optim.Optimizer"

local SGD = Optimizer:extend("optim.SGD")

function SGD:__init(model, opts)
  Optimizer.__init(self, model, opts,
    { lr = "required", momentum = 0, dampening = 0, nesterov = false, weight_decay = 0 })
  local o = self.options
  if o.nesterov and (o.momentum <= 0 or o.dampening ~= 0) then
    error("optim.SGD: nesterov needs a momentum and zero dampening", 3)
  end
end

function SGD:step()
  local o = self.options
  for i, p in ipairs(self.params) do
    local d = self.grads[i]
    if o.weight_decay ~= 0 then d = d:clone():add_(p, o.weight_decay) end
    if o.momentum ~= 0 then
      local s = self.state[i]
      if not s then
        s = { momentum_buffer = d:clone() }
        self.state[i] = s
      else
        s.momentum_buffer:mul_(o.momentum):add_(d, 1 - o.dampening)
      end
      if o.nesterov then d = d:clone():add_(s.momentum_buffer, o.momentum)
      else d = s.momentum_buffer end
    end
    p:add_(d, -o.lr)
  end
  self.step_count = self.step_count + 1
end

return SGD
