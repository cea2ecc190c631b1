-- cnn.dist: the collectives, data-parallel training and sharding under
-- `mpirun -np 2` (spec/support/dist_check.lua), a world of one without mpirun,
-- and a failing rank ending the job.
local H = require "support.helpers"

-- mpirun as root (CI, containers) needs these; leak checking is off because
-- MPI keeps its allocations until exit.
local MPIRUN = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
  .. "ASAN_OPTIONS=detect_leaks=0 timeout 120 mpirun -np 2 --oversubscribe "

describe("cnn.dist", function()
  it("passes its checks under mpirun -np 2", function()
    local out, code = H.run(MPIRUN .. H.shell_quote(H.cnnlua) .. " spec/support/dist_check.lua")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("dist: 10 passed, 0 failed", 1, true), out)
  end)

  it("is a world of one outside mpirun, with the same calls", function()
    local out, code = H.run(H.shell_quote(H.cnnlua) .. [[ -e '
      local dist = require "cnn.dist"
      local r, n = dist.init()
      local t = cnn.ones(3)
      dist.allreduce_(t, "mean"); dist.broadcast_(t); dist.barrier()
      local dp = dist.DataParallel(cnn.nn.Linear(2, 2))
      print(r, n, t:sum(), dist.allgather(t):size(1), dist.is_distributed())
      dist.finalize()']])
    assert.are.equal(0, code, out)
    assert.are.equal("1\t1\t3.0\t1\tfalse\n", out)
  end)

  it("ends the whole job with the failing rank's error, without a hang", function()
    local t0 = os.time()
    local out, code = H.run(MPIRUN .. H.shell_quote(H.cnnlua) .. [[ -e '
      local dist = require "cnn.dist"
      local r = dist.init()
      if r == 2 then error("rank 2 fails on purpose") end
      dist.barrier()
      dist.finalize()']])
    assert.are_not.equal(0, code)
    assert.truthy(out:find("rank 2 fails on purpose", 1, true), out)
    assert.is_true(os.time() - t0 < 60)
  end)

  it("train.lua --distributed trains on both ranks and resumes under mpirun exactly", function()
    local data, a, b = H.tmpdir(), H.tmpdir(), H.tmpdir()
    H.fake_fashion(data, 240, 60)
    local function train(args)
      return H.run(MPIRUN .. H.shell_quote(H.cnnlua) .. " examples/train.lua --distributed --threads 1 " .. args)
    end
    local common = string.format("--data %s --epochs 2 --augment --out ", data)
    local log, code = train(common .. a)
    assert.are.equal(0, code, log)
    assert.truthy(log:find("data-parallel over 2 processes, 32 images each per step", 1, true), log)
    local _, n = log:gsub("\nepoch  %d/2", "")
    assert.are.equal(2, n, log) -- only the first rank prints
    log, code = train(common .. b .. " --stop-after 5")
    assert.are.equal(130, code, log)
    log, code = train("--resume " .. b .. "/checkpoint.cnn")
    assert.are.equal(0, code, log)
    local function metrics(dir)
      return (H.read(dir .. "/metrics.csv"):gsub(",[%d.]+\n", "\n"))
    end
    assert.are.equal(metrics(a), metrics(b))
    os.execute("rm -rf " .. data .. " " .. a .. " " .. b)
  end)

  it("rejects bad arguments", function()
    local out = H.run(H.shell_quote(H.cnnlua) .. [[ -e '
      local dist = require "cnn.dist"
      dist.init()
      print(select(2, pcall(dist.allreduce_, cnn.ones(2), "min")))
      print(select(2, pcall(dist.broadcast_, cnn.ones(2), 3)))
      print(select(2, pcall(dist.allreduce_, {})))']])
    assert.truthy(out:find("op must be 'sum', 'mean' or 'max', got 'min'", 1, true), out)
    assert.truthy(out:find("root 3 out of range 1..1", 1, true), out)
    assert.truthy(out:find("expected a tensor, got table", 1, true), out)
  end)
end)
