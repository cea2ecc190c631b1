-- cnn.nn: every layer and criterion against PyTorch's values and against finite
-- differences, the module protocol, containers, custom layers and error paths.
local cnn = require "cnn"
local nn = cnn.nn
local R = require "support.reference"
local G = require "support.gradcheck"

-- The cnnlua module for a PyTorch fixture case.
local function build(name, c)
  if name:match("^linear") then return nn.Linear(c.n_in, c.n_out, { bias = c.bias }) end
  if name:match("^locally_connected") then return nn.LocallyConnected2d(c.cin, c.cout, c.k, c.opts) end
  if name:match("^blurpool") then return nn.BlurPool2d(c.c, { filter_size = c.filter_size, stride = c.stride }) end
  if name:match("^conv") then return nn.Conv2d(c.cin, c.cout, c.k, c.opts) end
  if name:match("^maxpool") then return nn.MaxPool2d(c.k, c.opts) end
  if name:match("^avgpool") then return nn.AvgPool2d(c.k, c.opts) end
  if name:match("^adaptive") then return nn.AdaptiveAvgPool2d(c.out) end
  if name:match("^batchnorm2d") then return nn.BatchNorm2d(c.c, { momentum = c.momentum, eps = c.eps }) end
  if name:match("^batchnorm1d") then return nn.BatchNorm1d(c.c, { momentum = c.momentum, eps = c.eps }) end
  if name == "relu" then return nn.ReLU() end
  if name == "leaky_relu" then return nn.LeakyReLU(c.slope) end
  if name == "sigmoid" then return nn.Sigmoid() end
  if name == "tanh" then return nn.Tanh() end
  if name:match("^log_softmax") then return nn.LogSoftmax(c.dim) end
  if name:match("^softmax") then return nn.Softmax(c.dim) end
  error("no module for fixture " .. name)
end

describe("layers against PyTorch", function()
  local cases = R.fixture("layers")
  local names = {}
  for name in pairs(cases) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    it(name .. ": output, input gradient and parameter gradients", function()
      local case = cases[name]
      local m = build(name, case.config)
      if case.weight then m.weight:copy_(R.tensor(case.weight)) end
      if case.bias then m.bias:copy_(R.tensor(case.bias)) end
      if case.initial_running_mean then
        m.running_mean:copy_(R.tensor(case.initial_running_mean))
        m.running_var:copy_(R.tensor(case.initial_running_var))
      end
      if case.config.training == false then m:evaluate() end
      local x = R.tensor(case.input)
      R.assert_close(m:forward(x), case.output, "output")
      R.assert_close(m:backward(x, R.tensor(case.grad_output)), case.grad_input, "grad_input")
      if case.grad_weight then R.assert_close(m.grad_weight, case.grad_weight, "grad_weight") end
      if case.grad_bias then R.assert_close(m.grad_bias, case.grad_bias, "grad_bias") end
      if case.running_mean then
        R.assert_close(m.running_mean, case.running_mean, "running_mean")
        R.assert_close(m.running_var, case.running_var, "running_var")
      end
    end)
  end
end)

describe("criteria against PyTorch", function()
  local cases = R.fixture("criteria")
  local classes = { cross_entropy = nn.CrossEntropyLoss, nll = nn.NLLLoss, mse = nn.MSELoss }
  for name, case in pairs(cases) do
    it(name .. ": loss and gradient", function()
      local c = classes[name:match("^(%a+_?%a-)_%a+$")] or classes[name:match("^(%a+)_")]
      c = c({ reduction = case.reduction })
      local x = R.tensor(case.input)
      local target = case.target.shape and R.tensor(case.target) or case.target
      local loss = c:forward(x, target)
      assert.is_true(math.abs(loss - case.loss) <= 1e-5 + 1e-4 * math.abs(case.loss),
        string.format("loss %.9g, PyTorch %.9g", loss, case.loss))
      R.assert_close(c:backward(x, target), case.grad_input, "grad_input")
    end)
  end

  it("accept labels as a 1-d tensor too", function()
    local case = cases.cross_entropy_mean
    local c = nn.CrossEntropyLoss()
    local x = R.tensor(case.input)
    assert.are.equal(c:forward(x, case.target), c:forward(x, cnn.tensor(case.target)))
  end)
end)

describe("finite-difference gradient checks", function()
  before_each(function()
    cnn.seed(11)
    math.randomseed(11)
  end)

  local conv_cases = {
    { "plain", 3, 4, 3, {}, { 2, 3, 6, 6 } },
    { "stride and padding", 2, 3, 3, { stride = 2, padding = 1 }, { 2, 2, 7, 6 } },
    { "dilation", 2, 2, 3, { dilation = 2, padding = 1 }, { 1, 2, 7, 7 } },
    { "groups", 4, 6, 3, { groups = 2, padding = 1 }, { 1, 4, 5, 5 } },
    { "depthwise", 3, 3, 3, { groups = 3 }, { 2, 3, 5, 5 } },
    { "rectangular kernel", 2, 3, { 3, 2 }, { stride = { 1, 2 }, padding = { 1, 0 } }, { 1, 2, 6, 7 } },
    { "1x1", 4, 2, 1, {}, { 2, 4, 3, 3 } },
    { "no bias", 2, 2, 2, { bias = false }, { 1, 2, 4, 4 } },
    { "circular padding", 2, 2, 3, { padding = 1, padding_mode = "circular" }, { 1, 2, 5, 6 } },
    { "reflect padding, stride 2", 2, 2, 3, { padding = 2, stride = 2, padding_mode = "reflect" }, { 1, 2, 6, 5 } },
    { "replicate padding", 1, 2, { 3, 2 }, { padding = { 1, 2 }, padding_mode = "replicate" }, { 1, 1, 4, 5 } },
  }
  for _, c in ipairs(conv_cases) do
    it("Conv2d, " .. c[1], function()
      G.check_module(nn.Conv2d(c[2], c[3], c[4], c[5]), cnn.randn(c[6]))
    end)
  end

  it("Linear, with and without bias, batched and single", function()
    G.check_module(nn.Linear(4, 3), cnn.randn(5, 4))
    G.check_module(nn.Linear(4, 3, { bias = false }), cnn.randn(2, 4))
    G.check_module(nn.Linear(3, 2), cnn.randn(3))
  end)

  local pool_cases = {
    { "MaxPool2d 2", nn.MaxPool2d, 2, {} },
    { "MaxPool2d 3 stride 2 padding 1", nn.MaxPool2d, 3, { stride = 2, padding = 1 } },
    { "MaxPool2d ceil_mode", nn.MaxPool2d, 3, { stride = 2, ceil_mode = true } },
    { "MaxPool2d dilation", nn.MaxPool2d, 2, { stride = 1, dilation = 2 } },
    { "MaxPool2d rectangular", nn.MaxPool2d, { 2, 3 }, { stride = { 1, 2 } } },
    { "AvgPool2d 2", nn.AvgPool2d, 2, {} },
    { "AvgPool2d padding, count_include_pad", nn.AvgPool2d, 3, { stride = 2, padding = 1 } },
    { "AvgPool2d padding, exclude pad", nn.AvgPool2d, 3, { stride = 2, padding = 1, count_include_pad = false } },
    { "AvgPool2d ceil_mode", nn.AvgPool2d, 3, { stride = 2, ceil_mode = true } },
    { "AvgPool2d rectangular", nn.AvgPool2d, { 3, 2 }, { stride = { 2, 1 } } },
  }
  for _, c in ipairs(pool_cases) do
    it(c[1], function()
      G.check_module(c[2](c[3], c[4]), G.distinct(2, 2, 7, 7))
    end)
  end

  it("LocallyConnected2d, with and without bias", function()
    G.check_module(nn.LocallyConnected2d(2, 3, 3, { input_size = { 5, 4 }, padding = 1 }), cnn.randn(2, 2, 5, 4))
    G.check_module(nn.LocallyConnected2d(1, 2, 2, { input_size = { 5, 5 }, stride = 2, bias = false }),
      cnn.randn(2, 1, 5, 5))
  end)

  it("BlurPool2d of sizes 3 and 5", function()
    G.check_module(nn.BlurPool2d(2), cnn.randn(2, 2, 6, 6))
    G.check_module(nn.BlurPool2d(1, { filter_size = 5, stride = 1 }), cnn.randn(1, 1, 5, 6))
  end)

  it("AdaptiveAvgPool2d", function()
    G.check_module(nn.AdaptiveAvgPool2d({ 3, 2 }), cnn.randn(2, 2, 7, 5))
  end)

  it("BatchNorm2d and BatchNorm1d, training and evaluation", function()
    G.check_module(nn.BatchNorm2d(3), cnn.randn(3, 3, 3, 3), { rtol = 3e-2, atol = 3e-3 })
    G.check_module(nn.BatchNorm1d(4), cnn.randn(6, 4), { rtol = 3e-2, atol = 3e-3 })
    G.check_module(nn.BatchNorm1d(2), cnn.randn(3, 2, 4), { rtol = 3e-2, atol = 3e-3 })
    local bn = nn.BatchNorm2d(2)
    bn.running_var:fill_(2)
    G.check_module(bn:evaluate(), cnn.randn(2, 2, 3, 3))
  end)

  it("activations", function()
    G.check_module(nn.ReLU(), G.distinct(3, 5))
    G.check_module(nn.LeakyReLU(0.1), G.distinct(3, 5))
    G.check_module(nn.Sigmoid(), cnn.randn(3, 5))
    G.check_module(nn.Tanh(), cnn.randn(3, 5))
  end)

  it("Softmax and LogSoftmax along each dimension", function()
    G.check_module(nn.Softmax(2), cnn.randn(3, 5))
    G.check_module(nn.LogSoftmax(2), cnn.randn(3, 5))
    G.check_module(nn.Softmax(1), cnn.randn(3, 2, 2))
    G.check_module(nn.LogSoftmax(-1), cnn.randn(2, 2, 3))
  end)

  it("Dropout with a fixed mask, Flatten, View, Identity", function()
    G.check_module(nn.Dropout(0.3), cnn.randn(4, 5), { seed = 5 })
    G.check_module(nn.Flatten(), cnn.randn(2, 3, 2, 2))
    G.check_module(nn.View(-1, 6), cnn.randn(2, 3, 2))
    G.check_module(nn.Identity(), cnn.randn(3))
  end)

  it("Sequential and Residual", function()
    G.check_module(nn.Sequential { nn.Conv2d(2, 3, 3, { padding = 1 }), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
      nn.Linear(12, 3) }, cnn.randn(2, 2, 4, 4))
    G.check_module(nn.Residual(nn.Sequential { nn.Linear(4, 4), nn.Tanh() }), cnn.randn(3, 4))
    G.check_module(nn.Residual(nn.Linear(4, 2), nn.Linear(4, 2)), cnn.randn(3, 4))
  end)

  it("criteria", function()
    G.check_criterion(nn.CrossEntropyLoss(), cnn.randn(4, 5), { 1, 5, 2, 2 })
    G.check_criterion(nn.CrossEntropyLoss({ reduction = "sum" }), cnn.randn(3, 4), { 4, 1, 2 })
    G.check_criterion(nn.NLLLoss(), cnn.randn(4, 5), { 3, 1, 5, 2 })
    G.check_criterion(nn.MSELoss(), cnn.randn(3, 4), cnn.randn(3, 4))
    G.check_criterion(nn.MSELoss({ reduction = "sum" }), cnn.randn(5), cnn.randn(5))
  end)
end)

describe("the module protocol", function()
  it("parameters come in matching order, gradients exist and are zero from construction", function()
    local m = nn.Sequential { nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, { bias = false }) }
    local params, grads = m:parameters()
    assert.are.equal(3, #params)
    assert.are.equal(3, #grads)
    assert.are.equal(m.modules[1].weight, params[1])
    assert.are.equal(m.modules[1].grad_bias, grads[2])
    assert.are.equal(m.modules[3].grad_weight, grads[3])
    for _, g in ipairs(grads) do assert.are.equal(0, g:abs():sum()) end
    assert.are.equal(3 * 4 + 4 + 4 * 2, m:num_parameters())
  end)

  it("backward accumulates parameter gradients until zero_grad", function()
    local m = nn.Linear(3, 2)
    local x, dy = cnn.randn(4, 3), cnn.randn(4, 2)
    m:forward(x)
    m:backward(x, dy)
    local once = m.grad_weight:clone()
    m:backward(x, dy)
    assert.is_true(m.grad_weight:allclose(once * 2))
    m:zero_grad()
    assert.are.equal(0, m.grad_weight:abs():sum())
  end)

  it("keeps output and grad_input", function()
    local m = nn.Tanh()
    local y = m:forward(cnn.zeros(2))
    assert.are.equal(y, m.output)
    local g = m:backward(cnn.zeros(2), cnn.ones(2))
    assert.are.equal(g, m.grad_input)
  end)

  it("initialises as PyTorch: uniform within 1/sqrt(fan_in)", function()
    cnn.seed(3)
    local conv = nn.Conv2d(4, 8, 3)
    local bound = 1 / math.sqrt(4 * 9)
    assert.is_true(conv.weight:abs():max() <= bound)
    assert.is_true(conv.weight:abs():max() > 0.9 * bound)
    assert.is_true(conv.bias:abs():max() <= bound)
    local lin = nn.Linear(100, 10)
    assert.is_true(lin.weight:abs():max() <= 0.1 and lin.weight:abs():max() > 0.09)
  end)

  it("ReLU({inplace = true}) rectifies its input and gives the same results and gradients", function()
    local function net(inplace)
      cnn.seed(63)
      return nn.Sequential { nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace and { inplace = true } or nil),
        nn.Flatten(), nn.Linear(4 * 3 * 3, 2) }
    end
    local x, gy = cnn.randn(3, 1, 5, 5), cnn.randn(3, 2)
    local a, b = net(false), net(true)
    assert.is_true(a:forward(x):equal(b:forward(x)))
    assert.is_true(rawequal(b.modules[2].output, b.modules[3].output)) -- rectified in place
    assert.is_true(b.modules[3].output:min() >= 0)
    assert.is_true(a:backward(x, gy):equal(b:backward(x, gy)))
    local _, ga = a:parameters()
    local _, gb = b:parameters()
    for i = 1, #ga do assert.is_true(ga[i]:equal(gb[i]), "parameter " .. i) end
    local view = cnn.randn(4, 4):transpose(1, 2) -- not contiguous: a new tensor, the input untouched
    local before = view:clone()
    assert.is_true(nn.ReLU({ inplace = true }):forward(view):equal(cnn.relu(before)))
    assert.is_true(view:equal(before))
    assert.has_error(function() cnn.relu_(view) end, "relu_: tensor must be contiguous (use relu for a view)")
    assert.error_matches(function() nn.ReLU({ in_place = true }) end, "nn.ReLU: unknown option 'in_place'")
    assert.error_matches(function() nn.ReLU(true) end, "nn.ReLU: options must be a table, got boolean")
    assert.are.equal("nn.ReLU(inplace)", tostring(nn.ReLU({ inplace = true })))
  end)

  it("ReLU({inplace = true}) masks the gradient it is given in place and returns it", function()
    local r, x = nn.ReLU({ inplace = true }), cnn.randn(3, 7)
    local xc = x:clone()
    local y = r:forward(x)
    local dy = cnn.randn(3, 7)
    local expect = cnn.relu_backward(xc, y, dy)
    local dx = r:backward(x, dy)
    assert.is_true(rawequal(dx, dy) and dy:equal(expect))
    local view = cnn.randn(7, 3):transpose(1, 2) -- not contiguous: a new tensor, the gradient untouched
    local before = view:clone()
    local dv = r:backward(x, view)
    assert.is_true(dv:equal(cnn.relu_backward(y, y, before)) and view:equal(before))
    assert.is_true(cnn.relu_backward_(y, before):equal(dv))
    assert.error_matches(function() cnn.relu_backward_(y, view) end,
      "relu_backward_: grad_output must be contiguous %(use relu_backward for a view%)")
    assert.error_matches(function() cnn.relu_backward_(y, cnn.zeros(3, 6)) end,
      "relu_backward_: grad_output has shape %(3, 6%) but output has shape %(3, 7%)")
    -- into the output itself (dst y), from a contiguous gradient or a view
    for _, g in ipairs({ before:clone(), view }) do
      local yy = y:clone()
      local want = cnn.relu_backward(yy, yy, g)
      assert.is_true(rawequal(cnn.relu_backward_(yy, g, yy), yy) and yy:equal(want))
    end
    assert.error_matches(function() cnn.relu_backward_(y, before, y:clone()) end,
      "relu_backward_: dst must be the output or the grad_output given %(or nil%)")
    assert.error_matches(function() cnn.relu_backward_(view, before, view) end,
      "relu_backward_: output must be contiguous")
    -- a Residual whose body ends in one: the identity shortcut still gets the unmasked gradient
    local function block(inplace)
      cnn.seed(64)
      return nn.Residual(nn.Sequential { nn.Linear(5, 5), nn.ReLU(inplace and { inplace = true } or nil) })
    end
    local a, b, xs, g = block(false), block(true), cnn.randn(4, 5), cnn.randn(4, 5)
    assert.is_true(a:forward(xs):equal(b:forward(xs)))
    assert.is_true(a:backward(xs, g:clone()):equal(b:backward(xs, g:clone())))
    assert.is_true(a:update_grad_input(xs, g:clone()):equal(b:update_grad_input(xs, g:clone())))
  end)

  it("backward(x, gy, false) adds the same parameter gradients and skips the input gradient", function()
    cnn.seed(61)
    local function net()
      cnn.seed(62)
      return nn.Sequential { nn.Conv2d(1, 3, 3, { padding = 1 }), nn.BatchNorm2d(3), nn.ReLU(),
        nn.Residual(nn.Sequential { nn.Conv2d(3, 3, 3, { padding = 1 }) }), nn.Flatten(), nn.Linear(3 * 5 * 5, 2) }
    end
    local x, gy = cnn.randn(2, 1, 5, 5), cnn.randn(2, 2)
    local a, b = net(), net()
    a:forward(x)
    b:forward(x)
    local gx = a:backward(x, gy)
    assert.are.same({ 2, 1, 5, 5 }, gx:shape())
    assert.is_nil(b:backward(x, gy, false))
    assert.is_nil(b.grad_input)
    assert.is_nil(b.modules[1].grad_input)
    local _, ga = a:parameters()
    local _, gb = b:parameters()
    assert.are.equal(8, #ga)
    for i = 1, #ga do assert.is_true(ga[i]:equal(gb[i]), "parameter " .. i) end
    local first = nn.BatchNorm2d(1)
    first:forward(x)
    assert.is_nil(first:backward(x, cnn.randn(2, 1, 5, 5), false))
    assert.is_true(first.grad_weight:abs():sum() > 0)
  end)

  it("train and evaluate switch BatchNorm and Dropout through containers", function()
    local m = nn.Sequential { nn.BatchNorm1d(3), nn.Dropout(0.5) }
    assert.is_true(m.modules[2].training)
    m:evaluate()
    assert.is_false(m.training)
    assert.is_false(m.modules[1].training)
    local x = cnn.randn(4, 3)
    assert.is_true(m:forward(x):equal(m:forward(x))) -- deterministic in evaluation
    local mean_before = m.modules[1].running_mean:clone()
    m:forward(x)
    assert.is_true(m.modules[1].running_mean:equal(mean_before))
    m:train()
    assert.is_true(m.modules[2].training)
    m:forward(x)
    assert.is_false(m.modules[1].running_mean:equal(mean_before))
  end)

  it("BatchNorm normalises inputs with a large mean and a small spread accurately", function()
    cnn.seed(12)
    local x = cnn.randn(8, 2, 5, 5) * 0.1 + 1000 -- float32 spacing at 1000 is 6e-5: 0.06% of the spread
    local bn = nn.BatchNorm2d(2)
    local y = bn:forward(x)
    for c = 1, 2 do
      local ch = y:select(2, c)
      assert.is_true(math.abs(ch:mean()) < 2e-3, "mean " .. ch:mean())
      assert.is_true(math.abs((ch * ch):mean() - 1) < 2e-2, "variance " .. (ch * ch):mean())
    end
    G.check_module(bn, cnn.randn(4, 2, 3, 3) + 100, { rtol = 3e-2, atol = 3e-3 })
  end)

  it("Dropout zeroes about p of the elements and keeps the expectation", function()
    cnn.seed(4)
    local y = nn.Dropout(0.25):forward(cnn.ones(100, 100))
    local zeros = 10000 - (y:clamp(0, 1e-3) * 1000):sum()
    assert.is_true(math.abs(zeros / 10000 - 0.25) < 0.02)
    assert.is_true(math.abs(y:mean() - 1) < 0.03)
  end)

  it("prints the architecture with parameter counts", function()
    local s = tostring(nn.Sequential { nn.Conv2d(1, 6, 5, { padding = 2 }), nn.ReLU(), nn.Flatten(), nn.Linear(10, 2) })
    assert.truthy(s:find("(1): nn.Conv2d(1 -> 6, 5x5, padding=2)", 1, true))
    assert.truthy(s:find("156 params", 1, true))
    assert.truthy(s:find("(4): nn.Linear(10 -> 2)", 1, true))
    assert.truthy(s:find("total%s+178 params"))
  end)

  it("state_dict and load_state_dict copy parameters and buffers by name", function()
    local a = nn.Sequential { nn.Linear(3, 2), nn.BatchNorm1d(2) }
    local b = nn.Sequential { nn.Linear(3, 2), nn.BatchNorm1d(2) }
    a.modules[2].running_mean:fill_(0.5)
    b:load_state_dict(a:state_dict())
    assert.is_true(b.modules[1].weight:equal(a.modules[1].weight))
    assert.is_true(b.modules[2].running_mean:equal(a.modules[2].running_mean))
    local c = nn.Sequential { nn.Linear(4, 2), nn.BatchNorm1d(3) }
    assert.error_matches(function() c:load_state_dict(a:state_dict()) end,
      "1.weight has shape %(2, 3%), the model expects %(2, 4%).*2.bias has shape %(2%), the model expects %(3%)")
  end)
end)

describe("shift equivariance", function()
  it("a stride-1 circular convolution commutes with cyclic shifts, to float rounding", function()
    cnn.seed(71)
    local conv = nn.Conv2d(3, 4, 5, { padding = 2, padding_mode = "circular" })
    local x = cnn.randn(2, 3, 12, 10)
    for _, s in ipairs({ { 1, 0 }, { 0, 3 }, { -2, 5 } }) do
      local shifted = conv:forward(x:roll(s, { 3, 4 })):clone()
      local err = (shifted - conv:forward(x):roll(s, { 3, 4 })):abs():max()
      assert.is_true(err < 1e-5, "error " .. err)
    end
  end)

  it("LocallyConnected2d counts one filter per position: 627,200 weights for 1x28x28 -> 32x28x28, 5x5", function()
    local lc = nn.LocallyConnected2d(1, 32, 5, { input_size = { 28, 28 }, padding = 2, bias = false })
    assert.are.equal(627200, lc:num_parameters())
    assert.are.equal(800, nn.Conv2d(1, 32, 5, { padding = 2, bias = false }):num_parameters())
  end)

  it("BlurPool2d's filter is the normalised binomial and passes constants through", function()
    local b = nn.BlurPool2d(1)
    R.assert_close(b.filter:view(3, 3), cnn.tensor({ { 1, 2, 1 }, { 2, 4, 2 }, { 1, 2, 1 } }) / 16, "filter")
    R.assert_close(b:forward(cnn.full({ 1, 1, 6, 6 }, 3)), cnn.full({ 1, 1, 3, 3 }, 3), "constant")
  end)

  it("new layers reject bad arguments", function()
    assert.error_matches(function() nn.LocallyConnected2d(1, 2, 3) end, "option input_size = {h, w} is required")
    assert.error_matches(function() nn.LocallyConnected2d(1, 2, 3, { input_size = { 5, 5 } }):forward(cnn.zeros(1, 1, 6, 5)) end,
      "expected input %(N, 1, 5, 5%), got %(1, 1, 6, 5%)")
    assert.error_matches(function() nn.BlurPool2d(2, { filter_size = 9 }) end, "filter_size must be an integer from 1 to 7")
    assert.error_matches(function() nn.BlurPool2d(2):forward(cnn.zeros(1, 3, 4, 4)) end, "expected input %(N, 2, H, W%)")
    assert.error_matches(function() nn.Conv2d(1, 1, 3, { padding_mode = "mirror" }) end, "padding_mode must be")
    assert.error_matches(function() nn.Conv2d(1, 1, 3, { padding = 3, padding_mode = "reflect" }):forward(cnn.zeros(1, 1, 3, 3)) end,
      "pad: reflect padding must be smaller than the image %(3x3%)")
  end)
end)

describe("custom layers in pure Lua", function()
  local Square = nn.Module:extend("test.Square")
  function Square:update_output(x) return x * x end
  function Square:update_grad_input(x, dy) return dy * x * 2 end

  local Scale = nn.Module:extend("test.Scale")
  function Scale:__init(n)
    nn.Module.__init(self)
    self.weight, self.grad_weight = cnn.ones(n), cnn.zeros(n)
  end
  function Scale:update_output(x) return x * self.weight end
  function Scale:update_grad_input(_, dy) return dy * self.weight end
  function Scale:acc_grad_parameters(x, dy) self.grad_weight:add_((dy * x):sum(1)) end

  it("work inside containers and pass the gradient check", function()
    cnn.seed(6)
    local m = nn.Sequential { nn.Linear(3, 4), Square(), Scale(4) }
    G.check_module(m, cnn.randn(2, 3))
    assert.are.equal(3, #m:parameters())
    assert.truthy(tostring(m):find("(2): test.Square", 1, true))
  end)

  it("without update_output raise a clear error", function()
    local Empty = nn.Module:extend("test.Empty")
    assert.error_matches(function() Empty():forward(cnn.zeros(1)) end, "test.Empty: update_output is not implemented")
  end)
end)

describe("errors", function()
  it("a wrong channel count names both counts, and Sequential names the failing child", function()
    local m = nn.Sequential { nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(3, 2, 3) }
    assert.error_matches(function() m:forward(cnn.zeros(1, 1, 8, 8)) end,
      "in module 3 %(nn.Conv2d%): .*conv2d: input has 4 channels, weight expects 3")
    assert.error_matches(function() nn.Conv2d(3, 2, 3):forward(cnn.zeros(1, 1, 8, 8)) end,
      "conv2d: input has 1 channels, weight expects 3")
  end)

  it("a kernel larger than the padded input, or an empty pooled output", function()
    assert.error_matches(function() nn.Conv2d(1, 1, 5):forward(cnn.zeros(1, 1, 3, 3)) end,
      "conv2d: kernel 5x5 %(dilated 5x5%) is larger than the padded input 3x3")
    assert.error_matches(function() nn.MaxPool2d(4):forward(cnn.zeros(1, 1, 3, 3)) end,
      "max_pool2d: output size is zero")
    assert.error_matches(function() nn.AvgPool2d(3, { padding = 2 }):forward(cnn.zeros(1, 1, 8, 8)) end,
      "avg_pool2d: padding 2 must be between 0 and half the kernel size 3")
  end)

  it("labels out of range and mismatched batch sizes", function()
    local c = nn.CrossEntropyLoss()
    assert.error_matches(function() c:forward(cnn.zeros(2, 3), { 1, 0 }) end,
      "nn.CrossEntropyLoss: cross_entropy: label 0 at position 2 out of range 1..3")
    assert.error_matches(function() c:forward(cnn.zeros(2, 3), { 4, 1 }) end, "label 4 at position 1 out of range 1..3")
    assert.error_matches(function() c:forward(cnn.zeros(2, 3), { 1, 2, 3 }) end,
      "batch sizes differ: 2 scores but 3 targets")
    assert.error_matches(function() nn.NLLLoss():forward(cnn.zeros(2, 3), { 1.5, 1 }) end,
      "label 1.5 at position 1 out of range")
    assert.error_matches(function() nn.MSELoss():forward(cnn.zeros(2, 3), cnn.zeros(3, 2)) end,
      "mse_loss: target has shape %(3, 2%) but input has shape %(2, 3%)")
  end)

  it("a wrong tensor rank", function()
    assert.error_matches(function() nn.Conv2d(1, 1, 3):forward(cnn.zeros(8, 8)) end,
      "conv2d: expected a 4%-d input %(N x C x H x W%) or a 3%-d one %(C x H x W%), got shape %(8, 8%)")
    assert.error_matches(function() nn.Linear(3, 2):forward(cnn.zeros(2, 4)) end,
      "nn.Linear: expected input of shape %(N, 3%) or %(3%), got %(2, 4%)")
    assert.error_matches(function() nn.BatchNorm2d(3):forward(cnn.zeros(2, 3)) end,
      "nn.BatchNorm2d: expected a 4%-d %(N, C, H, W%) input, got shape %(2, 3%)")
    assert.error_matches(function() nn.BatchNorm1d(3):forward(cnn.zeros(2, 4)) end,
      "nn.BatchNorm1d: input has 4 channels, expected 3")
    assert.error_matches(function() nn.CrossEntropyLoss():forward(cnn.zeros(3), { 1 }) end,
      "expected 2%-d scores %(batch x classes%), got shape %(3%)")
    assert.error_matches(function() nn.ReLU():forward({}) end, "nn.ReLU: input must be a tensor, got table")
    assert.error_matches(function() nn.Linear(3, 2):forward("x") end, "nn.Linear: input must be a tensor, got string")
    assert.error_matches(function() nn.Flatten():forward(cnn.zeros(3)) end,
      "nn.Flatten: dimensions 2%.%.%-1 out of range for a 1%-d input")
    assert.error_matches(function() nn.Flatten():forward(7) end, "nn.Flatten: input must be a tensor, got number")
    local freed = cnn.zeros(2, 3)
    freed:free()
    assert.error_matches(function() nn.Flatten():forward(freed) end, "tensor has been freed")
    assert.error_matches(function() nn.Sequential { nn.Linear(3, 2), nn.ReLU({ inplace = true }) }:forward(cnn.zeros(4)) end,
      "in module 1 %(nn.Linear%): nn.Linear: expected input of shape %(N, 3%) or %(3%), got %(4%)")
  end)

  it("bad constructor arguments and unknown options", function()
    assert.error_matches(function() nn.Conv2d(3, 4, 3, { strides = 2 }) end, "nn.Conv2d: unknown option 'strides'")
    assert.error_matches(function() nn.Conv2d(3, 4, 3, { groups = 2 }) end, "not divisible by 2 groups")
    assert.error_matches(function() nn.Linear(0, 3) end, "nn.Linear: sizes must be positive integers")
    assert.error_matches(function() nn.MaxPool2d(2, { count_include_pad = true }):forward(cnn.zeros(1, 1, 4, 4)) end,
      "max_pool2d: unknown option 'count_include_pad'")
    assert.error_matches(function() nn.Dropout(1.5) end, "nn.Dropout: probability must be in %[0, 1%]")
    assert.error_matches(function() nn.Sequential { nn.ReLU(), 42 } end, "module 2 is not an nn.Module")
    assert.error_matches(function() nn.CrossEntropyLoss({ reduction = "avg" }) end, "reduction must be 'mean' or 'sum'")
  end)

  it("BatchNorm training refuses a single value per channel", function()
    assert.error_matches(function() nn.BatchNorm1d(3):forward(cnn.zeros(1, 3)) end,
      "batch_norm: training needs more than one value per channel")
  end)
end)
