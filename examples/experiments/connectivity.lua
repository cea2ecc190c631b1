-- Sparse interaction and parameter sharing, in numbers (Goodfellow, Bengio and
-- Courville, "Deep Learning", section 9.2).
--
-- Part 1 counts, for one layer mapping a C x H x W input to K x H x W with
-- k x k windows: the weights, the connections (input-output pairs that
-- interact) and the multiply-adds of a fully connected layer (every output
-- sees every input, each pair its own weight), a locally connected layer
-- (each output sees a k x k window: sparse interaction, but each position has
-- its own filter) and a convolution (sparse interaction and one filter shared
-- by all positions). The locally connected and convolutional counts are read
-- off real nn modules.
--
-- Part 2 follows the receptive field through a network, by the formula
--   RF = 1 + sum over layers of (k - 1) * (product of the strides before it)
-- and by a probe: the input pixels whose gradient is non-zero for one output
-- unit (weights set positive and pooling by averaging, so that no path cancels).
--
--   ./cnnlua examples/experiments/connectivity.lua [--quick] [--out DIR]
-- writes DIR/receptive_fields.png: the probe's gradient map after each layer.
local cnn = cnn or require "cnn"
local script_dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = script_dir .. "/../?.lua;" .. package.path
local options = require "lib.options"
local nn = cnn.nn

local opts = options.cli(arg, "examples/experiments/connectivity.lua", "Sparse interaction, parameter sharing and receptive fields, in numbers.", {
  { "quick", false, "a smaller run of a few seconds (what the specs check)", "flag" },
  { "out", "runs/experiments", "directory for the pictures", "string" },
  { "help", false, "show this help", "flag" },
})
local quick, out_dir = opts.quick, opts.out
options.ensure_dir(out_dir)

local function commas(n)
  local s = tostring(math.floor(n)):reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (s:gsub("^,", ""))
end

-- Connections of a k x k "same" convolution: taps that land inside the image.
local function window_connections(c, h, w, k, kout)
  local pad, total = k // 2, 0
  for y = 0, h - 1 do
    local rows = math.min(y + pad, h - 1) - math.max(y - pad, 0) + 1
    for x = 0, w - 1 do
      local cols = math.min(x + pad, w - 1) - math.max(x - pad, 0) + 1
      total = total + rows * cols
    end
  end
  return total * c * kout
end

print("Part 1: one layer, C x H x W -> K x H x W, k x k windows (no biases)\n")
print(string.format("%-30s %-18s %14s %14s %14s", "layer", "kind", "weights", "connections", "multiply-adds"))
local layers = { { 1, 28, 28, 32, 5 }, { 32, 14, 14, 64, 5 } }
if not quick then layers[#layers + 1] = { 3, 224, 224, 64, 3 } end
local first
for _, l in ipairs(layers) do
  local c, h, w, k, ks = table.unpack(l)
  local name = string.format("%dx%dx%d -> %dx%dx%d, %dx%d", c, h, w, k, h, w, ks, ks)
  local fc = (c * h * w) * (k * h * w)
  local conn = window_connections(c, h, w, ks, k)
  local lc_module = nn.LocallyConnected2d(c, k, ks, { input_size = { h, w }, padding = ks // 2, bias = false })
  local conv_module = nn.Conv2d(c, k, ks, { padding = ks // 2, bias = false })
  local rows = {
    { "fully connected", fc, fc, fc },
    { "locally connected", lc_module:num_parameters(), conn, conn },
    { "convolutional", conv_module:num_parameters(), conn, conn },
  }
  for _, r in ipairs(rows) do
    print(string.format("%-30s %-18s %14s %14s %14s", name, r[1], commas(r[2]), commas(r[3]), commas(r[4])))
    name = ""
  end
  first = first or rows
  print()
end
print(string.format("weights for 1x28x28 -> 32x28x28 with 5x5: %s / %s / %s (fully connected / locally connected /"
  .. " convolutional)", commas(first[1][2]), commas(first[2][2]), commas(first[3][2])))
print("The locally connected layer keeps the sparse interaction (connections); the convolution also shares")
print("its weights across positions, dividing the count by the number of positions.\n")

-- Part 2: receptive fields.
local net = {
  { "conv 3x3", 3, 1 }, { "conv 3x3", 3, 1 }, { "pool 2x2/2", 2, 2 },
  { "conv 3x3", 3, 1 }, { "conv 3x3", 3, 1 }, { "pool 2x2/2", 2, 2 },
  { "conv 5x5", 5, 1 }, { "conv 3x3 /2", 3, 2 },
}
if quick then net = { net[1], net[2], net[3], net[4] } end
local size = quick and 32 or 64
local modules = {}
for _, l in ipairs(net) do
  local m
  if l[1]:match("^conv") then
    m = nn.Conv2d(1, 1, l[2], { stride = l[3], padding = l[2] // 2, bias = false })
    m.weight:fill_(1 / (l[2] * l[2]))
  else
    m = nn.AvgPool2d(l[2], { stride = l[3] })
  end
  modules[#modules + 1] = m
end

print("Part 2: receptive field of the centre unit after each layer, input " .. size .. "x" .. size .. "\n")
print(string.format("%-4s %-12s %6s %14s %14s", "", "layer", "stride", "RF (formula)", "RF (gradient)"))
local rf, jump, maps, all_match = 1, 1, {}, true
for depth, l in ipairs(net) do
  rf = rf + (l[2] - 1) * jump
  jump = jump * l[3]
  local x = cnn.ones(1, 1, size, size)
  local seq = nn.Sequential()
  for j = 1, depth do seq:add(modules[j]) end
  local y = seq:forward(x)
  local probe = cnn.zeros(y:shape())
  probe:set(1, 1, (y:size(3) + 1) // 2, (y:size(4) + 1) // 2, 1)
  local g = seq:backward(x, probe):select(1, 1):select(1, 1)
  -- the width of the region of non-zero gradient: columns holding any
  local nonzero = g:abs():clamp(0, 1e-30):mul_(1e30):clamp(0, 1)
  local width = nonzero:sum(1):clamp(0, 1):sum()
  all_match = all_match and width == rf
  print(string.format("%-4d %-12s %6d %14d %14d", depth, l[1], l[3], rf, width))
  maps[#maps + 1] = (g / g:max()):view(1, 1, size, size)
end
print(all_match and "\nThe gradient probe agrees with the formula at every layer."
  or "\nThe gradient probe DISAGREES with the formula.")

local all = cnn.empty(#maps, 1, size, size)
for j, m in ipairs(maps) do all:narrow(1, j, 1):copy_(m) end
local grid = cnn.image.grid(all, { nrow = #maps, padding = 2, pad_value = 0.3 })
cnn.image.save(out_dir .. "/receptive_fields.png", cnn.image.resize(grid, grid:size(2) * 3, grid:size(3) * 3, "nearest"))
print("wrote " .. out_dir .. "/receptive_fields.png")
if not all_match then os.exit(1, true) end
