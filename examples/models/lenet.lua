-- LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) with ReLU and max pooling,
-- for 1 x 28 x 28 images: two 5x5 convolutions, three fully connected layers.
-- Copy this file to start a model of your own: it returns a function that
-- builds the network for a number of classes.
-- The ReLUs rectify in place: each layer before one then rectifies its own
-- output in its call (nn.Sequential), and training holds one activation less.
local nn = cnn.nn

return function(classes)
  local relu = function() return nn.ReLU({ inplace = true }) end
  return nn.Sequential {
    nn.Conv2d(1, 6, 5, { padding = 2 }), relu(), nn.MaxPool2d(2), -- 6 x 14 x 14
    nn.Conv2d(6, 16, 5), relu(), nn.MaxPool2d(2),                 -- 16 x 5 x 5
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), relu(),
    nn.Linear(120, 84), relu(),
    nn.Linear(84, classes),
  }
end
