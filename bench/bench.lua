-- The benchmark suite (make bench): per-layer convolution times, memory-bound
-- kernels against a plain copy of the same bytes, training and inference
-- throughput, peak memory, start-up time and data-parallel scaling. When
-- PyTorch is importable by /usr/bin/python3, each workload also runs under
-- PyTorch (bench/bench_torch.py, tuned: 2 threads, OpenBLAS single-threaded)
-- in turn with ours, three times for the convolution, training and inference
-- rows, and the table prints the ratio of the medians. Each timing is the
-- median of 5 of enough repetitions to last 0.2 s; no timing is asserted
-- anywhere.
--
--   ./cnnlua bench/bench.lua [--quick] [--no-torch] [--only SECTION]
local cnn = cnn or require "cnn"
local nn = cnn.nn

local quick, use_torch, only = false, true, nil
for i, a in ipairs(arg or {}) do
  if a == "--quick" then quick = true
  elseif a == "--no-torch" then use_torch = false
  elseif a == "--only" then only = arg[i + 1] end
end
local threads = 2
cnn.set_num_threads(threads)

local function has_torch()
  if not use_torch then return false end
  local f = io.popen("/usr/bin/python3 -c 'import torch' 2>/dev/null && echo yes")
  local ok = f and f:read("a"):find("yes") ~= nil
  if f then f:close() end
  return ok
end
local torch = has_torch()

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

-- Seconds per call of fn: median of 5 timings of enough calls for 0.2 s.
local function time(fn)
  fn()
  local reps, t0 = 1, cnn.clock()
  fn()
  local once = cnn.clock() - t0
  reps = math.max(1, math.floor(0.2 / math.max(once, 1e-6)))
  if quick then reps = math.max(1, reps // 4) end
  local runs = {}
  for r = 1, quick and 3 or 5 do
    t0 = cnn.clock()
    for _ = 1, reps do fn() end
    runs[r] = (cnn.clock() - t0) / reps
  end
  return median(runs)
end

-- Seconds per iteration that PyTorch takes for a workload, or nil.
local function torch_time(key)
  if not torch then return nil end
  local cmd = string.format("OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_torch.py %s %s 2>/dev/null", key,
    quick and "quick" or "")
  local f = io.popen(cmd)
  local out = f:read("a")
  f:close()
  return tonumber(out:match("seconds ([%d.e+-]+)"))
end

-- Our time (ours(), seconds) and PyTorch's for one workload, measured in
-- turn three times (once with --quick): this machine's slow phases last
-- seconds, and a single pair could put one side in one and the other not.
-- The median of each side's three.
local ROUNDS = quick and 1 or 3
local function paired(ours, key)
  local mine, theirs = {}, {}
  for r = 1, torch and ROUNDS or 1 do
    mine[r] = ours()
    theirs[#theirs + 1] = torch_time(key)
  end
  return median(mine), #theirs > 0 and median(theirs) or nil
end

local rows = {}
local function row(section, name, ours, theirs, unit, per)
  -- per: the work of one call (flops or bytes or images), to print a rate
  local r = { section = section, name = name, ours = ours, theirs = theirs, unit = unit, per = per }
  rows[#rows + 1] = r
  local rate = per and string.format("%8.1f %-8s", per / ours / (unit == "img/s" and 1 or 1e9), unit) or
      string.format("%17s", "")
  local ratio = theirs and string.format("%8.2f ms %7.2fx", theirs * 1e3, theirs / ours) or ""
  print(string.format("%-46s %9.3f ms %s %s", name, ours * 1e3, rate, ratio))
  io.stdout:flush()
end

local function section(name)
  if only and only ~= name then return false end
  print("\n" .. name)
  return true
end

print(string.format("cnnlua %s, %d threads, kernels %s (this CPU runs: %s), %s; PyTorch %s", cnn.version, threads,
  cnn.isa(), table.concat(cnn.isas(), " "), os.date("!%Y-%m-%d"),
  torch and "side by side (ratio = PyTorch time / ours: above 1 means cnnlua is faster)" or "not available"))
print(string.format("%-46s %12s %17s %8s %8s", "workload", "cnnlua", "rate", "PyTorch", "ratio"))

-- Convolution layers a-f of docs/performance.md: forward, and forward with
-- both gradients (input and weight), which costs three forwards.
local convs = {
  { "a", "LeNet conv1 b64 1->6 5x5 pad2 28x28", 64, 1, 6, 5, 2, 28 },
  { "b", "LeNet conv2 b64 6->16 5x5 14x14", 64, 6, 16, 5, 0, 14 },
  { "c", "b32 64->64 3x3 pad1 32x32", 32, 64, 64, 3, 1, 32 },
  { "d", "b32 128->128 3x3 pad1 16x16", 32, 128, 128, 3, 1, 16 },
  { "e", "b32 64->128 1x1 32x32", 32, 64, 128, 1, 0, 32 },
  { "f", "b1 64->64 3x3 pad1 56x56", 1, 64, 64, 3, 1, 56 },
}
if section("convolution (GFLOP/s)") then
  local runs = {}
  for _, c in ipairs(convs) do runs[#runs + 1] = { c, "" } end
  -- the 3x3 layers again with Winograd's 4x4 tiles (cnn.set_winograd(4): faster, rounds more)
  for _, c in ipairs(convs) do
    if c[6] == 3 then runs[#runs + 1] = { c, " F4" } end
  end
  for _, run in ipairs(runs) do
    local c, tag = run[1], run[2]
    cnn.set_winograd(tag == "" and 2 or 4)
    local key, name, N, C, K, k, pad, H = table.unpack(c)
    name = name .. tag
    local x, w, b = cnn.randn(N, C, H, H), cnn.randn(K, C, k, k), cnn.randn(K)
    local P = H + 2 * pad - k + 1
    local flop = 2 * N * K * P * P * C * k * k
    local opts = { padding = pad }
    local fwd, theirs = paired(function() return time(function() return cnn.conv2d(x, w, b, opts) end) end,
      "conv_" .. key .. "_fwd")
    row("conv", key .. ". " .. name .. " fwd", fwd, theirs, "GFLOP/s", flop)
    if key ~= "f" then
      local dy = cnn.randn(N, K, P, P)
      local gw, gb = cnn.zeros(K, C, k, k), cnn.zeros(K)
      local both, theirs2 = paired(function()
        return time(function()
          cnn.conv2d(x, w, b, opts)
          cnn.conv2d_backward(x, w, dy, opts, gw, gb, key ~= "a")
        end)
      end, "conv_" .. key .. "_fwdbwd")
      row("conv", key .. ". " .. name .. " fwd+bwd", both, theirs2, "GFLOP/s", 3 * flop)
    end
  end
  cnn.set_winograd(2)
end

-- Memory-bound kernels, against a copy of as many bytes through mapped memory.
-- After a memory-bound kernel's row (seconds t for n bytes moved): a copy
-- moving the same bytes (n/2 read, n/2 written, already mapped), as the
-- target reads, and the kernel's time against it. The same bytes matter: a
-- kernel's tensors may outgrow the caches that a smaller copy runs in.
local function against_copy(t, n)
  local src, dst = cnn.randn(n // 8), cnn.empty(n // 8)
  local c = time(function() dst:copy_(src) end)
  print(string.format("  %-44s %9.3f ms %8.1f GB/s    kernel / copy %5.2fx", string.format("copy of the same %d MiB",
    n // 2 ^ 20), c * 1e3, n / c / 1e9, t / c))
end

if section("memory-bound kernels (GB/s moved)") then
  local x = cnn.randn(32, 64, 32, 32)
  local bytes = x:numel() * 4
  local out = cnn.empty(32, 64, 32, 32)
  local copy = time(function() out:copy_(x) end)
  row("memory", "reference: copy 8 MiB (read + write)", copy, nil, "GB/s", 2 * bytes)
  -- results written into the last call's tensors, as modules with reuse_outputs() (examples/train.lua) do
  local y, idx = cnn.max_pool2d(x, 2)
  local dy, dx = cnn.randn(y:shape()), cnn.empty(x:shape())
  local pool = time(function()
    cnn.max_pool2d(x, 2, nil, y, idx)
    cnn.max_pool2d_backward(x, idx, dy, 2, nil, dx)
  end)
  -- fwd reads x, writes y and indices; bwd reads dy and indices, writes dx
  local theirs_pool = torch_time("maxpool")
  row("memory", "max_pool2d 2x2/2 32x64x32x32 fwd+bwd", pool, theirs_pool, "GB/s", bytes * 3)
  against_copy(pool, bytes * 3)
  -- without indices, as nn.MaxPool2d runs: fwd reads x, writes y; bwd reads x and dy, writes dx
  local free = time(function()
    cnn.max_pool2d(x, 2, nil, y, false)
    cnn.max_pool2d_backward(x, nil, dy, 2, nil, dx)
  end)
  row("memory", "  the same without indices (nn.MaxPool2d)", free, theirs_pool, "GB/s", bytes * 3.5)
  against_copy(free, bytes * 3.5)
  local bn = nn.BatchNorm2d(64):reuse_outputs()
  local g = cnn.randn(32, 64, 32, 32)
  local batchnorm = time(function()
    bn:forward(x)
    bn:backward(x, g)
  end)
  row("memory", "batchnorm2d(64) training fwd+bwd", batchnorm, torch_time("batchnorm"), "GB/s", bytes * 6)
  against_copy(batchnorm, bytes * 6)
  local r = cnn.relu(x)
  local relu = time(function()
    cnn.relu(x, r)
    cnn.relu_backward(x, r, g, dx)
  end)
  row("memory", "relu fwd+bwd", relu, torch_time("relu"), "GB/s", bytes * 5)
  against_copy(relu, bytes * 5)
end

-- The networks, as source (the peak-memory runs build them in a process of
-- their own): LeNet-5 as examples/train.lua ships it, and the small VGG-style
-- CNN of PyTorch's side, both with the same layers there (ReLUs in place,
-- there too).
local MODELS = {
  lenet = 'dofile("examples/models/lenet.lua")(10)',
  cnn = [[(function()
    local nn, m = cnn.nn, cnn.nn.Sequential()
    local function conv(cin, cout) m:add(nn.Conv2d(cin, cout, 3, { padding = 1 })):add(nn.ReLU({ inplace = true })) end
    conv(1, 32); conv(32, 32); m:add(nn.MaxPool2d(2))
    conv(32, 64); conv(64, 64); m:add(nn.MaxPool2d(2))
    return m:add(nn.Flatten()):add(nn.Linear(64 * 7 * 7, 128)):add(nn.ReLU({ inplace = true })):add(nn.Linear(128, 10))
  end)()]],
}
local function builder(key)
  return assert(load("return " .. MODELS[key], "=" .. key))
end
local small_cnn, lenet = builder("cnn"), builder("lenet")

-- This process's minor page faults so far (Linux), or nil.
local function minor_faults()
  local f = io.open("/proc/self/stat")
  if not f then return nil end
  local stat = f:read("a")
  f:close()
  return tonumber(stat:match("^%d+ %b() %S+" .. string.rep(" %S+", 6) .. " (%d+)"))
end

-- Training throughput on Fashion-MNIST: batch 64, SGD with momentum 0.9.
-- Seconds per step: the median of 5 runs of a fixed number of steps after 5
-- steps of warm-up (a single run is at the mercy of a noisy machine), and
-- the page faults per step over all runs.
local train_set
local function training(build, steps)
  train_set = train_set or select(1, cnn.data.fashion_mnist(nil, { bytes = true, split = "train" })) -- as examples/train.lua
  local model = build():reuse_outputs() -- as examples/train.lua
  local crit = nn.CrossEntropyLoss()
  local opt = cnn.optim.SGD(model, { lr = 0.01, momentum = 0.9 })
  local loader = cnn.data.loader(train_set, { batch_size = 64, shuffle = true })
  local iter = loader:iter()
  local function step()
    local x, y = iter()
    opt:zero_grad()
    local s = model:forward(x)
    crit:forward(s, y)
    model:backward(x, crit:backward(s, y), false)
    opt:step()
  end
  for _ = 1, 5 do step() end
  local runs, f0 = {}, minor_faults()
  for r = 1, 5 do
    local t0 = cnn.clock()
    for _ = 1, steps do step() end
    runs[r] = (cnn.clock() - t0) / steps
  end
  local faults = minor_faults()
  return median(runs), faults and (faults - f0) / (5 * steps)
end

if section("training on Fashion-MNIST (images/s)") then
  local faults = {}
  for i, m in ipairs({ { "LeNet-5, batch 64", lenet, quick and 4 or 20, "train_lenet" },
    { "small CNN (468k parameters), batch 64", small_cnn, quick and 1 or 4, "train_cnn" } }) do
    local t, theirs = paired(function()
      local s
      s, faults[i] = training(m[2], m[3])
      return s
    end, m[4])
    row("train", m[1], t, theirs, "img/s", 64)
  end
  if faults[1] then
    print(string.format("%-46s %9.1f / %.1f (LeNet / small CNN, after warm-up)", "page faults per training step",
      faults[1], faults[2]))
  end
end

if section("inference (images/s)") then
  for _, m in ipairs({ { "LeNet-5", lenet, "lenet" }, { "small CNN", small_cnn, "cnn" } }) do
    local model = m[2]():evaluate():reuse_outputs()
    for _, batch in ipairs({ 1, 256 }) do
      local x = cnn.rand(batch, 1, 28, 28)
      local t, theirs = paired(function()
        if batch == 1 and m[3] == "cnn" then cnn.set_num_threads(1) end
        local s = time(function() return model:forward(x) end)
        cnn.set_num_threads(threads)
        return s
      end, string.format("infer_%s_%d", m[3], batch))
      row("infer", string.format("%s, batch %d%s", m[1], batch, batch == 1 and m[3] == "cnn" and " (1 thread)" or ""), t,
        theirs, "img/s", batch)
    end
  end
end

-- Peak memory of a training run, and start-up time, in separate processes.
local function shell(cmd)
  local f = io.popen(cmd)
  local out = f:read("a")
  f:close()
  return out
end

if section("process (peak RSS in MiB, start-up in ms)") then
  for _, m in ipairs({ { "LeNet-5", "lenet" }, { "small CNN", "cnn" } }) do
    local script = string.format([[
      local nn = cnn.nn
      local train = cnn.data.fashion_mnist(nil, {bytes = true, split = "train"})
      local model = (%s):reuse_outputs() -- as examples/train.lua
      local crit, opt = nn.CrossEntropyLoss(), cnn.optim.SGD(model, {lr = 0.01, momentum = 0.9})
      local it = cnn.data.loader(train, {batch_size = 64, shuffle = true}):iter()
      for _ = 1, 30 do
        local x, y = it()
        opt:zero_grad(); local s = model:forward(x); crit:forward(s, y); model:backward(x, crit:backward(s, y), false); opt:step()
      end
      local f = io.open("/proc/self/status"); print(f:read("a"):match("VmHWM:%%s*(%%d+)")); f:close()]], MODELS[m[2]])
    local path = os.tmpname()
    local f = io.open(path, "w")
    f:write(script)
    f:close()
    local kb = tonumber(shell("./cnnlua " .. path):match("(%d+)"))
    os.remove(path)
    local theirs = torch_time("rss_" .. m[2])
    print(string.format("%-46s %9.0f MiB %17s %s", "peak RSS, training " .. m[1], kb / 1024, "",
      theirs and string.format("%8.0f MiB %7.2fx", theirs, theirs / (kb / 1024)) or ""))
  end
  local starts = {}
  for i = 1, 15 do
    local t0 = cnn.clock()
    os.execute("./cnnlua -e '' >/dev/null 2>&1")
    starts[i] = cnn.clock() - t0
  end
  table.sort(starts)
  local theirs = torch_time("startup")
  row("process", "start-up: cnnlua -e '' (PyTorch: import torch)", starts[8], theirs, nil, nil)
end

-- Data-parallel scaling: LeNet training, 1 process x 2 threads against 2
-- processes x 1 thread (mpirun), and the time spent in allreduce per step.
if section("data-parallel scaling (LeNet-5, global batch 64)") and os.execute("command -v mpirun >/dev/null") then
  local steps = quick and 20 or 100
  local script = string.format([[
    local dist = require "cnn.dist"
    local rank, size = dist.init()
    cnn.set_num_threads(tonumber(os.getenv("THREADS")))
    local nn = cnn.nn
    local train = cnn.data.fashion_mnist()
    cnn.seed(1)
    local net = dofile("examples/models/lenet.lua")(10)
    local model = dist.DataParallel(net)
    local crit, opt = nn.CrossEntropyLoss(), cnn.optim.SGD(model, {lr = 0.01, momentum = 0.9})
    local it = cnn.data.loader(train, {batch_size = 64 // size, shuffle = true, shard = {rank, size}}):iter()
    local sync = 0
    local function step()
      local x, y = it()
      opt:zero_grad(); local s = net:forward(x); crit:forward(s, y); net:backward(x, crit:backward(s, y), false)
      local t = dist.wtime(); model:sync_gradients(); sync = sync + dist.wtime() - t
      opt:step()
    end
    for _ = 1, 5 do step() end
    sync = 0
    dist.barrier()
    local t0 = dist.wtime()
    for _ = 1, %d do step() end
    dist.barrier()
    if rank == 1 then print("seconds", (dist.wtime() - t0) / %d, "sync", sync / %d) end
    dist.finalize()]], steps, steps, steps)
  local path = os.tmpname()
  local f = io.open(path, "w")
  f:write(script)
  f:close()
  local env = 'OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none '
    .. 'LUA_CPATH="build/?.so;;" '
  local one = shell(env .. "THREADS=2 ./cnnlua " .. path)
  local two = shell(env .. "THREADS=1 mpirun -np 2 --oversubscribe ./cnnlua " .. path .. " 2>/dev/null")
  os.remove(path)
  local s1 = tonumber(one:match("seconds%s+([%d.e+-]+)"))
  local s2, sync2 = tonumber(two:match("seconds%s+([%d.e+-]+)")), tonumber(two:match("sync%s+([%d.e+-]+)"))
  if s1 then row("dist", "1 process x 2 threads", s1, nil, "img/s", 64) end
  if s2 then
    row("dist", "2 processes x 1 thread (mpirun)", s2, nil, "img/s", 64)
    print(string.format("%-46s %9.3f ms per step (%.0f%% of the step)", "  of which gradient allreduce", sync2 * 1e3,
      100 * sync2 / s2))
  end
end
