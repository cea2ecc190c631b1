-- cnn.dist: data-parallel training across processes on MPI (docs/distributed.md).
--
--   mpirun -np 2 cnnlua script.lua
--   local dist = require "cnn.dist"
--   dist.init()                       -- rank 1..size; a world of one outside mpirun
--   local model = dist.DataParallel(net)   -- same start everywhere, averaged gradients
--   ... train ...
--   dist.finalize()
--
-- Ranks are 1-based, as everything in Lua. The collectives work in place on
-- contiguous tensors, handing their memory to MPI without copies. MPI itself
-- lives in the C module cnn.mpi (make dist), loaded only when the program was
-- started by mpirun; the rest of cnnlua never links MPI.
local cnn = require "cnn"
local class = require "cnn.class"
local Module = require "cnn.nn.Module"

local dist = {}

local mpi -- the cnn.mpi module while running under mpirun
local rank, size = 1, 1

-- Whether a launcher (mpirun, mpiexec) started this process.
local function launched()
  return os.getenv("OMPI_COMM_WORLD_SIZE") ~= nil or os.getenv("PMI_SIZE") ~= nil or os.getenv("PMIX_RANK") ~= nil
end

function dist.init()
  if mpi then return rank, size end
  if launched() then
    local ok, m = pcall(require, "cnn.mpi")
    if not ok then
      error("dist.init: started by mpirun, but the MPI module cnn.mpi is missing (build it with make dist): " ..
        tostring(m), 2)
    end
    mpi = m
    rank, size = mpi.init()
  end
  return rank, size
end

function dist.rank() return rank end
function dist.size() return size end
function dist.is_distributed() return size > 1 end

function dist.barrier()
  if mpi then mpi.barrier() end
end

local function check(t, fname)
  if not cnn.is_tensor(t) then error("dist." .. fname .. ": expected a tensor, got " .. type(t), 3) end
end

-- t <- sum, mean or max of t over the ranks.
function dist.allreduce_(t, op)
  check(t, "allreduce_")
  op = op or "sum"
  if op ~= "sum" and op ~= "mean" and op ~= "max" then
    error("dist.allreduce_: op must be 'sum', 'mean' or 'max', got '" .. tostring(op) .. "'", 2)
  end
  if mpi then
    mpi.allreduce_(t, op == "max" and "max" or "sum")
    if op == "mean" then t:div_(size) end
  end
  return t
end

-- t <- t of rank root (1 by default).
function dist.broadcast_(t, root)
  check(t, "broadcast_")
  root = root or 1
  if math.type(root) ~= "integer" or root < 1 or root > size then
    error(string.format("dist.broadcast_: root %s out of range 1..%d", tostring(root), size), 2)
  end
  if mpi then mpi.broadcast_(t, root) end
  return t
end

-- A new tensor of shape (size, t's shape): every rank's t, by rank.
function dist.allgather(t)
  check(t, "allgather")
  local shape = t:shape()
  table.insert(shape, 1, size)
  local out = cnn.empty(shape)
  if mpi then
    mpi.allgather_into(t:contiguous(), out)
  else
    out:select(1, 1):copy_(t)
  end
  return out
end

function dist.finalize()
  if mpi then mpi.finalize() end
end

-- Seconds, for timing collectives.
function dist.wtime()
  return mpi and mpi.wtime() or cnn.clock()
end

-- dist.DataParallel(model [, {bucket_mb = 16}]): the model, with the same
-- parameters and buffers on every rank (rank 1's, broadcast at construction)
-- and, after each backward, the gradients averaged over the ranks. The
-- gradients travel in a few large buffers of at most bucket_mb megabytes
-- rather than one message per tensor. sync_buffers() averages the running
-- statistics (BatchNorm) so that every rank evaluates the same model.
local DataParallel = Module:extend("dist.DataParallel")
DataParallel.__transient = { output = true, grad_input = true, _buckets = true }

function DataParallel:__init(model, opts)
  Module.__init(self)
  if not class.is_instance(model, Module) then error("dist.DataParallel: expected an nn.Module", 3) end
  opts = opts or {}
  self.modules = { model }
  self.bucket_bytes = (opts.bucket_mb or 16) * 1024 * 1024
  self:broadcast_state()
end

function DataParallel:broadcast_state()
  local params = self.modules[1]:parameters()
  for _, p in ipairs(params) do dist.broadcast_(p, 1) end
  self.modules[1]:for_each_buffer(function(_, b) dist.broadcast_(b, 1) end)
end

function DataParallel:update_output(x)
  return self.modules[1]:forward(x)
end

function DataParallel:backward(x, dy, need_input_grad)
  self.grad_input = self.modules[1]:backward(x, dy, need_input_grad)
  self:sync_gradients()
  return self.grad_input
end

function DataParallel:update_grad_input(x, dy)
  return self.modules[1]:update_grad_input(x, dy)
end

function DataParallel:acc_grad_parameters(x, dy)
  self.modules[1]:acc_grad_parameters(x, dy)
  self:sync_gradients()
end

-- Groups of gradients whose sizes add up to at most bucket_bytes each.
local function buckets(grads, limit)
  local list, current, bytes = {}, {}, 0
  for _, g in ipairs(grads) do
    if #current > 0 and bytes + 4 * g:numel() > limit then
      list[#list + 1], current, bytes = current, {}, 0
    end
    current[#current + 1] = g
    bytes = bytes + 4 * g:numel()
  end
  if #current > 0 then list[#list + 1] = current end
  return list
end

function DataParallel:sync_gradients()
  if size == 1 then return end
  local _, grads = self.modules[1]:parameters()
  if not self._buckets then
    self._buckets = {}
    for _, group in ipairs(buckets(grads, self.bucket_bytes)) do
      local n = 0
      for _, g in ipairs(group) do n = n + g:numel() end
      self._buckets[#self._buckets + 1] = { grads = group, flat = cnn.empty(n) }
    end
  end
  for _, b in ipairs(self._buckets) do
    local at = 1
    for _, g in ipairs(b.grads) do
      b.flat:narrow(1, at, g:numel()):copy_(g:reshape(-1))
      at = at + g:numel()
    end
    dist.allreduce_(b.flat, "mean")
    at = 1
    for _, g in ipairs(b.grads) do
      g:copy_(b.flat:narrow(1, at, g:numel()):view(g:shape()))
      at = at + g:numel()
    end
  end
end

function DataParallel:sync_buffers()
  self.modules[1]:for_each_buffer(function(_, b) dist.allreduce_(b, "mean") end)
end

function DataParallel:describe()
  return string.format("dist.DataParallel(%d ranks)", size)
end

dist.DataParallel = DataParallel

return dist
