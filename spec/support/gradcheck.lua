-- Finite-difference gradient checks. For a module m and input x, with a fixed
-- random r, L(x, params) = sum(m:forward(x) * r); m:backward(x, r) must give
-- dL/dx and accumulate dL/dparam, which are compared with central differences
-- (L(v + eps) - L(v - eps)) / (2 eps) element by element. Inputs should stay
-- more than eps away from kinks (ReLU at 0) and ties (max pooling): see distinct().
local cnn = require "cnn"

local G = {}

-- A tensor of the given shape holding distinct values spaced 0.1 apart, in a
-- random order, none within 0.05 of 0: no ReLU kinks, no max-pooling ties.
function G.distinct(...)
  local shape = { ... }
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local values = {}
  for i = 1, n do values[i] = (i - 1 - n // 2) * 0.1 + 0.05 end
  for i = n, 2, -1 do
    local j = math.random(i)
    values[i], values[j] = values[j], values[i]
  end
  return cnn.tensor(values):view(shape)
end

-- Compares analytic against numeric derivatives of loss() with respect to every
-- element of t; ana is the analytic gradient tensor.
local function compare(loss, t, ana, what, eps, rtol, atol)
  local flat, g = t:view(-1), ana:contiguous():view(-1)
  for i = 1, flat:numel() do
    local v = flat:get(i)
    flat:set(i, v + eps)
    local lp = loss()
    flat:set(i, v - eps)
    local lm = loss()
    flat:set(i, v)
    local num, a = (lp - lm) / (2 * eps), g:get(i)
    if math.abs(num - a) > atol + rtol * math.abs(num) then
      error(string.format("%s[%d]: backward gives %.6g, finite differences %.6g", what, i, a, num), 3)
    end
  end
end

-- opts: eps (1e-2), rtol (1e-2), atol (1e-3), seed (a dropout mask's seed).
function G.check_module(m, x, opts)
  opts = opts or {}
  local eps, rtol, atol = opts.eps or 1e-2, opts.rtol or 1e-2, opts.atol or 1e-3
  local function forward()
    if opts.seed then cnn.seed(opts.seed) end
    return m:forward(x)
  end
  local r = cnn.randn(forward():shape())
  local function loss()
    return (forward() * r):sum()
  end
  m:zero_grad()
  forward()
  local gx = m:backward(x, r):clone()
  local params, grads = m:parameters()
  local saved = {}
  for i, g in ipairs(grads) do saved[i] = g:clone() end
  compare(loss, x, gx, "input", eps, rtol, atol)
  for i, p in ipairs(params) do compare(loss, p, saved[i], "parameter " .. i, eps, rtol, atol) end
end

-- The same for a criterion: d loss / d output.
function G.check_criterion(c, output, target, opts)
  opts = opts or {}
  local g = c:backward(output, target):clone()
  compare(function() return c:forward(output, target) end, output, g, "output", opts.eps or 1e-2,
    opts.rtol or 1e-2, opts.atol or 1e-3)
end

return G
