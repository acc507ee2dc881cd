"""course_utils.models: parameter counts against torchvision, stage outputs, the offline fallback."""

import math
import urllib.error

import pytest
import torch
import torchvision
from torch import nn

from course_utils import models, shapes, weights


def _count(model):
    return models.count_parameters(model)


def test_count_parameters_counts_each_learned_number_once():
    shared = nn.Linear(3, 4)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), shared, shared)  # a layer used twice
    assert models.count_parameters(net) == (2 * 9 + 2) + (2 + 2) + (3 * 4 + 4)  # batch norm's running statistics are buffers
    net[0].requires_grad_(False)
    assert models.count_parameters(net, trainable=True) == (2 + 2) + (3 * 4 + 4)
    assert models.count_parameters(nn.ReLU()) == 0
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got Tensor"):
        models.count_parameters(torch.zeros(3))


def test_alexnet_matches_torchvision_exactly():
    ours, theirs = models.AlexNet(), torchvision.models.alexnet()
    assert _count(ours) == _count(theirs) == 61_100_840
    # same layer layout: torchvision's weights load into the course's model
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, 224, 224)
    assert torch.allclose(ours.eval()(x), theirs.eval()(x), atol=1e-5)


def test_paper_alexnet_counts_by_hand():
    paper = models.AlexNet(variant="paper")
    by_hand = [
        11 * 11 * 3 * 96 + 96, 5 * 5 * 96 * 256 + 256, 3 * 3 * 256 * 384 + 384, 3 * 3 * 384 * 384 + 384,
        3 * 3 * 384 * 256 + 256, 6 * 6 * 256 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000,
    ]
    layers = [m for m in paper.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [_count(m) for m in layers] == by_hand
    assert _count(paper) == sum(by_hand) == 62_378_344
    assert paper(torch.zeros(1, 3, 227, 227)).shape == (1, 1000)
    assert paper.features(torch.zeros(1, 3, 227, 227)).shape == (1, 256, 6, 6)


def test_alexnet_rejects_bad_arguments():
    with pytest.raises(ValueError, match="variant must be"):
        models.AlexNet(variant="2014")
    with pytest.raises(ValueError, match="num_classes"):
        models.AlexNet(num_classes=0)


def test_alphago_policy_net_shapes_and_parameters():
    net = models.AlphaGoPolicyNet(filters=192)
    out = net(torch.randn(2, 48, 19, 19))
    assert out.shape == (2, 361)
    assert torch.allclose(out.exp().sum(dim=1), torch.ones(2))
    expected = (5 * 5 * 48 * 192 + 192) + 11 * (3 * 3 * 192 * 192 + 192) + 192 + 361
    assert _count(net) == expected
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())


def test_stage_outputs_shapes_and_copies():
    model = torchvision.models.alexnet().eval()
    outputs = models.stage_outputs(model, torch.randn(1, 3, 224, 224))
    assert outputs["features.0"].shape == (1, 64, 55, 55)
    assert outputs["features.12"].shape == (1, 256, 6, 6)
    assert outputs["classifier.6"].shape == (1, 1000)
    # the in-place ReLU after conv1 must not have overwritten the stored conv output
    assert outputs["features.0"].min() < 0
    assert outputs["features.1"].min() >= 0
    assert torch.allclose(outputs["features.1"], outputs["features.0"].clamp(min=0))


def test_stage_outputs_names_unknown_layers():
    with pytest.raises(ValueError, match="no layer called 'conv1'"):
        models.stage_outputs(torchvision.models.alexnet(), torch.zeros(1, 3, 224, 224), names=["conv1"])


def test_layer_table_alexnet_totals_and_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    model = torchvision.models.alexnet()
    table = shapes.layer_table(model, (3, 224, 224))
    assert table.total_params == 61_100_840
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 224, 224))
    assert table.total_mult_adds * 2 == counter.get_total_flops()
    rows = {row.name: row for row in table}
    assert rows["features.0"].output_shape == (64, 55, 55)
    assert rows["features.0"].mult_adds == 64 * 55 * 55 * 3 * 11 * 11
    assert rows["classifier.1"].params == 9216 * 4096 + 4096
    assert "61,100,840" in str(table)


@pytest.mark.parametrize("name", ["resnet101", "resnet152", "densenet169", "densenet201"])
def test_the_deeper_variants_have_torchvision_s_parameters(name):
    with torch.device("meta"):
        assert models.count_parameters(getattr(models, name)()) == models.count_parameters(getattr(torchvision.models, name)())


def test_stride_in_1x1_moves_the_stride_and_keeps_the_weights():
    torch.manual_seed(0)
    ours, paper = models.resnet50(), models.resnet50(stride_in_1x1=True)
    block, paper_block = ours.layer2[0], paper.layer2[0]
    assert (block.conv1.stride, block.conv2.stride) == ((1, 1), (2, 2))
    assert (paper_block.conv1.stride, paper_block.conv2.stride) == ((2, 2), (1, 1))
    paper.load_state_dict(ours.state_dict())  # the same parameters, only the strides differ
    x = torch.randn(1, 3, 64, 64)
    assert ours.eval()(x).shape == paper.eval()(x).shape == (1, 1000)
    assert models.layer_table(paper, (3, 224, 224)).total_mult_adds < models.layer_table(ours, (3, 224, 224)).total_mult_adds
    with pytest.raises(ValueError, match="a basic block has no 1x1"):
        models.ResNet(models.BasicBlock, [2, 2, 2, 2], stride_in_1x1=True)


LAYER_TABLE_MODELS = {
    "LeNet-5": (models.LeNet5, (1, 28, 28)), "LeNet-5 with batch norm": (lambda: models.LeNet5(batch_norm=True), (1, 28, 28)),
    "AlexNet": (models.AlexNet, (3, 224, 224)), "AlexNet (paper)": (lambda: models.AlexNet(variant="paper"), (3, 227, 227)),
    "VGG-11": (lambda: models.vgg("A"), (3, 64, 64)), "GoogLeNet": (lambda: models.GoogLeNet(aux_logits=True), (3, 96, 96)),
    "ResNet-18": (models.resnet18, (3, 64, 64)), "ResNet-50": (models.resnet50, (3, 64, 64)),
    "DenseNet-121": (models.densenet121, (3, 64, 64)), "AlphaGo policy": (models.AlphaGoPolicyNet, (48, 19, 19)),
}


@pytest.mark.parametrize("name", list(LAYER_TABLE_MODELS))
def test_layer_table_agrees_with_torchinfo(name):
    """Row for row with torchinfo's summary (its leaf layers, in the order they run): the same kind of
    layer, output shape and parameters; its multiply-adds add the biases (one addition per output
    number) and count batch norm's parameters, which the course's counter does not."""
    torchinfo = pytest.importorskip("torchinfo")
    build, size = LAYER_TABLE_MODELS[name]
    torch.manual_seed(0)
    model = build()
    ours = models.layer_table(model, size)
    summary = torchinfo.summary(model, input_size=(1, *size), verbose=0, mode="eval", device="cpu")
    theirs = [layer for layer in summary.summary_list if layer.is_leaf_layer and layer.executed]
    ran = [row for row in ours if row.output_shape]
    assert [(r.kind, r.output_shape) for r in ran] == [(t.class_name, tuple(t.output_size[1:])) for t in theirs]
    assert ours.total_params == summary.total_params
    for row, layer in zip(ran, theirs):
        assert row.params == layer.num_params or (row.params == 0 and layer.is_recursive), row.name
        if row.kind in ("Conv2d", "Linear"):
            module = dict(model.named_modules())[row.name]
            bias = 0 if module.bias is None else module.bias.numel()
            positions = math.prod(row.output_shape[1:]) if row.kind == "Conv2d" else 1
            assert layer.macs == row.mult_adds + bias * positions, row.name
        else:
            assert row.mult_adds == 0


def test_layer_table_gives_each_call_of_a_shared_layer_its_own_row():
    model = models.resnet50()
    table = models.layer_table(model, (3, 224, 224))
    relu = [row for row in table if row.name == "layer2.0.relu"]  # one ReLU, applied after each of three steps
    assert [row.output_shape for row in relu] == [(128, 56, 56), (128, 28, 28), (512, 28, 28)]
    names = [row.name for row in table]  # in the order of Bottleneck.forward: the shortcut first, then the three steps
    last_relu = len(names) - 1 - names[::-1].index("layer2.0.relu")
    assert names.index("layer2.0.downsample.0") < names.index("layer2.0.conv1") < names.index("layer2.0.conv3") < last_relu


def test_layer_table_counts_model_level_parameters_and_checks_input():
    table = shapes.layer_table(models.AlphaGoPolicyNet(filters=8), (48, 19, 19))
    assert table.total_params == _count(models.AlphaGoPolicyNet(filters=8))
    with pytest.raises(ValueError, match="input_size must be"):
        shapes.layer_table(models.AlphaGoPolicyNet(), (19, 19))


def test_pretrained_falls_back_offline_and_says_so(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(weights, "_why_unreachable", lambda url: None)  # pretend the server answers ...
    real_builder = torchvision.models.get_model_builder("alexnet")

    def failing_builder(weights=None, **kwargs):  # ... and then the download fails
        if weights is not None:
            raise urllib.error.URLError("no route to host")
        return real_builder(weights=None, **kwargs)

    monkeypatch.setattr(torchvision.models, "get_model_builder", lambda name: failing_builder)
    model = weights.pretrained("alexnet")
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(lines) == 1
    assert "random weights (offline fallback)" in lines[0]
    assert "URLError" in lines[0]
    assert model.weights_source == weights.OFFLINE_FALLBACK
    assert model.is_pretrained is False
    assert _count(model) == 61_100_840
    assert not model.training


def test_pretrained_skips_the_download_when_offline_is_requested(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(torchvision.models, "get_model_builder", lambda name: (
        lambda weights=None, **kw: pytest.fail("tried to download") if weights else torchvision.models.resnet18()))
    model = weights.pretrained("resnet18")
    assert "COURSE_OFFLINE is set" in capsys.readouterr().out
    assert model.weights_source == weights.OFFLINE_FALLBACK


def test_pretrained_names_real_weights_when_they_load(monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(weights, "_why_unreachable", lambda url: None)
    monkeypatch.setattr(torchvision.models, "get_model_builder",
                        lambda name: lambda weights=None, **kw: torchvision.models.alexnet())
    model = weights.pretrained("alexnet")
    assert model.is_pretrained
    assert model.weights_source == "ImageNet (AlexNet_Weights.IMAGENET1K_V1)"
    assert len(model.weights_meta["categories"]) == 1000


def test_unreachable_server_is_detected_without_downloading(monkeypatch, tmp_path):
    from course_utils import _download

    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(_download.socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(OSError("down")))
    assert "no connection to download.pytorch.org" in weights._why_unreachable("https://download.pytorch.org/models/x.pth")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "x.pth").write_bytes(b"cached")
    assert weights._why_unreachable("https://download.pytorch.org/models/x.pth") is None  # cached: no network needed
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert _download.why_no_download("https://example.org/x") == "COURSE_OFFLINE is set"


def test_reachable_server_allows_the_download(monkeypatch):
    from course_utils import _download

    class Connection:
        def close(self):
            pass

    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(_download.socket, "create_connection", lambda *a, **k: Connection())
    assert _download.why_no_download("https://example.org/data.tar.gz") is None


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model name 'alexnett'"):
        weights.pretrained("alexnett")


@pytest.mark.parametrize("config, name", [("A", "vgg11"), ("B", "vgg13"), ("D", "vgg16"), ("E", "vgg19"), (16, "vgg16")])
def test_vgg_matches_torchvision(config, name):
    with torch.device("meta"):  # names and shapes only: 130+ million weights need no memory or initialisation
        ours, theirs = models.vgg(config), getattr(torchvision.models, name)()
    assert _count(ours) == _count(theirs)
    ours.load_state_dict(theirs.state_dict())  # same layers, same names, same shapes (checked on meta tensors too)


def test_vgg_parameter_table_of_the_paper():
    with torch.device("meta"):
        millions = {config: round(_count(models.vgg(config)) / 1e6) for config in "ABCDE"}
    assert millions == {"A": 133, "B": 133, "C": 134, "D": 138, "E": 144}


def test_vgg_batch_norm_and_bad_config():
    with torch.device("meta"):
        assert _count(models.vgg("A", batch_norm=True)) == _count(torchvision.models.vgg11_bn())
    with pytest.raises(ValueError, match="config must be one of"):
        models.vgg("F")


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_resnet_matches_torchvision_weights_and_outputs(name):
    ours, theirs = getattr(models, name)(), getattr(torchvision.models, name)()
    assert _count(ours) == _count(theirs)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, 64, 64)
    assert torch.allclose(ours.eval()(x), theirs.eval()(x), atol=1e-5)


def test_googlenet_blocks_and_auxiliary_classifiers():
    net = models.GoogLeNet(num_classes=10, aux_logits=True)
    x = torch.randn(2, 3, 224, 224)
    main, aux1, aux2 = net.train()(x)
    assert main.shape == aux1.shape == aux2.shape == (2, 10)
    assert net.eval()(x).shape == (2, 10)  # evaluation returns the main output only
    outputs = models.stage_outputs(net, x, names=["stem", "blocks.inception3a", "blocks.inception4e", "blocks.inception5b"])
    assert [tuple(o.shape[1:]) for o in outputs.values()] == [(192, 28, 28), (256, 28, 28), (832, 14, 14), (1024, 7, 7)]
    inception = models.Inception(192, *models.GOOGLENET_BLOCKS["3a"])
    weights = sum(m.weight.numel() for m in inception.modules() if isinstance(m, nn.Conv2d))
    assert weights == 192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 25 + 192 * 32


def test_lenet5_counts_and_shapes():
    net = models.LeNet5()
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert _count(net) == (5 * 5 * 6 + 6) + (5 * 5 * 6 * 16 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)


@pytest.mark.parametrize("factory, size", [
    (lambda: models.LeNet5(num_classes=2), 28), (lambda: models.AlexNet(num_classes=2), 224),
    (lambda: models.vgg("A", num_classes=2), 64), (lambda: models.GoogLeNet(num_classes=2), 96),
    (lambda: models.resnet18(num_classes=2), 64), (lambda: models.resnet50(num_classes=2), 64),
])
def test_every_model_gives_one_score_per_class(factory, size):
    net = factory().eval()
    channels = 1 if isinstance(net, models.LeNet5) else 3
    assert net(torch.zeros(2, channels, size, size)).shape == (2, 2)


@pytest.mark.parametrize("factory", [models.LeNet5, models.GoogLeNet, models.resnet34, lambda num_classes: models.vgg("A", num_classes)])
def test_num_classes_is_checked(factory):
    with pytest.raises(ValueError, match="num_classes must be a whole number from 1 to 100,000"):
        factory(num_classes=0)


@pytest.mark.parametrize("name, head", [("alexnet", "classifier.6"), ("vgg11", "classifier.6"), ("resnet18", "fc"), ("googlenet", "fc"),
                                        ("densenet121", "classifier"), ("mobilenet_v3_small", "classifier.3")])
def test_transfer_replaces_the_head_and_freezes_the_rest(monkeypatch, capsys, name, head):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    model = weights.transfer(name, num_classes=2)
    assert "offline fallback" in capsys.readouterr().out
    assert model.weights_source == weights.OFFLINE_FALLBACK
    layer, path = weights.classifier_head(model)
    assert path == head
    assert layer.out_features == 2
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable == [layer.weight, layer.bias]
    assert model.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 2)


def test_transfer_without_freezing_and_unknown_heads(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    model = weights.transfer("resnet18", num_classes=3, freeze=False)
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="Sequential has no linear layer to replace"):
        weights.classifier_head(nn.Sequential(nn.Conv2d(1, 1, 1)))
    nested = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 5)))
    layer, path = weights.classifier_head(nested)  # the last linear layer, wherever it sits
    assert path == "1.2" and layer is nested[1][2]


def test_stage_outputs_uses_evaluation_mode_and_restores_the_mode():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5)).train()
    before = model[1].running_mean.clone(), model[1].num_batches_tracked.clone()
    x = torch.randn(2, 3, 8, 8)
    outputs = models.stage_outputs(model, x)
    assert model.training, "the model was left in evaluation mode"
    assert torch.equal(model[1].running_mean, before[0])
    assert torch.equal(model[1].num_batches_tracked, before[1])
    with torch.no_grad():
        expected = model.eval()(x)  # evaluation mode: running statistics, no dropout
    assert torch.equal(outputs["3"], expected)


def test_layer_table_builds_its_input_where_the_model_is():
    model = models.LeNet5()
    on_cpu = shapes.layer_table(model, (1, 28, 28))
    on_meta = shapes.layer_table(models.LeNet5().to("meta"), (1, 28, 28))  # a device without data
    assert on_meta == on_cpu


# ----------------------------------------------------------------------------- initialisation as torchvision's
def _weights(model, kind):
    return [(name, module) for name, module in model.named_modules() if isinstance(module, kind)]


@pytest.mark.parametrize("ours, theirs", [
    (lambda: models.vgg("A"), lambda: torchvision.models.vgg11(weights=None)),
    (lambda: models.resnet18(), lambda: torchvision.models.resnet18(weights=None)),
])
def test_weights_start_with_the_statistics_of_torchvision_s(ours, theirs):
    torch.manual_seed(0)
    mine, reference = ours(), theirs()
    for kind in (nn.Conv2d, nn.Linear, nn.BatchNorm2d):
        pairs = list(zip(_weights(mine, kind), _weights(reference, kind), strict=True))  # VGG-11 has no batch norm
        for (name, a), (_, b) in pairs:
            assert a.weight.shape == b.weight.shape, name
            assert a.weight.std().item() == pytest.approx(b.weight.std().item(), rel=0.1), f"{name}: weight spread"
            assert abs(a.weight.mean().item() - b.weight.mean().item()) < 0.1 * b.weight.std().item() + 1e-6, name
            if a.bias is not None and kind is not nn.Linear:  # ResNet's fc keeps PyTorch's default bias
                assert torch.equal(a.bias, torch.zeros_like(a.bias)), name
                assert torch.equal(b.bias, torch.zeros_like(b.bias)), name


def test_he_initialisation_of_the_convolutions_follows_the_formula():
    torch.manual_seed(0)
    for name, conv in _weights(models.resnet34(), nn.Conv2d):
        fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
        assert conv.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.1), name


def test_googlenet_starts_from_a_normal_of_spread_0_01_with_zero_biases():
    torch.manual_seed(0)
    model = models.GoogLeNet(num_classes=10, aux_logits=True)
    for name, layer in _weights(model, nn.Conv2d) + _weights(model, nn.Linear):
        if layer.weight.numel() >= 1000:  # large enough for a stable estimate
            assert layer.weight.std().item() == pytest.approx(0.01, rel=0.1), name
        assert layer.weight.abs().max() <= 2, name
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias)), name


def test_lenet_and_alexnet_keep_pytorch_s_default_initialisation():
    torch.manual_seed(0)
    for conv, fan_in in ((models.AlexNet().features[0], 3 * 11 * 11), (models.LeNet5().features[0], 1 * 5 * 5)):
        bound = 1 / fan_in ** 0.5  # PyTorch's default: uniform within 1/sqrt(fan_in)
        assert conv.weight.abs().max() <= bound
        assert conv.weight.abs().max() > 0.8 * bound  # spread over the whole range, not shrunk
        assert conv.bias.abs().max() > 0  # biases drawn too, not zeroed


def test_the_architectures_depend_on_torch_alone():
    import ast
    from pathlib import Path

    def imports(path):
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        return names | {("." if node.level else "") + (node.module or "").split(".")[0]
                        for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    standard = {"__future__", "collections", "contextlib", "math", "numbers", "os", "pathlib", "typing", "warnings"}
    # the standard library, torch, and the package's argument checks, which need NumPy besides
    assert imports(models.__file__) <= standard | {"torch", ".", "._arguments"}, imports(models.__file__)
    assert imports(Path(models.__file__).with_name("_arguments.py")) <= standard | {"torch", "numpy"}


# ----------------------------------------------------------------------------- DenseNet
def test_densenet121_has_torchvision_s_parameters_names_and_outputs():
    torch.manual_seed(0)
    ours, theirs = models.densenet121(), torchvision.models.densenet121(weights=None)
    assert _count(ours) == _count(theirs) == 7_978_856
    ours.load_state_dict(theirs.state_dict())  # the same names and shapes, layer by layer
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x), theirs.eval()(x), atol=1e-5)


def test_dense_blocks_grow_by_the_growth_rate_and_transitions_halve():
    growth, layers = 32, (6, 12, 24, 16)
    model = models.densenet121()
    names = [f"features.denseblock{i}" for i in range(1, 5)] + [f"features.transition{i}" for i in range(1, 4)]
    outputs = models.stage_outputs(model, torch.zeros(1, 3, 224, 224), names)
    channels, size, expected = 64, 56, {}
    for index, count in enumerate(layers, start=1):
        channels += count * growth
        expected[f"features.denseblock{index}"] = (channels, size, size)
        if index < 4:
            channels, size = channels // 2, size // 2
            expected[f"features.transition{index}"] = (channels, size, size)
    assert {name: tuple(out.shape[1:]) for name, out in outputs.items()} == expected
    assert expected["features.denseblock4"] == (1024, 7, 7)
    block = models.DenseBlock(num_layers=3, in_channels=10, growth_rate=4)
    assert block.out_channels == 22
    assert block(torch.zeros(1, 10, 5, 5)).shape == (1, 22, 5, 5)


def test_densenet_starts_from_torchvision_s_statistics():
    torch.manual_seed(0)
    mine, reference = models.densenet121(), torchvision.models.densenet121(weights=None)
    for (name, a), (_, b) in zip(_weights(mine, nn.Conv2d), _weights(reference, nn.Conv2d), strict=True):
        assert a.weight.std().item() == pytest.approx(b.weight.std().item(), rel=0.15), name
    assert torch.equal(mine.classifier.bias, torch.zeros(1000))


def test_lenet5_with_batch_norm_normalises_before_each_relu():
    plain, normed = models.LeNet5(), models.LeNet5(batch_norm=True)
    assert _count(normed) - _count(plain) == 2 * (6 + 16 + 120 + 84)  # a scale and a shift per channel or unit
    for block in (normed.features, normed.classifier):
        for i, layer in enumerate(block):
            if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
                assert isinstance(block[i - 1], (nn.Conv2d, nn.Linear))
                assert isinstance(block[i + 1], nn.ReLU)
    norms = [(type(m).__name__, m.num_features) for m in normed.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    assert norms == [("BatchNorm2d", 6), ("BatchNorm2d", 16), ("BatchNorm1d", 120), ("BatchNorm1d", 84)]
    assert normed.eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert [name for name, _ in plain.named_parameters()] == ["features.0.weight", "features.0.bias", "features.3.weight",
                                                              "features.3.bias", "classifier.0.weight", "classifier.0.bias",
                                                              "classifier.2.weight", "classifier.2.bias", "classifier.4.weight",
                                                              "classifier.4.bias"]  # unchanged: checkpoints still load


def test_a_damaged_cached_download_falls_back_and_says_which_file(monkeypatch, tmp_path, capsys):
    """An empty file left in the cache by a cut-off download: the offline fallback, not a bare EOFError."""
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    url = torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url
    cached = tmp_path / "checkpoints" / url.rsplit("/", 1)[-1]
    cached.parent.mkdir()
    cached.write_bytes(b"")
    model = weights.pretrained("alexnet")
    assert model.weights_source == weights.OFFLINE_FALLBACK
    out = capsys.readouterr().out
    assert f"the cached file {cached} looks damaged: delete it to download it again" in out
