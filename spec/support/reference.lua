-- Loading the PyTorch reference fixtures (spec/fixtures/torch_*.lua, written by
-- spec/fixtures/generate.py) and comparing against them.
local cnn = require "cnn"

local R = {}

local cache = {}

function R.fixture(name)
  if not cache[name] then cache[name] = dofile("spec/fixtures/torch_" .. name .. ".lua") end
  return cache[name]
end

-- A fixture tensor {shape = ..., data = ...} as a cnn tensor.
function R.tensor(spec)
  if #spec.shape == 0 then return cnn.tensor(spec.data[1]) end
  return cnn.tensor(spec.data):view(spec.shape)
end

-- Raises unless actual matches the fixture tensor within |a - e| <= atol + rtol * |e|
-- (the tolerances of the reference specs: rtol 1e-4, atol 1e-5).
function R.assert_close(actual, expected, what, rtol, atol)
  rtol, atol = rtol or 1e-4, atol or 1e-5
  local e = cnn.is_tensor(expected) and expected or R.tensor(expected)
  local shape_a, shape_e = table.concat(actual:shape(), ", "), table.concat(e:shape(), ", ")
  if shape_a ~= shape_e then
    error(string.format("%s: shape (%s), expected (%s)", what, shape_a, shape_e), 2)
  end
  if not actual:allclose(e, rtol, atol) then
    local diff = (actual - e):abs()
    local worst = diff:argmax()
    error(string.format("%s: element %d is %.9g, PyTorch gives %.9g (max |diff| %.3g)", what, worst,
      actual:contiguous():view(-1):get(worst), e:contiguous():view(-1):get(worst), diff:max()), 2)
  end
end

return R
