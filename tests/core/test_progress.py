"""Progress bars: shown on a terminal, silent otherwise; the synthetic generator's bar changes nothing."""

from __future__ import annotations

import io
import re
import sys

import numpy as np
import pytest

from dabench.data.synth import generate_faces
from dabench.store.progress import counter, progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert list(progress(range(3), desc="steps")) == [0, 1, 2]
    with counter(10, "items", unit="face") as bar:
        bar.update(10)
    assert quiet.getvalue() == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with counter(10, "items", unit="face", leave=True) as bar:
        bar.update(10)
    assert "items: 100%" in terminal.getvalue() and "10/10" in terminal.getvalue()


def test_generation_shows_a_bar_and_the_same_faces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    quiet_images, quiet_labels = generate_faces(1200, "wild", 32, seed=3)  # two rendering chunks at 32 px
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    images, labels = generate_faces(1200, "wild", 32, seed=3)
    assert "generating wild faces:" in terminal.getvalue() and "/1200 " in terminal.getvalue()
    np.testing.assert_array_equal(images, quiet_images)
    np.testing.assert_array_equal(labels, quiet_labels)


def test_a_run_off_a_terminal_prints_and_logs_one_line_per_epoch(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from dabench.run.execute import execute, plan_run
    from dabench.store import results

    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    sets = ("data.target.n_train=120", "data.target.n_test=60", "data.source.n_train=120", "data.source.n_test=60",
            "source.epochs=2", "epochs=2")
    plan = plan_run(registry, "shot", "synth-lab:synth-wild", sets=sets)
    execute(plan, registry, device_name="cpu")
    lines = [line for line in stderr.getvalue().splitlines() if line.startswith("[shot synth-lab:synth-wild seed 0] ")]
    epoch_lines = [line.split("] ", 1)[1] for line in lines if " epoch " in line]
    assert [line.split(" elapsed ")[0].split(" ")[:3] for line in epoch_lines] == [
        ["source", "synth-lab", "epoch"], ["source", "synth-lab", "epoch"], ["shot", "epoch", "1/2"],
        ["shot", "epoch", "2/2"]]
    assert re.match(r"source synth-lab epoch 1/2 loss [0-9.]+ val_accuracy ", epoch_lines[0])
    shot_line = epoch_lines[2]
    for shown in ("loss ", "entropy ", "info_max ", "snd ", " elapsed ", " eta "):
        assert shown in shot_line, shot_line
    assert "accuracy" not in shot_line.replace("val_accuracy", "")  # no target-test number in the log
    folder = results.run_dir(plan.run_id)
    logged = (folder / "log.txt").read_text().splitlines()
    assert [line for line in logged if " epoch " in line] == epoch_lines  # the same lines, written as they came
    assert not (folder / "progress.json").exists()  # only while the run runs
    (source_line,) = [line for line in logged if line.startswith("source model ")]
    assert "(synth-lab, small_cnn, 32 px, seed 0): trained now in " in source_line
    assert "; held-out source accuracy " in source_line
    again = execute(plan_run(registry, "adabn", "synth-lab:synth-wild", sets=sets[:-1]), registry, device_name="cpu")
    reused = (results.run_dir(again["run_id"]) / "log.txt").read_text()
    assert "(synth-lab, small_cnn, 32 px, seed 0): reused from the cache" in reused
    # whatever damaged the cached model, the log says what was done about it: trained again, not "reused"
    from dabench.run.plan import source_spec
    from dabench.run.source_model import artifact_folder, with_data_key

    artifact = artifact_folder(with_data_key(source_spec(plan), registry))
    damages = {"truncated model.pt": lambda: (artifact / "model.pt").write_bytes((artifact / "model.pt").read_bytes()[:100]),
               "a flipped byte": lambda: _flip_last_byte(artifact / "model.pt"),
               "meta.json not JSON": lambda: (artifact / "meta.json").write_text("{"),
               "meta.json of another file": lambda: (artifact / "meta.json").write_text('{"sha256": "0"}')}
    for what, damage in damages.items():
        damage()
        rerun = execute(plan_run(registry, "tent", "synth-lab:synth-wild", sets=sets[:-1]), registry, device_name="cpu",
                        force=True)
        line = next(line for line in (results.run_dir(rerun["run_id"]) / "log.txt").read_text().splitlines()
                    if line.startswith("source model "))
        assert "(synth-lab, small_cnn, 32 px, seed 0): trained now in " in line, what


def _flip_last_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_status_shows_a_running_runs_stage_epoch_and_loss(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dabench.store import run_lock as running
    from dabench.store.progress import RunLog
    from dabench.sweep.execute import run_state

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    running.write_marker(tmp_path)
    log = RunLog(tmp_path, "shot synth-lab:synth-wild seed 0", started=0.0)
    log.notes = {"loss": 0.41234}
    monkeypatch.setattr("dabench.store.progress.time.time", lambda: 130.0)
    log.epoch("shot", 3, 15, stage_started=10.0, epochs_done=3)
    state, detail = run_state(tmp_path)
    assert state == "running"
    assert detail.startswith("shot epoch 3/15, loss 0.4123, 2m10s elapsed, ~8m00s left; pid ")
    assert (tmp_path / "log.txt").read_text() == "shot epoch 3/15 loss 0.4123 elapsed 2m10s eta 8m00s\n"
