"""The network of the mobilenetv2 space (spaces/mobilenetv2_net.py): FLOPs counted as GENIUS counted
them, checked against hand counts, against GENIUS's own figures, and against torch on the network
the sandbox builds from the rendered source."""

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from spaces import mobilenetv2_net as net

GENIUS_329 = (1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 4, 0, 4, 3, 0, 0, 4, 3, 0, 4, 4, 0, 5, 0, 5, 5, 5, 0)
GENIUS_401 = (1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 4, 4, 0, 4, 0, 4, 4, 5, 0, 5, 0, 5, 6, 5, 0, 6, 0, 5)

# GENIUS's prompt (its imagenet/chat_history): MFLOPs of operations 0-6 in the first and in the other
# layers of each stage, at 224x224.
GENIUS_TABLE = [
    [1.5053, 23.7855, 26.9967, 31.8136, 35.5292, 40.3461, 47.5715],
    [0.0, 19.8743, 24.6912, 31.9165, 29.6655, 36.8909, 47.7289],
    [0.8781, 12.5486, 13.7528, 15.5592, 18.7648, 20.5711, 23.2806],
    [0.0, 12.3059, 14.313, 17.3235, 18.4077, 21.4182, 25.9341],
    [0.6899, 8.5114, 9.0131, 9.7658, 12.7472, 13.4998, 14.6288],
    [0.0, 11.2154, 12.2189, 13.7242, 16.8301, 18.3354, 20.5933],
    [1.5805, 12.2314, 13.2349, 14.7402, 18.3479, 19.8532, 22.1111],
    [0.0, 15.8792, 17.0834, 18.8897, 23.8364, 25.6428, 28.3523],
    [0.9408, 11.495, 11.7961, 12.2477, 17.279, 17.7306, 18.408],
    [0.0, 15.423, 16.0251, 16.9283, 23.3368, 24.24, 25.5948],
]

# Every (design, MFLOPs) GENIUS's two published conversations report (imagenet/chat_history/329M.json
# and 401M.json): its feedback ("resulting 362 FLOPS") and its experiment lists ("a total of 330 FLOPS").
REPORTED = [
    ("100000110000444000555500666660", 330),
    ("100010101100404400550550606666", 362),
    ("100010101100404400440440505555", 349),
    ("100010101100202200440440505550", 317),
    ("100100101110220330444300550566", 362),
    ("100100101110220220444040505550", 337),
    ("100010101110202220440040440550", 312),
    ("100100101110404400440540506650", 342),
    ("100010101110404300430540505550", 331),
    ("100010101110404300430440505550", 329),
    ("100010101110402220440550606650", 347),
    ("100010101110402220330440505650", 333),
    ("100010101110402220330440404550", 331),
    ("100010101110404300430440505550", 326),
    ("100010111110404440535550606660", 397),
    ("100010111000404300440443505500", 317),
    ("100100111000404200440442505500", 313),
    ("100100111010404200442440605560", 352),
    ("100100111010404200442430605350", 338),
    ("100100111010303200442430505350", 332),
    ("100100101010303200442430505350", 319),
    ("100100101110404400440450505650", 341),
    ("100100101110404300440440505550", 334),
    ("100100101110404200430440505550", 328),
    ("100010111100444000444420555550", 379),
    ("101010110110440440450540660660", 383),
    ("110011111011444044455054666066", 483),
    ("101011111011444044444044660606", 452),
    ("101011111010334044444044560606", 433),
    ("101011101010334044440444550505", 416),
    ("101010101110340303450550560606", 374),
    ("110110111110444440454540666606", 481),
    ("110110111010343040440440560606", 392),
    ("110101111011440404450555660606", 442),
    ("110101110111340404450554560605", 435),
    ("110101110111340404440444560605", 430),
    ("110101111011340430540450565050", 405),
    ("101011110011440404450505650605", 401),
    ("101010110111440444545055665066", 463),
    ("101011110110430404444044650605", 417),
    ("101011110011440430545050660650", 399),
]


def test_hand_counts_of_single_layers():
    # stage 1's skip: a 1x1 convolution 16 -> 24, stride 2, from 112x112, and its BatchNorm (4 per element)
    assert net.layer(0, 16, 24, 2, 112).flops == 16 * 24 * 56 * 56 + 4 * 24 * 56 * 56 == 1_505_280
    assert net.conv(3, 16, 3, 112).flops == 3 * 9 * 16 * 112 * 112 == 5_419_008  # the stem convolution alone
    assert net.fixed_parts(net.Shape())["stem"].flops == 5_419_008 + 4 * 16 * 112 * 112
    # an inverted residual k3 e4 16 -> 24 stride 2: expand 1x1 at 112, depthwise at 56, SE (64 -> 16 -> 64), project
    expected = (16 * 64 * 112 * 112 + 4 * 64 * 112 * 112 + 9 * 64 * 56 * 56 + 4 * 64 * 56 * 56 + 2 * 64 * 16
                + 64 * 24 * 56 * 56 + 4 * 24 * 56 * 56)
    assert net.layer(1, 16, 24, 2, 112).flops == expected
    assert net.layer(0, 24, 24, 1, 56) == net.Count(0, 0)  # a skip that keeps the shape is nothing


def test_the_per_layer_table_is_genius_s():
    assert [list(row) for row in net.layer_table()] == GENIUS_TABLE


@pytest.mark.parametrize("design,reported", REPORTED)
def test_every_design_genius_reported_counts_within_2_percent(design, reported):
    flops = net.total(tuple(int(c) for c in design)).flops / 1e6
    assert flops == pytest.approx(reported, rel=0.02)


def test_the_published_designs():
    """GENIUS Table 2 and its README: GENIUS-329 329 MFLOPs 7.0 M params; GENIUS-401 401 M, 7.5 M."""
    for ids, flops, params in ((GENIUS_329, 329, 7.0), (GENIUS_401, 401, 7.5)):
        count = net.total(ids)
        assert count.flops / 1e6 == pytest.approx(flops, rel=0.002) and count.params / 1e6 == pytest.approx(params, abs=0.05)


def build(ids, shape: net.Shape):
    namespace: dict = {}
    exec(compile(net.source(ids, shape.classes, shape.multiplier), "<net>", "exec"), namespace)
    return namespace["Net"]().eval()


def torch_count(model, side: int) -> tuple[int, int]:
    """thop's count from torch: FlopCounterMode's convolution and linear FLOPs (2 per multiply-
    accumulate), 4 per BatchNorm output element, (k + 1) per output of the average pooling."""
    elements = []
    hooks = [m.register_forward_hook(lambda m, i, o: elements.append(o.numel())) for m in model.modules()
             if isinstance(m, nn.BatchNorm2d)]
    pooled = []
    hooks.append(model.features.register_forward_hook(lambda m, i, o: pooled.append(o.shape)))
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, side, side))
    for hook in hooks:
        hook.remove()
    _, channels, h, w = pooled[0]
    return counter.get_total_flops() // 2 + 4 * sum(elements) + (h * w + 1) * channels, \
        sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("ids,shape", [
    (GENIUS_329, net.Shape()),
    (tuple([6] * 30), net.Shape(size=32, classes=10, multiplier=0.5)),
    ((0, 2, 3, 0, 0, 0) * 5, net.Shape(size=65, classes=7, multiplier=0.75)),  # odd sides round up, as torch does
])
def test_the_analytic_count_is_the_networks(ids, shape):
    model = build(ids, shape)
    assert model(torch.zeros(2, 3, shape.size, shape.size)).shape == (2, shape.classes)
    count = net.total(ids, shape)
    assert torch_count(model, shape.size) == (count.flops, count.params)


def test_skips_after_a_stage_s_first_layer_build_nothing():
    """Equal networks are equal code: the canonical form is what the network is."""
    a = (1, 0, 2, 0, 0, 0) + (1,) * 24
    b = (1, 2, 0, 0, 0, 0) + (1,) * 24
    assert net.source(a, 10) != net.source(b, 10)  # the docstring names the ids
    assert str(build(a, net.Shape(classes=10))) == str(build(b, net.Shape(classes=10)))
    assert net.flops_range()[0] == pytest.approx(net.total(tuple([0] * 30)).flops / 1e6)
