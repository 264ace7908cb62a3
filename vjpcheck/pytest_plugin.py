"""pytest plugin: options, the ``vjp`` fixture, the ``vjpcheck`` marker, and reports.

Registered through the ``pytest11`` entry point (and loadable with ``-p vjpcheck``).
Every verdict a test produces through the fixture (pass, skip with reason, failure with
its data) becomes a record attached to that test's report (``report.vjpcheck``, JSON
text), so it reaches the pytest-xdist controller with the report; workers also send their
totals through ``workeroutput`` and the controller checks that nothing was lost. Only the
controller writes the report (HTML, JSON and JUnit XML), once, at the end of the session.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import signal
import threading
import time
from typing import Any, Callable

import pytest

from ._engine.case import function_name
from ._engine.recording import listening, silenced
from ._engine.results import Status, is_failing
from ._engine import timeouts
from ._engine.validate import argparse_type, check_int, check_positive_int, check_positive_number
from .oracles.transforms import session_transforms
from .report.journal import Journal, read_journal
from .report.record import Record, plain_text, dumps, loads, record_from_summary, record_from_verdict
from .report.write import sibling_paths, write_reports

#: (name, flag, metavar, help, converter): each also an ini key ``vjpcheck_<name>``; the
#: converter validates the flag (argparse ``type=``) and the ini value alike
OPTIONS = (
    ("report", "--vjpcheck-report", "PATH", "write the HTML report to PATH (JSON and JUnit XML beside it)", None),
    ("devices", "--vjpcheck-devices", "LIST", "devices to check on, comma-separated: cpu,cuda (default: cpu, plus cuda when available)", None),
    ("frameworks", "--vjpcheck-frameworks", "LIST", "frameworks to check, comma-separated: torch,jax (checks of others skip)", None),
    ("max_examples", "--vjpcheck-max-examples", "N", "Hypothesis examples per verify() call", argparse_type(check_positive_int, int)),
    ("seed", "--vjpcheck-seed", "N", "fix Hypothesis' seed for every verify() call", argparse_type(check_int, int)),
    ("timeout", "--vjpcheck-timeout", "SECONDS", "time limit of each check: a hung forward or backward becomes a timeout finding", argparse_type(check_positive_number, float)),
    ("transforms", "--vjpcheck-transforms", "LIST", "check gradients under these transforms too, comma-separated: compile,func-compile,vmap (jit), or all; for every check that names none", None),
)
KNOWN_DEVICES = ("cpu", "cuda")
KNOWN_FRAMEWORKS = ("torch", "jax")
_RECORDS = pytest.StashKey[list]()
_STATE = pytest.StashKey["RecordCarrier"]()
_CARRIER, _WRITER = "vjpcheck-records", "vjpcheck-report-writer"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vjpcheck", "gradient verification (vjpcheck)")
    for name, flag, metavar, text, convert in OPTIONS:
        extra = {"type": convert} if convert else {}
        group.addoption(flag, dest=f"vjpcheck_{name}", metavar=metavar, default=None, help=f"{text} [ini: vjpcheck_{name}]", **extra)
        parser.addini(f"vjpcheck_{name}", text, default=None)
    group.addoption("--vjpcheck-title", dest="vjpcheck_title", default=None, help="title of the HTML report")


class Settings:
    """The session's vjpcheck options, validated (a bad value is a usage error naming it)."""

    def __init__(self, config: pytest.Config):
        def get(name: str):
            value = config.getoption(f"vjpcheck_{name}")
            return value if value is not None else config.getini(f"vjpcheck_{name}")

        self.report: str | None = get("report") or None
        self.devices = _names(get("devices"), KNOWN_DEVICES, "--vjpcheck-devices")
        self.frameworks = _names(get("frameworks"), KNOWN_FRAMEWORKS, "--vjpcheck-frameworks")
        self.max_examples = _converted(get("max_examples"), "max_examples")
        self.seed = _converted(get("seed"), "seed")
        self.timeout = _converted(get("timeout"), "timeout")
        self.transforms = _transforms(get("transforms"))
        self.title = config.getoption("vjpcheck_title") or "vjpcheck report"


def _names(value, allowed, flag) -> list[str] | None:
    if value in (None, ""):
        return None
    names = [v.strip() for v in str(value).split(",") if v.strip()]
    bad = [n for n in names if n.split(":")[0] not in allowed]
    if not names or bad:
        raise pytest.UsageError(f"{flag}: expected a comma-separated list of {', '.join(allowed)}, got {value!r}")
    return names


def _transforms(value) -> tuple[str, ...]:
    from .oracles.transforms import normalize_transforms

    names = [v.strip() for v in str(value or "").split(",") if v.strip()]
    try:
        return normalize_transforms(names)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"--vjpcheck-transforms (ini vjpcheck_transforms): {exc}") from None


def _converted(value, name: str):
    """A flag's value (already converted by argparse) or an ini value (converted here)."""
    if value in (None, "") or not isinstance(value, str):
        return value if value != "" else None
    flag, convert = next((flag, convert) for n, flag, _, _, convert in OPTIONS if n == name)
    try:
        return convert(value)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"{flag} (ini vjpcheck_{name}): {exc}") from None


def pytest_report_header(config: pytest.Config) -> str | None:
    """What reruns a failure the same way, as pytest-randomly prints its seed."""
    state = config.stash.get(_STATE, None)
    if state is None:
        return None
    settings = state.settings
    seed = settings.seed if settings.seed is not None else "random (set --vjpcheck-seed to fix it)"
    devices = ",".join(settings.devices) if settings.devices else "cpu (+cuda when available)"
    frameworks = ",".join(settings.frameworks) if settings.frameworks else "torch,jax"
    transforms = f", transforms={','.join(settings.transforms)}" if settings.transforms else ""
    return f"vjpcheck: devices={devices}, frameworks={frameworks}, seed={seed}{transforms}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "vjpcheck(**options): per-test vjpcheck settings for the vjp fixture: max_examples, devices, "
        "frameworks, seed, and any verify()/check_vjp() option (rtol, order, oracles, …)",
    )
    worker = hasattr(config, "workerinput")
    carrier = RecordCarrier(Settings(config), worker=worker)
    config.stash[_STATE] = carrier
    config.pluginmanager.register(carrier, _CARRIER)
    # like junitxml: the writer exists only where it has work, on the controller
    if carrier.settings.report and not worker:
        config.pluginmanager.register(ReportWriter(carrier), _WRITER)


def pytest_unconfigure(config: pytest.Config) -> None:
    for name in (_WRITER, _CARRIER):
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin, name)


class RecordCarrier:
    """In every process: attaches a test's records to its report (serialised, so that they
    travel to the pytest-xdist controller with it) and gathers the records reports bring;
    a worker sends its own totals through ``workeroutput``."""

    def __init__(self, settings: Settings, worker: bool):
        self.settings = settings
        self.worker = worker
        self.records: list[Record] = []
        self.seen: set = set()
        self.crashed: set[str] = set()  # test ids whose pytest-xdist worker died running them

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report, sched) -> None:
        """pytest-xdist (controller): a worker died while running ``crashitem``."""
        self.crashed.add(crashitem)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        """Every verdict made while the test runs is recorded against it, whichever entry
        point made it (``check_vjp``, ``assert_vjp``, ``verify``, a user's own ``@given``)."""
        records = item.stash.setdefault(_RECORDS, [])
        with listening(lambda kind, obj: records.extend(_records_of(kind, obj, item.nodeid))), timeouts.session_default(self.settings.timeout), session_transforms(self.settings.transforms):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call):
        outcome = yield
        report = outcome.get_result()
        if call.when == "call":
            records = item.stash.get(_RECORDS, [])
            if records:
                report.vjpcheck = dumps(records)  # serialised with the report by xdist

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        own: list[Record] = []
        text = getattr(report, "vjpcheck", None)
        if text and report.when == "call":
            key = (report.nodeid, getattr(report, "node", None) and report.node.gateway.id)
            if key in self.seen:  # a report delivered twice must not count twice
                return
            self.seen.add(key)
            own = loads(text)
            self.records.extend(own)
        # a failed test whose own records do not say why (a vjpcheck mismatch or error) is
        # recorded as an error, so the report is never clean while pytest is not
        # (on the controller only: it sees every report)
        if report.failed and not self.worker and not any(is_failing(r.status) for r in own):
            crashed = report.nodeid in self.crashed or report.when not in ("setup", "call", "teardown")
            self.records.append(_failure_record(report, crashed))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.worker:
            cases = sum(r.count for r in self.records)
            session.config.workeroutput["vjpcheck"] = json.dumps({"cases": cases, "records": len(self.records)})

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.worker or not self.records:
            return
        totals: dict = {}
        for r in self.records:
            totals[r.status] = totals.get(r.status, 0) + r.count
        terminalreporter.section("vjpcheck")
        terminalreporter.write_line("cases: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))


class ReportWriter:
    """On the controller, with ``--vjpcheck-report``: appends records to the journal as
    tests finish, keeps an *interrupted* report on disk while the run goes on (so a run
    killed by a CI timeout leaves one), and at the end writes the HTML, JSON and JUnit
    reports from the journal, checked against the workers' totals. SIGTERM is turned into
    an interruption (like Ctrl-C) for the session, so that the final report says so."""

    REFRESH_SECONDS = 10.0  # the on-disk report of a running session is at most this old

    def __init__(self, carrier: RecordCarrier):
        self.carrier = carrier
        self.worker_totals: dict = {}
        self.paths: dict = {}
        self.model = None
        self.error = ""
        self.meta: dict = {}
        self.journal: Journal | None = None
        self.journaled = 0
        self.last_refresh = 0.0
        self.started = time.monotonic()
        self._previous_sigterm = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """pytest-xdist: a worker's own totals, to check nothing was lost."""
        output = getattr(node, "workeroutput", None) or {}
        if "vjpcheck" in output:
            self.worker_totals[node.gateway.id] = json.loads(output["vjpcheck"])["cases"]

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        settings = self.carrier.settings
        self.meta = environment(session.config, settings)
        try:
            self.journal = Journal(sibling_paths(settings.report)["journal"], settings.title, self.meta)
            self._refresh()  # from now on, a killed run leaves an interrupted report
        except OSError as exc:
            self.error = f"could not start the report {settings.report}: {type(exc).__name__}: {exc}"
        self._catch_sigterm()

    @pytest.hookimpl(trylast=True)  # after the carrier has added the test's records
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._append()
        if time.monotonic() - self.last_refresh > self.REFRESH_SECONDS:
            self._refresh()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._release_sigterm()
        settings = self.carrier.settings
        interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
        meta = {**self.meta, "pytest exit status": int(session.exitstatus), "duration": f"{time.monotonic() - self.started:.1f} s"}
        incomplete = "the run was interrupted (Ctrl-C or SIGTERM) before it finished" if interrupted else None
        try:
            records, problems = self.carrier.records, []
            if self.journal is not None:  # the report is built from the journal
                self._append()
                self.journal.end(exitstatus=int(session.exitstatus), interrupted=interrupted)
                contents = read_journal(self.journal.path)
                records, problems = contents.records, contents.problems
            self.model, self.paths = write_reports(
                records, settings.report, title=settings.title, worker_totals=self.worker_totals,
                meta=meta, incomplete=incomplete, problems=problems,
            )
            if self.journal is not None:
                self.paths["journal"] = self.journal.path
        except Exception as exc:  # the session's results stand; the failure to write them is loud
            self.error = f"could not write the report {settings.report}: {type(exc).__name__}: {exc}"
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    @pytest.hookimpl(trylast=True)  # after the carrier's section header
    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.carrier.records:
            terminalreporter.section("vjpcheck")
        if self.model is not None:
            for p in self.model.problems:
                terminalreporter.write_line(f"problem: {p}", red=True)
            if not self.model.clean:
                terminalreporter.write_line(f"report outcome: {self.model.outcome}" + (f" ({self.model.incomplete})" if self.model.incomplete else ""), red=True)
        if self.error:
            terminalreporter.write_line(f"vjpcheck: {self.error}", red=True)
        for kind, path in self.paths.items():
            terminalreporter.write_line(f"{kind} {'(the records, as they arrived)' if kind == 'journal' else 'report'}: {os.path.abspath(path)}")

    def _append(self) -> None:
        new = self.carrier.records[self.journaled :]
        if new and self.journal is not None:
            self.journal.append(new)
        self.journaled += len(new)

    def _refresh(self) -> None:
        """Rewrite the report as it stands, marked interrupted until the session ends."""
        self.last_refresh = time.monotonic()
        journal = self.journal.path if self.journal is not None else "the journal"
        try:
            write_reports(
                self.carrier.records, self.carrier.settings.report, title=self.carrier.settings.title, meta=self.meta,
                incomplete=f"the run had not finished when this report was written: it is still running, or it was killed (rebuild the report from everything recorded with: vjpcheck report {journal})",
            )
        except Exception as exc:  # noqa: BLE001 - the final write reports the problem loudly
            self.error = f"could not write the report {self.carrier.settings.report} during the run: {type(exc).__name__}: {exc}"

    def _catch_sigterm(self) -> None:
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)

    def _release_sigterm(self) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"vjpcheck: terminated by signal {signum}; writing the report")


def environment(config: pytest.Config, settings: Settings) -> dict:
    """What a report needs to be rerun the same way: versions, platform, seed, devices,
    the command line, the start time."""
    import importlib.metadata

    from .frameworks import framework_versions

    meta = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("vjpcheck", "hypothesis", "pytest"):
        try:
            meta[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    meta.update(framework_versions())
    meta["seed"] = settings.seed if settings.seed is not None else "random (set --vjpcheck-seed to fix it)"
    meta["timeout"] = f"{settings.timeout:g} s per check" if settings.timeout else "none (set --vjpcheck-timeout)"
    meta["devices"] = ",".join(settings.devices) if settings.devices else "cpu (+cuda when available)"
    meta["frameworks"] = ",".join(settings.frameworks) if settings.frameworks else "torch,jax"
    meta["command"] = shlex.join(["pytest", *map(str, config.invocation_params.args)])
    meta["started"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return meta


class VJP:
    """The ``vjp`` fixture: :func:`vjpcheck.verify` / :func:`vjpcheck.check_vjp` with the
    session's and the test's settings, each verdict recorded against the test id."""

    def __init__(self, request: pytest.FixtureRequest):
        self._node = request.node
        self._settings: Settings = request.config.stash[_STATE].settings
        marker = request.node.get_closest_marker("vjpcheck")
        self._marker: dict = dict(marker.kwargs) if marker else {}
        if marker and marker.args:
            raise pytest.UsageError(f"{request.node.nodeid}: @pytest.mark.vjpcheck takes keyword options only, got {marker.args!r}")
        request.node.stash.setdefault(_RECORDS, [])

    @property
    def records(self) -> list[dict]:
        """What this test recorded so far."""
        return self._node.stash[_RECORDS]

    def _options(self, options: dict) -> tuple[dict, list[str] | None, list[str] | None]:
        merged = {**self._marker, **options}
        devices = merged.pop("devices", None) or self._settings.devices
        frameworks = merged.pop("frameworks", None) or self._settings.frameworks
        return merged, _usable_devices(devices), frameworks

    def _skip_if_excluded(self, fn: Callable, framework: str | None, frameworks, devices) -> str:
        from .frameworks import infer_framework

        framework = framework or infer_framework(fn) or "unknown"
        reason = ""
        if frameworks and framework not in frameworks:
            reason = f"vjpcheck: {framework} is not among the frameworks to check ({', '.join(frameworks)})"
        elif devices == []:
            reason = "vjpcheck: none of the requested devices is available here (no CUDA device)"
        if reason:
            self.records.append(Record(self._node.nodeid, function_name(fn), framework or "-", Status.SKIPPED, kind="skip", reasons=[reason]))
            pytest.skip(reason)
        return framework

    def verify(self, fn: Callable, *arg_specs: Any, **options: Any):
        """:func:`vjpcheck.verify`, recorded; raises :class:`vjpcheck.VJPMismatch` with the
        minimal failing case, or :class:`vjpcheck.LowCoverage`."""
        __tracebackhide__ = True
        from ._engine.check import VJPMismatch
        from ._engine.sweep import LowCoverage, verify

        opts, devices, frameworks = self._options(options)
        self._skip_if_excluded(fn, opts.get("framework"), frameworks, devices)
        if self._settings.max_examples is not None:
            opts.setdefault("max_examples", self._settings.max_examples)
        if self._settings.seed is not None:
            opts.setdefault("seed", self._settings.seed)
        try:
            with silenced():  # recorded here, with the test's settings
                summary = verify(fn, *arg_specs, devices=devices, **opts)
        except VJPMismatch as failure:
            partial = getattr(failure, "summary", None)
            if partial is not None:  # the passing examples before the failure; not the shrink attempts
                self.records.extend(r for r in record_from_summary(partial, self._node.nodeid) if not is_failing(r.status))
            self.records.append(record_from_verdict(failure.verdict, self._node.nodeid, kind="verify"))
            raise
        except LowCoverage as low:  # what ran is recorded; the test fails on its coverage
            self.records.extend(record_from_summary(low.summary, self._node.nodeid))
            raise
        self.records.extend(record_from_summary(summary, self._node.nodeid))
        return summary

    def check(self, fn: Callable, *args: Any, **options: Any):
        """:func:`vjpcheck.check_vjp` on concrete arguments, recorded; raises
        :class:`vjpcheck.VJPMismatch` unless the verdict passes or is skipped."""
        __tracebackhide__ = True
        from ._engine.check import VJPMismatch, check_vjp

        opts, devices, frameworks = self._options(options)
        opts.pop("max_examples", None)  # a verify() setting
        self._skip_if_excluded(fn, opts.get("framework"), frameworks, devices)
        with silenced():
            verdict = check_vjp(fn, *args, **opts)
        self.records.append(record_from_verdict(verdict, self._node.nodeid, kind="check"))
        if is_failing(verdict.overall_status):
            raise VJPMismatch(verdict)
        return verdict

    def record(self, record: Record) -> None:
        """Add a ready-made record (used by the built-in checks of ``vjpcheck run``)."""
        self.records.append(record)


def _failure_record(report: pytest.TestReport, crashed: bool = False) -> Record:
    """A record for a test that failed outside vjpcheck (``error``, with its message) or
    whose worker died running it (``crashed``)."""
    text = plain_text(report.longreprtext or "failed")
    errors = [line.strip() for line in text.splitlines() if line.strip().startswith("E ")]
    first = (errors[0] if errors else text.strip().splitlines()[-1])[:300]
    if crashed:
        return Record(report.nodeid, "-", "-", Status.CRASHED, kind="crash", reasons=[first], explanation=text[-4000:], worker="main", seconds=report.duration)
    return Record(report.nodeid, "-", "-", Status.ERROR, kind=f"test-{report.when}", reasons=[first], explanation=text[-4000:], worker="main", seconds=report.duration)


def _records_of(kind: str, obj: Any, test: str) -> list[Record]:
    """Records for an announcement of ``vjpcheck._engine.recording``."""
    if kind == "check":
        return [record_from_verdict(obj, test, kind="check")]
    if kind == "verify":
        return record_from_summary(obj, test)
    # a failing verify: the examples that passed before it, then the minimal case
    passed = [r for r in record_from_summary(obj.summary, test) if not is_failing(r.status)]
    return passed + [record_from_verdict(obj.verdict, test, kind="verify")]


@pytest.fixture
def vjp(request: pytest.FixtureRequest) -> VJP:
    """Check custom backward rules: ``vjp.verify(fn, tensor("m,n"))``, ``vjp.check(fn, x)``.
    Settings: ``@pytest.mark.vjpcheck(...)`` on the test, then the command line / ini."""
    return VJP(request)


def _usable_devices(devices: list[str] | None) -> list[str] | None:
    """The requested devices that exist here ([] when none does; None: no restriction)."""
    if devices is None:
        return None
    from .frameworks import cuda_available

    usable = [d for d in devices if not d.startswith("cuda") or cuda_available()]
    return usable
