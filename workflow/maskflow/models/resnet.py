"""`resnet`: torchvision's resnet18, trained from scratch (no weights are downloaded).

    arch: {type: resnet, width: 64}

Adapted to small crops the usual way for 32x32 inputs: the first convolution is 3x3 with
stride 1 and the max pool is removed (the ImageNet stem would shrink 32 pixels to 8 at once),
and it takes the dataset's channels (1 for gray). `width` scales the four stages
(width, 2, 4, 8 x width; torchvision's is 64). The global average pool is a mean over the
spatial axes: `AdaptiveAvgPool2d`'s CUDA backward has no deterministic implementation.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from maskflow.models.layers import Classifier


class GlobalMeanPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def build(arch: dict, channels: int, size: int, num_classes: int) -> Classifier:
    width = arch["width"]
    net = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
    net.inplanes = width
    net.conv1 = nn.Conv2d(channels, width, kernel_size=3, stride=1, padding=1, bias=False)
    net.bn1 = nn.BatchNorm2d(width)
    # _make_layer is how torchvision itself builds the stages; rebuilding them is the only way
    # to change their width with BasicBlock.
    net.layer1 = net._make_layer(BasicBlock, width, 2)
    net.layer2 = net._make_layer(BasicBlock, 2 * width, 2, stride=2)
    net.layer3 = net._make_layer(BasicBlock, 4 * width, 2, stride=2)
    net.layer4 = net._make_layer(BasicBlock, 8 * width, 2, stride=2)
    # torchvision's own initialisation, for the rebuilt layers too.
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.constant_(module.weight, 1)
            nn.init.constant_(module.bias, 0)
    trunk = nn.Sequential(
        net.conv1, net.bn1, net.relu, net.layer1, net.layer2, net.layer3, net.layer4, GlobalMeanPool()
    )
    return Classifier(trunk, nn.Linear(8 * width, num_classes))
