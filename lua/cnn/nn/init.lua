-- cnn.nn: layers, containers and criteria (Torch7's module protocol, PyTorch's
-- layouts and numerics). See docs/nn.md.
local nn = {}

nn.Module = require "cnn.nn.Module"
nn.Linear = require "cnn.nn.Linear"
nn.Conv2d = require "cnn.nn.Conv2d"
nn.MaxPool2d = require "cnn.nn.MaxPool2d"
nn.AvgPool2d = require "cnn.nn.AvgPool2d"
nn.AdaptiveAvgPool2d = require "cnn.nn.AdaptiveAvgPool2d"
nn.Dropout = require "cnn.nn.Dropout"
nn.Sequential = require "cnn.nn.Sequential"
nn.Residual = require "cnn.nn.Residual"
nn.LocallyConnected2d = require "cnn.nn.LocallyConnected2d"
nn.BlurPool2d = require "cnn.nn.BlurPool2d"

local groups = {
  require "cnn.nn.BatchNorm",
  require "cnn.nn.Activation",
  require "cnn.nn.Softmax",
  require "cnn.nn.Reshape",
  (require "cnn.nn.Criterion"),
}
for _, group in ipairs(groups) do
  for name, cls in pairs(group) do nn[name] = cls end
end

return nn
