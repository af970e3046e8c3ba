"""CPT resume: state files unpickled safely (never running code from results/state/), and a job log
that says when and from where training resumed."""

from __future__ import annotations

import json
import re
import socket
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from pipeline.train.callbacks import KILL_AT_STEP_ENV
from pipeline.train.checkpoints import resume_message
from pipeline.train.deepspeed import load_weights_only, use_safe_checkpoint_loading
from test_cpt_train import check, cpt_args, cpt_inputs, run_module  # noqa: F401 (cpt_inputs: a fixture)


class Payload:
    """A pickle that runs code when loaded: it creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_resume_message_says_when_and_from_where(tmp_path):
    state = tmp_path / "state"
    assert re.fullmatch(
        r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\] "
        r"CPT starts from step 0 of 8: no complete checkpoint in .*",
        resume_message(state, None, 8),
    )
    (state / "checkpoint-4").mkdir(parents=True)
    assert resume_message(state, state / "checkpoint-4", 8).endswith(
        f"CPT resumed from {state / 'checkpoint-4'} (step 4 of 8)"
    )
    (state / "checkpoint-8").mkdir()
    assert "publishing without training" in resume_message(state, state / "checkpoint-8", 8)


def test_state_files_load_weights_only_with_deepspeeds_classes(tmp_path):
    from deepspeed.runtime.fp16.loss_scaler import LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum
    from deepspeed.utils.tensor_fragment import fragment_address

    good = tmp_path / "optim_states.pt"
    state = {
        "loss_scaler": LossScaler(1.0),
        "zero_stage": ZeroStageEnum.gradients,
        "param_slice_mappings": [OrderedDict(w=fragment_address(numel=4, start=0))],
        "single_partition_of_fp32_groups": [torch.ones(4)],
    }
    torch.save(state, good)
    loaded = load_weights_only(good)
    assert loaded["zero_stage"] == ZeroStageEnum.gradients and torch.equal(
        loaded["single_partition_of_fp32_groups"][0], torch.ones(4)
    )

    evil, marker = tmp_path / "evil.pt", tmp_path / "PWNED"
    torch.save({"loss_scaler": Payload(marker)}, evil)
    with pytest.raises(RuntimeError, match=rf"{re.escape(str(evil))}: refused to load"):
        load_weights_only(evil)
    assert not marker.exists()


def test_deepspeed_resumes_through_the_safe_loader(tmp_path, monkeypatch):
    from deepspeed.runtime.checkpoint_engine.torch_checkpoint_engine import TorchCheckpointEngine

    monkeypatch.setattr(TorchCheckpointEngine, "load", TorchCheckpointEngine.load)  # restored afterwards
    evil, marker = tmp_path / "mp_rank_00_model_states.pt", tmp_path / "PWNED"
    torch.save({"module": Payload(marker)}, evil)
    use_safe_checkpoint_loading()
    with pytest.raises(RuntimeError, match="refused to load"):
        TorchCheckpointEngine().load(str(evil), map_location="cpu")
    assert not marker.exists()


@pytest.mark.e2e
def test_zero_resume_is_logged_and_refuses_tampered_state(tmp_path, cpt_inputs):  # noqa: F811
    """ZeRO-2 killed after a checkpoint resumes through the safe loader and says so in its log; a
    state file swapped for a code-running pickle stops the job, naming the file, without running it."""
    settings = {
        "zero_stage": 2,
        "effective_batch_size": 8,
        "per_device_batch_size": 4,
        "max_steps": 4,
        "save_steps": 2,
        "keep_state": True,
    }
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    env = dict(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    argv = ["pipeline.train.cpt", *cpt_args(cpt_inputs, tmp_path, settings)]
    killed = run_module(argv, env={**env, KILL_AT_STEP_ENV: "3"})
    assert "CPT starts from step 0 of 4" in killed.stderr
    checkpoint = tmp_path / "state" / "checkpoint-2"
    (optim,) = checkpoint.glob("global_step2/*optim_states.pt")
    pristine = optim.read_bytes()

    marker = tmp_path / "PWNED"
    torch.save({"optimizer_state_dict": Payload(marker)}, optim)
    refused = run_module(argv, env=env)
    assert refused.returncode != 0 and f"{optim}: refused to load" in refused.stderr
    assert not marker.exists() and not (tmp_path / "out").exists()

    optim.write_bytes(pristine)
    resumed = run_module(argv, env=env)
    check(resumed)
    assert f"CPT resumed from {checkpoint} (step 2 of 4)" in resumed.stderr
    assert json.loads((tmp_path / "out" / "cpt_run.json").read_text())["resumed_from"] == "checkpoint-2"
