-- A small residual network (He, Zhang, Ren and Sun, 2016) for 1 x 28 x 28
-- images: a 3x3 stem, three stages of two basic blocks (16, 32, 64 channels;
-- the last two halve the resolution), global average pooling and a linear
-- classifier.
local nn = cnn.nn

-- Two 3x3 convolutions with batch normalisation, added to the input (or to a
-- strided 1x1 projection of it when the shape changes).
local function block(cin, cout, stride)
  local body = nn.Sequential {
    nn.Conv2d(cin, cout, 3, { stride = stride, padding = 1, bias = false }), nn.BatchNorm2d(cout), nn.ReLU(),
    nn.Conv2d(cout, cout, 3, { padding = 1, bias = false }), nn.BatchNorm2d(cout),
  }
  local shortcut
  if stride ~= 1 or cin ~= cout then
    shortcut = nn.Sequential { nn.Conv2d(cin, cout, 1, { stride = stride, bias = false }), nn.BatchNorm2d(cout) }
  end
  return nn.Sequential { nn.Residual(body, shortcut), nn.ReLU() }
end

return function(classes)
  return nn.Sequential {
    nn.Conv2d(1, 16, 3, { padding = 1, bias = false }), nn.BatchNorm2d(16), nn.ReLU(),
    block(16, 16, 1), block(16, 16, 1),
    block(16, 32, 2), block(32, 32, 1),   -- 32 x 14 x 14
    block(32, 64, 2), block(64, 64, 1),   -- 64 x 7 x 7
    nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    nn.Linear(64, classes),
  }
end
