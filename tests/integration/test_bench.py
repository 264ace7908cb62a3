"""``vjpcheck bench``: it runs, its numbers are consistent, its accuracy claim is measured."""

import json

import numpy as np
import torch

from vjpcheck.bench.plot import bench_page, ratio_chart
from vjpcheck.bench.programs import bench_programs
from vjpcheck.bench.sizes import bench_size
from vjpcheck.bench.targets import bench_function, exact_vjp
from vjpcheck.bench.verify_times import time_in_fresh_process
from vjpcheck.cli import main


def test_exact_vjp_of_the_bench_function():
    rng = np.random.default_rng(0)
    x, v = rng.uniform(-2, 2, 9), rng.standard_normal(9)
    xt = torch.tensor(x, requires_grad=True)
    bench_function(torch)(xt).backward(torch.tensor(v))
    np.testing.assert_allclose(exact_vjp(x, v), xt.grad.numpy(), rtol=1e-12)


def test_a_size_row_times_the_defaults_first_with_floors_and_ratios():
    row = bench_size(32, repeat=1)
    assert list(row["seconds"])[:2] == ["forward_backward", "default"]
    assert {"stripped_full", "default_probe", "stripped_probe", "gradcheck_slow", "gradcheck_fast", "jax_check_grads"} <= set(row["seconds"])
    assert set(row["floors"]) == {"full", "probe"} and all(t > 0 for t in row["floors"].values())
    assert row["default_mode"] == "full"
    for key, ratio in row["ratios"].items():
        floor = row["floors"]["probe" if "probe" in key or key in ("gradcheck_fast", "jax_check_grads") else "full"]
        assert np.isclose(ratio, row["seconds"][key] / floor)
    assert set(row["verdicts"].values()) == {"pass"}
    # vjpcheck's finite differences are at least as accurate as gradcheck's
    assert row["error"]["default"] <= row["error"]["gradcheck_slow"]


def test_bench_command_writes_json_and_a_page_with_its_chart(tmp_path, capsys):
    report = tmp_path / "bench.json"
    code = main(["bench", "--sizes", "16", "--repeat", "1", "--no-verify", "--report", str(report)])
    assert code == 0
    out = capsys.readouterr().out
    assert "n=     16" in out and "x floor" in out and str(report) in out
    data = json.loads(report.read_text())
    assert [row["n"] for row in data["sizes"]] == [16] and "verify" not in data
    page = (tmp_path / "bench.html").read_text()
    assert page.count("<svg") == 1 and "gradcheck_slow" in page and "http" not in page.split("<svg", 1)[1].replace("http://www.w3.org/2000/svg", "")


def test_the_chart_draws_one_bar_per_ratio():
    rows = [{"n": 8, "ratios": {"default": 2.0, "gradcheck_slow": 40.0}}, {"n": 9, "ratios": {"default_probe": 1.2}}]
    svg = ratio_chart(rows)
    assert svg.count("<rect") == 3 and "40×" in svg
    assert "no ratios measured" in bench_page({"sizes": [], "device": "cpu"})


def test_verify_timing_runs_in_a_fresh_process_and_reports_the_minimal_case():
    out = time_in_fresh_process("from vjpcheck.bench.targets import torch_sin_wrong_scale", "torch_sin_wrong_scale()", '[tensor("n")]', examples=5)
    assert out["status"] == "mismatch", out
    assert out["minimal"] and out["verify_seconds"] > 0 and out["import_seconds"] > 0


def test_program_throughput_reports_where_the_time_goes():
    out = bench_programs(programs=12)  # a count, not a time budget: a loaded machine is only slower
    assert out["cases"] == 12 and out["checks_per_second"] > 0
    assert {"case", "finite_differences", "torch.backward", "compare"} <= set(out["seconds_per_case"])
    # known framework differences (e.g. PyTorch's trigamma accuracy) may show up; most pass
    assert out["statuses"].get("pass", 0) >= 0.9 * out["cases"], out["statuses"]


def test_bench_usage_errors_exit_2(capsys):
    assert main(["bench", "--sizes", "4,x"]) == 2
    assert main(["bench", "--device", "tpu", "--sizes", "4"]) == 2
    assert "--device" in capsys.readouterr().err
