-- nn.Sequential{m1, m2, ...} (or nn.Sequential() then :add(m)): applies its
-- modules in order. An error inside a child names it: "in module 3 (nn.Conv2d): ...".
local cnn = require "cnn"
local Module = require "cnn.nn.Module"
local ReLU = (require "cnn.nn.Activation").ReLU
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

-- The children in order, under one pcall for the whole pass (this loop runs
-- for every batch): at records the child running, for the error's label. A
-- child followed by an in-place nn.ReLU that can rectify its own output in
-- the same call (update_output_relu: Conv2d, Linear) does, and the ReLU's
-- pass is skipped: its output is that tensor, as its own pass would leave it.
local at = setmetatable({}, { __mode = "k" })
local module_forward = Module.forward
local function run(self, x)
  local modules = self.modules
  local i, n = 1, #modules
  while i <= n do
    at[self] = i
    local m, after = modules[i], modules[i + 1]
    local y
    if after ~= nil and after.inplace == true and getmetatable(after) == ReLU then
      local relu = m.update_output_relu
      if relu then y = relu(m, x) end
    end
    if y ~= nil then
      m.output, after.output = y, y
      x, i = y, i + 2
    else
      local forward = m.forward
      if forward == module_forward then -- Module:forward, one call less
        x = m:update_output(x)
        m.output = x
      else
        x = forward(m, x)
      end
      i = i + 1
    end
  end
  return x
end

function Sequential:update_output(x)
  local ok, y = pcall(run, self, x)
  if not ok then
    local i = at[self]
    Module.child_error(i, self.modules[i], y)
  end
  return y
end

-- backward runs each child's full backward (input gradient and parameter
-- gradients), so update_grad_input does all the work. With reuse_outputs,
-- the children's input gradients take turns in two buffers (as Torch7's
-- optnet shared them): each child writes into the one that does not hold the
-- gradient it reads. An in-place ReLU after a child that reads no output in
-- backward (and not last) writes its gradient over its own output instead:
-- that activation is needed by no one once the ReLU's backward has begun.
-- The buffers grow to what is asked of them: where the gradient read is in
-- neither, the child takes the buffer it took last time, or the first time
-- the smallest one large enough (so they grow in the first pass only, to the
-- largest gradient and about the largest one beside it). A child's
-- grad_input then holds only until the child two places before it has run;
-- the container's result, the first child's, holds until the next backward.
local function over_output(modules, i)
  local m, before = modules[i], modules[i - 1]
  return m.inplace == true and before ~= nil and i < #modules and before.reads_output == false and
      cnn.is_tensor(m.output) and rawequal(m.output, before.output)
end

-- The buffer to write a gradient of n floats in, when the gradient read is in neither.
local function fit(buffers, n)
  local best
  for k = 1, 2 do
    local size = buffers[k] and buffers[k]:numel() or 0
    if size >= n and (not best or size < buffers[best]:numel()) then best = k end
  end
  if best then return best end
  local a, b = buffers[1] and buffers[1]:numel() or 0, buffers[2] and buffers[2]:numel() or 0
  return b > a and 2 or 1
end

function Sequential:backward(x, dy, need_input_grad)
  local modules = self.modules
  local buffers = self.reuse and #modules > 2 and self:grad_buffers(x)
  local holder -- the buffer that holds dy, when it is one of them
  local turns = self._grad_turns or {} -- the buffer each child took
  if buffers then self._grad_turns = turns end
  for i = #modules, 1, -1 do
    local m, input = modules[i], i > 1 and modules[i - 1].output or x
    local offered, took
    if m.inplace == true then m.grad_input = nil end -- it writes into dy, unless given its output below
    if buffers and (i > 1 or need_input_grad ~= false) then
      if over_output(modules, i) then
        offered = m.output
      elseif m.inplace ~= true then
        took = holder and 3 - holder or turns[i] or fit(buffers, input:numel())
        turns[i] = took
        if not buffers[took] or buffers[took]:numel() < input:numel() then buffers[took] = cnn.empty(input:numel()) end
        offered = buffers[took]:narrow(1, 1, input:numel()):view(input:shape())
      end
      m.grad_input = offered
    end
    local g = call(i, m, "backward", input, dy, i > 1 or need_input_grad)
    if offered and rawequal(g, offered) then holder = took end -- else g is dy, a view of it or new
    dy = g
  end
  self.grad_input = dy
  return dy
end

-- The two gradient buffers (nil, no sharing, when an input is not a tensor),
-- empty until a backward asks for them.
function Sequential:grad_buffers(x)
  if not cnn.is_tensor(x) then return nil end
  for i = 1, #self.modules - 1 do
    if not cnn.is_tensor(self.modules[i].output) then return nil end
  end
  self._grad_buffers = self._grad_buffers or {}
  return self._grad_buffers
end

function Sequential:reuse_outputs(on)
  if on == false then self._grad_buffers, self._grad_turns = nil, nil end
  return Module.reuse_outputs(self, on)
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
