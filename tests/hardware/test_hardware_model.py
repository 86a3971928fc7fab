"""The hardware model: one data file per target, and no figure anywhere else."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qaicc.errors import QaiccError
from qaicc.hardware import builtin_targets, load_target

ROOT = Path(__file__).resolve().parent.parent.parent


def test_targets_hold_the_published_figures():
    pro, standard = load_target("ai100-pro"), load_target("ai100-standard")
    assert (pro.cores, standard.cores) == (16, 14)
    for target in (pro, standard):
        assert target.vtcm_usable_bytes == 8_323_072 and target.vtcm_bytes == 8 * 2**20
        assert target.l2_bytes == 2**20
        assert target.ddr_bandwidth_bytes_per_s == 137e9
        assert target.network_bandwidth_bytes_per_s == 186e9
        assert target.matrix_macs("float16") == 4096 and target.matrix_macs("int8") == 8192
        assert target.vector_units == 4 and target.dma_engines == 1
        peak = 2 * target.cores * target.matrix_macs("float16") * target.clock_hz
        assert peak == pytest.approx(target.peak_flops["float16"], rel=1e-6)
    assert (pro.ddr_bytes, standard.ddr_bytes) == (32 * 2**30, 16 * 2**30)


def test_qaic_exec_hardware_versions():
    assert load_target("2.0").name == "ai100-pro"
    assert load_target("ai100").name == "ai100-pro"
    assert load_target(None).name == "ai100-pro"
    with pytest.raises(QaiccError, match="unknown hardware version 'ai300'"):
        load_target("ai300")


def test_a_made_up_target_swaps_in(tmp_path):
    data = json.loads((ROOT / "qaicc/hardware/targets/ai100-pro.json").read_text())
    data.update(name="tiny", cores=3, vtcm_usable_bytes=1 << 16, clock_hz=1e9)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    tiny = load_target(path)
    assert (tiny.name, tiny.cores, tiny.vtcm_usable_bytes) == ("tiny", 3, 1 << 16)
    assert tiny.seconds(1e9) == 1.0


def test_no_figure_is_hard_coded_elsewhere():
    figures = set()
    for target in builtin_targets().values():
        figures |= {target.vtcm_usable_bytes, target.vtcm_bytes, target.ddr_bytes, int(target.clock_hz),
                    int(target.ddr_bandwidth_bytes_per_s), int(target.network_bandwidth_bytes_per_s)}
    patterns = [re.compile(rf"\b{f}\b|\b{f:_}\b|\b{f:.0e}\b".replace("+", r"\+")) for f in figures]
    offenders = []
    for folder in ("qaicc", "dialects", "passes", "tools"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            offenders += [f"{path}: {p.pattern}" for p in patterns if p.search(text)]
    assert not offenders, offenders
