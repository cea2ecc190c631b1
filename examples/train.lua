-- Trains a convolutional network on Fashion-MNIST and reports what a
-- practitioner looks at: live progress, per-epoch test loss and accuracy, a
-- metrics log and training curves, a checkpoint every epoch, and at the end
-- per-class accuracy and the confusion matrix.
--
--   ./cnnlua examples/train.lua [options]          (make train runs the defaults)
--   ./cnnlua examples/train.lua --model cnn --augment --epochs 15
--   ./cnnlua examples/train.lua --resume runs/checkpoint.cnn
--   mpirun -np 2 ./cnnlua examples/train.lua --distributed     (data-parallel, cnn.dist)
--
-- Ctrl-C stops after the current step and saves a checkpoint to resume from;
-- a resumed run reproduces the uninterrupted one exactly.
local cnn = cnn or require "cnn"
local script_dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = script_dir .. "/?.lua;" .. package.path
local options = require "lib.options"
local svgplot = require "lib.svgplot"
local nn, optim, data = cnn.nn, cnn.optim, cnn.data

local SPEC = {
  { "model", "lenet", "network: lenet, cnn or resnet (defined in examples/models/)", "string" },
  { "epochs", 12, "passes over the training set", "integer" },
  { "batch-size", 64, "images per step", "integer" },
  { "lr", nil, "learning rate (default 0.05 for sgd, 0.001 for adam and adamw)", "number" },
  { "optimizer", "sgd", "sgd (momentum 0.9, Nesterov), adam or adamw; cosine schedule", "string" },
  { "augment", false, "random translations by up to 2 pixels and horizontal flips", "flag" },
  { "threads", nil, "threads for the kernels (default: all cores)", "integer" },
  { "seed", 1, "random seed (initialisation, shuffling, augmentation, dropout)", "integer" },
  { "data", data.FASHION_MNIST_DIR, "directory holding the Fashion-MNIST files", "string" },
  { "out", "runs", "directory for checkpoint.cnn, metrics.csv and curves.svg", "string" },
  { "resume", nil, "checkpoint to continue from (its options apply unless given again)", "string" },
  { "limit", nil, "train on the first N images and test on the first N/6 (quick runs)", "integer" },
  { "stop-after", nil, "stop after N steps as Ctrl-C does, saving a checkpoint (to test resuming)", "integer" },
  { "distributed", false, "data-parallel across the processes of mpirun (the batch is split among them)", "flag" },
  { "help", false, "show this help", "flag" },
}
local SUMMARY = "Trains a convolutional network on Fashion-MNIST."

local function fail(msg, show_usage)
  io.stderr:write("train.lua: ", msg, "\n")
  if show_usage then io.stderr:write(options.usage("cnnlua examples/train.lua", SUMMARY, SPEC), "\n") end
  os.exit(1, true)
end

local opts, given = options.cli(arg, "examples/train.lua", SUMMARY, SPEC)

-- Resuming: the checkpoint's options apply unless given again.
local resumed
if opts.resume then
  local ok_load, ck = pcall(cnn.load, opts.resume)
  if not ok_load then fail(ck) end
  if type(ck) ~= "table" or ck.kind ~= "cnnlua.train" then fail(opts.resume .. " is not a training checkpoint") end
  for k, v in pairs(ck.options) do
    if not given[k] and k ~= "resume" and k ~= "stop_after" then opts[k] = v end
  end
  resumed = ck
end

local MODELS = { lenet = true, cnn = true, resnet = true }
if not MODELS[opts.model] then fail("unknown model '" .. opts.model .. "'", true) end
local OPTIMIZERS = { sgd = true, adam = true, adamw = true }
if not OPTIMIZERS[opts.optimizer] then fail("unknown optimizer '" .. opts.optimizer .. "'", true) end
if opts.epochs < 1 or opts.batch_size < 1 then fail("epochs and batch size must be positive", true) end
opts.lr = opts.lr or (opts.optimizer == "sgd" and 0.05 or 0.001)
if opts.threads then cnn.set_num_threads(opts.threads) end
cnn.seed(opts.seed)

-- Data parallelism: each of the processes started by mpirun trains on its
-- share of every batch; gradients are averaged (cnn.dist). Only the first
-- prints and writes files.
local dist, rank, ranks = nil, 1, 1
if opts.distributed then
  dist = require "cnn.dist"
  rank, ranks = dist.init()
  if opts.batch_size % ranks ~= 0 then fail(string.format("batch size %d is not divisible by %d processes", opts.batch_size, ranks)) end
end
local main = rank == 1
if not main then print = function() end end -- the other ranks work silently

-- Data.
local ok_data, train_set, test_set = pcall(data.fashion_mnist, opts.data, { bytes = true })
if not ok_data then fail(train_set) end
if opts.limit then
  local function head(set, n)
    n = math.max(1, math.min(n, set.images:size(1)))
    return { images = set.images:narrow(1, 1, n), labels = set.labels:narrow(1, 1, n), classes = set.classes }
  end
  train_set, test_set = head(train_set, opts.limit), head(test_set, math.max(opts.limit // 6, 1))
end
local classes = train_set.classes
-- Normalised with the training set's statistics (mean 0.286, std 0.353).
local normalize = data.transforms.normalize(0.2860, 0.3530)
local transform = normalize
if opts.augment then
  transform = data.transforms.compose { data.transforms.random_translate(2), data.transforms.hflip(), normalize }
end
local loader = data.loader(train_set, { batch_size = opts.batch_size // ranks, shuffle = true, transform = transform,
  shard = dist and { rank, ranks } or nil })
local test_loader = data.loader(test_set, { batch_size = 256, transform = normalize })

-- Model, loss, optimizer, schedule.
local net = dofile(script_dir .. "/models/" .. opts.model .. ".lua")(#classes)
net:reuse_outputs() -- each pass writes into the last one's tensors: no allocation per step
local model = dist and dist.DataParallel(net) or net
-- every rank draws its own augmentations and dropout masks
if dist then cnn.seed(opts.seed * 1000 + rank) end
local criterion = nn.CrossEntropyLoss()
local opt
if opts.optimizer == "sgd" then
  opt = optim.SGD(model, { lr = opts.lr, momentum = 0.9, nesterov = true, weight_decay = 5e-4 })
elseif opts.optimizer == "adam" then
  opt = optim.Adam(model, { lr = opts.lr })
else
  opt = optim.AdamW(model, { lr = opts.lr })
end
local schedule = optim.CosineLR(opt, opts.epochs)

local history, start_epoch, skip, partial = {}, 1, 0, nil
if resumed then
  local ok_state, err = pcall(net.load_state_dict, net, resumed.model)
  if not ok_state then fail("cannot resume from " .. opts.resume .. ": " .. tostring(err)) end
  opt:load_state_dict(resumed.optimizer)
  schedule.last_epoch = resumed.scheduler_epoch
  history = resumed.history
  start_epoch, skip, partial = resumed.epoch, resumed.batch or 0, resumed.partial
  if not resumed.batch then start_epoch = resumed.epoch + 1 end
  if dist then
    if not resumed.rngs or #resumed.rngs ~= ranks then fail("the checkpoint was not written by " .. ranks .. " processes") end
    resumed.rng, resumed.rng_epoch = resumed.rngs[rank], resumed.rng_epochs and resumed.rng_epochs[rank]
    partial = resumed.partials and resumed.partials[rank]
    loader.epoch = resumed.loader_epoch - (resumed.batch and 1 or 0)
  end
end

-- Every rank's generator state, gathered on all (a 32-byte state as 16 exact floats).
local function gather_states(state)
  if not dist then return nil end
  local t = cnn.empty(16)
  for i = 1, 16 do t:set(i, (string.unpack("<I2", state, 2 * i - 1))) end
  local all, list = dist.allgather(t), {}
  for r = 1, ranks do
    local parts = {}
    for i = 1, 16 do parts[i] = string.pack("<I2", math.floor(all:get(r, i))) end
    list[r] = table.concat(parts)
  end
  return list
end

options.ensure_dir(opts.out)
local checkpoint_path = opts.out .. "/checkpoint.cnn"

print(net)
print(string.format("%d training and %d test images, %d classes; %s, lr %g, batch %d%s, %d threads",
  train_set.images:size(1), test_set.images:size(1), #classes, opts.optimizer, opts.lr, opts.batch_size,
  opts.augment and ", augmented" or "", cnn.get_num_threads()))
if dist then print(string.format("data-parallel over %d processes, %d images each per step", ranks, opts.batch_size // ranks)) end
if resumed then print("resuming from " .. opts.resume) end

-- Collective in distributed mode (the generator states are gathered); the
-- first rank writes.
local function save_checkpoint(epoch, batch, rng_epoch, part)
  local rngs, rng_epochs = gather_states(cnn.get_rng_state()), rng_epoch and gather_states(rng_epoch)
  local partials
  if dist and part then -- each rank's running totals of the interrupted epoch
    local all = dist.allgather(cnn.tensor({ part.loss, part.correct, part.seen, part.seconds }))
    partials = {}
    for r = 1, ranks do
      partials[r] = { loss = all:get(r, 1), correct = all:get(r, 2), seen = all:get(r, 3), seconds = all:get(r, 4) }
    end
  end
  if not main then return end
  cnn.save(checkpoint_path, {
    kind = "cnnlua.train", model_name = opts.model, classes = classes, options = opts,
    net = net, -- the whole module (its tensors are the state_dict's: stored once)
    model = net:state_dict(), optimizer = opt:state_dict(), scheduler_epoch = schedule.last_epoch,
    epoch = epoch, batch = batch, rng = cnn.get_rng_state(), rng_epoch = rng_epoch, partial = part,
    history = history, rngs = rngs, rng_epochs = rng_epochs, partials = partials, loader_epoch = loader.epoch,
  })
end

local function write_metrics()
  local f = assert(io.open(opts.out .. "/metrics.csv", "w"))
  f:write("epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n")
  for _, h in ipairs(history) do
    f:write(string.format("%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.2f\n", h.epoch, h.train_loss, h.train_acc, h.test_loss,
      h.test_acc, h.lr, h.seconds))
  end
  f:close()
  local e, trl, tel, tra, tea = {}, {}, {}, {}, {}
  for i, h in ipairs(history) do
    e[i], trl[i], tel[i], tra[i], tea[i] = h.epoch, h.train_loss, h.test_loss, 100 * h.train_acc, 100 * h.test_acc
  end
  svgplot.write(opts.out .. "/curves.svg", {
    { title = "loss", series = { { name = "train", x = e, y = trl }, { name = "test", x = e, y = tel } } },
    { title = "accuracy (%)", legend = "bottom", series = { { name = "train", x = e, y = tra }, { name = "test", x = e, y = tea } } },
  })
end

-- The number of positions where the predicted class (argmax of scores) is the label.
local function count_correct(scores, labels)
  local pred = scores:argmax(2)
  return labels:numel() - (pred - labels):abs():clamp(0, 1):sum()
end

local function evaluate()
  model:evaluate()
  local loss, correct, n = 0, 0, 0
  local confusion = {}
  for i = 1, #classes do
    confusion[i] = {}
    for j = 1, #classes do confusion[i][j] = 0 end
  end
  for images, labels in test_loader:iter() do
    local scores = model:forward(images)
    local b = labels:numel()
    loss = loss + criterion:forward(scores, labels) * b
    local pred = scores:argmax(2)
    for i = 1, b do
      local t, p = labels:get(i), pred:get(i)
      confusion[t][p] = confusion[t][p] + 1
      if t == p then correct = correct + 1 end
    end
    n = n + b
  end
  return loss / n, correct / n, confusion
end

local tty = cnn.isatty(1)
local function clock_string(s)
  s = math.max(0, math.floor(s + 0.5))
  return string.format("%d:%02d", s // 60, s % 60)
end

local function report_progress(epoch, b, nb, loss, acc, rate)
  local eta = (nb - b) * opts.batch_size / math.max(rate, 1e-9)
  if tty then
    local width = 24
    local done = math.floor(width * b / nb)
    io.write(string.format("\r  epoch %d/%d [%s%s] %d/%d  loss %.4f  acc %5.1f%%  %5.0f img/s  ETA %s ", epoch,
      opts.epochs, string.rep("=", done), string.rep(" ", width - done), b, nb, loss, 100 * acc, rate, clock_string(eta)))
    io.flush()
  elseif b % 100 == 0 or b == nb then
    print(string.format("  epoch %d/%d  batch %d/%d  loss %.4f  acc %5.1f%%  %5.0f img/s  ETA %s", epoch, opts.epochs, b,
      nb, loss, 100 * acc, rate, clock_string(eta)))
  end
end

cnn.catch_interrupt(true)
local final_confusion, steps_run = nil, 0
for epoch = start_epoch, opts.epochs do
  model:train()
  local rng_epoch = epoch == start_epoch and resumed and resumed.rng_epoch or cnn.get_rng_state()
  local stats = partial or { loss = 0, correct = 0, seen = 0, seconds = 0 }
  local iter
  if skip > 0 then -- inside an interrupted epoch: the same order, then the generator as it was
    cnn.set_rng_state(rng_epoch)
    iter = loader:iter({ skip = skip })
    cnn.set_rng_state(resumed.rng)
  else
    if epoch == start_epoch and resumed then cnn.set_rng_state(resumed.rng) end
    rng_epoch = cnn.get_rng_state()
    iter = loader:iter()
  end
  local t0, seen0, b = cnn.clock(), stats.seen, skip
  for images, labels in iter do
    b = b + 1
    opt:zero_grad()
    local scores = model:forward(images)
    local loss = criterion:forward(scores, labels)
    model:backward(images, criterion:backward(scores, labels), false) -- no gradient for the images
    opt:step()
    local n = labels:numel()
    stats.loss, stats.correct, stats.seen = stats.loss + loss * n, stats.correct + count_correct(scores, labels),
        stats.seen + n
    local rate = (stats.seen - seen0) / math.max(cnn.clock() - t0, 1e-9)
    report_progress(epoch, b, #loader, stats.loss / stats.seen, stats.correct / stats.seen, rate)
    steps_run = steps_run + 1
    local stop = cnn.interrupted() or steps_run == opts.stop_after
    if dist then -- all ranks stop at the same step, or none
      local flag = cnn.tensor({ stop and 1 or 0 })
      stop = dist.allreduce_(flag, "max"):item() > 0
    end
    if stop and b < #loader then
      stats.seconds = stats.seconds + cnn.clock() - t0
      save_checkpoint(epoch, b, rng_epoch, stats)
      if tty then io.write("\n") end
      print(string.format("interrupted at epoch %d, batch %d: checkpoint saved to %s; continue with --resume %s", epoch,
        b, checkpoint_path, checkpoint_path))
      if dist then dist.finalize() end
      os.exit(130, true)
    end
  end
  skip, partial = 0, nil
  if tty then io.write("\n") end
  stats.seconds = stats.seconds + cnn.clock() - t0
  local lr = opt.options.lr
  schedule:step()
  if dist then -- the epoch's totals over all ranks, and one set of running statistics
    local totals = dist.allreduce_(cnn.tensor({ stats.loss, stats.correct, stats.seen }), "sum")
    stats = { loss = totals:get(1), correct = totals:get(2), seen = totals:get(3), seconds = stats.seconds }
    model:sync_buffers()
  end
  local test_loss, test_acc, confusion = 0, 0, nil
  if main then test_loss, test_acc, confusion = evaluate() end
  final_confusion = confusion
  history[#history + 1] = { epoch = epoch, train_loss = stats.loss / stats.seen, train_acc = stats.correct / stats.seen,
    test_loss = test_loss, test_acc = test_acc, lr = lr, seconds = stats.seconds }
  print(string.format("epoch %2d/%d  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  lr %.4g  %.1fs (%.0f img/s)",
    epoch, opts.epochs, stats.loss / stats.seen, 100 * stats.correct / stats.seen, test_loss, 100 * test_acc, lr,
    stats.seconds, stats.seen / stats.seconds))
  save_checkpoint(epoch, nil, nil, nil)
  if main then
    cnn.save(opts.out .. "/model.cnn", net) -- the network alone, for predict.lua and host programs
    write_metrics()
  end
end
cnn.catch_interrupt(false)
if dist then dist.finalize() end
if not main then os.exit(0, true) end

if not final_confusion then -- resumed after the last epoch: evaluate once more for the report
  local _, _, confusion = evaluate()
  final_confusion = confusion
end

-- Per-class accuracy and the confusion matrix (rows: true class, columns: predicted).
print("\nper-class test accuracy:")
local total, correct = 0, 0
for i, name in ipairs(classes) do
  local row_sum = 0
  for j = 1, #classes do row_sum = row_sum + final_confusion[i][j] end
  total, correct = total + row_sum, correct + final_confusion[i][i]
  print(string.format("  %2d %-12s %6.2f%%  (%d/%d)", i, name, 100 * final_confusion[i][i] / math.max(row_sum, 1),
    final_confusion[i][i], row_sum))
end
print(string.format("  overall         %6.2f%%  (%d/%d)", 100 * correct / math.max(total, 1), correct, total))
print("\nconfusion matrix (rows: true class, columns: predicted):")
local header = { "    " }
for j = 1, #classes do header[#header + 1] = string.format("%5d", j) end
print(table.concat(header))
for i = 1, #classes do
  local row = { string.format("%3d ", i) }
  for j = 1, #classes do row[#row + 1] = string.format("%5d", final_confusion[i][j]) end
  print(table.concat(row) .. "  " .. classes[i])
end
print(string.format("\ncheckpoint: %s  model: %s/model.cnn  metrics: %s/metrics.csv  curves: %s/curves.svg",
  checkpoint_path, opts.out, opts.out, opts.out))
