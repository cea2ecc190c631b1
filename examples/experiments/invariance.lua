-- Translation invariance of a trained classifier: how much does shifting an
-- image change what the network says? Convolution is equivariant; invariance
-- of the whole classifier is only approximate, and comes from pooling,
-- from the training data, and from the head that turns feature maps into
-- classes.
--
-- Five set-ups of one network (conv 32 and 64 of 5x5 with ReLU, 2x2 pooling
-- after each, a 128-unit hidden layer), trained on Fashion-MNIST:
--   max-pool         the network as described
--   BlurPool         max pooling with stride 1, then BlurPool (Zhang, ICML 2019)
--   max-pool + aug   trained on images shifted at random by up to 2 pixels
--   locally conn.    locally connected layers instead of convolutions (no sharing)
--   GAP head         global average pooling of the last feature maps instead of
--                    the hidden layer (where does invariance come from?)
-- For each: test accuracy, accuracy against shift (0..6 pixels, zero fill),
-- Zhang's consistency (how often two random shifts of up to 3 pixels of one
-- image get the same top-1 class) and Azulay and Weiss's P(top-1 change) under
-- a one-pixel shift. Higher accuracy alone raises consistency: read them side
-- by side.
--
--   ./cnnlua examples/experiments/invariance.lua [--quick] [--epochs N] [--train N] [--test N] [--out DIR]
-- writes DIR/invariance_accuracy.svg (accuracy against shift) and
-- DIR/invariance.csv.
local cnn = cnn or require "cnn"
local script_dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = script_dir .. "/../?.lua;" .. package.path
local options = require "lib.options"
local svgplot = require "lib.svgplot"
local nn, optim, data = cnn.nn, cnn.optim, cnn.data

local SPEC = {
  { "quick", false, "a few seconds: 1200 training and 300 test images, one epoch, three set-ups", "flag" },
  { "epochs", 2, "training epochs per set-up", "integer" },
  { "train", 12000, "training images (the first N of Fashion-MNIST)", "integer" },
  { "test", 2000, "test images for the measurements", "integer" },
  { "seed", 1, "random seed", "integer" },
  { "data", data.FASHION_MNIST_DIR, "directory of Fashion-MNIST", "string" },
  { "out", "runs/experiments", "directory for the pictures and the table", "string" },
  { "help", false, "show this help", "flag" },
}
local opts = options.cli(arg, "examples/experiments/invariance.lua", "Translation invariance of trained classifiers.", SPEC)
if opts.quick then opts.epochs, opts.train, opts.test = 1, 1200, 300 end
options.ensure_dir(opts.out)
cnn.seed(opts.seed)

local ok_data, train_set, test_set = pcall(data.fashion_mnist, opts.data)
if not ok_data then
  io.stderr:write("invariance.lua: ", train_set, "\n")
  os.exit(1, true)
end
local function head(set, n)
  return { images = set.images:narrow(1, 1, math.min(n, set.images:size(1))),
    labels = set.labels:narrow(1, 1, math.min(n, set.labels:size(1))) }
end
train_set, test_set = head(train_set, opts.train), head(test_set, opts.test)
local normalize = data.transforms.normalize(0.2860, 0.3530)

-- The network, with its feature extractor and head chosen by the set-up.
local function build(kind)
  local m = nn.Sequential()
  local function pool(c)
    if kind == "blurpool" then
      m:add(nn.MaxPool2d(2, { stride = 1, padding = 0 }))
      m:add(nn.BlurPool2d(c))
    else
      m:add(nn.MaxPool2d(2))
    end
  end
  if kind == "local" then
    m:add(nn.LocallyConnected2d(1, 32, 5, { input_size = { 28, 28 }, padding = 2 })):add(nn.ReLU())
    pool(32)
    m:add(nn.LocallyConnected2d(32, 64, 5, { input_size = { 14, 14 }, padding = 2 })):add(nn.ReLU())
    pool(64)
  else
    m:add(nn.Conv2d(1, 32, 5, { padding = 2 })):add(nn.ReLU())
    pool(32)
    m:add(nn.Conv2d(32, 64, 5, { padding = 2 })):add(nn.ReLU())
    pool(64)
  end
  if kind == "gap" then
    m:add(nn.AdaptiveAvgPool2d(1)):add(nn.Flatten()):add(nn.Linear(64, 10))
  else
    m:add(nn.Flatten()):add(nn.Linear(64 * 7 * 7, 128)):add(nn.ReLU()):add(nn.Linear(128, 10))
  end
  return m
end

local setups = {
  { name = "max-pool", kind = "maxpool" },
  { name = "BlurPool", kind = "blurpool" },
  { name = "max-pool + aug", kind = "maxpool", augment = true },
  { name = "locally conn.", kind = "local" },
  { name = "GAP head", kind = "gap" },
}
if opts.quick then setups = { setups[1], setups[3], setups[5] } end

-- x shifted by (dy, dx) pixels with zero fill: what moves out is lost.
local function shift(x, dy, dx)
  local out = cnn.zeros(x:shape())
  local h, w = x:size(3), x:size(4)
  if math.abs(dy) >= h or math.abs(dx) >= w then return out end
  local src = x:narrow(3, math.max(1, 1 - dy), h - math.abs(dy)):narrow(4, math.max(1, 1 - dx), w - math.abs(dx))
  out:narrow(3, math.max(1, 1 + dy), h - math.abs(dy)):narrow(4, math.max(1, 1 + dx), w - math.abs(dx)):copy_(src)
  return out
end

local function predict(model, images)
  local preds = {}
  local L = data.loader({ images = images, labels = test_set.labels }, { batch_size = 250 })
  for x in L:iter() do
    local p = model:forward(normalize(x)):argmax(2)
    for i = 1, p:numel() do preds[#preds + 1] = p:get(i) end
  end
  return preds
end

local function accuracy(preds)
  local correct = 0
  for i, p in ipairs(preds) do
    if p == test_set.labels:get(i) then correct = correct + 1 end
  end
  return correct / #preds
end

local function agreement(a, b)
  local same = 0
  for i = 1, #a do
    if a[i] == b[i] then same = same + 1 end
  end
  return same / #a
end

-- Two independent random shifts of up to 3 pixels per image (the generator is seeded).
local function random_shifts(images)
  local out = cnn.empty(images:shape())
  for i = 1, images:size(1) do
    local dy, dx = math.random(-3, 3), math.random(-3, 3)
    out:narrow(1, i, 1):copy_(shift(images:narrow(1, i, 1), dy, dx))
  end
  return out
end

local max_shift = 6
print(string.format("%d training images, %d epochs; %d test images\n", train_set.images:size(1), opts.epochs,
  test_set.images:size(1)))
local results = {}
for _, s in ipairs(setups) do
  cnn.seed(opts.seed)
  math.randomseed(opts.seed)
  local model = build(s.kind)
  local opt = optim.SGD(model, { lr = 0.03, momentum = 0.9 })
  local crit = nn.CrossEntropyLoss()
  local transform = normalize
  if s.augment then transform = data.transforms.compose { data.transforms.random_translate(2), normalize } end
  local loader = data.loader(train_set, { batch_size = 64, shuffle = true, transform = transform })
  local t0 = cnn.clock()
  for _ = 1, opts.epochs do
    model:train()
    for x, y in loader:iter() do
      opt:zero_grad()
      local scores = model:forward(x)
      crit:forward(scores, y)
      model:backward(x, crit:backward(scores, y))
      opt:step()
    end
  end
  local seconds = cnn.clock() - t0
  model:evaluate()
  local r = { name = s.name, params = model:num_parameters(), seconds = seconds, acc_by_shift = {} }
  local base = predict(model, test_set.images)
  r.accuracy = accuracy(base)
  for d = 0, max_shift do r.acc_by_shift[d] = d == 0 and r.accuracy or accuracy(predict(model, shift(test_set.images, 0, d))) end
  r.consistency = agreement(predict(model, random_shifts(test_set.images)), predict(model, random_shifts(test_set.images)))
  r.change = 1 - agreement(base, predict(model, shift(test_set.images, 0, 1)))
  results[#results + 1] = r
  io.write(string.format("trained %-16s %9d parameters in %5.1fs: accuracy %.2f%%\n", s.name, r.params, seconds,
    100 * r.accuracy))
end

print()
local header = string.format("%-16s %9s %8s", "set-up", "params", "acc")
for d = 1, max_shift do header = header .. string.format(" %6s", "s=" .. d) end
print(header .. string.format(" %12s %12s", "consistency", "P(change)"))
for _, r in ipairs(results) do
  local line = string.format("%-16s %9d %7.2f%%", r.name, r.params, 100 * r.accuracy)
  for d = 1, max_shift do line = line .. string.format(" %5.1f%%", 100 * r.acc_by_shift[d]) end
  print(line .. string.format(" %11.2f%% %11.2f%%", 100 * r.consistency, 100 * r.change))
end
print("\nacc: test accuracy; s=d: accuracy with every test image shifted d pixels right (zero fill);")
print("consistency: same class for two random shifts of up to 3 pixels; P(change): class changes under a 1-pixel shift.")

local f = assert(io.open(opts.out .. "/invariance.csv", "w"))
f:write("setup,params,accuracy")
for d = 1, max_shift do f:write(",shift", d) end
f:write(",consistency,p_change,train_seconds\n")
local series = {}
for _, r in ipairs(results) do
  f:write(string.format("%s,%d,%.4f", r.name, r.params, r.accuracy))
  local curve = { name = r.name, x = {}, y = {} }
  for d = 0, max_shift do
    if d > 0 then f:write(string.format(",%.4f", r.acc_by_shift[d])) end
    curve.x[#curve.x + 1], curve.y[#curve.y + 1] = d, 100 * r.acc_by_shift[d]
  end
  f:write(string.format(",%.4f,%.4f,%.1f\n", r.consistency, r.change, r.seconds))
  series[#series + 1] = curve
end
f:close()
svgplot.write(opts.out .. "/invariance_accuracy.svg", {
  { title = "test accuracy (%) against shift", xlabel = "shift (pixels, zero fill)", legend = "right", series = series },
})
print("wrote " .. opts.out .. "/invariance.csv and " .. opts.out .. "/invariance_accuracy.svg")
