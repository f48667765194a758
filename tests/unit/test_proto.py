"""botwall's own protobuf contracts: the generated code is current, and the metadata follows the contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from botwall._proto import decision_pb2
from botwall.config import Action
from botwall.edge.decision_log import metadata_fields
from botwall.policy import Decision

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_current(tmp_path: Path) -> None:
    """Compiling proto/ again gives byte-identical code to what is committed (else run `make proto`)."""
    protos = sorted(p.name for p in (ROOT / "proto").glob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT / 'proto'}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            *protos,
        ],
        check=True,
        cwd=ROOT / "proto",
    )
    committed = ROOT / "ext_proc" / "botwall" / "_proto"
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == sorted(
        p.name for p in committed.iterdir() if p.suffix in (".py", ".pyi") and p.stem != "__init__"
    )
    for name in generated:
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), f"{name} is stale: run make proto"


def test_metadata_fields_are_decision_event_fields() -> None:
    """Every key botwall puts in Envoy dynamic metadata is a DecisionEvent field of the same name."""
    decision = Decision(Action.BLOCK, True, False, "p", 90, "bot", ("ua:missing",), "ab")
    contract = {f.name for f in decision_pb2.DecisionEvent.DESCRIPTOR.fields}
    keys = set(metadata_fields(decision))
    assert set() == keys - contract
