-- examples/train.lua, predict.lua and filters.lua, run as a user would, on a
-- small Fashion-MNIST look-alike the spec writes itself.
local H = require "support.helpers"

local function train(args)
  return H.run(H.shell_quote(H.cnnlua) .. " examples/train.lua " .. args)
end

-- The metrics without the seconds column (which depends on the machine).
local function metrics(dir)
  local lines = {}
  for line in H.read(dir .. "/metrics.csv"):gmatch("[^\n]+") do lines[#lines + 1] = line:gsub(",[%d.]+$", "") end
  return lines
end

describe("examples/train.lua", function()
  local data
  setup(function()
    data = H.tmpdir()
    H.fake_fashion(data, 120, 30)
  end)
  teardown(function() os.execute("rm -rf " .. data) end)

  local function common(out)
    return string.format("--data %s --limit 120 --batch-size 20 --threads 1 --out %s ", data, out)
  end

  it("trains, reports each epoch, and writes metrics, curves and a checkpoint", function()
    local out = H.tmpdir()
    local log, code = train(common(out) .. "--epochs 2")
    assert.are.equal(0, code, log)
    assert.truthy(log:find("epoch  2/2  train loss", 1, true), log)
    assert.truthy(log:find("per-class test accuracy:", 1, true))
    assert.truthy(log:find("confusion matrix (rows: true class, columns: predicted):", 1, true))
    assert.truthy(log:find("Ankle boot", 1, true))
    local m = metrics(out)
    assert.are.equal(3, #m)
    assert.are.equal("epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds", m[1])
    assert.truthy(H.read(out .. "/curves.svg"):find("^<svg"))
    local ck = require("cnn").load(out .. "/checkpoint.cnn")
    assert.are.equal(2, ck.epoch)
    assert.are.equal("lenet", ck.model_name)
    os.execute("rm -rf " .. out)
  end)

  for _, stop in ipairs({ 3, 8 }) do
    it("stopped after " .. stop .. " steps and resumed, reproduces the uninterrupted run exactly", function()
      local a, b = H.tmpdir(), H.tmpdir()
      local log, code = train(common(a) .. "--epochs 2 --augment --model cnn")
      assert.are.equal(0, code, log)
      log, code = train(common(b) .. "--epochs 2 --augment --model cnn --stop-after " .. stop)
      assert.are.equal(130, code, log)
      assert.truthy(log:find("checkpoint saved to " .. b .. "/checkpoint.cnn", 1, true), log)
      log, code = train("--resume " .. b .. "/checkpoint.cnn")
      assert.are.equal(0, code, log)
      assert.truthy(log:find("resuming from", 1, true))
      assert.are.same(metrics(a), metrics(b))
      os.execute("rm -rf " .. a .. " " .. b)
    end)
  end

  it("refuses a checkpoint of a different model, listing the mismatched shapes", function()
    local out = H.tmpdir()
    local log, code = train(common(out) .. "--epochs 1")
    assert.are.equal(0, code, log)
    log, code = train("--resume " .. out .. "/checkpoint.cnn --model cnn")
    assert.are.equal(1, code)
    assert.truthy(log:find("cannot resume from " .. out .. "/checkpoint.cnn", 1, true), log)
    assert.truthy(log:find("1.weight has shape (6, 1, 5, 5), the model expects (32, 1, 3, 3)", 1, true), log)
    os.execute("rm -rf " .. out)
  end)

  it("prints usage for --help, and for unknown options and bad values with an error", function()
    local log, code = train("--help")
    assert.are.equal(0, code)
    assert.truthy(log:find("usage: cnnlua examples/train.lua [options]", 1, true))
    assert.truthy(log:find("--batch-size INTEGER", 1, true))
    log, code = train("--epoch 3")
    assert.are.equal(1, code)
    assert.truthy(log:find("unknown option '--epoch'", 1, true) and log:find("usage:", 1, true))
    log, code = train("--epochs three")
    assert.are.equal(1, code)
    assert.truthy(log:find("option '--epochs' needs an integer, got 'three'", 1, true))
    log, code = train("--model vgg")
    assert.are.equal(1, code)
    assert.truthy(log:find("unknown model 'vgg'", 1, true))
  end)

  it("names the package to install when the data set is missing", function()
    local log, code = train("--data /nonexistent --epochs 1")
    assert.are.equal(1, code)
    assert.truthy(log:find("apt-get install dataset-fashion-mnist", 1, true), log)
  end)

  it("refuses a file that is not a checkpoint", function()
    local path = os.tmpname()
    H.write(path, "not a checkpoint")
    local log, code = train("--resume " .. path)
    os.remove(path)
    assert.are.equal(1, code)
    assert.truthy(log:find("not a cnnlua file", 1, true), log)
  end)

  it("predict.lua classifies PNG files and filters.lua draws the first layer", function()
    local out = H.tmpdir()
    local log, code = train(common(out) .. "--epochs 1")
    assert.are.equal(0, code, log)
    local cnn = require "cnn"
    local png = out .. "/shirt.png"
    cnn.image.save(png, cnn.rand(3, 40, 30)) -- any size and colour
    log, code = H.run(H.shell_quote(H.cnnlua) .. " examples/predict.lua " .. out .. "/checkpoint.cnn " .. png)
    assert.are.equal(0, code, log)
    local names = {}
    for name in log:gmatch("([%a/%- ]+) %d+%.%d%%") do names[#names + 1] = name:gsub("^[ ,]+", "") end
    assert.are.equal(3, #names, log)
    log, code = H.run(H.shell_quote(H.cnnlua) .. " examples/predict.lua " .. out .. "/checkpoint.cnn /nonexistent.png")
    assert.are.equal(1, code)
    assert.truthy(log:find("cannot open /nonexistent.png", 1, true))
    log, code = H.run(H.shell_quote(H.cnnlua) .. " examples/filters.lua " .. out .. "/checkpoint.cnn " .. out)
    assert.are.equal(0, code, log)
    -- six 5x5 filters in one row, 1 pixel apart, magnified 8 times
    assert.are.same({ 1, (5 + 2) * 8, (6 * 6 + 1) * 8 }, cnn.image.load(out .. "/filters.png"):shape())
    assert.truthy(cnn.image.load(out .. "/feature_maps.png"):numel() > 0)
    os.execute("rm -rf " .. out)
  end)
end)
