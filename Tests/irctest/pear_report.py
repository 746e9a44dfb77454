"""pytest plugin: per-specification outcome counts for an irctest run (our own code).

Load with `-p pear_report` (this directory on PYTHONPATH). At the end of the session it prints one row per
specification marker (RFC1459, RFC2812, IRCv3, modern, ircdocs, and `(none)` for tests without one) with passed /
failed / skipped / xfailed counts, and writes the same table as JSON to `$PEAR_REPORT` when that is set. A test with
several markers counts once under each; `error` is a failure outside the test body (set-up or tear-down); the `total` row counts every test once. Works with pytest-xdist: the
markers travel in `report.keywords`.
"""

import json
import os

SPECIFICATIONS = ["RFC1459", "RFC2812", "IRCv3", "modern", "ircdocs"]
OUTCOMES = ["passed", "failed", "error", "skipped", "xfailed", "xpassed"]
_results = {}


def _outcome(report):
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.failed and report.when != "call":
        return "error"  # set-up or tear-down failed (e.g. a services package the controller cannot start)
    return report.outcome


def pytest_runtest_logreport(report):
    previous = _results.get(report.nodeid)
    outcome = _outcome(report)
    # The worst phase decides: a passing tear-down does not undo a failed call, an error in any phase shows.
    rank = {"passed": 0, "xpassed": 1, "skipped": 2, "xfailed": 3, "failed": 4, "error": 5}
    if previous is None or rank[outcome] > rank[previous[0]]:
        specs = [name for name in SPECIFICATIONS if name in report.keywords] or ["(none)"]
        _results[report.nodeid] = (outcome, specs)


def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller reports
    rows = {name: dict.fromkeys(OUTCOMES, 0) for name in SPECIFICATIONS + ["(none)", "total"]}
    for outcome, specs in _results.values():
        for name in specs + ["total"]:
            rows[name][outcome] += 1
    lines = ["", "| spec | " + " | ".join(OUTCOMES) + " |", "| --- |" + " --- |" * len(OUTCOMES)]
    for name, counts in rows.items():
        if any(counts.values()):
            lines.append(f"| {name} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
    print("\n".join(lines))
    path = os.environ.get("PEAR_REPORT")
    if path:
        with open(path, "w") as handle:
            json.dump({"rows": rows, "tests": {k: v[0] for k, v in sorted(_results.items())}}, handle, indent=1)
