-- optim.Adam(model, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0})
-- and optim.AdamW (decoupled weight decay, default 1e-2), with PyTorch's rules
-- (Kingma and Ba 2015; Loshchilov and Hutter 2019):
--   AdamW: p = p * (1 - lr * weight_decay);   Adam: g = g + weight_decay * p
--   m = b1 * m + (1 - b1) * g;   v = b2 * v + (1 - b2) * g^2
--   p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
local cnn = require "cnn"
local Optimizer = require "cnn.optim.Optimizer"

local Adam = Optimizer:extend("optim.Adam")

local function init(self, model, opts, decay)
  Optimizer.__init(self, model, opts, { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = decay })
  local b = self.options.betas
  if type(b) ~= "table" or not (b[1] >= 0 and b[1] < 1 and b[2] >= 0 and b[2] < 1) then
    error(self.__name .. ": betas must be a pair in [0, 1)", 3)
  end
end

function Adam:__init(model, opts)
  init(self, model, opts, 0)
end

Adam.decoupled = false

function Adam:step()
  local o = self.options
  local b1, b2 = o.betas[1], o.betas[2]
  for i, p in ipairs(self.params) do
    local g = self.grads[i]
    local s = self.state[i]
    if not s then
      s = { step = 0, exp_avg = cnn.zeros(g:shape()), exp_avg_sq = cnn.zeros(g:shape()) }
      self.state[i] = s
    end
    s.step = s.step + 1
    if o.weight_decay ~= 0 then
      if self.decoupled then p:mul_(1 - o.lr * o.weight_decay)
      else g = g:clone():add_(p, o.weight_decay) end
    end
    s.exp_avg:mul_(b1):add_(g, 1 - b1)
    s.exp_avg_sq:mul_(b2):add_(g * g, 1 - b2)
    local step_size = o.lr / (1 - b1 ^ s.step)
    local denom = s.exp_avg_sq:sqrt():div_(math.sqrt(1 - b2 ^ s.step)):add_(o.eps)
    p:add_(s.exp_avg / denom, -step_size)
  end
  self.step_count = self.step_count + 1
end

local AdamW = Adam:extend("optim.AdamW")
AdamW.decoupled = true

function AdamW:__init(model, opts)
  init(self, model, opts, 1e-2)
end

return { Adam = Adam, AdamW = AdamW }
