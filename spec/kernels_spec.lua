-- The functional kernels (cnn.conv2d, pooling, activations, losses): the fast
-- convolution against its naive twin on random shapes, and option handling.
local cnn = require "cnn"
local H = require "support.helpers"

describe("cnn.conv2d against cnn.conv2d_reference", function()
  it("agree on random shapes, forward and backward", function()
    cnn.seed(21)
    math.randomseed(21)
    for trial = 1, 40 do
      local groups = ({ 1, 1, 2, 3 })[math.random(4)]
      local C, K = groups * math.random(1, 3), groups * math.random(1, 3)
      local R, S = math.random(1, 4), math.random(1, 4)
      local opts = {
        stride = { math.random(1, 3), math.random(1, 3) },
        padding = { math.random(0, 2), math.random(0, 2) },
        dilation = { math.random(1, 2), math.random(1, 2) },
        groups = groups,
      }
      local H_, W_ = math.random(1, 9) + (R - 1) * opts.dilation[1], math.random(1, 9) + (S - 1) * opts.dilation[2]
      local N = math.random(1, 3)
      local x, w, b = cnn.randn(N, C, H_, W_), cnn.randn(K, C // groups, R, S), cnn.randn(K)
      local y = cnn.conv2d(x, w, b, opts)
      local what = string.format("trial %d: x %dx%dx%dx%d, w %dx%dx%dx%d", trial, N, C, H_, W_, K, C // groups, R, S)
      assert.is_true(y:allclose(cnn.conv2d_reference(x, w, b, opts), 1e-4, 1e-4), what .. " forward")
      local dy = cnn.randn(y:shape())
      local gw1, gb1, gw2, gb2 = cnn.zeros(w:shape()), cnn.zeros(K), cnn.zeros(w:shape()), cnn.zeros(K)
      local dx1 = cnn.conv2d_backward(x, w, dy, opts, gw1, gb1)
      local dx2 = cnn.conv2d_reference_backward(x, w, dy, opts, gw2, gb2)
      assert.is_true(dx1:allclose(dx2, 1e-4, 1e-4), what .. " grad input")
      assert.is_true(gw1:allclose(gw2, 1e-4, 1e-4), what .. " grad weight")
      assert.is_true(gb1:allclose(gb2, 1e-4, 1e-4), what .. " grad bias")
    end
  end)

end)

-- The products behind cnn.conv2d are blocked (132 rows of weights, 160 deep,
-- 512 pixels at a time) and run one micro-kernel per instruction set; stride-1
-- layers take the implicit product, 3x3 ones Winograd's, depthwise ones
-- direct kernels. Shapes here cross every block edge and take every path, on
-- every kernel set this CPU runs.
describe("cnn.conv2d on each instruction set", function()
  local shapes = {
    -- N, C, K, H, W, R, S, stride, pad, dil, groups
    { 1, 20, 140, 23, 25, 3, 3, 1, 1, 1, 1 }, -- 140 rows: two row blocks, ragged last panel; 180 deep: two depth blocks
    { 2, 3, 7, 31, 29, 5, 5, 1, 2, 1, 1 },    -- 899 pixels: two column blocks, a ragged panel
    { 3, 64, 65, 6, 7, 1, 1, 1, 0, 1, 1 },    -- 1x1: the image is its own column matrix
    { 1, 6, 9, 17, 19, 3, 2, 2, 1, 1, 3 },    -- strided and grouped: the folded input gradient
    { 2, 4, 5, 12, 11, 3, 3, 1, 2, 2, 1 },    -- dilated
    { 1, 2, 3, 9, 9, 2, 3, 1, 2, 1, 1 },      -- padding wider than the kernel: no flipped input gradient
    { 3, 1, 6, 28, 27, 5, 5, 1, 2, 1, 1 },    -- one input channel: the direct kernels (LeNet's first layer)
    { 2, 4, 8, 9, 13, 3, 2, 1, 1, 1, 4 },     -- depthwise: direct too, two outputs per group
    { 7, 16, 9, 6, 7, 3, 3, 1, 1, 1, 1 },     -- small images: several per product, also in the flipped pass
    -- 3x3 with 32 or more channels in and out and 48 or more tiles: Winograd tiles of 2x2 outputs, cut at odd edges
    { 3, 48, 50, 9, 8, 3, 3, 1, 0, 1, 1 },    -- no padding, odd rows of output, blocks across images
    { 1, 96, 96, 11, 13, 3, 3, 1, 2, 1, 2 },  -- padding 2, two groups of 48 channels
    { 2, 48, 54, 10, 10, 3, 3, 1, 1, 1, 1 },  -- 54 output channels: tiles of 6 rows
    { 1, 48, 48, 30, 30, 3, 3, 1, 1, 1, 1 },  -- one image in blocks of tile rows across threads
    { 2, 12, 18, 11, 13, 3, 3, 1, 2, 1, 2 },  -- fewer channels: the implicit product, six-row tiles, groups
    { 2, 32, 64, 9, 9, 3, 3, 1, 1, 1, 1 },    -- 32 -> 64: Winograd's, and its flipped pass 64 -> 32 too
    { 2, 32, 32, 9, 9, 3, 3, 1, 1, 1, 1 },    -- 32 -> 32, 50 tiles: Winograd's
    { 1, 32, 32, 13, 13, 3, 3, 1, 0, 1, 1 },  -- 36 tiles: the implicit product; its flipped pass (49) Winograd's
    { 12, 32, 32, 5, 6, 3, 3, 1, 1, 1, 1 },   -- rows narrower than a vector, split one float at a time
    { 1, 64, 40, 7, 7, 3, 3, 1, 1, 1, 1 },    -- 16 tiles: the implicit product
    { 3, 24, 40, 8, 8, 3, 3, 1, 1, 1, 1 },    -- fewer than 32 channels in: the implicit product
    -- with cnn.set_winograd(4), F(4x4, 3x3): 17x19 (cut tiles, 5 a row), 40 channels in, 50 out, across images;
    -- 24x36 (9 tiles a row: a vector and one)
    { 3, 40, 50, 17, 19, 3, 3, 1, 1, 1, 1 },
    { 2, 64, 32, 24, 36, 3, 3, 1, 1, 1, 1 },
    -- the implicit product: one channel in, six out (tiles of 6 rows); dilated with several channels
    { 2, 1, 6, 12, 13, 5, 5, 1, 2, 1, 1 },
    { 2, 5, 7, 13, 12, 3, 2, 1, { 1, 2 }, { 2, 1 }, 1 },
    -- rows of products that end in a tail narrower than a tile: Winograd's 49 tiles (two tiles of 24 and a
    -- vector; of 16 and a vector with tiles of 6 channels), 81 (three of 24 and two vectors); the implicit
    -- product's 99 positions, 20 channels out (a vector; five panels of 4)
    { 1, 32, 32, 14, 14, 3, 3, 1, 1, 1, 1 },
    { 1, 32, 30, 14, 14, 3, 3, 1, 1, 1, 1 },
    { 1, 40, 36, 18, 18, 3, 3, 1, 1, 1, 1 },
    { 1, 3, 20, 9, 9, 3, 3, 1, 1, 1, 1 },
    -- the implicit product on shifted copies of small images (rows Q wide, no padding columns): LeNet's
    -- second layer (rows of 10 sliced from the image itself: two vectors), rows of 5 (one float at a time),
    -- dilated rows of 18 sliced from the padded image (a loop of vectors), two groups
    { 2, 6, 16, 14, 14, 5, 5, 1, 0, 1, 1 },
    { 1, 3, 16, 9, 9, 5, 5, 1, 0, 1, 1 },
    { 2, 4, 12, 14, 20, 3, 3, 1, 1, 2, 1 },
    { 1, 8, 24, 12, 12, 5, 5, 1, 2, 1, 2 },
  }
  -- close: an elementwise check of the rounding of sums of the given depth;
  -- with F(4x4, 3x3) (cnn.set_winograd(4)) the forward pass and input gradient
  -- are held to 2e-5 of the largest output instead (its transforms multiply
  -- by up to 8 and divide by 24: the errors are about ten times larger)
  local function check_shapes(label, wide, list)
    cnn.seed(31)
    for i, t in ipairs(list or shapes) do
      local N, C, K, Hh, W, R, S, st, pad, dil, groups = table.unpack(t)
      local opts = { stride = st, padding = pad, dilation = dil, groups = groups }
      local x, w, b = cnn.randn(N, C, Hh, W), cnn.randn(K, C // groups, R, S), cnn.randn(K)
      local what = string.format("%s shape %d", label, i)
      local function close(a, ref, depth, atol, part)
        if wide then
          local err, scale = (a - ref):abs():max(), ref:abs():max()
          assert.is_true(err <= 2e-5 * scale, string.format("%s %s: error %g of %g", what, part, err, scale))
        else
          assert.is_true(a:allclose(ref, 2e-6 * depth, atol), what .. " " .. part)
        end
      end
      local y = cnn.conv2d(x, w, b, opts)
      -- the error bound grows with the depth of the sums (C/G * R * S terms)
      local depth = C // groups * R * S
      close(y, cnn.conv2d_reference(x, w, b, opts), depth, 2e-6 * depth, "forward")
      -- rectified in the same call (fused into F(2x2)'s output transform, a pass after the others): the same
      -- floats as cnn.relu of the plain result
      local ropts = { stride = st, padding = pad, dilation = dil, groups = groups, relu = true }
      assert.is_true(cnn.conv2d(x, w, b, ropts):equal(cnn.relu(y)), what .. " forward with relu")
      local dy = cnn.randn(y:shape())
      local gw1, gb1, gw2, gb2 = cnn.zeros(w:shape()), cnn.zeros(K), cnn.zeros(w:shape()), cnn.zeros(K)
      local dx1 = cnn.conv2d_backward(x, w, dy, opts, gw1, gb1)
      local dx2 = cnn.conv2d_reference_backward(x, w, dy, opts, gw2, gb2)
      close(dx1, dx2, K * R * S, 1e-4, "grad input")
      assert.is_true(gw1:allclose(gw2, 2e-6 * N * Hh * W, 1e-4), what .. " grad weight")
      assert.is_true(gb1:allclose(gb2, 1e-4, 1e-4), what .. " grad bias")
    end
  end

  for _, isa in ipairs(cnn.isas()) do
    it("agree with the naive twin: " .. isa, function()
      local before = cnn.isa()
      cnn.set_isa(isa)
      assert.are.equal(isa, cnn.isa())
      check_shapes(isa, false)
      cnn.set_isa(before)
    end)
  end

  -- On one thread a 14x14 image's 49 Winograd tiles are one block, and rows of products end in one or two
  -- columns (taken four channels at a time, 8, 4, 2 and 1 panels of them): 44 channels out (11 panels), 60
  -- (15) over 50 tiles, and the implicit product's 97 positions with 20 channels out (5)
  local narrow = {
    { 1, 32, 44, 14, 14, 3, 3, 1, 1, 1, 1 },
    { 2, 32, 60, 9, 9, 3, 3, 1, 1, 1, 1 },
    { 1, 3, 20, 9, 9, 3, 3, 1, 1, 1, 1 },
  }
  it("agree with the naive twin on one thread, where rows of products end in a column or two", function()
    local before, threads = cnn.isa(), cnn.get_num_threads()
    cnn.set_num_threads(1)
    local ok, err = true, nil
    for _, isa in ipairs(cnn.isas()) do
      cnn.set_isa(isa)
      if ok then ok, err = pcall(check_shapes, isa .. ", one thread", false, narrow) end
    end
    cnn.set_isa(before)
    cnn.set_num_threads(threads)
    assert(ok, err)
  end)

  it("agree with the naive twin without Winograd's algorithm, and with its 4x4 tiles", function()
    assert.are.equal(2, cnn.get_winograd()) -- the default: F(2x2, 3x3)
    cnn.set_winograd(0)
    check_shapes("no Winograd", false)
    cnn.set_winograd(4)
    local before = cnn.isa()
    local ok, err = pcall(check_shapes, "Winograd 4x4", true)
    if ok then -- and the portable build of its transforms
      cnn.set_isa("scalar")
      ok, err = pcall(check_shapes, "Winograd 4x4, scalar", true)
    end
    cnn.set_winograd(2)
    cnn.set_isa(before)
    assert(ok, err)
    assert.has_error(function() cnn.set_winograd(3) end, "set_winograd: expected 0, 2 or 4 (tiles of outputs), got 3")
  end)

  it("leave what a NaN input left in the scratch space out of the next layer's results", function()
    -- Winograd's forward products read V past the last tile (left as it is); a layer of NaNs fills the
    -- scratch space with NaN first. Then 49 and 81 tiles, with F(2x2) and F(4x4), forward and input gradient.
    local nan = cnn.full({ 2, 64, 40, 40 }, 0 / 0)
    for _, tiles in ipairs({ 2, 4 }) do
      cnn.set_winograd(tiles)
      for _, hw in ipairs({ 14, 18 }) do
        cnn.conv2d(nan, cnn.randn(64, 64, 3, 3), nil, { padding = 1 })
        cnn.conv2d_backward(nan, cnn.randn(64, 64, 3, 3), cnn.full({ 2, 64, 40, 40 }, 0 / 0), { padding = 1 })
        local x, w = cnn.randn(1, 40, hw, hw), cnn.randn(36, 40, 3, 3)
        local y = cnn.conv2d(x, w, nil, { padding = 1 })
        local ref = cnn.conv2d_reference(x, w, nil, { padding = 1 })
        local err = (y - ref):abs():max()
        assert.is_true(err <= 2e-5 * ref:abs():max(), string.format("F%d %dx%d forward: error %g", tiles, hw, hw, err))
        local dy = cnn.randn(y:shape())
        local gw, gw_ref = cnn.zeros(w:shape()), cnn.zeros(w:shape())
        local dx = cnn.conv2d_backward(x, w, dy, { padding = 1 }, gw)
        local dref = cnn.conv2d_reference_backward(x, w, dy, { padding = 1 }, gw_ref)
        err = (dx - dref):abs():max()
        assert.is_true(err <= 2e-5 * dref:abs():max(), string.format("F%d %dx%d input grad: error %g", tiles, hw, hw, err))
        -- the weight gradient sums over the tiles: there the columns past them must be zeros
        err = (gw - gw_ref):abs():max()
        assert.is_true(err <= 2e-5 * gw_ref:abs():max(), string.format("F%d %dx%d weight grad: error %g", tiles, hw, hw, err))
      end
    end
    cnn.set_winograd(2)
  end)

  it("are chosen by name, and refuse what the CPU cannot run", function()
    local runs = {}
    for _, name in ipairs(cnn.isas()) do runs[name] = true end
    assert.is_true(runs.scalar and runs.openblas)
    assert.are.equal(cnn.isas()[1], cnn.isa()) -- the best by default
    assert.has_error(function() cnn.set_isa("sse9") end,
      "set_isa: unknown kernel set 'sse9' (expected avx512, openblas, avx2 or scalar)")
    for _, name in ipairs({ "avx512", "avx2" }) do
      if not runs[name] then
        assert.has_error(function() cnn.set_isa(name) end, "set_isa: this CPU cannot run '" .. name .. "'")
      end
    end
  end)

  it("follow CNNLUA_ISA, and fail to load on a name the CPU cannot run", function()
    local out, code = H.run("CNNLUA_ISA=scalar " .. H.shell_quote(H.cnnlua) .. " -e 'print(cnn.isa())'")
    assert.are.equal(0, code, out)
    assert.are.equal("scalar\n", out)
    out, code = H.run("CNNLUA_ISA=mmx " .. H.shell_quote(H.cnnlua) .. " -e 'print(cnn.isa())'")
    assert.are_not.equal(0, code)
    assert.matches("CNNLUA_ISA=mmx: unknown kernel set", out, 1, true)
  end)
end)

describe("transformed weights kept between calls (small batches)", function()
  -- 3x3 with 32 channels: Winograd's; 5x5 with 6: the implicit product
  local layers = { { 2, 32, 32, 10, 3, 1 }, { 1, 6, 16, 14, 5, 0 } }
  for _, l in ipairs(layers) do
    local N, C, K, H, k, pad = table.unpack(l)
    it(string.format("%d -> %d, %dx%d: follow every change of the weights", C, K, k, k), function()
      cnn.seed(5)
      local x, w, b = cnn.randn(N, C, H, H), cnn.randn(K, C, k, k), cnn.randn(K)
      local opts = { padding = pad }
      local tol = 2e-6 * C * k * k
      local function check(what)
        assert.is_true(cnn.conv2d(x, w, b, opts):allclose(cnn.conv2d_reference(x, w, b, opts), tol, tol), what)
      end
      check("first call")
      check("unchanged weights")
      w:mul_(-0.5)
      check("weights scaled in place")
      w:narrow(1, K, 1):narrow(2, C, 1):fill_(3) -- one kernel of the last channel pair only
      check("one kernel changed")
      local other = w:clone():add_(1) -- the same geometry, other weights: kept apart
      assert.is_true(cnn.conv2d(x, other, b, opts):allclose(cnn.conv2d_reference(x, other, b, opts), tol, tol))
      check("back to the first weights")
      w:copy_(other)
      check("copied over")
    end)
  end

  it("stay right past the number of layers kept, and for layers too big to keep", function()
    cnn.seed(6)
    local x = cnn.randn(1, 32, 6, 6)
    local ws, ys = {}, {}
    for i = 1, 40 do
      ws[i] = cnn.randn(32, 32, 3, 3)
      ys[i] = cnn.conv2d_reference(x, ws[i], nil, { padding = 1 })
    end
    for _ = 1, 2 do
      for i = 1, 40 do assert.is_true(cnn.conv2d(x, ws[i], nil, { padding = 1 }):allclose(ys[i], 1e-3, 1e-3), i) end
    end
    local big = cnn.randn(512, 512, 3, 3) -- more than the cache holds: packed for each call
    local xb = cnn.randn(1, 512, 8, 8)
    local y1 = cnn.conv2d(xb, big, nil, { padding = 1 })
    big:mul_(2)
    assert.is_true(cnn.conv2d(xb, big, nil, { padding = 1 }):allclose(y1 * 2, 1e-4, 1e-3))
  end)
end)

describe("the product kernels, one by one", function()
  it("agree with a double-precision loop on random shapes (AVX-512 over software intrinsics without the CPU)", function()
    local runs = {}
    for _, name in ipairs(cnn.isas()) do runs[name] = true end
    local dir = H.tmpdir()
    local cc = "cc -O1 -std=c11 -D_GNU_SOURCE -fsanitize=address,undefined -fno-sanitize-recover=undefined "
    local avx512 = runs.avx512 and "-Icore" or "-DCNN_SOFTWARE_INTRINSICS -Ispec/support/emu"
    local build = table.concat({
      cc .. "-Icore -c core/sgemm_avx2.c -o " .. dir .. "/avx2.o",
      cc .. avx512 .. " -c core/sgemm_avx512.c -o " .. dir .. "/avx512.o",
      cc .. "-Icore spec/support/isa_check.c " .. dir .. "/avx2.o " .. dir .. "/avx512.o -o " .. dir ..
        "/isa_check $(pkg-config --cflags --libs openblas) -lm -lpthread",
    }, " && ")
    local out, code = H.run(build)
    assert.are.equal(0, code, out)
    for _, name in ipairs({ "avx512", "openblas", "avx2", "scalar" }) do
      if name ~= "avx2" or runs.avx2 then
        out, code = H.run("ASAN_OPTIONS=detect_leaks=1 " .. dir .. "/isa_check " .. name)
        assert.are.equal(0, code, out)
        assert.are.equal(name .. ": 0 bad of 120\n", out)
      end
    end
    -- the AVX-512 build of the implicit product (convolutions and Winograd's products) and its row products
    out, code = H.run(cc .. avx512 .. " -Icore spec/support/implicit_check.c -o " .. dir .. "/implicit_check -lm && " ..
      "ASAN_OPTIONS=detect_leaks=1 " .. dir .. "/implicit_check")
    assert.are.equal(0, code, out)
    assert.are.equal("implicit avx512: 0 bad of 400\n", out)
    os.execute("rm -rf " .. H.shell_quote(dir))
  end)
end)

describe("cnn.conv2d options", function()
  it("take the bias as nil or leave it out, and single images", function()
    cnn.seed(22)
    local x, w = cnn.randn(1, 2, 5, 5), cnn.randn(3, 2, 3, 3)
    local a = cnn.conv2d(x, w, nil, { padding = 1 })
    assert.is_true(a:equal(cnn.conv2d(x, w, { padding = 1 })))
    local single = cnn.conv2d(x:select(1, 1), w, { padding = 1 })
    assert.are.same({ 3, 5, 5 }, single:shape())
    assert.is_true(single:equal(a:select(1, 1)))
  end)

  it("read non-contiguous inputs", function()
    cnn.seed(23)
    local x, w = cnn.randn(2, 5, 5, 2):permute(1, 4, 2, 3), cnn.randn(3, 2, 3, 3)
    assert.is_true(cnn.conv2d(x, w):allclose(cnn.conv2d(x:contiguous(), w)))
  end)

  it("accumulate parameter gradients and can skip the input gradient", function()
    cnn.seed(24)
    local x, w = cnn.randn(1, 2, 4, 4), cnn.randn(2, 2, 3, 3)
    local dy = cnn.randn(1, 2, 2, 2)
    local gw = cnn.zeros(2, 2, 3, 3)
    assert.is_nil(cnn.conv2d_backward(x, w, dy, nil, gw, nil, false))
    local once = gw:clone()
    cnn.conv2d_backward(x, w, dy, nil, gw, nil, false)
    assert.is_true(gw:allclose(once * 2))
  end)
end)

describe("kernel options", function()
  it("an unknown key is an error that names it", function()
    assert.error_matches(function() cnn.conv2d(cnn.zeros(1, 1, 3, 3), cnn.zeros(1, 1, 1, 1), { pad = 1 }) end,
      "conv2d: unknown option 'pad'")
    assert.error_matches(function() cnn.max_pool2d(cnn.zeros(1, 1, 4, 4), 2, { groups = 1 }) end,
      "max_pool2d: unknown option 'groups'")
    assert.error_matches(function() cnn.avg_pool2d(cnn.zeros(1, 1, 4, 4), 2, { dilation = 2 }) end,
      "avg_pool2d: unknown option 'dilation'")
    -- relu belongs to the forward pass
    local x, w = cnn.zeros(1, 1, 3, 3), cnn.zeros(1, 1, 1, 1)
    assert.error_matches(function() cnn.conv2d_backward(x, w, cnn.zeros(1, 1, 3, 3), { relu = true }) end,
      "conv2d_backward: unknown option 'relu'")
    assert.error_matches(function() cnn.conv2d(x, w, { relu = 1 }) end,
      "conv2d: option 'relu' must be a boolean, got number")
  end)

  it("relu rectifies a convolution's result, NaN staying NaN, on every path", function()
    -- F(2x2)'s output transform and the implicit product's row stores rectify; F(4x4) and the direct kernels in a
    -- pass after
    local cases = { { 1, 32, 32, 14, 14, 3 }, { 2, 3, 8, 9, 9, 3 }, { 2, 1, 6, 12, 12, 5 }, { 2, 4, 5, 6, 6, 1 } }
    for _, tiles in ipairs({ 2, 4 }) do
      cnn.set_winograd(tiles)
      for i, c in ipairs(cases) do
        local N, C, K, Hh, W, R = table.unpack(c)
        local x, w, b = cnn.randn(N, C, Hh, W), cnn.randn(K, C, R, R), cnn.randn(K)
        x:set(1, 1, 2, 3, 0 / 0)
        local opts = { padding = R // 2 }
        local y = cnn.conv2d(x, w, b, opts)
        local r = cnn.conv2d(x, w, b, { padding = R // 2, relu = true }, cnn.zeros(y:shape()))
        local nans = 0
        for n = 1, N do
          for k = 1, K do
            for p = 1, Hh do
              for q = 1, W do
                local a, v = y:get(n, k, p, q), r:get(n, k, p, q)
                if a ~= a then
                  assert.is_true(v ~= v, string.format("case %d: NaN at %d %d %d %d", i, n, k, p, q))
                  nans = nans + 1
                else
                  assert.are.equal(a < 0 and 0 or a, v, string.format("case %d at %d %d %d %d", i, n, k, p, q))
                end
              end
            end
          end
        end
        assert.is_true(nans > 0, "case " .. i .. ": the NaN reached the output")
      end
    end
    cnn.set_winograd(2)
  end)

  it("sizes are numbers or {h, w} pairs of integers", function()
    assert.error_matches(function() cnn.conv2d(cnn.zeros(1, 1, 3, 3), cnn.zeros(1, 1, 1, 1), { stride = 1.5 }) end,
      "conv2d: stride must be an integer or an {h, w} pair of integers, got 1.5")
    assert.error_matches(function() cnn.conv2d(cnn.zeros(1, 1, 3, 3), cnn.zeros(1, 1, 1, 1), { padding = { 1 } }) end,
      "conv2d: padding must be a number or an {h, w} pair")
    assert.error_matches(function() cnn.conv2d(cnn.zeros(1, 1, 3, 3), cnn.zeros(1, 1, 1, 1), { stride = 0 }) end,
      "conv2d: stride must be positive, got 0")
    assert.error_matches(function() cnn.max_pool2d(cnn.zeros(1, 1, 4, 4), 2, { ceil_mode = 1 }) end,
      "max_pool2d: option 'ceil_mode' must be a boolean")
  end)

  it("check shapes of gradients and weights", function()
    local x, w = cnn.zeros(1, 2, 4, 4), cnn.zeros(3, 2, 3, 3)
    assert.error_matches(function() cnn.conv2d_backward(x, w, cnn.zeros(1, 3, 3, 3)) end,
      "conv2d_backward: grad_output has shape %(1, 3, 3, 3%), expected %(1, 3, 2, 2%)")
    assert.error_matches(function() cnn.conv2d_backward(x, w, cnn.zeros(1, 3, 2, 2), nil, cnn.zeros(3, 2, 2, 2)) end,
      "conv2d_backward: grad_weight has shape %(3, 2, 2, 2%), expected %(3, 2, 3, 3%)")
    assert.error_matches(function() cnn.conv2d(x, cnn.zeros(3, 2, 3)) end, "conv2d: expected a 4%-d weight")
    assert.error_matches(function() cnn.conv2d(x, w, cnn.zeros(2)) end,
      "conv2d: bias has 2 elements, expected 3 %(one per output channel%)")
    assert.error_matches(function() cnn.conv2d(cnn.zeros(1, 4, 4, 4), cnn.zeros(4, 2, 1, 1), { groups = 3 }) end,
      "input has 4 channels, weight expects 6 %(2 per group x 3 groups%)")
  end)
end)

describe("pointwise kernels on views", function()
  it("take non-contiguous inputs, with and without their optional arguments", function()
    cnn.seed(51)
    local x = cnn.randn(3, 4):transpose(1, 2)
    local c = x:contiguous()
    for _, f in ipairs({ "relu", "leaky_relu", "sigmoid", "tanh" }) do
      assert.is_true(cnn[f](x):equal(cnn[f](c)), f)
    end
    assert.is_true(cnn.leaky_relu(x, 0.2):equal(cnn.leaky_relu(c, 0.2)))
    assert.is_true(cnn.softmax(x, 2):equal(cnn.softmax(c, 2)))
    assert.error_matches(function() cnn.softmax(x) end, "no value")
    cnn.seed(52)
    local a = cnn.dropout(x, 0.5)
    cnn.seed(52)
    assert.is_true(a:equal(cnn.dropout(c, 0.5)))
  end)
end)

describe("pooling kernels", function()
  it("max_pool2d returns the maxima and their positions", function()
    local x = cnn.tensor({ { { 1, 5, 2, 0 }, { 3, 4, 8, 7 }, { 0, 0, 1, 1 }, { 9, 0, 1, 2 } } })
    local y, idx = cnn.max_pool2d(x, 2)
    H.assert_tensor(y, { { { 5, 8 }, { 9, 2 } } })
    H.assert_tensor(idx, { { { 1, 6 }, { 12, 15 } } })
    local dx = cnn.max_pool2d_backward(x, idx, cnn.ones(1, 2, 2), 2)
    assert.are.equal(4, dx:sum())
    assert.are.equal(1, dx:get(1, 1, 2))
  end)

  -- check() under the default kernels and under the portable ones (which run the SSE2 paths); an
  -- error names the set
  local function on_both_sets(check)
    local before = cnn.isa()
    for _, isa in ipairs({ before, "scalar" }) do
      cnn.set_isa(isa)
      local ok, err = pcall(check)
      cnn.set_isa(before)
      if not ok then error(isa .. ": " .. tostring(err), 0) end
    end
  end

  -- 2x2 max pooling of a random N x C x H x W batch (small integers: ties; NaN; -inf) against a direct loop
  local function pool_check(shape)
    local N, C, Hh, W = table.unpack(shape)
    local x = cnn.zeros(N, C, Hh, W)
    local values = { -0.0, 0.0, -0.0, 0.0, 1, 2, 3 } -- many ties, some of +0 and -0 (the first wins)
    for n = 1, N do
      for c = 1, C do
        for i = 1, Hh do
          for j = 1, W do x:set(n, c, i, j, values[math.random(#values)]) end
        end
      end
    end
    for _ = 1, 6 do x:set(1, 1, math.random(Hh), math.random(W), 0 / 0) end
    x:set(N, C, 1, 1, -math.huge)
    local y, idx = cnn.max_pool2d(x, 2)
    local alone = cnn.max_pool2d(x, 2, nil, nil, false) -- without indices: the maxima found another way
    local P, Q = Hh // 2, W // 2
    for n = 1, N do
      for c = 1, C do
        for p = 1, P do
          for q = 1, Q do
            local best, at
            for _, d in ipairs({ { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } }) do
              local i, j = 2 * p - 1 + d[1], 2 * q - 1 + d[2]
              local v = x:get(n, c, i, j)
              if at == nil or v > best or (v ~= v and best == best) then best, at = v, (i - 1) * W + (j - 1) end
            end
            local where = string.format("shape %s at %d,%d,%d,%d", table.concat(shape, "x"), n, c, p, q)
            for _, got in ipairs({ y:get(n, c, p, q), alone:get(n, c, p, q) }) do
              assert.is_true((got == best and 1 / got == 1 / best) or (got ~= got and best ~= best), where)
            end
            assert.are.equal(at, idx:get(n, c, p, q), where)
          end
        end
      end
    end
  end

  it("max_pool2d 2x2 (the vectorised paths) matches a direct loop: ties, NaN, odd sizes", function()
    -- rows of 2-10 and 16 windows: SSE2 by fours, and with AVX2 by eights (all but the shortest rows)
    local shapes = { { 2, 3, 10, 18 }, { 1, 2, 7, 21 }, { 1, 1, 4, 9 }, { 2, 3, 14, 14 }, { 1, 2, 6, 7 }, { 1, 2, 4, 32 } }
    on_both_sets(function()
      math.randomseed(41)
      for _, shape in ipairs(shapes) do pool_check(shape) end
    end)
  end)

  -- the gradient of 2x2 max pooling of random shapes against a scatter, and indices outside their windows
  local function pool_back_check()
    cnn.seed(42)
    for _, shape in ipairs({ { 2, 3, 10, 18 }, { 1, 2, 7, 21 }, { 1, 1, 5, 9 }, { 2, 3, 14, 14 }, { 1, 2, 6, 7 },
      { 1, 2, 5, 33 } }) do
      local N, C, Hh, W = table.unpack(shape)
      local x = cnn.randn(N, C, Hh, W)
      local y, idx = cnn.max_pool2d(x, 2)
      local dy = cnn.randn(y:shape())
      local dx = cnn.max_pool2d_backward(x, idx, dy, 2)
      local want = cnn.zeros(N, C, Hh, W)
      for n = 1, N do
        for c = 1, C do
          for p = 1, Hh // 2 do
            for q = 1, W // 2 do
              local at = idx:get(n, c, p, q)
              local i, j = at // W + 1, at % W + 1
              want:set(n, c, i, j, want:get(n, c, i, j) + dy:get(n, c, p, q))
            end
          end
        end
      end
      assert.is_true(dx:equal(want), table.concat(shape, "x"))
    end
    -- an index inside the plane but outside its window is scattered as given
    local x = cnn.randn(1, 1, 4, 4)
    local idx = cnn.tensor({ { { { 0, 2 }, { 15, 10 } } } })
    local dx = cnn.max_pool2d_backward(x, idx, cnn.ones(1, 1, 2, 2), 2)
    assert.are.equal(4, dx:sum())
    assert.are.equal(1, dx:get(1, 1, 4, 4))
    assert.error_matches(function() cnn.max_pool2d_backward(x, idx + 16, cnn.ones(1, 1, 2, 2), 2) end,
      "max_pool2d_backward: indices hold a position outside the input plane of 4 x 4")
    assert.error_matches(function() cnn.max_pool2d_backward(x, idx * (0 / 0), cnn.ones(1, 1, 2, 2), 2) end,
      "outside the input plane")
    -- the same in rows of eight windows and more
    x = cnn.randn(1, 1, 2, 19)
    local _
    _, idx = cnn.max_pool2d(x, 2)
    local target = idx:get(1, 1, 1, 8)
    idx:set(1, 1, 1, 3, target) -- window 3 points at window 8's maximum
    dx = cnn.max_pool2d_backward(x, idx, cnn.ones(1, 1, 1, 9), 2)
    assert.are.equal(9, dx:sum())
    assert.are.equal(2, dx:view(-1):get(target + 1))
    assert.are.equal(0, dx:get(1, 1, 1, 19) + dx:get(1, 1, 2, 19)) -- the column no window covers
    idx:set(1, 1, 1, 9, 38)
    assert.error_matches(function() cnn.max_pool2d_backward(x, idx, cnn.ones(1, 1, 1, 9), 2) end,
      "outside the input plane of 2 x 19")
  end

  -- run() under the default kernels and under the portable ones: both results
  local function in_both_builds(run)
    local before = cnn.isa()
    local fast = run()
    cnn.set_isa("scalar")
    local ok, portable = pcall(run)
    cnn.set_isa(before)
    assert(ok, portable)
    return fast, portable
  end

  it("batch_norm's maps give the same floats in the portable and the AVX2 build", function()
    cnn.seed(43)
    local x, dy = cnn.randn(3, 5, 7, 9) * 2 + 1, cnn.randn(3, 5, 7, 9)
    local w, b = cnn.randn(5), cnn.randn(5)
    local function run()
      local y, mean, invstd = cnn.batch_norm(x, cnn.zeros(5), cnn.ones(5), w, b, true, 0.1, 1e-5)
      local gw, gb = cnn.zeros(5), cnn.zeros(5)
      local dx = cnn.batch_norm_backward(x, dy, w, mean, invstd, true, gw, gb, true)
      return { y, dx, gw, gb }
    end
    local fast, portable = in_both_builds(run)
    for i = 1, 4 do assert.is_true(fast[i]:equal(portable[i]), "result " .. i) end
  end)

  it("the activations give the same floats in the portable and the AVX2 build", function()
    cnn.seed(45)
    local x, dy = cnn.randn(3, 5, 7, 9), cnn.randn(3, 5, 7, 9)
    x:view(-1):set(7, 0 / 0)
    local function run()
      local out = {}
      for _, name in ipairs({ "relu", "leaky_relu", "sigmoid", "tanh" }) do
        local y = cnn[name](x)
        out[#out + 1] = y
        out[#out + 1] = cnn[name .. "_backward"](x, y, dy)
      end
      local r = x:clone()
      out[#out + 1] = cnn.relu_(r)
      out[#out + 1] = cnn.relu_backward_(r, dy:clone())
      local over = r:clone()
      out[#out + 1] = cnn.relu_backward_(over, dy, over)
      return out
    end
    local fast, portable = in_both_builds(run)
    for i = 1, #fast do
      local a, b = fast[i]:view(-1), portable[i]:view(-1)
      for k = 1, a:numel() do
        local u, v = a:get(k), b:get(k)
        assert.is_true(u == v or (u ~= u and v ~= v), "result " .. i .. " at " .. k)
      end
    end
  end)

  it("max_pool2d_backward 2x2 writes each gradient at its index, and rejects indices outside the plane", function()
    on_both_sets(pool_back_check)
  end)

  -- without indices (nn.MaxPool2d's way), backward finds the same maxima again: ties, NaN, -inf,
  -- rows of 2x2 windows shorter than a vector and longer than a piece of 256, and windows with stride,
  -- padding, dilation and ceil_mode
  local function pool_free_check()
    cnn.seed(44)
    math.randomseed(44)
    local cases = { { { 2, 3, 10, 18 }, 2 }, { { 1, 2, 7, 21 }, 2 }, { { 1, 1, 5, 7 }, 2 }, { { 1, 2, 4, 530 }, 2 },
      { { 2, 2, 9, 11 }, 3, { stride = 2, padding = 1 } }, { { 1, 3, 10, 9 }, { 2, 3 }, { dilation = 2, ceil_mode = true } },
      { { 1, 2, 6, 6 }, 2, { stride = 1 } } }
    for _, case in ipairs(cases) do
      local shape, k, opts = case[1], case[2], case[3]
      local x = cnn.zeros(table.unpack(shape))
      local flat = x:view(-1)
      for i = 1, x:numel() do flat:set(i, math.random(0, 3)) end -- many ties
      flat:set(1, 0 / 0)
      flat:set(x:numel() // 2, -math.huge)
      local y, idx = cnn.max_pool2d(x, k, opts)
      assert.are.equal(1, select("#", cnn.max_pool2d(x, k, opts, nil, false)))
      local alone = cnn.max_pool2d(x, k, opts, nil, false):view(-1)
      for i = 1, y:numel() do
        local a, b = alone:get(i), y:view(-1):get(i)
        assert.is_true(a == b or (a ~= a and b ~= b), table.concat(shape, "x"))
      end
      local dy = cnn.randn(y:shape())
      local want = cnn.max_pool2d_backward(x, idx, dy, k, opts)
      local got = cnn.max_pool2d_backward(x, nil, dy, k, opts)
      assert.is_true(got:equal(want), table.concat(shape, "x"))
    end
  end

  it("max_pool2d without indices: backward finds the maxima forward found", function()
    on_both_sets(pool_free_check)
  end)

  it("max_pool2d propagates NaN, as PyTorch", function()
    local y = cnn.max_pool2d(cnn.tensor({ { { 1, 0 / 0 }, { 3, 2 } } }), 2)
    assert.is_true(y:item() ~= y:item())
  end)

  it("avg_pool2d counts padding or not", function()
    local x = cnn.ones(1, 2, 2)
    H.assert_tensor(cnn.avg_pool2d(x, 2, { stride = 1, padding = 1 }), { { { 0.25, 0.5, 0.25 }, { 0.5, 1, 0.5 }, { 0.25, 0.5, 0.25 } } })
    H.assert_tensor(cnn.avg_pool2d(x, 2, { stride = 1, padding = 1, count_include_pad = false }), cnn.ones(1, 3, 3))
  end)

  it("adaptive_avg_pool2d to 1x1 is the mean of each plane", function()
    local x = cnn.arange(24):view(2, 3, 4)
    H.assert_tensor(cnn.adaptive_avg_pool2d(x, 1):view(2), x:view(2, 12):mean(2))
  end)
end)

describe("pointwise and loss kernels", function()
  it("softmax is stable for large inputs and sums to 1", function()
    local y = cnn.softmax(cnn.tensor({ { 1000, 1001, 1002 }, { -1000, 0, 1000 } }), 2)
    H.assert_tensor(y:sum(2), { 1, 1 }, 1e-6)
    H.assert_tensor(cnn.log_softmax(cnn.tensor({ { 1000, 1000 } }), 2), { { -math.log(2), -math.log(2) } }, 1e-6)
  end)

  it("dropout draws from the seeded generator", function()
    cnn.seed(31)
    local a = cnn.dropout(cnn.ones(50), 0.5)
    cnn.seed(31)
    assert.is_true(a:equal((cnn.dropout(cnn.ones(50), 0.5))))
    assert.error_matches(function() cnn.dropout(cnn.ones(2), -0.1) end, "dropout: probability %-0.1 out of range")
  end)

  it("cross_entropy equals nll_loss of log_softmax", function()
    cnn.seed(32)
    local x = cnn.randn(6, 4)
    local t = { 1, 2, 3, 4, 1, 2 }
    local a, b = cnn.cross_entropy(x, t), cnn.nll_loss(cnn.log_softmax(x, 2), t)
    assert.is_true(math.abs(a - b) < 1e-6)
    assert.error_matches(function() cnn.cross_entropy(x, t, "none") end, "reduction must be 'mean' or 'sum', got 'none'")
  end)
end)
