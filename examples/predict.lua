-- Classifies PNG images with a model trained by examples/train.lua and prints
-- the three most likely classes of each with their probabilities.
--
--   ./cnnlua examples/predict.lua runs/checkpoint.cnn shoe.png [more.png ...]
--
-- Images of any size and colour are converted to gray and resized to 28 x 28.
-- Fashion-MNIST pictures show a light object on a black background; pass
-- --invert for dark objects on a light background (ordinary photos).
local cnn = cnn or require "cnn"
local script_dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."

local function usage(code)
  io.stderr:write("usage: cnnlua examples/predict.lua [--invert] CHECKPOINT IMAGE.png [IMAGE.png ...]\n")
  os.exit(code, true)
end

local args, invert = {}, false
for _, a in ipairs(arg or {}) do
  if a == "--invert" then invert = true
  elseif a == "--help" or a == "-h" then usage(0)
  elseif a:sub(1, 2) == "--" then io.stderr:write("predict.lua: unknown option '", a, "'\n") usage(1)
  else args[#args + 1] = a end
end
if #args < 2 then usage(1) end

local ok, ck = pcall(cnn.load, args[1])
if not ok then
  io.stderr:write("predict.lua: ", ck, "\n")
  os.exit(1, true)
end
if type(ck) ~= "table" or ck.kind ~= "cnnlua.train" then
  io.stderr:write("predict.lua: ", args[1], " is not a checkpoint written by examples/train.lua\n")
  os.exit(1, true)
end
local model = dofile(script_dir .. "/models/" .. ck.model_name .. ".lua")(#ck.classes)
model:load_state_dict(ck.model)
model:evaluate()

-- A C x H x W picture as the 1 x 1 x 28 x 28 input the model was trained on.
local function prepare(img)
  local c = img:size(1)
  if c == 2 or c == 4 then img = img:narrow(1, 1, c - 1) end -- drop alpha
  if img:size(1) == 3 then -- ITU-R BT.601 luma
    img = img:select(1, 1) * 0.299 + img:select(1, 2) * 0.587 + img:select(1, 3) * 0.114
    img = img:view(1, img:size(1), img:size(2))
  end
  if invert then img = 1 - img end
  img = cnn.image.resize(img, 28, 28)
  return ((img - 0.2860) / 0.3530):view(1, 1, 28, 28)
end

local status = 0
for i = 2, #args do
  local ok_img, img = pcall(cnn.image.load, args[i])
  if not ok_img then
    io.stderr:write("predict.lua: ", img, "\n")
    status = 1
  else
    local probs = cnn.softmax(model:forward(prepare(img)), 2):view(-1)
    local order = {}
    for k = 1, probs:numel() do order[k] = k end
    table.sort(order, function(a, b) return probs:get(a) > probs:get(b) end)
    local parts = {}
    for k = 1, 3 do parts[k] = string.format("%s %.1f%%", ck.classes[order[k]], 100 * probs:get(order[k])) end
    print(args[i] .. ": " .. table.concat(parts, ", "))
  end
end
os.exit(status, true)
