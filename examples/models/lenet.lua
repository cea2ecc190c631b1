-- LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) with ReLU and max pooling,
-- for 1 x 28 x 28 images: two 5x5 convolutions, three fully connected layers.
-- Copy this file to start a model of your own: it returns a function that
-- builds the network for a number of classes.
local nn = cnn.nn

return function(classes)
  return nn.Sequential {
    nn.Conv2d(1, 6, 5, { padding = 2 }), nn.ReLU(), nn.MaxPool2d(2), -- 6 x 14 x 14
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),                 -- 16 x 5 x 5
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
    nn.Linear(120, 84), nn.ReLU(),
    nn.Linear(84, classes),
  }
end
