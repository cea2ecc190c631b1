-- Reused outputs: the kernels' optional destination tensor (into) and
-- m:reuse_outputs(), Torch7's behaviour of writing each pass's result into
-- the tensor the last pass returned.
local cnn = require "cnn"
local nn = cnn.nn

-- A call of each kernel that takes a destination, given one (nil: none).
local x4 = cnn.randn(2, 3, 8, 9)
local w = cnn.randn(4, 3, 3, 3)
local b = cnn.randn(4)
local y4 = cnn.conv2d(x4, w, b, { padding = 1 })
local dy4 = cnn.randn(y4:shape())
local _, pool_idx = cnn.max_pool2d(x4, 2)
local pooled_dy = cnn.randn(2, 3, 4, 4)
local a2, b2 = cnn.randn(5, 7), cnn.randn(7, 6)
local gamma3, beta3 = cnn.randn(3), cnn.randn(3)
local kernels = {
  conv2d = function(into) return cnn.conv2d(x4, w, b, { padding = 1 }, into) end,
  conv2d_backward = function(into)
    return cnn.conv2d_backward(x4, w, dy4, { padding = 1 }, nil, nil, true, into)
  end,
  max_pool2d = function(into) return (cnn.max_pool2d(x4, 2, nil, into)) end,
  max_pool2d_backward = function(into) return cnn.max_pool2d_backward(x4, pool_idx, pooled_dy, 2, nil, into) end,
  relu = function(into) return cnn.relu(x4, into) end,
  relu_backward = function(into) return cnn.relu_backward(x4, cnn.relu(x4), x4, into) end,
  leaky_relu = function(into) return cnn.leaky_relu(x4, 0.2, into) end,
  leaky_relu_backward = function(into) return cnn.leaky_relu_backward(x4, x4, x4, 0.2, into) end,
  sigmoid = function(into) return cnn.sigmoid(x4, into) end,
  tanh = function(into) return cnn.tanh(x4, into) end,
  matmul = function(into) return cnn.matmul(a2, b2, into) end,
  batch_norm = function(into)
    return (cnn.batch_norm(x4, cnn.zeros(3), cnn.ones(3), gamma3, beta3, true, 0.1, 1e-5, into))
  end,
  batch_norm_backward = function(into)
    return cnn.batch_norm_backward(x4, x4, cnn.full(3, 2), cnn.full(3, 0.5), cnn.full(3, 1.5), true, nil, nil, true, into)
  end,
}

describe("a kernel's destination tensor (into)", function()
  local names = {}
  for name in pairs(kernels) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    it(name .. ": written when it fits, else a new tensor and the offer left alone", function()
      local call = kernels[name]
      local expected = call(nil)
      local into = cnn.full(expected:shape(), 7)
      local got = call(into)
      assert.is_true(rawequal(got, into), "the result is the destination")
      assert.is_true(got:equal(expected))
      -- another shape, or a view that is not contiguous: a new result, the tensor untouched
      local shape = expected:shape()
      shape[#shape] = shape[#shape] + 1
      local other = cnn.full(shape, 7)
      got = call(other)
      assert.is_false(rawequal(got, other))
      assert.is_true(got:equal(expected))
      assert.are.equal(7, other:min())
      local d = expected:dim()
      local swapped = expected:shape()
      swapped[d - 1], swapped[d] = swapped[d], swapped[d - 1]
      local transposed = cnn.full(swapped, 7):transpose(d - 1, d) -- the shape, not contiguous
      assert.is_false(transposed:is_contiguous())
      got = call(transposed)
      assert.is_false(rawequal(got, transposed))
      assert.is_true(got:equal(expected))
      assert.are.equal(7, transposed:min())
    end)
  end

  it("is never one of the inputs: relu(x, x) and conv2d into x leave x alone", function()
    local x = cnn.randn(2, 3, 5, 5)
    local saved = x:clone()
    local r = cnn.relu(x, x)
    assert.is_false(rawequal(r, x))
    assert.is_true(x:equal(saved))
    assert.is_true(r:equal(cnn.relu(saved)))
    local w3 = cnn.randn(3, 3, 3, 3)
    local y = cnn.conv2d(x, w3, nil, { padding = 1 }, x)
    assert.is_false(rawequal(y, x))
    assert.is_true(x:equal(saved))
    -- a view of an input shares its storage: not taken either
    local m = cnn.randn(4, 4)
    local view = m:narrow(1, 1, 4)
    local p = cnn.matmul(m, m, view)
    assert.is_false(rawequal(p, view))
  end)

  it("must be a tensor or nil: the error names the kernel", function()
    local ok, err = pcall(cnn.relu, x4, 3)
    assert.is_false(ok)
    assert.matches("relu: into %(argument 2%) must be a tensor or nil, got number", err)
    ok, err = pcall(cnn.conv2d, x4, w, b, nil, "out")
    assert.is_false(ok)
    assert.matches("conv2d: into %(argument 5%) must be a tensor or nil, got string", err)
    ok, err = pcall(cnn.matmul, a2, b2, {})
    assert.is_false(ok)
    assert.matches("matmul: into %(argument 3%) must be a tensor or nil, got table", err)
  end)
end)

-- Two copies of one network, one reusing its outputs.
local function twins(build)
  cnn.seed(7)
  local a = build()
  cnn.seed(7)
  local b = build():reuse_outputs()
  return a, b
end

local function small_net()
  return nn.Sequential {
    nn.Conv2d(2, 4, 3, { padding = 1 }), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(4, 6, 3), nn.LeakyReLU(0.1), nn.Tanh(),
    nn.Flatten(), nn.Linear(6 * 2 * 2, 5), nn.Sigmoid(), nn.Linear(5, 3),
  }
end

describe("m:reuse_outputs()", function()
  it("returns the same tensors pass after pass, holding the latest results", function()
    local plain, reusing = twins(small_net)
    local x1, x2 = cnn.randn(3, 2, 8, 8), cnn.randn(3, 2, 8, 8)
    local first = reusing:forward(x1)
    local kept = first:clone()
    local second = reusing:forward(x2)
    assert.is_true(rawequal(first, second), "the second pass wrote into the first's output")
    assert.is_true(second:equal(plain:forward(x2)))
    assert.is_false(kept:equal(second))
    for i, m in ipairs(reusing.modules) do
      if m.output then assert.is_true(m.output:equal(plain.modules[i].output), "module " .. i) end
    end
    -- without reuse every pass returns a new tensor
    assert.is_false(rawequal(plain:forward(x1), plain:forward(x1)))
  end)

  it("trains exactly as without it, across batch sizes", function()
    local plain, reusing = twins(small_net)
    local crit = nn.CrossEntropyLoss()
    local opt_a = cnn.optim.SGD(plain, { lr = 0.1, momentum = 0.9 })
    local opt_b = cnn.optim.SGD(reusing, { lr = 0.1, momentum = 0.9 })
    cnn.seed(3)
    for step = 1, 6 do
      local n = step == 4 and 2 or 5 -- a smaller batch in between: new buffers, then the old size again
      local x = cnn.randn(n, 2, 8, 8)
      local labels = {}
      for i = 1, n do labels[i] = (i + step) % 3 + 1 end
      for _, pair in ipairs({ { plain, opt_a }, { reusing, opt_b } }) do
        local m, opt = pair[1], pair[2]
        opt:zero_grad()
        local s = m:forward(x)
        crit:forward(s, labels)
        m:backward(x, crit:backward(s, labels))
        opt:step()
      end
      assert.is_true(reusing.output:equal(plain.output), "output at step " .. step)
      assert.is_true(reusing.grad_input:equal(plain.grad_input), "input gradient at step " .. step)
      local pa, pb = plain:parameters(), reusing:parameters()
      for i = 1, #pa do assert.is_true(pb[i]:equal(pa[i]), "parameter " .. i .. " at step " .. step) end
    end
  end)

  it("gives a Sequential's children two gradient buffers to take turns in, and trains as without", function()
    local function net()
      local relu = function() return nn.ReLU({ inplace = true }) end
      return nn.Sequential {
        nn.Conv2d(2, 4, 3, { padding = 1 }), relu(), nn.Conv2d(4, 4, 3, { padding = 1 }), relu(), nn.MaxPool2d(2),
        nn.Residual(nn.Sequential { nn.Conv2d(4, 4, 3, { padding = 1 }), relu() }),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 5), relu(), nn.Linear(5, 3),
      }
    end
    local plain, reusing = twins(net)
    local crit = nn.CrossEntropyLoss()
    local opts = { [plain] = cnn.optim.SGD(plain, { lr = 0.1 }), [reusing] = cnn.optim.SGD(reusing, { lr = 0.1 }) }
    cnn.seed(4)
    for step = 1, 5 do
      local n = step == 3 and 2 or 4
      local x = cnn.randn(n, 2, 8, 8)
      local labels = {}
      for i = 1, n do labels[i] = (i * step) % 3 + 1 end
      for _, m in ipairs({ plain, reusing }) do
        opts[m]:zero_grad()
        local s = m:forward(x)
        crit:forward(s, labels)
        m:backward(x, crit:backward(s, labels))
        opts[m]:step()
      end
      assert.is_true(reusing.output:equal(plain.output), "output at step " .. step)
      assert.is_true(reusing.grad_input:equal(plain.grad_input), "input gradient at step " .. step)
      assert.is_true(reusing.modules[2].grad_input:equal(plain.modules[2].grad_input), "step " .. step)
      local _, ga = plain:parameters()
      local _, gb = reusing:parameters()
      for i = 1, #ga do assert.is_true(gb[i]:equal(ga[i]), "gradient " .. i .. " at step " .. step) end
    end
    -- the in-place ReLUs after a convolution or a Linear wrote their gradients over their outputs
    assert.is_true(rawequal(reusing.modules[2].grad_input, reusing.modules[2].output))
    assert.is_true(rawequal(reusing.modules[9].grad_input, reusing.modules[8].output))
    -- so the buffers grew to the largest gradient written in one (the pooling's, of a conv's output) and the
    -- largest beside it (the Residual's), not to two of the largest
    local b = reusing._grad_buffers
    assert.are.equal(2, #b)
    local sizes = { b[1]:numel(), b[2]:numel() }
    table.sort(sizes)
    assert.are.same({ 4 * 4 * 4 * 4, 4 * 4 * 8 * 8 }, sizes)
    -- the middle children's gradients were overwritten by the ones after them: the pooling's by the
    -- convolution's before it
    assert.is_false(reusing.modules[5].grad_input:equal(plain.modules[5].grad_input))
    reusing:reuse_outputs(false)
    assert.is_nil(reusing._grad_buffers)
  end)

  it("writes an in-place ReLU's gradient over its output only where no one reads that output", function()
    local relu = function() return nn.ReLU({ inplace = true }) end
    -- a Sigmoid reads its output in backward; a last child's output is the network's
    local plain, reusing = twins(function()
      return nn.Sequential { nn.Linear(3, 4), nn.Sigmoid(), relu(), nn.Linear(4, 4), relu() }
    end)
    local x, dy = cnn.randn(5, 3), cnn.randn(5, 4)
    for _ = 1, 2 do
      local outputs = {}
      for _, m in ipairs({ plain, reusing }) do
        m:zero_grad()
        outputs[m] = m:forward(x):clone()
        m:backward(x, dy)
      end
      assert.is_true(reusing.output:equal(outputs[reusing]), "the network's output after backward")
      assert.is_true(reusing.modules[2].output:equal(plain.modules[2].output), "the Sigmoid's output")
      assert.is_false(rawequal(reusing.modules[3].grad_input, reusing.modules[3].output))
      assert.is_true(reusing.grad_input:equal(plain.grad_input))
      local _, ga = plain:parameters()
      local _, gb = reusing:parameters()
      for i = 1, #ga do assert.is_true(gb[i]:equal(ga[i]), "gradient " .. i) end
    end
  end)

  it("shares no gradient buffers when a child's input is not a tensor", function()
    local Sum = nn.Module:extend("TestSum") -- takes a table of two tensors
    function Sum:update_output(t) return t[1] + t[2] end
    function Sum:update_grad_input(t, dy) return { dy, dy } end
    local m = nn.Sequential { Sum(), nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1) }:reuse_outputs()
    local a, b = cnn.randn(4, 3), cnn.randn(4, 3)
    m:forward({ a, b })
    local g = m:backward({ a, b }, cnn.ones(4, 1))
    assert.are.equal("table", type(g))
    assert.is_nil(m._grad_buffers)
    assert.are.same({ 4, 3 }, g[1]:shape())
  end)

  it("can be turned off again, and reaches every child", function()
    local m = small_net():reuse_outputs()
    for _, child in ipairs(m.modules) do assert.is_true(child.reuse) end
    m:reuse_outputs(false)
    for _, child in ipairs(m.modules) do assert.is_false(child.reuse) end
    local x = cnn.randn(1, 2, 8, 8)
    assert.is_false(rawequal(m:forward(x), m:forward(x)))
  end)
end)

describe("nn.Sequential with an in-place ReLU after a Conv2d or a Linear", function()
  -- The same network with in-place ReLUs (rectified by the layer before them in its own call) and with plain
  -- ones: 32 channels at 14x14 take Winograd's F(2x2), whose output transform rectifies; 3 -> 32 the
  -- implicit product, whose row stores do
  local function net(inplace)
    local relu = function() return nn.ReLU(inplace and { inplace = true } or nil) end
    return nn.Sequential {
      nn.Conv2d(3, 32, 3, { padding = 1 }), relu(), nn.Conv2d(32, 32, 3, { padding = 1 }), relu(), nn.MaxPool2d(2),
      nn.Flatten(), nn.Linear(32 * 7 * 7, 6), relu(), nn.Linear(6, 3),
    }
  end

  it("rectifies in the layer's call, with the same results and gradients as plain ReLUs", function()
    cnn.seed(12)
    local fused = net(true)
    cnn.seed(12)
    local plain = net(false)
    local calls, update = 0, nn.ReLU.update_output
    nn.ReLU.update_output = function(...)
      calls = calls + 1
      return update(...)
    end
    local ok, err = pcall(function()
      local crit = nn.CrossEntropyLoss()
      local opts = { [fused] = cnn.optim.SGD(fused, { lr = 0.05 }), [plain] = cnn.optim.SGD(plain, { lr = 0.05 }) }
      for step = 1, 3 do
        local x = cnn.randn(2, 3, 14, 14)
        for _, m in ipairs({ fused, plain }) do
          opts[m]:zero_grad()
          local s = m:forward(x)
          crit:forward(s, { 1, 3 })
          m:backward(x, crit:backward(s, { 1, 3 }))
          opts[m]:step()
        end
        assert.are.equal(3 * step, calls) -- the plain network's three, none of the fused one's
        assert.is_true(fused.output:equal(plain.output), "output at step " .. step)
        for _, i in ipairs({ 2, 4, 8 }) do
          assert.is_true(rawequal(fused.modules[i].output, fused.modules[i - 1].output), "ReLU " .. i)
          assert.is_true(fused.modules[i].output:equal(plain.modules[i].output), "ReLU " .. i .. " at step " .. step)
        end
        local pa, pb = plain:parameters(), fused:parameters()
        for i = 1, #pa do assert.is_true(pb[i]:equal(pa[i]), "parameter " .. i .. " at step " .. step) end
      end
    end)
    nn.ReLU.update_output = update
    assert(ok, err)
  end)

  it("leaves alone a layer whose class changed its forward pass, and a subclass of ReLU", function()
    local Doubled = nn.Conv2d:extend("TestDoubledConv")
    function Doubled:update_output(x) return nn.Conv2d.update_output(self, x) * 2 end
    local Capped = nn.ReLU:extend("TestCappedReLU")
    function Capped:update_output(x) return nn.ReLU.update_output(self, x):clamp(0, 0.5) end
    cnn.seed(5)
    local m = nn.Sequential { Doubled(1, 2, 3), nn.ReLU({ inplace = true }), nn.Flatten(), nn.Linear(2, 2) }
    local x = cnn.randn(1, 1, 3, 3)
    local y = m.modules[1].weight:view(2, 9):matmul(x:view(9, 1)):view(2) + m.modules[1].bias
    assert.is_true(m:forward(x):allclose(cnn.linear(cnn.relu(y * 2):view(1, 2), m.modules[4].weight, m.modules[4].bias)))
    local c = nn.Sequential { nn.Linear(3, 4), Capped({ inplace = true }) }
    local ones = cnn.full({ 1, 3 }, 10)
    assert.is_true(cnn.linear(ones, c.modules[1].weight, c.modules[1].bias):max() > 0.5) -- there is something to cap
    assert.is_true(c:forward(ones):max() <= 0.5)
  end)
end)

