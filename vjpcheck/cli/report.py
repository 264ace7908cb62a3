"""``vjpcheck report JOURNAL``: rebuild the HTML/JSON/JUnit report from a run's journal.

The plugin appends every record to ``<report>.journal.jsonl`` as tests finish; a run
killed before it could write its final report (a CI timeout, SIGKILL, a crashed
controller) leaves the journal whole up to the kill. The rebuilt report is marked
*interrupted* unless the journal records the session's end.
Exit codes as ``vjpcheck run``: 0 clean, 1 failed, 2 usage error, 3 interrupted or nothing checked.
"""

from __future__ import annotations

import argparse
import sys

JOURNAL_SUFFIX = ".journal.jsonl"


def add_parser(sub) -> argparse.ArgumentParser:
    rp = sub.add_parser(
        "report",
        help="rebuild a report from the journal a run left (e.g. one killed by a CI timeout)",
        description=__doc__.split("\n\n")[0] + " The report is written beside the journal unless --output says where.",
    )
    rp.add_argument("journal", help="the run's journal: <report>.journal.jsonl")
    rp.add_argument("--output", default=None, help="HTML report path (default: the journal's report path)")
    return rp


def main(args: argparse.Namespace) -> int:
    from ..report.journal import read_journal
    from ..report.model import CLEAN, FAILED
    from ..report.write import write_reports

    try:
        contents = read_journal(args.journal)
    except (OSError, ValueError) as exc:
        print(f"vjpcheck report: {exc}", file=sys.stderr)
        return 2
    output = args.output or (args.journal[: -len(JOURNAL_SUFFIX)] if args.journal.endswith(JOURNAL_SUFFIX) else args.journal) + ".html"
    end = contents.end
    if end is None:
        incomplete = "the run ended without finishing its report (killed?): rebuilt from its journal"
    elif end.get("interrupted"):
        incomplete = "the run was interrupted (Ctrl-C or SIGTERM) before it finished"
    else:
        incomplete = None
    meta = {**contents.meta, "rebuilt from": args.journal}
    try:
        model, paths = write_reports(contents.records, output, title=contents.title, meta=meta, incomplete=incomplete, problems=contents.problems)
    except OSError as exc:
        print(f"vjpcheck report: could not write {output}: {exc}", file=sys.stderr)
        return 2
    print(f"vjpcheck report: {len(contents.records)} records, outcome {model.outcome}: {paths['html']} (JSON {paths['json']}, JUnit {paths['junit']})")
    return 0 if model.outcome == CLEAN else 1 if model.outcome == FAILED else 3
