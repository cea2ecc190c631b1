-- Tensor arithmetic, elementwise maths, reductions, comparison and matmul
-- (API.md, "Module cnn", tensor methods).
local cnn = require "cnn"
local H = require "support.helpers"

describe("arithmetic", function()
  local a = cnn.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })

  it("operators work between tensors of one shape", function()
    local b = cnn.tensor({ { 6, 5, 4 }, { 3, 2, 1 } })
    H.assert_tensor(a + b, { { 7, 7, 7 }, { 7, 7, 7 } })
    H.assert_tensor(a - b, { { -5, -3, -1 }, { 1, 3, 5 } })
    H.assert_tensor(a * b, { { 6, 10, 12 }, { 12, 10, 6 } })
    H.assert_tensor(a / b, { { 1 / 6, 2 / 5, 3 / 4 }, { 4 / 3, 5 / 2, 6 } }, 1e-7)
    H.assert_tensor(-a, { { -1, -2, -3 }, { -4, -5, -6 } })
  end)

  it("operators take numbers on either side", function()
    H.assert_tensor(a + 1, { { 2, 3, 4 }, { 5, 6, 7 } })
    H.assert_tensor(10 - a, { { 9, 8, 7 }, { 6, 5, 4 } })
    H.assert_tensor(a * 0.5, { { 0.5, 1, 1.5 }, { 2, 2.5, 3 } })
    H.assert_tensor(6 / a, { { 6, 3, 2 }, { 1.5, 1.2, 1 } }, 1e-6)
    H.assert_tensor(a / 2, { { 0.5, 1, 1.5 }, { 2, 2.5, 3 } })
  end)

  it("broadcasts by NumPy's rules", function()
    local col = cnn.tensor({ { 10 }, { 20 } })     -- (2, 1)
    local row = cnn.tensor({ 1, 2, 3 })             -- (3)
    H.assert_tensor(col + row, { { 11, 12, 13 }, { 21, 22, 23 } })
    H.assert_tensor(a * row, { { 1, 4, 9 }, { 4, 10, 18 } })
    H.assert_tensor(a - cnn.tensor(1), { { 0, 1, 2 }, { 3, 4, 5 } }) -- 0-d
    assert.are.same({ 4, 2, 3 }, (cnn.zeros(4, 1, 3) + a):shape())
    assert.are.same({ 2, 0 }, (cnn.zeros(2, 1) + cnn.zeros(0)):shape())
  end)

  it("works on non-contiguous views", function()
    local t = a:transpose(1, 2) -- (3, 2)
    H.assert_tensor(t + cnn.tensor({ 100, 200 }), { { 101, 204 }, { 102, 205 }, { 103, 206 } })
  end)

  it("rejects shapes that do not broadcast, printing both", function()
    assert.error_matches(function() return a + cnn.zeros(2) end,
      "add: shapes %(2, 3%) and %(2%) cannot be broadcast together")
    assert.error_matches(function() return cnn.zeros(3, 2) * a end,
      "mul: shapes %(3, 2%) and %(2, 3%) cannot be broadcast together")
  end)

  it("rejects operands that are neither tensors nor numbers", function()
    assert.error_matches(function() return a + "1" end, "add: expected a tensor or a number, got string")
    assert.error_matches(function() return {} * a end, "mul: expected a tensor or a number, got table")
  end)

  describe("in place", function()
    it("add_ adds alpha times a tensor or number", function()
      local t = cnn.ones(2, 3)
      assert.are.equal(t, t:add_(a, 2))
      H.assert_tensor(t, { { 3, 5, 7 }, { 9, 11, 13 } })
      t:add_(1)
      t:add_(1, -3)
      H.assert_tensor(t, { { 1, 3, 5 }, { 7, 9, 11 } })
    end)

    it("mul_, sub_ and div_ broadcast the operand into the tensor", function()
      local t = cnn.ones(2, 3)
      t:mul_(cnn.tensor({ 1, 2, 3 }))
      H.assert_tensor(t, { { 1, 2, 3 }, { 1, 2, 3 } })
      t:mul_(2):sub_(cnn.tensor({ { 1 }, { 2 } })):div_(2)
      H.assert_tensor(t, { { 0.5, 1.5, 2.5 }, { 0, 1, 2 } })
    end)

    it("update views of the base tensor", function()
      local t = cnn.zeros(3, 3)
      t:select(2, 2):add_(1)
      H.assert_tensor(t:sum(1), { 0, 3, 0 })
    end)

    it("read an overlapping operand as it was before the update", function()
      local t = cnn.arange(4):view(2, 2)
      t:add_(t:transpose(1, 2))
      H.assert_tensor(t, { { 0, 3 }, { 3, 6 } })
    end)

    it("refuse operands that would change the tensor's shape", function()
      assert.error_matches(function() cnn.zeros(3):add_(cnn.zeros(2, 3)) end,
        "add_: shape %(2, 3%) cannot be broadcast to the shape %(3%) of the tensor updated in place")
      assert.error_matches(function() cnn.zeros(3):mul_(cnn.zeros(2)) end, "mul_: shape %(2%) cannot be broadcast")
      assert.error_matches(function() cnn.zeros(3):mul_("2") end, "mul_: expected a tensor or a number, got string")
    end)
  end)
end)

describe("elementwise maths", function()
  local x = cnn.tensor({ 0.25, 1, 2.5, 9 })

  it("exp, log, sqrt and abs match Lua's math library to float precision", function()
    local e, l, s = x:exp(), x:log(), x:sqrt()
    for i = 1, 4 do
      local v = x:get(i)
      assert.is_true(math.abs(e:get(i) - math.exp(v)) <= 1e-6 * math.exp(v))
      assert.is_true(math.abs(l:get(i) - math.log(v)) <= 1e-6)
      assert.is_true(math.abs(s:get(i) - math.sqrt(v)) <= 1e-6)
    end
    H.assert_tensor(cnn.tensor({ -1, 2, -3 }):abs(), { 1, 2, 3 })
  end)

  it("pow raises to a power", function()
    H.assert_tensor(x:pow(2), { 0.0625, 1, 6.25, 81 })
    H.assert_tensor(x:pow(0.5), { 0.5, 1, math.sqrt(2.5), 3 }, 1e-6)
    H.assert_tensor(x:pow(3), { 0.25 ^ 3, 1, 2.5 ^ 3, 729 }, 1e-4)
    H.assert_tensor(x:pow(-1), { 4, 1, 0.4, 1 / 9 }, 1e-7)
  end)

  it("clamp bounds values on one or both sides and keeps NaN", function()
    local t = cnn.tensor({ -2, 0, 3, 0 / 0 })
    H.assert_tensor(t:clamp(-1, 1), { -1, 0, 1, 0 / 0 })
    H.assert_tensor(t:clamp(0), { 0, 0, 3, 0 / 0 })
    H.assert_tensor(t:clamp(nil, 0), { -2, 0, 0, 0 / 0 })
    assert.error_matches(function() t:clamp() end, "clamp: at least one of lo and hi is needed")
  end)

  it("gives IEEE results for out-of-domain inputs", function()
    local t = cnn.tensor({ -1, 0 })
    assert.is_true(t:log():get(1) ~= t:log():get(1)) -- NaN
    assert.are.equal(-math.huge, t:log():get(2))
  end)
end)

describe("reductions", function()
  local t = cnn.tensor({ { 3, 1, 4 }, { 1, 5, 9 } })

  it("without a dimension return Lua numbers", function()
    assert.are.equal(23, t:sum())
    assert.is_true(math.abs(t:mean() - 23 / 6) < 1e-12)
    assert.are.equal(9, t:max())
    assert.are.equal(1, t:min())
    assert.are.equal(6, t:argmax())
    assert.are.equal(2, t:argmin()) -- the first of the ties
  end)

  it("along a dimension remove it, or keep it with keepdim", function()
    H.assert_tensor(t:sum(1), { 4, 6, 13 })
    H.assert_tensor(t:sum(2), { 8, 15 })
    H.assert_tensor(t:mean(-1), { 8 / 3, 5 }, 1e-6)
    H.assert_tensor(t:sum(2, true), { { 8 }, { 15 } })
  end)

  it("max and min also return 1-based indices; argmax returns them alone", function()
    local v, i = t:max(2)
    H.assert_tensor(v, { 4, 9 })
    H.assert_tensor(i, { 3, 3 })
    v, i = t:min(1)
    H.assert_tensor(v, { 1, 1, 4 })
    H.assert_tensor(i, { 2, 1, 1 })
    H.assert_tensor(t:argmax(1), { 1, 2, 2 })
    H.assert_tensor(t:argmax(2, true), { { 3 }, { 3 } })
  end)

  it("take the first of tied extremes and propagate NaN", function()
    local ties = cnn.tensor({ 2, 7, 7, 1 })
    assert.are.equal(2, ties:argmax())
    local _, i = ties:max(1)
    assert.are.equal(2, i:item())
    local nan = cnn.tensor({ 1, 0 / 0, 3 })
    assert.is_true(nan:max() ~= nan:max())
    assert.are.equal(2, nan:argmax())
    assert.is_true(nan:sum() ~= nan:sum())
  end)

  it("work on views", function()
    local v = cnn.arange(24):view(2, 3, 4):permute(3, 1, 2) -- (4, 2, 3)
    H.assert_tensor(v:sum(1), { { 6, 22, 38 }, { 54, 70, 86 } })
    H.assert_tensor(v:max(3), { { 8, 20 }, { 9, 21 }, { 10, 22 }, { 11, 23 } })
  end)

  it("sum accumulates in double precision", function()
    local n = 1 << 20
    assert.are.equal(n * 0.1, cnn.full(n, 0.1):sum() + n * (0.1 - cnn.tensor(0.1):item()))
  end)

  it("refuse empty extremes and bad dimensions", function()
    assert.are.equal(0, cnn.zeros(0):sum())
    assert.error_matches(function() cnn.zeros(0):max() end, "max: cannot reduce an empty tensor of shape %(0%)")
    assert.error_matches(function() cnn.zeros(2, 0):min(2) end, "min: cannot reduce an empty dimension")
    assert.error_matches(function() t:sum(3) end, "sum: dimension 3 out of range for a 2%-d tensor")
    assert.error_matches(function() t:argmax(0) end, "argmax: dimension 0 out of range")
  end)
end)

describe("comparison", function()
  it("equal compares shapes and values exactly", function()
    local a = cnn.tensor({ 1, 2, 3 })
    assert.is_true(a:equal(cnn.tensor({ 1, 2, 3 })))
    assert.is_false(a:equal(cnn.tensor({ 1, 2, 3.001 })))
    assert.is_false(a:equal(cnn.tensor({ { 1, 2, 3 } })))
    assert.is_false(cnn.tensor({ 0 / 0 }):equal(cnn.tensor({ 0 / 0 })))
  end)

  it("allclose uses |a - b| <= atol + rtol * |b| and broadcasts", function()
    local a = cnn.tensor({ 1, 100 })
    assert.is_true(a:allclose(cnn.tensor({ 1 + 1e-6, 100 + 1e-4 })))
    assert.is_false(a:allclose(cnn.tensor({ 1.001, 100 })))
    assert.is_true(a:allclose(cnn.tensor({ 1.001, 100 }), 1e-2))
    assert.is_true(a:allclose(cnn.tensor({ 1.5, 100.5 }), 0, 0.5))
    assert.is_true(cnn.ones(2, 3):allclose(cnn.tensor(1)))
    assert.error_matches(function() a:allclose(cnn.zeros(3)) end, "allclose: shapes %(2%) and %(3%) cannot be broadcast")
  end)
end)

-- A straightforward product, the reference for cnn.matmul.
local function naive_matmul(a, b)
  local m, k, n = a:size(1), a:size(2), b:size(2)
  local out = cnn.zeros(m, n)
  for i = 1, m do
    for j = 1, n do
      local s = 0
      for p = 1, k do s = s + a:get(i, p) * b:get(p, j) end
      out:set(i, j, s)
    end
  end
  return out
end

describe("cnn.matmul", function()
  it("multiplies matrices like the naive product", function()
    cnn.seed(7)
    for _, dims in ipairs({ { 1, 1, 1 }, { 3, 4, 5 }, { 17, 33, 9 }, { 64, 1, 31 } }) do
      local a, b = cnn.randn(dims[1], dims[2]), cnn.randn(dims[2], dims[3])
      H.assert_tensor(cnn.matmul(a, b), naive_matmul(a, b), 1e-4)
    end
  end)

  it("reads transposed and narrowed operands in place, and copies others", function()
    cnn.seed(8)
    local a, b = cnn.randn(6, 5), cnn.randn(4, 6)
    local at, bt = a:transpose(1, 2), b:transpose(1, 2) -- (5, 6), (6, 4)
    H.assert_tensor(cnn.matmul(at, bt), naive_matmul(at:contiguous(), bt:contiguous()), 1e-4)
    local n = cnn.randn(8, 10):narrow(2, 3, 6)          -- (8, 6) with row stride 10
    H.assert_tensor(cnn.matmul(n, bt), naive_matmul(n:contiguous(), bt:contiguous()), 1e-4)
    local odd = cnn.randn(6, 2, 4):select(2, 2)          -- (6, 4): strides (8, 1)
    local s = cnn.randn(4, 3, 2):select(3, 1)            -- (4, 3): strides (6, 2): needs a copy
    H.assert_tensor(cnn.matmul(odd, s), naive_matmul(odd:contiguous(), s:contiguous()), 1e-4)
  end)

  it("multiplies a single row or column (matrix-vector products) with operands in any layout", function()
    cnn.seed(10)
    local row, rowT = cnn.randn(1, 7), cnn.randn(7, 3):narrow(2, 2, 1):transpose(1, 2) -- (1, 7), stride 3 apart
    local b, bT = cnn.randn(7, 5), cnn.randn(5, 7):transpose(1, 2)                       -- (7, 5) both
    for _, x in ipairs({ row, rowT }) do
      for _, y in ipairs({ b, bT }) do
        H.assert_tensor(cnn.matmul(x, y), naive_matmul(x:contiguous(), y:contiguous()), 1e-4)
      end
    end
    local a, aT = cnn.randn(6, 7), cnn.randn(7, 6):transpose(1, 2)                       -- (6, 7) both
    local col, colT = cnn.randn(7, 1), cnn.randn(3, 7):narrow(1, 2, 1):transpose(1, 2)  -- (7, 1), contiguous or not
    for _, x in ipairs({ a, aT }) do
      for _, y in ipairs({ col, colT }) do
        H.assert_tensor(cnn.matmul(x, y), naive_matmul(x:contiguous(), y:contiguous()), 1e-4)
      end
    end
    -- large enough to be split between the threads by outputs (151 of them: uneven parts)
    local big_row, big_rowT = cnn.randn(1, 300), cnn.randn(300, 2):narrow(2, 2, 1):transpose(1, 2)
    local big, bigT = cnn.randn(300, 151), cnn.randn(151, 300):transpose(1, 2)
    for _, x in ipairs({ big_row, big_rowT }) do
      for _, y in ipairs({ big, bigT }) do
        H.assert_tensor(cnn.matmul(x, y), naive_matmul(x:contiguous(), y:contiguous()), 1e-3)
      end
    end
    local l = cnn.nn.Linear(400, 120) -- a single input: the product of one row
    local x = cnn.randn(1, 400)
    H.assert_tensor(l:forward(x), naive_matmul(x, l.weight:transpose(1, 2):contiguous()) + l.bias:view(1, 120), 1e-4)
  end)

  it("multiplies batches of matrices, broadcasting a single one", function()
    cnn.seed(9)
    local a, b = cnn.randn(3, 4, 5), cnn.randn(3, 5, 2)
    local c = cnn.matmul(a, b)
    assert.are.same({ 3, 4, 2 }, c:shape())
    for i = 1, 3 do
      H.assert_tensor(c:select(1, i), naive_matmul(a:select(1, i), b:select(1, i)), 1e-4)
    end
    local w = cnn.randn(5, 2)
    local d = cnn.matmul(a, w)
    for i = 1, 3 do H.assert_tensor(d:select(1, i), naive_matmul(a:select(1, i), w), 1e-4) end
    local e = cnn.matmul(cnn.randn(1, 4, 5), b)
    assert.are.same({ 3, 4, 2 }, e:shape())
  end)

  it("handles vectors as PyTorch does", function()
    local v, m = cnn.tensor({ 1, 2, 3 }), cnn.tensor({ { 1, 0 }, { 0, 1 }, { 1, 1 } })
    H.assert_tensor(cnn.matmul(v, v), 14)
    H.assert_tensor(cnn.matmul(v, m), { 4, 5 })
    H.assert_tensor(cnn.matmul(m:transpose(1, 2), v), { 4, 5 })
  end)

  it("handles empty dimensions", function()
    H.assert_tensor(cnn.matmul(cnn.ones(2, 0), cnn.ones(0, 3)), cnn.zeros(2, 3))
    assert.are.same({ 0, 3 }, cnn.matmul(cnn.ones(0, 4), cnn.ones(4, 3)):shape())
  end)

  it("rejects mismatched shapes, printing both", function()
    assert.error_matches(function() cnn.matmul(cnn.zeros(2, 3), cnn.zeros(4, 5)) end,
      "matmul: shapes %(2, 3%) and %(4, 5%) cannot be multiplied %(3 != 4%)")
    assert.error_matches(function() cnn.matmul(cnn.zeros(2, 3, 4), cnn.zeros(3, 4, 5)) end,
      "matmul: batch sizes 2 and 3 of shapes %(2, 3, 4%) and %(3, 4, 5%) do not match")
    assert.error_matches(function() cnn.matmul(cnn.zeros(1, 1, 1, 1), cnn.zeros(1)) end,
      "matmul: expected 1%-d, 2%-d or 3%-d tensors")
    assert.error_matches(function() cnn.matmul(cnn.zeros(2), 3) end, "tensor expected, got number")
  end)
end)

describe("cnn.linear and t:addmm_", function()
  local function reference(x, w, b)
    local x2 = x:dim() == 1 and x:view(1, -1) or x
    local y = naive_matmul(x2:contiguous(), w:transpose(1, 2):contiguous())
    if b then y = y + b:view(1, -1) end
    return x:dim() == 1 and y:view(-1) or y
  end

  it("gives x w^T + b for rows, a single row and a vector, with and without bias", function()
    cnn.seed(21)
    -- (rows, in, out): small ones; a row split between the threads by outputs; rows split between threads
    for _, d in ipairs({ { 3, 5, 4 }, { 1, 7, 2 }, { 1, 300, 151 }, { 70, 90, 130 } }) do
      local x, w, b = cnn.randn(d[1], d[2]), cnn.randn(d[3], d[2]), cnn.randn(d[3])
      H.assert_tensor(cnn.linear(x, w, b), reference(x, w, b), 1e-3)
      H.assert_tensor(cnn.linear(x, w), reference(x, w), 1e-3)
      H.assert_tensor(cnn.linear(x:select(1, 1), w, b), reference(x:select(1, 1), w, b), 1e-3)
    end
    -- operands in other layouts: a transposed input and weight, a strided bias
    local x, w = cnn.randn(6, 4):transpose(1, 2), cnn.randn(6, 3):transpose(1, 2) -- (4, 6), (3, 6)
    local b = cnn.randn(3, 2):select(2, 1)
    H.assert_tensor(cnn.linear(x, w, b), reference(x:contiguous(), w:contiguous(), b:contiguous()), 1e-4)
  end)

  it("writes into a tensor that fits, never into an operand", function()
    local x, w, b = cnn.randn(2, 3), cnn.randn(4, 3), cnn.randn(4)
    local into = cnn.empty(2, 4)
    assert.is_true(rawequal(into, cnn.linear(x, w, b, into)))
    H.assert_tensor(into, reference(x, w, b), 1e-5)
    local other = cnn.zeros(4, 2)
    assert.is_false(rawequal(other, cnn.linear(x, w, b, other)))
    local sq = cnn.randn(3, 3)
    local before = sq:clone()
    H.assert_tensor(cnn.linear(sq, sq, nil, sq), reference(before, before), 1e-5)
    assert.is_true(sq:equal(before))
  end)

  it("rejects shapes that do not fit, naming them", function()
    assert.error_matches(function() cnn.linear(cnn.zeros(2, 3), cnn.zeros(4, 5)) end,
      "linear: input %(2, 3%) and weight %(4, 5%) do not fit")
    assert.error_matches(function() cnn.linear(cnn.zeros(2, 2, 3), cnn.zeros(4, 3)) end,
      "linear: input %(2, 2, 3%) and weight %(4, 3%) do not fit")
    assert.error_matches(function() cnn.linear(cnn.zeros(2, 3), cnn.zeros(4, 3), cnn.zeros(5)) end,
      "linear: bias %(5%) does not fit weight %(4, 3%) %(expected %(4%)%)")
    assert.error_matches(function() cnn.linear(cnn.zeros(2, 3), "w") end, "tensor expected, got string")
  end)

  it("addmm_ adds a product in place, in the layouts of a weight gradient", function()
    cnn.seed(22)
    for _, d in ipairs({ { 4, 6, 5 }, { 1, 300, 151 }, { 120, 64, 400 } }) do
      local c, a, b = cnn.randn(d[1], d[3]), cnn.randn(d[2], d[1]):transpose(1, 2), cnn.randn(d[2], d[3])
      local expect = c + naive_matmul(a:contiguous(), b)
      assert.is_true(rawequal(c, c:addmm_(a, b)))
      H.assert_tensor(c, expect, 1e-3)
    end
    local c = cnn.zeros(2, 2)
    c:addmm_(cnn.ones(2, 0), cnn.ones(0, 2)) -- no terms: c unchanged
    H.assert_tensor(c, cnn.zeros(2, 2))
    assert.error_matches(function() c:addmm_(cnn.zeros(2, 3), cnn.zeros(4, 2)) end,
      "addmm_: shapes %(2, 2%) %+ %(2, 3%) @ %(4, 2%) do not fit")
    assert.error_matches(function() cnn.zeros(2, 2):transpose(1, 2):addmm_(cnn.zeros(2, 1), cnn.zeros(1, 2)) end,
      "addmm_: the tensor added to must be contiguous")
    assert.error_matches(function() c:addmm_(c, cnn.zeros(2, 2)) end,
      "addmm_: the tensor added to shares storage with an operand")
  end)
end)
