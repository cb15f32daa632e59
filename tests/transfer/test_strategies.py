import pytest
import torch
from skorch import NeuralNet
from torch import nn

from sktransfer.transfer import (
    TransferModule,
    apply_batchnorm_policy,
    default_unfreeze_schedule,
    freeze,
    last_blocks,
    matching_parameters,
    plan_transfer,
    reinitialize,
    resolve_unfreeze_schedule,
    set_trainable,
    shared_parameters,
    trainable_parameter_names,
    transfer_blocks,
)
from sktransfer.transfer._structure import layers_fingerprint


class Tiny(TransferModule):
    def __init__(self, batchnorm="frozen"):
        super().__init__(batchnorm)
        self.backbone = nn.Sequential(
            nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8)),
            nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8)),
        )
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.backbone(x))


def test_glob_freezing():
    net = Tiny()
    assert sorted(matching_parameters(net, "backbone.0.*")) == [
        "backbone.0.0.bias",
        "backbone.0.0.weight",
        "backbone.0.1.bias",
        "backbone.0.1.weight",
    ]
    assert freeze(net, "backbone.*") == 8
    assert trainable_parameter_names(net) == ["head.weight", "head.bias"]
    assert set_trainable(net, ("backbone.1.*",)) == 4
    assert trainable_parameter_names(net)[0] == "backbone.1.0.weight"


def test_blocks_default_and_declared():
    net = Tiny()
    assert transfer_blocks(net.backbone) == [("0.*",), ("1.*",)]
    assert last_blocks(net.backbone, 1) == ("1.*",)
    assert last_blocks(net.backbone, 0) == ()
    net.backbone.transfer_blocks = [("0.0.*",), ("0.1.*", "1.*")]
    assert last_blocks(net.backbone, 1) == ("0.1.*", "1.*")
    # a single layer (an Embedding, a Linear) is one block, not none: "the
    # last block trains" must not leave it frozen
    assert transfer_blocks(nn.Linear(2, 3)) == [("*",)]
    assert last_blocks(nn.Embedding(5, 2), 1) == ("*",)
    assert transfer_blocks(nn.ReLU()) == []


def test_batchnorm_policy_survives_train():
    net = Tiny("frozen")
    freeze(net, "backbone.0.*")
    net.train()
    assert not net.backbone[0][1].training
    assert net.backbone[1][1].training
    net = Tiny("eval").train()
    assert not net.backbone[1][1].training
    net = Tiny("train")
    freeze(net, "backbone.*")
    assert net.train().backbone[0][1].training
    apply_batchnorm_policy(net.backbone, "eval")
    assert not net.backbone[0][1].training


def test_plans():
    source = Tiny().backbone
    plan = plan_transfer("feature_extraction", source, lr=0.1)
    assert plan.cache_features and plan.trainable == () and plan.param_groups == []
    plan = plan_transfer("fine_tune", source, lr=0.1, source_lr_scale=0.5)
    assert plan.trainable is None
    assert plan.param_groups == [("backbone.*", {"lr": 0.05})]
    assert plan_transfer("structure", source, lr=0.1).reinitialize
    plan = plan_transfer("partial", source, lr=0.1, trainable_blocks=("0.1.*",))
    assert plan.trainable == ("backbone.0.1.*",)
    plan = plan_transfer("gradual", source, lr=0.1, unfreeze_schedule=[(2, "1.*")])
    assert plan.callbacks[0][1].schedule == [(2, ("backbone.1.*",))]
    with pytest.raises(ValueError, match="not a transfer mode"):
        plan_transfer("freeze_all", source, lr=0.1)
    with pytest.raises(TypeError, match="trainable_blocks"):
        plan_transfer("partial", source, lr=0.1, trainable_blocks=1.5)


@pytest.mark.parametrize("mode", ["fine_tune", "partial", "gradual"])
def test_a_source_at_lr_0_is_planned_frozen(mode):
    source = Tiny().backbone
    plan = plan_transfer(mode, source, lr=0.1, source_lr_scale=0)
    frozen = plan_transfer("feature_extraction", source, lr=0.1)
    assert (plan.trainable, plan.param_groups, plan.callbacks) == ((), [], [])
    assert plan.cache_features == frozen.cache_features
    assert plan.mode == mode
    structure = plan_transfer("structure", source, lr=0.1, source_lr_scale=0)
    assert structure.trainable is None  # the baseline trains it all at lr
    with pytest.raises(ValueError, match="trainable_blocks must be >= 0"):
        plan_transfer("partial", source, lr=0.1, source_lr_scale=0, trainable_blocks=-1)


def test_plan_apply_freezes_and_reinitializes():
    net = Tiny()
    original = {k: v.clone() for k, v in net.state_dict().items()}
    plan_transfer("partial", net.backbone, lr=0.1, trainable_blocks=1).apply(net)
    assert trainable_parameter_names(net) == [
        "backbone.1.0.weight",
        "backbone.1.0.bias",
        "backbone.1.1.weight",
        "backbone.1.1.bias",
        "head.weight",
        "head.bias",
    ]
    copy = Tiny()
    copy.load_state_dict(original)
    plan_transfer("structure", net.backbone, lr=0.1).apply(net)
    # BatchNorm's fresh weight=1, bias=0 equal the (also fresh) originals;
    # every learned weight is redrawn.
    assert shared_parameters(net.backbone, copy.backbone) == [
        "0.1.weight",
        "0.1.bias",
        "1.1.weight",
        "1.1.bias",
    ]


def test_unfreeze_schedule_resolution():
    source = Tiny().backbone
    assert default_unfreeze_schedule(2) == {1: 1, 2: 2}
    assert resolve_unfreeze_schedule(None, source, "backbone.") == [
        (1, ("backbone.1.*",)),
        (2, ("backbone.0.*", "backbone.1.*")),
    ]
    assert resolve_unfreeze_schedule({3: ("0.*",), 0: "1.*"}, source, "b.") == [
        (0, ("b.1.*",)),
        (3, ("b.0.*",)),
    ]
    with pytest.raises(TypeError, match="must be a dict"):
        resolve_unfreeze_schedule(5, source, "")
    with pytest.raises(ValueError, match="not an \\(epoch, spec\\) pair"):
        resolve_unfreeze_schedule([(1, 2, 3)], source, "")
    # a glob that matches nothing would leave the source frozen without a word
    with pytest.raises(ValueError, match=r"at epoch 1: the glob '2\.\*' matches none"):
        resolve_unfreeze_schedule({0: "1.*", 1: "2.*"}, source, "")


def test_partial_globs_must_match_a_source_parameter():
    source = Tiny().backbone
    plan = plan_transfer(
        "partial", source, lr=0.1, trainable_blocks=("0.0.weight", "1.*")
    )
    assert plan.trainable == ("backbone.0.0.weight", "backbone.1.*")
    with pytest.raises(ValueError, match=r"'O\.\*' matches none .* \['0.0.weight'"):
        plan_transfer("partial", source, lr=0.1, trainable_blocks="O.*")  # letter O
    with pytest.raises(TypeError, match="trainable_blocks must be an int"):
        plan_transfer("partial", source, lr=0.1, trainable_blocks=1.5)


def test_unfreeze_schedule_callback_in_a_plain_skorch_net():
    torch.manual_seed(0)
    module = Tiny()
    plan = plan_transfer("gradual", module.backbone, lr=0.1, unfreeze_schedule={2: 2})
    plan.apply(module)
    net = NeuralNet(
        module,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        lr=0.1,
        max_epochs=3,
        train_split=None,
        callbacks=plan.callbacks,
        verbose=0,
    )
    X = torch.randn(32, 4)
    net.fit(X, (X[:, 0] > 0).long())
    assert net.history[:, "n_trainable"] == [2, 2, 10]


def test_reinitialize_forgets_the_batchnorm_statistics_too():
    net = Tiny().train()
    net(torch.randn(16, 4) * 5 + 3)  # running statistics of this data
    bn = net.backbone[0][1]
    assert bn.num_batches_tracked == 1 and bn.running_mean.abs().sum() > 0
    reinitialize(net.backbone)
    assert bn.num_batches_tracked == 0
    assert torch.equal(bn.running_mean, torch.zeros(8))
    assert torch.equal(bn.running_var, torch.ones(8))


def test_reinitialize_refuses_layers_it_cannot_reset():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(torch.ones(3))

    with pytest.raises(
        ValueError, match="cannot re-initialise the parameters \\['gain'\\]"
    ):
        reinitialize(Scaled())


def test_the_building_blocks_refuse_what_they_cannot_use():
    net = Tiny()
    with pytest.raises(TypeError, match="glob string or an iterable of them; got 3"):
        freeze(net, 3)
    with pytest.raises(TypeError, match="must be glob strings"):
        set_trainable(net, ["backbone.*", 1])
    with pytest.raises(ValueError, match="must be >= 0; got -1"):
        last_blocks(net.backbone, -1)
    with pytest.raises(ValueError, match="'sometimes' is not one of"):
        apply_batchnorm_policy(net.backbone, "sometimes")  # was a silent no-op
    assert freeze(net, iter(["head.*"])) == 2  # any iterable of globs


def test_the_layers_fingerprint_tells_architectures_apart_and_not_weights():
    a = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
    b = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())  # other weights
    strided = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, stride=2), torch.nn.ReLU())
    assert layers_fingerprint(a) == layers_fingerprint(b)
    assert layers_fingerprint(a) != layers_fingerprint(strided)

    class Activation(torch.nn.Module):  # prints a function, with its address
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def extra_repr(self):
            return repr(self.fn)

    def named(name):
        def activation(x):
            return x

        activation.__qualname__ = name
        return activation

    # one function printed at two addresses, as in two processes
    first, second = named("gelu"), named("gelu")
    assert repr(first) != repr(second) and "0x" in repr(Activation(first))
    assert layers_fingerprint(Activation(first)) == layers_fingerprint(
        Activation(second)
    )
    assert layers_fingerprint(Activation(first)) != layers_fingerprint(
        Activation(named("relu"))
    )
