-- cnn.optim: ten steps of each optimizer against PyTorch, schedulers, and
-- resuming from a checkpoint.
local cnn = require "cnn"
local nn, optim = cnn.nn, cnn.optim
local R = require "support.reference"

-- Options as the fixtures record them (PyTorch's names are ours).
local function options(case)
  local o = {}
  for k, v in pairs(case.options) do o[k] = v end
  return o
end

describe("optimizers against PyTorch", function()
  local cases = R.fixture("optim")
  local names = {}
  for name in pairs(cases) do
    if name ~= "schedulers" then names[#names + 1] = name end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    it(name .. ": ten steps", function()
      local case = cases[name]
      local params, grads = {}, {}
      for i, p in ipairs(case.initial) do
        params[i] = R.tensor(p)
        grads[i] = cnn.zeros(params[i]:shape())
      end
      local opt = optim[case.class]({ params, grads }, options(case))
      for step = 1, 10 do
        for i, g in ipairs(case.grads[step]) do grads[i]:copy_(R.tensor(g)) end
        opt:step()
        for i, p in ipairs(case.params[step]) do
          R.assert_close(params[i], p, string.format("step %d, parameter %d", step, i))
        end
      end
    end)
  end
end)

describe("schedulers against PyTorch", function()
  local lrs = R.fixture("optim").schedulers
  local function run(make)
    local opt = optim.SGD({ { cnn.zeros(1) }, { cnn.zeros(1) } }, { lr = 0.1 })
    local s = make(opt)
    local got = {}
    for i = 1, 12 do
      opt:step()
      got[i] = s:step()
      assert.are.equal(got[i], opt.options.lr)
    end
    return got
  end
  it("StepLR", function()
    local got = run(function(opt) return optim.StepLR(opt, 3, 0.5) end)
    for i, v in ipairs(lrs.step) do assert.is_true(math.abs(got[i] - v) < 1e-9, "epoch " .. i) end
  end)
  it("CosineLR", function()
    local got = run(function(opt) return optim.CosineLR(opt, 10, 0.001) end)
    for i, v in ipairs(lrs.cosine) do assert.is_true(math.abs(got[i] - v) < 1e-9, "epoch " .. i) end
  end)
end)

describe("training", function()
  -- A small regression problem: n steps of SGD or Adam on a fixed batch.
  local function setup()
    cnn.seed(41)
    local model = nn.Sequential { nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1) }
    local x, y = cnn.randn(16, 4), cnn.randn(16, 1)
    return model, x, y
  end
  local function train(model, opt, x, y, steps)
    local crit, loss = nn.MSELoss(), nil
    for _ = 1, steps do
      opt:zero_grad()
      loss = crit:forward(model:forward(x), y)
      model:backward(x, crit:backward(model.output, y))
      opt:step()
    end
    return loss
  end

  it("lowers the loss", function()
    local model, x, y = setup()
    local crit = nn.MSELoss()
    local before = crit:forward(model:forward(x), y)
    local after = train(model, optim.Adam(model, { lr = 0.01 }), x, y, 100)
    assert.is_true(after < 0.5 * before, string.format("loss %g -> %g", before, after))
  end)

  for _, kind in ipairs({ "SGD", "Adam" }) do
    it(kind .. " resumed from a checkpoint matches the uninterrupted run exactly", function()
      local opts = kind == "SGD" and { lr = 0.05, momentum = 0.9, nesterov = true } or { lr = 0.01 }
      local m1, x, y = setup()
      local o1 = optim[kind](m1, opts)
      train(m1, o1, x, y, 10)

      local m2 = setup()
      local o2 = optim[kind](m2, opts)
      train(m2, o2, x, y, 5)
      local path = os.tmpname()
      cnn.save(path, { model = m2, optimizer = o2 })
      local ck = cnn.load(path)
      os.remove(path)
      train(ck.model, ck.optimizer, x, y, 5)

      local p1, p2 = m1:parameters(), ck.model:parameters()
      for i = 1, #p1 do assert.is_true(p1[i]:equal(p2[i]), "parameter " .. i) end
      assert.are.equal(10, ck.optimizer.step_count)
    end)
  end

  it("state_dict carries an optimizer's state into a fresh one", function()
    local m, x, y = setup()
    local o = optim.Adam(m, { lr = 0.01 })
    train(m, o, x, y, 3)
    local copy = optim.Adam(m, { lr = 0.5 }):load_state_dict(o:state_dict())
    assert.are.equal(0.01, copy.options.lr)
    assert.are.equal(3, copy.state[1].step)
    local wrong = optim.Adam(nn.Linear(2, 2), {})
    assert.error_matches(function() wrong:load_state_dict(o:state_dict()) end, "state exp_avg[_sq]* of parameter 1 has shape %(8, 4%), the parameter %(2, 2%)")
  end)
end)

describe("optimizer errors", function()
  it("unknown or missing options", function()
    local m = nn.Linear(2, 2)
    assert.error_matches(function() optim.SGD(m, {}) end, "optim.SGD: option 'lr' is required")
    assert.error_matches(function() optim.SGD(m, { lr = 0.1, momentun = 0.9 }) end, "optim.SGD: unknown option 'momentun'")
    assert.error_matches(function() optim.SGD(m, { lr = 0.1, nesterov = true }) end, "nesterov needs a momentum")
    assert.error_matches(function() optim.Adam(m, { betas = { 1, 0.9 } }) end, "betas must be a pair in %[0, 1%)")
    assert.error_matches(function() optim.Adam(42) end, "expected a model")
    assert.error_matches(function() optim.StepLR({}, 2) end, "optim.StepLR: expected an optimizer")
  end)
end)
