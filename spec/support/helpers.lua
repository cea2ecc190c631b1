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

function H.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

function H.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- A fresh temporary directory.
function H.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

-- An IDX file of unsigned bytes: a header for the shape, then the bytes.
function H.idx_bytes(shape, bytes)
  local parts = { string.pack(">BBBB", 0, 0, 8, #shape) }
  for _, n in ipairs(shape) do parts[#parts + 1] = string.pack(">I4", n) end
  parts[#parts + 1] = bytes
  return table.concat(parts)
end

-- A small Fashion-MNIST look-alike in dir: n training and m test images of
-- 28 x 28 whose bytes follow (i * 7 + j) % 256, labels i % 10 (with
-- opts.bad_label, the first label is 10, out of range).
function H.fake_fashion(dir, n, m, opts)
  opts = opts or {}
  for prefix, count in pairs({ train = n, t10k = m }) do
    local img, lab = {}, {}
    for i = 0, count - 1 do
      local row = {}
      for j = 0, 783 do row[#row + 1] = string.char((i * 7 + j) % 256) end
      img[#img + 1] = table.concat(row)
      lab[#lab + 1] = string.char(opts.bad_label and i == 0 and 10 or i % 10)
    end
    H.write(dir .. "/" .. prefix .. "-images-idx3-ubyte", H.idx_bytes({ count, 28, 28 }, table.concat(img)))
    H.write(dir .. "/" .. prefix .. "-labels-idx1-ubyte", H.idx_bytes({ count }, table.concat(lab)))
  end
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
