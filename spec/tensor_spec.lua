-- The tensor core: creation, shape queries, element access, views, fill/copy,
-- printing and lifetime (API.md, "Module cnn").
local cnn = require "cnn"
local H = require "support.helpers"

describe("creation", function()
  describe("cnn.tensor", function()
    it("builds a tensor from nested tables", function()
      local t = cnn.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
      assert.are.same({ 2, 3 }, t:shape())
      assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, t:totable())
    end)

    it("stores float32 values", function()
      local t = cnn.tensor({ 0.1 })
      assert.are_not.equal(0.1, t:get(1))
      assert.is_true(math.abs(t:get(1) - 0.1) < 1e-8)
    end)

    it("makes a 0-d tensor from a number and an empty 1-d tensor from {}", function()
      local s = cnn.tensor(2.5)
      assert.are.equal(0, s:dim())
      assert.are.equal(2.5, s:item())
      assert.are.same({ 0 }, cnn.tensor({}):shape())
    end)

    it("rejects ragged tables, naming the element", function()
      assert.error_matches(function() cnn.tensor({ { 1, 2 }, { 3 } }) end,
        "tensor: element %[2%] has length 1, expected 2 %(ragged table%)")
      assert.error_matches(function() cnn.tensor({ { 1, 2 }, 3 }) end,
        "tensor: element %[2%] is a number, expected a table of length 2")
      assert.error_matches(function() cnn.tensor({ 1, { 2 } }) end,
        "tensor: element %[2%] is a table, expected a number")
    end)

    it("rejects non-numeric elements and arguments", function()
      assert.error_matches(function() cnn.tensor({ { 1, "x" } }) end,
        "tensor: element %[1%]%[2%] is a string, expected a number")
      assert.error_matches(function() cnn.tensor("12") end, "table or number expected, got string")
    end)

    it("rejects nesting deeper than 8 levels", function()
      assert.error_matches(function() cnn.tensor({ { { { { { { { { 1 } } } } } } } } }) end,
        "tensor: table nested deeper than 8 levels")
    end)
  end)

  describe("zeros, ones, full, empty", function()
    it("accept varargs or a table as the shape", function()
      assert.are.same({ 2, 3 }, cnn.zeros(2, 3):shape())
      assert.are.same({ 2, 3 }, cnn.zeros({ 2, 3 }):shape())
      assert.are.same({ 4 }, cnn.ones(4):shape())
      assert.are.same({}, cnn.zeros():shape())
    end)

    it("fill with the right value", function()
      assert.are.equal(0, cnn.zeros(3, 4):sum())
      assert.are.equal(12, cnn.ones(3, 4):sum())
      assert.are.equal(-7.5 * 6, cnn.full({ 2, 3 }, -7.5):sum())
      assert.are.same({ 7, 7 }, cnn.full(2, 7):totable())
      assert.are.same({ 5, 0 }, cnn.empty(5, 0):shape())
    end)

    it("support 8 dimensions and refuse 9", function()
      local t = cnn.ones(1, 2, 1, 2, 1, 2, 1, 2)
      assert.are.equal(8, t:dim())
      assert.are.equal(16, t:sum())
      assert.error_matches(function() cnn.zeros(1, 1, 1, 1, 1, 1, 1, 1, 1) end,
        "zeros: 9 dimensions given, at most 8 supported")
    end)

    it("reject negative, fractional and non-numeric sizes", function()
      assert.error_matches(function() cnn.zeros(2, -1) end, "zeros: negative size %-1 in shape %(2, %-1%)")
      assert.error_matches(function() cnn.ones({ 2.5 }) end, "ones: size 1 is 2.5, not an integer")
      assert.error_matches(function() cnn.empty(2, "a") end, "empty: size 2 is a string, expected an integer")
      assert.error_matches(function() cnn.full({ 2 }, "x") end, "number expected")
    end)

    it("refuse shapes too large to allocate", function()
      assert.error_matches(function() cnn.zeros(1 << 40, 1 << 40) end, "zeros: invalid or too large shape")
    end)
  end)

  describe("arange", function()
    it("excludes the end, as PyTorch", function()
      assert.are.same({ 0, 1, 2 }, cnn.arange(3):totable())
      assert.are.same({ 2, 3, 4 }, cnn.arange(2, 5):totable())
      assert.are.same({ 1, 1.5, 2, 2.5 }, cnn.arange(1, 3, 0.5):totable())
      assert.are.same({ 5, 3, 1 }, cnn.arange(5, 0, -2):totable())
      assert.are.equal(0, cnn.arange(0):numel())
    end)

    it("rejects a zero step or one that moves away from the end", function()
      assert.error_matches(function() cnn.arange(0, 5, 0) end, "arange: invalid range")
      assert.error_matches(function() cnn.arange(0, 5, -1) end, "arange: step %-1 goes away from the end")
    end)
  end)

  describe("rand, randn and seed", function()
    it("draw uniform values in [0, 1)", function()
      cnn.seed(1)
      local t = cnn.rand(10000)
      assert.is_true(t:min() >= 0 and t:max() < 1)
      assert.is_true(math.abs(t:mean() - 0.5) < 0.02)
    end)

    it("draw standard normal values", function()
      cnn.seed(2)
      local t = cnn.randn(100, 100)
      assert.is_true(math.abs(t:mean()) < 0.03)
      local var = ((t - t:mean()) * (t - t:mean())):mean()
      assert.is_true(math.abs(var - 1) < 0.05)
    end)

    it("are reproducible after cnn.seed", function()
      cnn.seed(42)
      local a, b = cnn.rand(5), cnn.randn(3, 3)
      cnn.seed(42)
      assert.is_true(a:equal(cnn.rand(5)))
      assert.is_true(b:equal(cnn.randn(3, 3)))
      cnn.seed(43)
      assert.is_false(a:equal(cnn.rand(5)))
    end)
  end)
end)

describe("module functions", function()
  it("is_tensor tells tensors from other values", function()
    assert.is_true(cnn.is_tensor(cnn.zeros(1)))
    assert.is_false(cnn.is_tensor({}))
    assert.is_false(cnn.is_tensor(io.stdout))
  end)

  it("version is a string and clock is monotonic", function()
    assert.is_string(cnn.version)
    local a = cnn.clock()
    local b = cnn.clock()
    assert.is_true(b >= a)
  end)

  it("set_num_threads governs get_num_threads and checks its range", function()
    local n = cnn.get_num_threads()
    cnn.set_num_threads(1)
    assert.are.equal(1, cnn.get_num_threads())
    cnn.set_num_threads(n)
    assert.error_matches(function() cnn.set_num_threads(0) end, "set_num_threads: thread count 0 out of range")
  end)
end)

describe("shape queries", function()
  local t = cnn.zeros(2, 3, 4)

  it("shape, size, dim, numel and #", function()
    assert.are.same({ 2, 3, 4 }, t:shape())
    assert.are.same({ 2, 3, 4 }, t:size())
    assert.are.equal(3, t:size(2))
    assert.are.equal(4, t:size(-1))
    assert.are.equal(3, t:dim())
    assert.are.equal(24, t:numel())
    assert.are.equal(2, #t)
  end)

  it("size rejects dimensions out of range", function()
    assert.error_matches(function() t:size(4) end,
      "size: dimension 4 out of range for a 3%-d tensor %(expected 1..3 or %-3..%-1%)")
    assert.error_matches(function() t:size(0) end, "size: dimension 0 out of range")
  end)

  it("is_contiguous follows the strides", function()
    assert.is_true(t:is_contiguous())
    assert.is_false(t:transpose(1, 3):is_contiguous())
    assert.is_true(t:narrow(1, 2, 1):is_contiguous())
    assert.is_false(t:narrow(3, 1, 2):is_contiguous())
  end)
end)

describe("element access", function()
  it("get and set use 1-based indices", function()
    local t = cnn.zeros(2, 3)
    t:set(2, 3, 5)
    assert.are.equal(5, t:get(2, 3))
    assert.are.equal(5, t:sum())
    assert.are.equal(t, t:set(1, 1, 1))
  end)

  it("reject out-of-range indices and wrong index counts", function()
    local t = cnn.zeros(2, 3)
    assert.error_matches(function() t:get(3, 1) end, "get: index 3 out of range for dimension 1 of size 2")
    assert.error_matches(function() t:get(1, 0) end, "get: index 0 out of range for dimension 2 of size 3")
    assert.error_matches(function() t:set(1, 4, 0) end, "set: index 4 out of range for dimension 2 of size 3")
    assert.error_matches(function() t:get(1) end, "get: 1 indices given for a 2%-d tensor of shape %(2, 3%)")
    assert.error_matches(function() t:set(1, 1, "x") end, "number expected")
  end)

  it("item reads one-element tensors only", function()
    assert.are.equal(3, cnn.full({ 1, 1 }, 3):item())
    assert.error_matches(function() cnn.zeros(2):item() end,
      "item: tensor of shape %(2%) has 2 elements, expected 1")
  end)

  it("totable follows views", function()
    local t = cnn.arange(6):view(2, 3)
    assert.are.same({ { 0, 3 }, { 1, 4 }, { 2, 5 } }, t:transpose(1, 2):totable())
    assert.are.equal(4, cnn.tensor(4):totable())
  end)
end)

describe("views", function()
  it("view shares storage: a write through the view is seen by the base", function()
    local base = cnn.zeros(2, 6)
    local v = base:view(3, 4)
    v:set(3, 4, 9)
    assert.are.equal(9, base:get(2, 6))
  end)

  it("view infers one -1 size", function()
    assert.are.same({ 4, 6 }, cnn.zeros(2, 3, 4):view(-1, 6):shape())
    assert.are.same({ 24 }, cnn.zeros(2, 3, 4):view(-1):shape())
    assert.error_matches(function() cnn.zeros(4):view(-1, -1) end, "view: only one size may be %-1")
    assert.error_matches(function() cnn.zeros(2, 3):view(4, -1) end,
      "view: shape %(4, %-1%) is invalid for a tensor of shape %(2, 3%) %(6 elements%)")
    assert.error_matches(function() cnn.zeros(2, 3):view(7) end, "view: shape %(7%) is invalid")
  end)

  it("view refuses strides that do not allow it, reshape copies instead", function()
    local t = cnn.arange(6):view(2, 3):transpose(1, 2)
    assert.error_matches(function() t:view(6) end,
      "view: a tensor of shape %(3, 2%) with these strides cannot be viewed as %(6%); use reshape")
    local r = t:reshape(6)
    assert.are.same({ 0, 3, 1, 4, 2, 5 }, r:totable())
    r:set(1, 100)
    assert.are.equal(0, t:get(1, 1)) -- a copy
  end)

  it("view works across dimensions that are contiguous with each other", function()
    local t = cnn.arange(24):view(2, 3, 4):narrow(1, 2, 1) -- (1, 3, 4), offset 12
    local v = t:view(3, 2, 2)
    assert.are.equal(12, v:get(1, 1, 1))
    assert.are.equal(23, v:get(3, 2, 2))
    -- a (2, 3, 2) narrow of the last dim: the first two dims still merge
    local n = cnn.arange(24):view(2, 3, 4):narrow(3, 1, 2)
    local m = n:view(6, 2)
    assert.are.same({ 20, 21 }, m:select(1, 6):totable())
  end)

  it("reshape returns a view when it can", function()
    local t = cnn.zeros(4, 3)
    t:reshape(2, 6):fill_(1)
    assert.are.equal(12, t:sum())
  end)

  it("flatten merges a range of dimensions: a view when it can, a copy when it cannot", function()
    local t = cnn.arange(24):view(2, 3, 4)
    assert.are.same({ 24 }, t:flatten():shape())
    assert.are.same({ 2, 12 }, t:flatten(2):shape())
    assert.are.same({ 6, 4 }, t:flatten(1, 2):shape())
    assert.are.same({ 2, 12 }, t:flatten(-2, -1):shape())
    assert.are.same({ 2, 3, 4 }, t:flatten(2, 2):shape())
    assert.are.same({ 1 }, cnn.tensor(5):flatten():shape()) -- a 0-d tensor counts as 1-d
    assert.are.same({ 0, 6 }, cnn.zeros(0, 3, 2):flatten(2):shape())
    t:flatten(2):select(1, 2):fill_(-1) -- a view
    assert.are.equal(-12, t:select(1, 2):sum())
    local tr = cnn.arange(6):view(2, 3):transpose(1, 2) -- (3, 2), not contiguous: a copy
    local f = tr:flatten()
    assert.are.same({ 0, 3, 1, 4, 2, 5 }, f:totable())
    f:set(1, 100)
    assert.are.equal(0, tr:get(1, 1))
    for _, dims in ipairs({ { 3, 2 }, { 0, -1 }, { 1, 4 }, { -4, -1 } }) do
      local msg = string.format("flatten: dimensions %d..%d out of range for a 3-d tensor (expected start..end within " ..
        "1..3 or -3..-1, start not after end)", dims[1], dims[2])
      assert.error_matches(function() t:flatten(dims[1], dims[2]) end, (msg:gsub("%p", "%%%0")))
    end
  end)

  it("transpose and permute swap dimensions without copying", function()
    local t = cnn.arange(24):view(2, 3, 4)
    local p = t:permute(3, 1, 2)
    assert.are.same({ 4, 2, 3 }, p:shape())
    assert.are.equal(t:get(2, 3, 4), p:get(4, 2, 3))
    p:set(1, 2, 3, -1)
    assert.are.equal(-1, t:get(2, 3, 1))
    assert.are.same({ 4, 3, 2 }, t:transpose(1, -1):shape())
    assert.error_matches(function() t:permute(1, 1, 2) end, "permute: dimension 1 repeated")
    assert.error_matches(function() t:permute(1, 2) end, "permute: 2 dimensions given for a 3%-d tensor")
    assert.error_matches(function() t:permute(1, 2, 4) end, "permute: dimension 4 out of range 1..3")
    assert.error_matches(function() t:transpose(1, 5) end, "transpose: dimension 5 out of range")
  end)

  it("narrow and select take 1-based positions and alias the base", function()
    local t = cnn.arange(12):view(3, 4)
    local n = t:narrow(2, 2, 2)
    assert.are.same({ { 1, 2 }, { 5, 6 }, { 9, 10 } }, n:totable())
    n:fill_(0)
    assert.are.same({ 0, 0, 0, 3 }, t:select(1, 1):totable())
    local row = t:select(1, 3)
    assert.are.same({ 4 }, row:shape())
    assert.are.equal(0, t:select(1, 2):select(1, 4):dim() - 0 - 0) -- a 0-d tensor
    assert.are.equal(7, t:select(1, 2):select(1, 4):item())
    assert.error_matches(function() t:narrow(2, 4, 2) end,
      "narrow: start 4 and length 2 out of range for dimension 2 of size 4")
    assert.error_matches(function() t:narrow(1, 0, 1) end, "narrow: start 0")
    assert.error_matches(function() t:select(1, 4) end, "select: index 4 out of range for dimension 1 of size 3")
  end)

  it("contiguous returns the tensor itself or a contiguous copy", function()
    local t = cnn.zeros(2, 3)
    assert.are.equal(t, t:contiguous())
    local c = t:transpose(1, 2):contiguous()
    assert.is_true(c:is_contiguous())
    c:fill_(1)
    assert.are.equal(0, t:sum())
  end)

  it("clone copies the storage", function()
    local t = cnn.ones(3)
    local c = t:clone()
    c:fill_(5)
    assert.are.equal(3, t:sum())
    assert.are.equal(15, c:sum())
  end)

  it("keeps the storage alive after the base is collected", function()
    local v
    do
      local base = cnn.arange(10)
      v = base:narrow(1, 5, 3)
    end
    collectgarbage()
    collectgarbage()
    assert.are.same({ 4, 5, 6 }, v:totable())
  end)
end)

describe("fill and copy", function()
  it("fill_ and zero_ write only through the view", function()
    local t = cnn.ones(3, 3)
    t:narrow(1, 2, 1):fill_(4)
    assert.are.same({ 1, 4, 1 }, t:select(2, 1):totable())
    t:select(2, 3):zero_()
    assert.are.equal(3 + 12 + 3 - (1 + 4 + 1), t:sum())
    assert.are.equal(t, t:fill_(2))
  end)

  it("copy_ copies and broadcasts the source", function()
    local t = cnn.zeros(2, 3)
    t:copy_(cnn.tensor({ 1, 2, 3 }))
    assert.are.same({ { 1, 2, 3 }, { 1, 2, 3 } }, t:totable())
    t:copy_(cnn.arange(6):view(3, 2):transpose(1, 2))
    assert.are.same({ { 0, 2, 4 }, { 1, 3, 5 } }, t:totable())
  end)

  it("copy_ between overlapping views of one storage reads the old values", function()
    local t = cnn.arange(9):view(3, 3)
    t:copy_(t:transpose(1, 2))
    assert.are.same({ { 0, 3, 6 }, { 1, 4, 7 }, { 2, 5, 8 } }, t:totable())
  end)

  it("copy_ rejects incompatible shapes, printing both", function()
    assert.error_matches(function() cnn.zeros(2, 3):copy_(cnn.zeros(3, 2)) end,
      "copy_: source of shape %(3, 2%) cannot be copied into a tensor of shape %(2, 3%)")
    assert.error_matches(function() cnn.zeros(3):copy_(cnn.zeros(2, 3)) end,
      "copy_: source of shape %(2, 3%) cannot be copied into a tensor of shape %(3%)")
    assert.error_matches(function() cnn.zeros(3):copy_({ 1, 2, 3 }) end, "tensor expected, got table")
  end)
end)

describe("printing", function()
  it("shows values and shape", function()
    local s = tostring(cnn.tensor({ { 1.5, -2 }, { 3, 4 } }))
    assert.are.equal("tensor([[ 1.5000, -2.0000],\n        [ 3.0000,  4.0000]], shape=(2, 2))", s)
    assert.are.equal("tensor([0., 1., 2.], shape=(3))", tostring(cnn.arange(3)))
    assert.are.equal("tensor(2.5000, shape=())", tostring(cnn.tensor(2.5)))
    assert.are.equal("tensor([], shape=(0, 3))", tostring(cnn.zeros(0, 3)))
  end)

  it("shows inf and nan, and large or tiny values in scientific notation", function()
    local s = tostring(cnn.tensor({ 1, 0 }) / 0)
    assert.truthy(s:find("inf", 1, true) and s:find("nan", 1, true))
    assert.truthy(tostring(cnn.tensor({ 1e-6, 1 })):find("1.0000e-06", 1, true))
  end)

  it("summarizes large tensors", function()
    local s = tostring(cnn.arange(10000):view(100, 100))
    assert.truthy(s:find("...", 1, true))
    assert.truthy(s:find("9999.", 1, true))
    assert.truthy(s:find("shape=(100, 100)", 1, true))
    assert.is_true(#s < 2000)
  end)
end)

describe("lifetime", function()
  it("a <close> variable frees the tensor at the end of its scope", function()
    local keep
    do
      local t <close> = cnn.zeros(4)
      keep = t
      assert.are.equal(0, t:sum())
    end
    assert.error_matches(function() keep:sum() end, "tensor has been freed")
    assert.are.equal("tensor(<freed>)", tostring(keep))
  end)

  it("a view outlives the freed tensor it came from", function()
    local t = cnn.arange(4)
    local v = t:view(2, 2)
    t:free()
    assert.are.same({ { 0, 1 }, { 2, 3 } }, v:totable())
    assert.error_matches(function() t:get(1) end, "tensor has been freed")
  end)

  it("a loop of large temporaries stays within bounded memory without collectgarbage()", function()
    local before = H.rss_mib()
    if not before then return end
    local peak = before
    for _ = 1, 150 do
      local t = cnn.zeros(2, 1024, 1024) -- 8 MiB
      t:add_(1)
      peak = math.max(peak, H.rss_mib())
    end
    -- 1.2 GiB allocated in all; without the collector knowing the bytes, all of it would be resident
    assert.is_true(peak - before < 400, string.format("RSS grew by %.0f MiB", peak - before))
  end)

  it("tensors that grow old in generational mode are still freed", function()
    local before = H.rss_mib()
    if not before then return end
    collectgarbage("generational")
    local peak, window = before, {}
    for i = 1, 300 do
      window[i % 6 + 1] = cnn.zeros(2, 1024, 1024) -- 8 MiB, alive through several minor collections
      peak = math.max(peak, H.rss_mib())
    end
    collectgarbage("incremental")
    window = nil
    collectgarbage()
    -- 2.4 GiB allocated in all; before full collections were forced, nearly all of it stayed resident
    assert.is_true(peak - before < 1000, string.format("RSS grew by %.0f MiB", peak - before))
  end)
end)
