-- Checks of cnn.dist, run by spec/dist_spec.lua under mpirun -np 2. Every rank
-- runs them; rank 1 prints one line per check and a summary.
local cnn = cnn or require "cnn"
local dist = require "cnn.dist"
local nn, optim, data = cnn.nn, cnn.optim, cnn.data

local rank, size = dist.init()
local results = {}
local function check(ok, what)
  results[#results + 1] = { ok and true or false, what }
end

-- collectives
local t = cnn.full({ 4 }, rank)
check(dist.allreduce_(t, "sum"):equal(cnn.full({ 4 }, 3)), "allreduce_ sum")
t = cnn.full({ 2, 3 }, rank)
check(dist.allreduce_(t, "mean"):equal(cnn.full({ 2, 3 }, 1.5)), "allreduce_ mean")
t = cnn.full({ 5 }, rank)
check(dist.allreduce_(t, "max"):equal(cnn.full({ 5 }, 2)), "allreduce_ max")
local b = cnn.full({ 2, 2 }, 10 * rank)
check(dist.broadcast_(b, 2):equal(cnn.full({ 2, 2 }, 20)), "broadcast_ from rank 2")
local g = dist.allgather(cnn.full({ 3 }, rank))
check(g:equal(cnn.tensor({ { 1, 1, 1 }, { 2, 2, 2 } })), "allgather")
check(select(2, pcall(dist.allreduce_, cnn.zeros(4, 4):transpose(1, 2))):find("must be contiguous", 1, true) ~= nil,
  "a non-contiguous tensor is refused")

-- Data parallelism: each rank with half of a global batch of 64, 20 steps of
-- SGD with momentum, against one process on the whole batch.
local function build()
  cnn.seed(5)
  return nn.Sequential { nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 3) }
end
cnn.seed(6)
local x, labels = cnn.randn(64, 10), {}
for i = 1, 64 do labels[i] = i % 3 + 1 end
local y = cnn.tensor(labels)
local function train(model, inputs, targets)
  local opt = optim.SGD(model, { lr = 0.1, momentum = 0.9 })
  local crit = nn.CrossEntropyLoss()
  for _ = 1, 20 do
    opt:zero_grad()
    local scores = model:forward(inputs)
    crit:forward(scores, targets)
    model:backward(inputs, crit:backward(scores, targets))
    opt:step()
  end
end
local reference = build()
train(reference, x, y)
local net = build()
net.modules[1].weight:add_(rank - 1) -- differs on rank 2: DataParallel must start from rank 1's
local dp = dist.DataParallel(net, { bucket_mb = 0.0005 }) -- tiny buckets: several allreduces
local half = 64 // size
train(dp, x:narrow(1, (rank - 1) * half + 1, half), y:narrow(1, (rank - 1) * half + 1, half))
local worst = 0
local p_ref, p_dp = reference:parameters(), net:parameters()
for i = 1, #p_ref do worst = math.max(worst, (p_ref[i] - p_dp[i]):abs():max()) end
check(worst < 1e-5, string.format("20 steps on two halves equal 20 steps on the whole batch (max difference %.1e)", worst))
check(#dp._buckets > 1, "gradients travel in several buckets")

-- Sharding: every sample exactly once per epoch, the same orders on all ranks.
local set = { images = cnn.zeros(1000, 1), labels = cnn.arange(1, 1001) }
cnn.seed(9)
local loader = data.loader(set, { batch_size = 32, shuffle = true, shard = { rank, size } })
for epoch = 1, 2 do
  local seen = cnn.zeros(1000)
  for _, idx in loader:iter() do
    for i = 1, idx:numel() do seen:set(idx:get(i), seen:get(idx:get(i)) + 1) end
  end
  dist.allreduce_(seen, "sum")
  check(seen:equal(cnn.ones(1000)), "epoch " .. epoch .. ": every sample exactly once across the ranks")
end

if rank == 1 then
  local passed, failed = 0, 0
  for _, r in ipairs(results) do
    print((r[1] and "ok: " or "FAILED: ") .. r[2])
    if r[1] then passed = passed + 1 else failed = failed + 1 end
  end
  print(string.format("dist: %d passed, %d failed", passed, failed))
end
dist.finalize()
