-- cnn.save and cnn.load: round trips, classes, shared references, atomic
-- writes and every way a file can be wrong.
local cnn = require "cnn"
local nn, optim = cnn.nn, cnn.optim
local H = require "support.helpers"

local function tmp()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local read, write = H.read, H.write

describe("cnn.save and cnn.load", function()
  it("round-trip tensors, numbers, strings, booleans and nested tables", function()
    local path = tmp()
    local t = cnn.randn(3, 4)
    local value = { t = t, n = 42, f = 0.25, s = "hello\0world", b = false, nested = { 1, 2, { x = true } },
      view = t:transpose(1, 2), empty = cnn.zeros(0, 3), scalar = cnn.tensor(7), [3] = "three" }
    cnn.save(path, value)
    local r = cnn.load(path)
    os.remove(path)
    assert.is_true(r.t:equal(t))
    assert.are.equal(42, r.n)
    assert.are.equal(math.type(42), math.type(r.n))
    assert.are.equal(0.25, r.f)
    assert.are.equal("hello\0world", r.s)
    assert.are.equal(false, r.b)
    assert.are.same({ 1, 2, { x = true } }, r.nested)
    assert.is_true(r.view:equal(t:transpose(1, 2)))
    assert.are.same({ 0, 3 }, r.empty:shape())
    assert.are.equal(7, r.scalar:item())
    assert.are.equal("three", r[3])
  end)

  it("keep shared and cyclic references shared", function()
    local path = tmp()
    local t = cnn.ones(2)
    local a = { t = t }
    a.self, a.again = a, t
    cnn.save(path, a)
    local r = cnn.load(path)
    os.remove(path)
    assert.are.equal(r, r.self)
    assert.are.equal(r.t, r.again)
  end)

  it("restore modules with their classes and buffers: the forward pass is bit-identical", function()
    cnn.seed(51)
    local model = nn.Sequential { nn.Conv2d(1, 4, 3, { padding = 1 }), nn.BatchNorm2d(4), nn.ReLU(),
      nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(64, 3), nn.LogSoftmax(2) }
    local x = cnn.randn(2, 1, 8, 8)
    model:forward(x) -- moves the running statistics
    model:evaluate()
    local y = model:forward(x)
    local path = tmp()
    cnn.save(path, model)
    local r = cnn.load(path)
    os.remove(path)
    assert.are.equal("nn.Sequential", r.__name)
    assert.are.equal(nn.BatchNorm2d, getmetatable(r.modules[2]))
    assert.is_true(r.modules[2].running_var:equal(model.modules[2].running_var))
    assert.is_nil(r.modules[1].output) -- results of the last call are not stored
    assert.is_true(r:forward(x):equal(y))
    assert.are.equal(tostring(model), tostring(r))
  end)

  it("restore optimizers and schedulers", function()
    local m = nn.Linear(2, 2)
    local o = optim.SGD(m, { lr = 0.1, momentum = 0.9 })
    local s = optim.StepLR(o, 2)
    local path = tmp()
    cnn.save(path, { o = o, s = s })
    local r = cnn.load(path)
    os.remove(path)
    assert.are.equal(optim.SGD, getmetatable(r.o))
    assert.are.equal(r.o, r.s.optimizer)
    assert.are.equal(0.9, r.o.options.momentum)
  end)

  it("restore custom classes defined before loading", function()
    local Custom = nn.Module:extend("test.SavedCustom")
    function Custom:update_output(x) return x end
    local path = tmp()
    cnn.save(path, Custom())
    assert.are.equal(Custom, getmetatable(cnn.load(path)))
    os.remove(path)
  end)

  it("write atomically: a failed save leaves the old file as it was", function()
    local path = tmp()
    cnn.save(path, { a = 1 })
    local before = read(path)
    assert.error_matches(function() cnn.save(path, { a = 1, f = print }) end,
      "save: .*: cannot store value.f %(a function%)")
    assert.are.equal(before, read(path))
    assert.error_matches(function() cnn.save("/nonexistent-dir/x.ckpt", { 1 }) end,
      "save: cannot write /nonexistent%-dir/x.ckpt: No such file or directory")
    os.remove(path)
  end)

  it("refuse values that cannot be stored", function()
    assert.error_matches(function() cnn.save(tmp(), nil) end, "save: nothing to save")
    assert.error_matches(function() cnn.save(tmp(), { co = coroutine.create(print) }) end, "cannot store value.co %(a thread%)")
    assert.error_matches(function() cnn.save(tmp(), setmetatable({}, {})) end, "metatable that is not a registered class")
    local t = cnn.zeros(2)
    t:free()
    assert.error_matches(function() cnn.save(tmp(), { t }) end, "a freed tensor")
  end)

  describe("rejects bad files with the path and the problem", function()
    local good
    setup(function()
      good = tmp()
      cnn.save(good, { w = cnn.randn(10, 10), name = "model" })
    end)
    teardown(function() os.remove(good) end)

    it("a missing file", function()
      assert.error_matches(function() cnn.load("/nonexistent/model.ckpt") end,
        "load: cannot open /nonexistent/model.ckpt: No such file or directory")
    end)

    it("a foreign file", function()
      local path = tmp()
      write(path, "PK\3\4 this is a zip file, not a checkpoint")
      assert.error_matches(function() cnn.load(path) end, "load: " .. path .. ": not a cnnlua file")
      write(path, "")
      assert.error_matches(function() cnn.load(path) end, "not a cnnlua file")
      os.remove(path)
    end)

    it("a truncated file, at every length", function()
      local data = read(good)
      local path = tmp()
      for _, n in ipairs({ 8, 20, 24, 100, #data - 1 }) do
        write(path, data:sub(1, n))
        assert.error_matches(function() cnn.load(path) end, "load: .*: (.*)")
        local ok, err = pcall(cnn.load, path)
        assert.is_false(ok)
        assert.truthy(err:find("truncated", 1, true) or err:find("not a cnnlua file", 1, true), err)
      end
      os.remove(path)
    end)

    it("a corrupt payload", function()
      local data = read(good)
      local path = tmp()
      local pos = #data - 50
      write(path, data:sub(1, pos - 1) .. string.char((data:byte(pos) + 1) % 256) .. data:sub(pos + 1))
      assert.error_matches(function() cnn.load(path) end, "load: .*: corrupt file %(checksum mismatch%)")
      write(path, data .. "extra")
      assert.error_matches(function() cnn.load(path) end, "corrupt file %(5 bytes after the payload%)")
      os.remove(path)
    end)

    it("a newer format version", function()
      local data = read(good)
      local path = tmp()
      write(path, data:sub(1, 8) .. string.pack("<I4", 99) .. data:sub(13))
      assert.error_matches(function() cnn.load(path) end, "format version 99, this cnnlua reads version 1")
      os.remove(path)
    end)

    it("an unknown class, without running anything from the file", function()
      local path = tmp()
      local payload = "C" .. string.pack("<I4 s4", 1, "os.execute") .. "E"
      write(path, string.pack("<c8 I4 I8 I4", "\137CNN\r\n\26\n", 1, #payload, cnn.crc32(payload)) .. payload)
      assert.error_matches(function() cnn.load(path) end, "unknown class 'os.execute'")
      os.remove(path)
    end)

    it("well-formed headers around malformed payloads", function()
      local path = tmp()
      for _, payload in ipairs({ "Z", "H" .. string.pack("<I4", 1), "R" .. string.pack("<I4", 7),
        "A" .. string.pack("<I4 B i8", 1, 1, 1000), "S" .. string.pack("<I8", 1 << 40), "T T" }) do
        write(path, string.pack("<c8 I4 I8 I4", "\137CNN\r\n\26\n", 1, #payload, cnn.crc32(payload)) .. payload)
        assert.error_matches(function() cnn.load(path) end, "corrupt file")
      end
      os.remove(path)
    end)
  end)
end)
