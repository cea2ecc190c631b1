-- cnn.optim: optimizers and learning-rate schedulers with PyTorch's update rules.
local optim = {}

optim.Optimizer = require "cnn.optim.Optimizer"
optim.SGD = require "cnn.optim.SGD"
for _, group in ipairs({ require "cnn.optim.Adam", (require "cnn.optim.schedulers") }) do
  for name, cls in pairs(group) do optim[name] = cls end
end

return optim
