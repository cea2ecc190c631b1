-- nn.Residual(body [, shortcut]): output = body(x) + shortcut(x); the shortcut
-- defaults to the identity (He et al., "Deep Residual Learning", 2016).
local Module = require "cnn.nn.Module"
local class = require "cnn.class"

local Residual = Module:extend("nn.Residual")

function Residual:__init(body, shortcut)
  Module.__init(self)
  for _, m in ipairs({ body, shortcut }) do
    if not class.is_instance(m, Module) then error("nn.Residual: body and shortcut must be nn.Modules", 3) end
  end
  self.modules = { body, shortcut }
end

local function call(name, m, method, ...)
  return Module.call_child(name, m, method, ...)
end

function Residual:update_output(x)
  local y = call("body", self.modules[1], "forward", x)
  local s = self.modules[2] and call("shortcut", self.modules[2], "forward", x) or x
  if table.concat(y:shape(), ",") ~= table.concat(s:shape(), ",") then
    self:fail("body output (%s) and shortcut output (%s) differ in shape", table.concat(y:shape(), ", "),
      table.concat(s:shape(), ", "))
  end
  return y + s
end

-- The shortcut's gradient is taken before the body's backward, which may
-- change dy in place (a body ending in nn.ReLU({inplace = true})).
function Residual:backward(x, dy, need_input_grad)
  local gs = self.modules[2] and call("shortcut", self.modules[2], "backward", x, dy, need_input_grad) or
      (need_input_grad ~= false and dy:clone())
  local g = call("body", self.modules[1], "backward", x, dy, need_input_grad)
  self.grad_input = need_input_grad ~= false and g + gs or nil
  return self.grad_input
end

function Residual:update_grad_input(x, dy)
  local gs = self.modules[2] and call("shortcut", self.modules[2], "update_grad_input", x, dy) or dy:clone()
  local g = call("body", self.modules[1], "update_grad_input", x, dy)
  return g + gs
end

function Residual:acc_grad_parameters(x, dy)
  call("body", self.modules[1], "acc_grad_parameters", x, dy)
  if self.modules[2] then call("shortcut", self.modules[2], "acc_grad_parameters", x, dy) end
end

return Residual
