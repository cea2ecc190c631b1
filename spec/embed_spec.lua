-- Embedding and packaging: the C host examples, the host API's errors, an
-- installation used through pkg-config alone, and the LuaRocks package.
local H = require "support.helpers"

local sh = H.shell_quote

describe("embedding", function()
  local data, run
  setup(function()
    data, run = H.tmpdir(), H.tmpdir()
    H.fake_fashion(data, 120, 30)
    local log, code = H.run(string.format("%s examples/train.lua --data %s --limit 120 --epochs 1 --out %s",
      sh(H.cnnlua), data, run))
    assert(code == 0, log)
  end)
  teardown(function() os.execute("rm -rf " .. data .. " " .. run) end)

  it("examples/embed/classify classifies a PNG with a model trained by train.lua", function()
    local cnn = require "cnn"
    local png = run .. "/picture.png"
    cnn.image.save(png, cnn.rand(3, 50, 40))
    for _, model in ipairs({ run .. "/model.cnn", run .. "/checkpoint.cnn" }) do
      local out, code = H.run("build/examples/classify " .. model .. " " .. png)
      assert.are.equal(0, code, out)
      assert.truthy(out:match("^" .. png:gsub("%p", "%%%0") .. ": [%a/%- ]+ %(%d+%.%d%%%)\n$"), out)
    end
    local out, code = H.run("build/examples/classify /nonexistent.cnn " .. png)
    assert.are.equal(1, code)
    assert.truthy(out:find("classify: load: cannot open /nonexistent.cnn", 1, true), out)
  end)

  it("examples/embed/threads runs two states in two threads without interference", function()
    local out, code = H.run("build/examples/threads")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("independent: yes", 1, true), out)
    assert.truthy(out:find("shared pool: both trained", 1, true), out)
  end)

  it("installs into a prefix, builds a host with pkg-config alone, and uninstalls", function()
    local prefix = H.tmpdir()
    local out, code = H.run("make --no-print-directory install PREFIX=" .. prefix)
    assert.are.equal(0, code, out)
    for _, f in ipairs({ "bin/cnnlua", "include/cnnlua.h", "lib/libcnnlua.a", "lib/libcnnlua.so",
      "lib/lua/5.4/cnn.so", "lib/pkgconfig/cnnlua.pc" }) do
      assert.is_true(io.open(prefix .. "/" .. f) ~= nil, f)
    end
    local env = string.format("PKG_CONFIG_PATH=%s/lib/pkgconfig ", prefix)
    out, code = H.run(env .. string.format("cc -o %s/host spec/support/host_check.c $(%spkg-config --cflags --libs cnnlua)",
      prefix, env))
    assert.are.equal(0, code, out)
    out, code = H.run(string.format("LD_LIBRARY_PATH=%s/lib %s/host %s/model.cnn", prefix, prefix, run))
    assert.are.equal(0, code, out)
    assert.truthy(out:find("host: all checks passed", 1, true), out)
    out, code = H.run(string.format("cd / && %s/bin/cnnlua -e 'print(cnn.nn.Linear(3, 2):num_parameters())'", prefix))
    assert.are.equal("8\n", out)
    out, code = H.run("make --no-print-directory uninstall PREFIX=" .. prefix)
    assert.are.equal(0, code, out)
    assert.is_nil(io.open(prefix .. "/lib/libcnnlua.so"))
    assert.is_nil(io.open(prefix .. "/bin/cnnlua"))
    os.execute("rm -rf " .. prefix)
  end)

  it("luarocks make installs the module, and stock lua5.4 requires it from there", function()
    local src, tree = H.tmpdir(), H.tmpdir()
    local out, code = H.run(string.format("cp -r core lua tools Makefile cnnlua-0.1.0-1.rockspec %s/ && cd %s && "
      .. "luarocks --lua-version 5.4 make --tree %s cnnlua-0.1.0-1.rockspec", src, src, tree))
    assert.are.equal(0, code, out)
    out, code = H.run(string.format("cd / && LUA_PATH=';;' LUA_CPATH='%s/lib/lua/5.4/?.so' lua5.4 -e "
      .. "'local cnn = require \"cnn\"; print(cnn.version, cnn.ones(2):sum())'", tree))
    assert.are.equal(0, code, out)
    assert.truthy(out:match("^%d+%.%d+%.%d+\t2%.0\n$"), out)
    os.execute("rm -rf " .. src .. " " .. tree)
  end)
end)
