-- nn.Sequential{m1, m2, ...} (or nn.Sequential() then :add(m)): applies its
-- modules in order. An error inside a child names it: "in module 3 (nn.Conv2d): ...".
local Module = require "cnn.nn.Module"
local class = require "cnn.class"

local Sequential = Module:extend("nn.Sequential")

function Sequential:__init(modules)
  Module.__init(self)
  self.modules = {}
  if modules ~= nil and type(modules) ~= "table" then
    error("nn.Sequential: expected a table of modules, got " .. type(modules), 3)
  end
  for _, m in ipairs(modules or {}) do self:add(m) end
end

function Sequential:add(m)
  if not class.is_instance(m, Module) then
    error(string.format("nn.Sequential: module %d is not an nn.Module (got %s)", #self.modules + 1, type(m)), 2)
  end
  self.modules[#self.modules + 1] = m
  return self
end

local function call(i, m, method, ...)
  return Module.call_child(i, m, method, ...)
end

function Sequential:update_output(x)
  local modules, child_error = self.modules, Module.child_error
  for i = 1, #modules do -- call() inlined: this loop runs for every batch
    local m = modules[i]
    local ok, y = pcall(m.forward, m, x)
    if not ok then child_error(i, m, y) end
    x = y
  end
  return x
end

-- backward runs each child's full backward (input gradient and parameter
-- gradients), so update_grad_input does all the work.
function Sequential:backward(x, dy, need_input_grad)
  for i = #self.modules, 1, -1 do
    local input = i > 1 and self.modules[i - 1].output or x
    dy = call(i, self.modules[i], "backward", input, dy, i > 1 or need_input_grad)
  end
  self.grad_input = dy
  return dy
end

function Sequential:update_grad_input(x, dy)
  for i = #self.modules, 1, -1 do
    local input = i > 1 and self.modules[i - 1].output or x
    dy = call(i, self.modules[i], "update_grad_input", input, dy)
    self.modules[i].grad_input = dy
  end
  return dy
end

function Sequential:acc_grad_parameters(x, dy)
  for i = #self.modules, 1, -1 do
    local input = i > 1 and self.modules[i - 1].output or x
    call(i, self.modules[i], "acc_grad_parameters", input, dy)
    dy = self.modules[i].grad_input
  end
end

function Sequential:__len()
  return #self.modules
end

return Sequential
