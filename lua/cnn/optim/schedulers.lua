-- Learning-rate schedulers; call :step() once per epoch, after the optimizer's steps.
--   optim.StepLR(opt, step_size, gamma = 0.1):  lr = base_lr * gamma ^ floor(epoch / step_size)
--   optim.CosineLR(opt, t_max, eta_min = 0):     lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2
local class = require "cnn.class"

local Scheduler = class.new("optim.Scheduler")

function Scheduler:__init(opt)
  if type(opt) ~= "table" or type(opt.options) ~= "table" or type(opt.options.lr) ~= "number" then
    error(self.__name .. ": expected an optimizer", 3)
  end
  self.optimizer, self.base_lr, self.last_epoch = opt, opt.options.lr, 0
end

function Scheduler:step()
  self.last_epoch = self.last_epoch + 1
  self.optimizer.options.lr = self:lr_at(self.last_epoch)
  return self.optimizer.options.lr
end

local StepLR = Scheduler:extend("optim.StepLR")

function StepLR:__init(opt, step_size, gamma)
  Scheduler.__init(self, opt)
  if math.type(step_size) ~= "integer" or step_size < 1 then
    error("optim.StepLR: step size must be a positive integer, got " .. tostring(step_size), 3)
  end
  self.step_size, self.gamma = step_size, gamma or 0.1
end

function StepLR:lr_at(epoch)
  return self.base_lr * self.gamma ^ (epoch // self.step_size)
end

local CosineLR = Scheduler:extend("optim.CosineLR")

function CosineLR:__init(opt, t_max, eta_min)
  Scheduler.__init(self, opt)
  if type(t_max) ~= "number" or t_max <= 0 then
    error("optim.CosineLR: t_max must be positive, got " .. tostring(t_max), 3)
  end
  self.t_max, self.eta_min = t_max, eta_min or 0
end

function CosineLR:lr_at(epoch)
  return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.t_max)) / 2
end

return { StepLR = StepLR, CosineLR = CosineLR }
