-- The base of the optimizers: holds the model's parameters and gradients (in
-- the order of model:parameters()), the hyper-parameters in self.options, and
-- per-parameter state in self.state[i]. Schedulers change self.options.lr.
local class = require "cnn.class"
local cnn = require "cnn"

local Optimizer = class.new("optim.Optimizer")

-- model: an nn.Module, or a table {params, grads} of two matching arrays.
function Optimizer:__init(model, opts, defaults)
  local params, grads
  if type(model) == "table" and type(model.parameters) == "function" then
    params, grads = model:parameters()
  elseif type(model) == "table" and type(model[1]) == "table" and type(model[2]) == "table" then
    params, grads = model[1], model[2]
  else
    error(self.__name .. ": expected a model (nn.Module) or {params, grads}, got " .. type(model), 3)
  end
  if #params ~= #grads then error(self.__name .. ": " .. #params .. " parameters but " .. #grads .. " gradients", 3) end
  opts = opts or {}
  self.options = {}
  for k, v in pairs(opts) do
    if defaults[k] == nil then error(self.__name .. ": unknown option '" .. tostring(k) .. "'", 3) end
    self.options[k] = v
  end
  for k, v in pairs(defaults) do
    if self.options[k] == nil then
      if v == "required" then error(self.__name .. ": option '" .. k .. "' is required", 3) end
      self.options[k] = v
    end
  end
  self.params, self.grads, self.state, self.step_count = params, grads, {}, 0
end

function Optimizer:zero_grad()
  for _, g in ipairs(self.grads) do g:zero_() end
end

-- The state needed to resume: options, step count and per-parameter buffers.
function Optimizer:state_dict()
  return { options = self.options, state = self.state, step_count = self.step_count }
end

function Optimizer:load_state_dict(sd)
  if type(sd) ~= "table" or type(sd.state) ~= "table" then
    error(self.__name .. ": not an optimizer state", 2)
  end
  for i, s in pairs(sd.state) do
    local p = self.params[i]
    if not p then error(string.format("%s: state for parameter %s, the model has %d", self.__name, tostring(i), #self.params), 2) end
    for name, t in pairs(s) do
      if cnn.is_tensor(t) and table.concat(t:shape(), ",") ~= table.concat(p:shape(), ",") then
        error(string.format("%s: state %s of parameter %d has shape (%s), the parameter (%s)", self.__name, name, i,
          table.concat(t:shape(), ", "), table.concat(p:shape(), ", ")), 2)
      end
    end
  end
  for k, v in pairs(sd.options or {}) do self.options[k] = v end
  self.state, self.step_count = sd.state, sd.step_count or 0
  return self
end

function Optimizer:__tostring()
  local keys = {}
  for k in pairs(self.options) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do
    local v = self.options[k]
    keys[i] = k .. "=" .. (type(v) == "table" and "{" .. table.concat(v, ", ") .. "}" or tostring(v))
  end
  return self.__name .. "(" .. table.concat(keys, ", ") .. ")"
end

return Optimizer
