-- nn.Module: the base of every layer and container (Torch7's protocol).
--   out = m:forward(input)              calls m:update_output(input), keeps m.output
--   gin = m:backward(input, grad_out)   calls m:update_grad_input (keeps m.grad_input), then
--                                       m:acc_grad_parameters, which *accumulates* into the
--                                       parameter gradients
-- Parameters are the fields weight and bias, with gradients grad_weight and grad_bias,
-- created (zeroed) with the parameters. Buffers (running statistics) are listed by name in
-- the class field buffer_names. Custom layers: nn.Module:extend("Name").
local cnn = require "cnn"
local class = require "cnn.class"

local Module = class.new("nn.Module")

-- fields cnn.save leaves out: results of the last call, rebuilt by the next one
Module.__transient = { output = true, grad_input = true }
Module.buffer_names = {}
-- Whether backward may read self.output (activations do). Where it does not,
-- an in-place layer after it in a Sequential with reuse_outputs may write a
-- gradient over that output once nothing needs it.
Module.reads_output = true

function Module:__init()
  self.training = true
end

-- Subclasses come from Module:extend("Name") (see cnn.class): local MyLayer = nn.Module:extend("MyLayer").

function Module:forward(input)
  self.output = self:update_output(input)
  return self.output
end

-- need_input_grad false: only the parameter gradients (the input of the
-- first layer needs no gradient in training); grad_input is then nil.
function Module:backward(input, grad_output, need_input_grad)
  if need_input_grad == false then
    self.grad_input = nil
  else
    self.grad_input = self:update_grad_input(input, grad_output)
  end
  self:acc_grad_parameters(input, grad_output)
  return self.grad_input
end

function Module:update_output()
  error(self.__name .. ": update_output is not implemented", 2)
end

function Module:update_grad_input()
  error(self.__name .. ": update_grad_input is not implemented", 2)
end

function Module:acc_grad_parameters() end

-- Child modules, in order (containers).
function Module:children()
  return self.modules or {}
end

-- Pairs {name, tensor, grad} of this module's own parameters.
local function own_parameters(m)
  local list = {}
  if cnn.is_tensor(m.weight) then list[#list + 1] = { "weight", m.weight, m.grad_weight } end
  if cnn.is_tensor(m.bias) then list[#list + 1] = { "bias", m.bias, m.grad_bias } end
  return list
end

-- Calls fn(name, param, grad) for every parameter, children's included,
-- with dotted names ("3.weight").
function Module:for_each_parameter(fn, prefix)
  prefix = prefix or ""
  for _, p in ipairs(own_parameters(self)) do fn(prefix .. p[1], p[2], p[3]) end
  for i, child in ipairs(self:children()) do child:for_each_parameter(fn, prefix .. i .. ".") end
end

-- Calls fn(name, buffer) for every buffer, children's included.
function Module:for_each_buffer(fn, prefix)
  prefix = prefix or ""
  for _, name in ipairs(self.buffer_names) do
    if cnn.is_tensor(self[name]) then fn(prefix .. name, self[name]) end
  end
  for i, child in ipairs(self:children()) do child:for_each_buffer(fn, prefix .. i .. ".") end
end

-- Two arrays in matching order: the parameters and their gradients.
function Module:parameters()
  local params, grads = {}, {}
  self:for_each_parameter(function(_, p, g)
    params[#params + 1] = p
    grads[#grads + 1] = g
  end)
  return params, grads
end

function Module:num_parameters()
  local n = 0
  self:for_each_parameter(function(_, p) n = n + p:numel() end)
  return n
end

function Module:zero_grad()
  self:for_each_parameter(function(_, _, g) g:zero_() end)
end

function Module:train(mode)
  self.training = mode ~= false
  for _, child in ipairs(self:children()) do child:train(mode) end
  return self
end

function Module:evaluate()
  return self:train(false)
end

-- m:reuse_outputs([on = true]) on the module and its children: Torch7's
-- behaviour, where a forward or backward pass writes its result into the
-- tensor the last one returned (m.output, m.grad_input) when the shape is
-- the same, instead of allocating. Steady-state training and inference then
-- allocate nothing, but a result holds only until the module's next pass:
-- clone it to keep it.
function Module:reuse_outputs(on)
  self.reuse = on ~= false
  for _, child in ipairs(self:children()) do child:reuse_outputs(on) end
  return self
end

-- The tensor a kernel may write this pass's result into: self[field] when
-- reuse_outputs is on (the kernels check its shape), nil otherwise.
function Module:into(field)
  if self.reuse then return self[field] end
end

-- Every parameter and buffer by dotted name, sharing storage with the module.
function Module:state_dict()
  local state = {}
  self:for_each_parameter(function(name, p) state[name] = p end)
  self:for_each_buffer(function(name, b) state[name] = b end)
  return state
end

-- Copies a state_dict into the module. Every name and shape must match; an
-- error lists all the mismatches at once.
function Module:load_state_dict(state)
  local own, problems = self:state_dict(), {}
  local names = {}
  for name in pairs(own) do names[#names + 1] = name end
  for name in pairs(state) do
    if own[name] == nil then names[#names + 1] = name end
  end
  table.sort(names)
  local function shape_of(t)
    return "(" .. table.concat(t:shape(), ", ") .. ")"
  end
  for _, name in ipairs(names) do
    local mine, theirs = own[name], state[name]
    if mine == nil then
      problems[#problems + 1] = string.format("unexpected %s %s", name, shape_of(theirs))
    elseif not cnn.is_tensor(theirs) then
      problems[#problems + 1] = string.format("missing %s %s", name, shape_of(mine))
    elseif shape_of(mine) ~= shape_of(theirs) then
      problems[#problems + 1] = string.format("%s has shape %s, the model expects %s", name, shape_of(theirs), shape_of(mine))
    end
  end
  if #problems > 0 then
    error(self.__name .. ": state does not fit the model: " .. table.concat(problems, "; "), 2)
  end
  for name, t in pairs(own) do t:copy_(state[name]) end
  return self
end

-- One line: the class and its configuration. Layers override it.
function Module:describe()
  return self.__name
end

local function with_count(line, n)
  if n == 0 then return line end
  local s = tostring(n):reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return string.format("%-48s %12s params", line, s)
end

function Module:__tostring()
  local lines = {}
  local function walk(m, indent, label)
    local children = m:children()
    if #children == 0 then
      lines[#lines + 1] = with_count(indent .. label .. m:describe(), m:num_parameters())
      return
    end
    lines[#lines + 1] = indent .. label .. m:describe() .. " {"
    for i, child in ipairs(children) do walk(child, indent .. "  ", "(" .. i .. "): ") end
    lines[#lines + 1] = indent .. "}"
  end
  walk(self, "", "")
  if #self:children() > 0 then
    lines[#lines + 1] = with_count("total", self:num_parameters())
  end
  return table.concat(lines, "\n")
end

-- Helpers for the layers.

-- Raises "<layer>: <message>" at the caller of the module method.
function Module:fail(fmt, ...)
  error(self.__name .. ": " .. string.format(fmt, ...), 3)
end

-- Layers call it as `if not is_tensor(x) then self:check_tensor(x) end`
-- (is_tensor = cnn.is_tensor): the method call alone cost 0.06 us a pass,
-- a tenth of a small layer's at batch 1.
function Module:check_tensor(x, what)
  if not cnn.is_tensor(x) then self:fail("%s must be a tensor, got %s", what or "input", type(x)) end
end

-- Raises the error msg of a container's child, prefixed with where the child
-- sits: "in <label> (nn.Conv2d): conv2d: ..." (a number i: "module i").
function Module.child_error(label, child, msg)
  -- the position inside the library says nothing to the user: the label does
  msg = tostring(msg):gsub("^[%w_./%-]+%.lua:%d+: ", "", 1)
  if type(label) == "number" then label = "module " .. label end -- built here: a number to text costs a format
  error(string.format("in %s (%s): %s", label, child.__name, msg), 0)
end

-- Calls child[method](child, ...) for a container, errors as child_error.
function Module.call_child(label, child, method, ...)
  local ok, result = pcall(child[method], child, ...)
  if not ok then Module.child_error(label, child, result) end
  return result
end

-- A size option as an {h, w} pair (a number means both).
function Module.pair(v)
  if type(v) == "table" then return { v[1], v[2] } end
  return { v, v }
end

-- A size option as text: 3 or 3x2.
function Module.size_str(v)
  return type(v) == "table" and table.concat(v, "x") or tostring(v)
end

-- A tensor of the given shape drawn uniformly from [-bound, bound).
function Module.uniform(shape, bound)
  return cnn.rand(shape):mul_(2 * bound):add_(-bound)
end

return Module
