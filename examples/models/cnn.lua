-- A small VGG-style network (Simonyan and Zisserman, 2015) with batch
-- normalisation, for 1 x 28 x 28 images: two blocks of two 3x3 convolutions
-- (32 then 64 channels) each followed by 2x2 max pooling, then a 128-unit
-- hidden layer. About 468k parameters.
local nn = cnn.nn

local function conv_bn_relu(cin, cout)
  return nn.Conv2d(cin, cout, 3, { padding = 1, bias = false }), nn.BatchNorm2d(cout), nn.ReLU({ inplace = true })
end

return function(classes)
  local m = nn.Sequential()
  for _, layer in ipairs({ conv_bn_relu(1, 32) }) do m:add(layer) end
  for _, layer in ipairs({ conv_bn_relu(32, 32) }) do m:add(layer) end
  m:add(nn.MaxPool2d(2))                                             -- 32 x 14 x 14
  for _, layer in ipairs({ conv_bn_relu(32, 64) }) do m:add(layer) end
  for _, layer in ipairs({ conv_bn_relu(64, 64) }) do m:add(layer) end
  m:add(nn.MaxPool2d(2))                                             -- 64 x 7 x 7
  m:add(nn.Flatten())
  m:add(nn.Linear(64 * 7 * 7, 128)):add(nn.ReLU()):add(nn.Dropout(0.25))
  m:add(nn.Linear(128, classes))
  return m
end
