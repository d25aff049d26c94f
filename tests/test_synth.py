"""The offline synth: the README's first command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from settings import parse
from tools import synth


def test_synth_prints_the_tree_and_writes_the_graph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert synth.main(["--stack", "dr", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("OFFLINE RENDERING of stack 'dr' under Pulumi mocks")
    assert "not a `pulumi preview`" in printed
    assert (
        "  eks:index:ManagedNodeGroup  dr-trading-ng  nodeGroupName=trading-dr-trading" in printed
    )

    document = json.loads((tmp_path / "synth-dr.json").read_text())
    assert document["stack"] == "dr"
    assert document["resourceCount"] == len(document["resources"]) > 50
    cluster = next(r for r in document["resources"] if r["type"] == "eks:index:Cluster")
    assert cluster["inputs"]["endpointPublicAccess"] is False


def test_synth_never_writes_secrets(tmp_path: Path) -> None:
    synth.main(["--stack", "primary", "--out", str(tmp_path)])
    text = (tmp_path / "synth-primary.json").read_text()
    assert json.loads(text)["exports"]["kubeconfig"] == synth.SECRET
    assert "current-context" not in text


def test_synth_with_bad_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synth, "run_program", lambda stack: parse({"role": "backup"}))
    assert synth.main(["--stack", "dr", "--out", str(tmp_path)]) == 2
    assert "trading:role = 'backup' is not valid" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
