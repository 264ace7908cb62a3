"""``vjpcheck bench``: it runs, its numbers are consistent, its accuracy claim is measured."""

import json

import numpy as np
import torch

from vjpcheck.cli.bench import bench_function, bench_programs, exact_vjp
from vjpcheck.cli import main


def test_exact_vjp_of_the_bench_function():
    rng = np.random.default_rng(0)
    x, v = rng.uniform(-2, 2, 9), rng.standard_normal(9)
    xt = torch.tensor(x, requires_grad=True)
    bench_function(torch)(xt).backward(torch.tensor(v))
    np.testing.assert_allclose(exact_vjp(x, v), xt.grad.numpy(), rtol=1e-12)


def test_bench_command_writes_its_report(tmp_path, capsys):
    report = tmp_path / "bench.json"
    code = main(["bench", "--sizes", "4,64", "--repeat", "1", "--program-seconds", "0", "--report", str(report)])
    assert code == 0
    out = capsys.readouterr().out
    assert "n=    64" in out and "gradcheck_full" in out and str(report) in out
    data = json.loads(report.read_text())
    for row in data["sizes"]:
        assert set(row["seconds"]) >= {"forward_backward", "vjpcheck_full", "vjpcheck_probe", "gradcheck_full", "gradcheck_fast", "jax_check_grads"}
        assert row["verdicts"] == {"vjpcheck_probe": "pass", "vjpcheck_full": "pass"}
        # vjpcheck's finite differences are at least as accurate as gradcheck's
        assert row["error"]["vjpcheck_full"] <= row["error"]["gradcheck_full"]


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
