-- The experiments of examples/experiments in their quick modes: each runs in
-- seconds and must show its expected qualitative result.
local H = require "support.helpers"

local function run(script, args)
  return H.run(string.format("%s examples/experiments/%s --quick %s", H.shell_quote(H.cnnlua), script, args or ""))
end

describe("experiments", function()
  local out
  setup(function() out = H.tmpdir() end)
  teardown(function() os.execute("rm -rf " .. out) end)

  it("connectivity.lua tabulates weights as expected and its gradient probe agrees with the formula", function()
    local log, code = run("connectivity.lua", "--out " .. out)
    assert.are.equal(0, code, log)
    assert.truthy(log:find("weights for 1x28x28 -> 32x28x28 with 5x5: 19,668,992 / 627,200 / 800", 1, true), log)
    assert.truthy(log:find("The gradient probe agrees with the formula at every layer.", 1, true), log)
    for _, rf in ipairs({ { 1, 3 }, { 2, 5 }, { 3, 6 }, { 4, 10 } }) do
      assert.truthy(log:find(string.format("\n%-4d [^\n]- %14d %14d\n", rf[1], rf[2], rf[2])), "layer " .. rf[1])
    end
    assert.is_true(require("cnn").image.load(out .. "/receptive_fields.png"):numel() > 0)
  end)

  it("equivariance.lua: a stride-1 circular convolution is equivariant, subsampling is not at odd shifts", function()
    local log, code = run("equivariance.lua", "--out " .. out)
    assert.are.equal(0, code, log)
    local circular = tonumber(log:match("largest error of the stride%-1 circular stack: ([%d.e+-]+)"))
    assert.is_true(circular ~= nil and circular < 1e-5, log)
    local maxpool, blur = log:match("mean error at odd shifts: max pool ([%d.]+), BlurPool ([%d.]+)")
    assert.is_true(tonumber(maxpool) > 0.01, log)
    assert.is_true(tonumber(blur) < tonumber(maxpool), log)
    assert.truthy(H.read(out .. "/equivariance_error.svg"):find("^<svg"))
  end)

  it("invariance.lua: accuracy falls with the shift, and augmentation makes predictions more consistent", function()
    local log, code = run("invariance.lua", "--out " .. out)
    assert.are.equal(0, code, log)
    local rows = {}
    for name, acc, s6, cons in log:gmatch("\n([%a%-+ .]-)%s+%d+%s+([%d.]+)%%[^\n]-([%d.]+)%%%s+([%d.]+)%%%s+[%d.]+%%") do
      rows[name] = { acc = tonumber(acc), s6 = tonumber(s6), consistency = tonumber(cons) }
    end
    assert.is_truthy(rows["max-pool"], log)
    assert.is_true(rows["max-pool"].s6 < rows["max-pool"].acc, log)
    assert.is_true(rows["max-pool + aug"].consistency > rows["max-pool"].consistency, log)
    assert.truthy(H.read(out .. "/invariance.csv"):find("^setup,params,accuracy"))
  end)
end)
