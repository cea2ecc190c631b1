-- Helpers shared by the specs: tensor comparison and running the cnnlua program.
local cnn = require "cnn"
local assert = require "luassert"

local H = {}

-- Asserts that tensor t has the given shape and values within tol (default exact).
function H.assert_tensor(t, expected, tol)
  assert.is_true(cnn.is_tensor(t), "expected a tensor, got " .. type(t))
  local e = cnn.is_tensor(expected) and expected or cnn.tensor(expected)
  assert.are.same(e:shape(), t:shape())
  local a, b = t:contiguous():view(-1), e:contiguous():view(-1)
  for i = 1, a:numel() do
    local x, y = a:get(i), b:get(i)
    if not (x == y or (x ~= x and y ~= y) or math.abs(x - y) <= (tol or 0)) then
      error(string.format("element %d: got %.9g, expected %.9g (tol %g)", i, x, y, tol or 0), 2)
    end
  end
end

-- The path of the cnnlua program under test (the sanitized one under `make asan`).
H.cnnlua = os.getenv("CNNLUA") or "./cnnlua"

-- Runs a shell command; returns its stdout+stderr and its exit code.
function H.run(cmd)
  local f = assert(io.popen(cmd .. " 2>&1; echo \"exit:$?\""))
  local out = f:read("a")
  f:close()
  local code = tonumber(out:match("exit:(%d+)\n?$"))
  return out:gsub("exit:%d+\n?$", ""), code
end

function H.shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Writes text to a fresh temporary file and returns its name.
function H.tmpfile(text)
  local name = os.tmpname()
  local f = assert(io.open(name, "w"))
  f:write(text or "")
  f:close()
  return name
end

-- Resident set size of this process in MiB (Linux).
function H.rss_mib()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local kb = f:read("a"):match("VmRSS:%s*(%d+)")
  f:close()
  return tonumber(kb) / 1024
end

return H
