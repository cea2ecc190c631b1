-- Shows what the first convolution of a trained model learned: its filters,
-- and the feature maps they produce on one test image, as PNG grids.
--
--   ./cnnlua examples/filters.lua runs/checkpoint.cnn [OUT_DIR] [TEST_INDEX]
--
-- Writes OUT_DIR/filters.png (each filter scaled to its own range),
-- OUT_DIR/input.png and OUT_DIR/feature_maps.png (after the first ReLU).
local cnn = cnn or require "cnn"
local script_dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."

local path, out_dir, index = arg[1], arg[2] or ".", tonumber(arg[3] or 1)
if not path then
  io.stderr:write("usage: cnnlua examples/filters.lua CHECKPOINT [OUT_DIR] [TEST_INDEX]\n")
  os.exit(1, true)
end
local ok, ck = pcall(cnn.load, path)
if not ok or type(ck) ~= "table" or ck.kind ~= "cnnlua.train" then
  io.stderr:write("filters.lua: ", ok and (path .. " is not a checkpoint written by examples/train.lua") or ck, "\n")
  os.exit(1, true)
end
local model = dofile(script_dir .. "/models/" .. ck.model_name .. ".lua")(#ck.classes)
model:load_state_dict(ck.model)
model:evaluate()

-- The first convolution and the first ReLU after it.
local first_conv, first_relu
for i, m in ipairs(model.modules) do
  if not first_conv and m.__name == "nn.Conv2d" then first_conv = i end
  if first_conv and not first_relu and m.__name == "nn.ReLU" then first_relu = i end
end
if not first_conv then
  io.stderr:write("filters.lua: the model has no convolution at the top level\n")
  os.exit(1, true)
end

os.execute("mkdir -p '" .. out_dir:gsub("'", "'\\''") .. "'")
local grid = cnn.image.grid(model.modules[first_conv].weight, { normalize = true, padding = 1 })
cnn.image.save(out_dir .. "/filters.png", cnn.image.resize(grid, grid:size(2) * 8, grid:size(3) * 8, "nearest"))

local _, test = cnn.data.fashion_mnist(ck.options.data)
local x = test.images:narrow(1, index, 1)
cnn.image.save(out_dir .. "/input.png", x:select(1, 1))
local y = (x - 0.2860) / 0.3530
for i = 1, first_relu or first_conv do y = model.modules[i]:forward(y) end
local maps = y:select(1, 1)
local map_grid = cnn.image.grid(maps:contiguous():view(maps:size(1), 1, maps:size(2), maps:size(3)), { normalize = true })
cnn.image.save(out_dir .. "/feature_maps.png", cnn.image.resize(map_grid, map_grid:size(2) * 4, map_grid:size(3) * 4,
  "nearest"))
print(string.format("%s: class %s; wrote %s/filters.png, %s/input.png, %s/feature_maps.png", path,
  ck.classes[test.labels:get(index)], out_dir, out_dir, out_dir))
