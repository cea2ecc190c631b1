-- Translation equivariance, measured. A convolution commutes with shifts:
-- f(shift x) = shift f(x). How exactly depends on the details: stride-1
-- convolution with circular padding is equivariant to float rounding; zero
-- padding breaks it at the borders; subsampling (a stride-2 convolution, max
-- pooling) keeps it only for shifts that are multiples of the stride, and
-- anti-aliasing (Zhang's BlurPool) softens the loss for the others.
--
-- For each set-up, a stack of randomly initialised layers, and each input
-- shift s (cyclic, along the width), the script prints the relative error
--   || f(shift_s x) - shift_{s/D} f(x) || / || f(x) ||
-- after each layer, D being the layer's total stride (a fractional shift
-- s/D is linear interpolation between the two nearest whole shifts).
--
--   ./cnnlua examples/experiments/equivariance.lua [--quick] [--out DIR]
-- writes DIR/equivariance_maps.png (feature maps of an image and of its
-- shifted copy, side by side) and DIR/equivariance_error.svg (error after the
-- whole stack against the shift).
local cnn = cnn or require "cnn"
local script_dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = script_dir .. "/../?.lua;" .. package.path
local options = require "lib.options"
local svgplot = require "lib.svgplot"
local nn = cnn.nn

local opts = options.cli(arg, "examples/experiments/equivariance.lua", "Translation equivariance of convolution stacks, measured.", {
  { "quick", false, "a smaller run of a few seconds (what the specs check)", "flag" },
  { "out", "runs/experiments", "directory for the pictures", "string" },
  { "help", false, "show this help", "flag" },
})
local quick, out_dir = opts.quick, opts.out
options.ensure_dir(out_dir)

-- Padding for the stride-1 max pooling of the BlurPool stack (a custom layer
-- in a few lines): on a cyclic signal, the window wraps around as well.
local CircularPad = nn.Module:extend("CircularPad")
function CircularPad:__init(pads)
  nn.Module.__init(self)
  self.pads = pads
end
function CircularPad:update_output(x) return cnn.pad(x, self.pads, "circular") end
function CircularPad:update_grad_input(x, dy) return cnn.pad_backward(x, dy, self.pads, "circular") end

cnn.seed(1)
local C = 8
local function conv(cin, mode, stride)
  return nn.Conv2d(cin, C, 3, { padding = 1, padding_mode = mode, stride = stride or 1 })
end
-- Each set-up: a name and its layers (each layer's own stride).
local setups = {
  { "circular conv, stride 1", { conv(1, "circular"), nn.ReLU(), conv(C, "circular"), nn.ReLU(), conv(C, "circular") } },
  { "zero-padded conv, stride 1", { conv(1, "zeros"), nn.ReLU(), conv(C, "zeros"), nn.ReLU(), conv(C, "zeros") } },
  { "circular conv, stride 2", { conv(1, "circular"), nn.ReLU(), conv(C, "circular", 2), nn.ReLU(), conv(C, "circular") } },
  { "circular conv + max pool", { conv(1, "circular"), nn.ReLU(), nn.MaxPool2d(2), conv(C, "circular") } },
  { "circular conv + BlurPool", { conv(1, "circular"), nn.ReLU(), CircularPad({ 0, 1, 0, 1 }),
    nn.MaxPool2d(2, { stride = 1 }), nn.BlurPool2d(C, { pad_type = "circular" }), conv(C, "circular") } },
}
local strides = { ["nn.MaxPool2d"] = function(m) return m.opts.stride or 2 end,
  ["nn.BlurPool2d"] = function(m) return m.stride end,
  ["nn.Conv2d"] = function(m) return m.conv_opts.stride or 1 end }

-- A test image of Fashion-MNIST when the data set is there, else a smooth random one.
local ok, _, test = pcall(cnn.data.fashion_mnist)
local x
if ok then
  x = test.images:narrow(1, 1, 1):clone()
else
  x = cnn.image.resize(cnn.rand(1, 1, 7, 7), 28, 28)
end
x = cnn.pad(x, 2, "zeros") -- 32 x 32: even sizes at every stride

-- shift by a fractional number of pixels: linear interpolation between whole shifts
local function shift(t, s)
  local lo = math.floor(s)
  local frac = s - lo
  local a = t:roll(lo, 4)
  if frac == 0 then return a end
  return a * (1 - frac) + t:roll(lo + 1, 4) * frac
end

local function norm(t) return math.sqrt((t * t):sum()) end

local shifts = quick and { 0, 1, 2, 3 } or { 0, 1, 2, 3, 4, 5, 6, 7, 8 }
local header = string.format("%-28s %-18s", "set-up", "after layer")
for _, s in ipairs(shifts) do header = header .. string.format(" %8s", "s=" .. s) end
print(header)
local curves, results = {}, {}
for _, setup in ipairs(setups) do
  local name, layers = setup[1], setup[2]
  local series = { name = name, x = {}, y = {} }
  results[name] = {}
  -- outputs of every layer for the unshifted input
  local base, stride_at, h = {}, {}, x
  local D = 1
  for li, m in ipairs(layers) do
    h = m:forward(h):clone()
    if strides[m.__name] then D = D * strides[m.__name](m) end
    base[li], stride_at[li] = h, D
  end
  local errors = {}
  for _, s in ipairs(shifts) do
    local g = x:roll(s, 4)
    for li, m in ipairs(layers) do
      g = m:forward(g):clone()
      errors[li] = errors[li] or {}
      errors[li][#errors[li] + 1] = norm(g - shift(base[li], s / stride_at[li])) / norm(base[li])
    end
  end
  for li, m in ipairs(layers) do
    if m.__name ~= "nn.ReLU" and m.__name ~= "CircularPad" then
      local line = string.format("%-28s %-18s", li == 1 and name or "", li .. ": " .. m.__name:gsub("^nn%.", ""))
      for _, e in ipairs(errors[li]) do line = line .. string.format(" %8.1e", e) end
      print(line)
    end
  end
  for k, s in ipairs(shifts) do
    series.x[k], series.y[k] = s, errors[#layers][k]
    results[name][s] = errors[#layers][k]
  end
  curves[#curves + 1] = series
end

local circ = 0
for _, e in pairs(results["circular conv, stride 1"]) do circ = math.max(circ, e) end
print(string.format("\nlargest error of the stride-1 circular stack: %.1e (float rounding: equivariant)", circ))
local function mean_odd(name)
  local s, n = 0, 0
  for sh, e in pairs(results[name]) do
    if sh % 2 == 1 then s, n = s + e, n + 1 end
  end
  return s / n
end
print(string.format("mean error at odd shifts: max pool %.3f, BlurPool %.3f, stride-2 conv %.3f",
  mean_odd("circular conv + max pool"), mean_odd("circular conv + BlurPool"), mean_odd("circular conv, stride 2")))

-- Pictures: feature maps of the max-pool stack's first layer for x and x shifted by 3.
local m1 = setups[4][2][1]
local a, b = m1:forward(x):clone(), m1:forward(x:roll(3, 4)):clone()
local maps = cnn.empty(2 * C, 1, a:size(3), a:size(4))
for c = 1, C do
  maps:narrow(1, 2 * c - 1, 1):copy_(a:narrow(2, c, 1))
  maps:narrow(1, 2 * c, 1):copy_(b:narrow(2, c, 1))
end
local grid = cnn.image.grid(maps, { nrow = 8, normalize = true, pad_value = 1 })
cnn.image.save(out_dir .. "/equivariance_maps.png", cnn.image.resize(grid, grid:size(2) * 2, grid:size(3) * 2, "nearest"))
svgplot.write(out_dir .. "/equivariance_error.svg", {
  { title = "relative error after the stack", xlabel = "shift (pixels)", legend = "right", series = curves },
})
print("wrote " .. out_dir .. "/equivariance_maps.png and " .. out_dir .. "/equivariance_error.svg")
