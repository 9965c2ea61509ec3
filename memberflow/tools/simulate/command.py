"""``memberflow simulate``: arguments in, report files out."""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from config.rules import RulesError
from memberflow.tools.simulate.report import compare, write_report
from memberflow.tools.simulate.run import simulate


def _moment(text: str | None, flag: str) -> datetime:
    if text is None:
        raise ValueError(f"{flag} is required with --from-topics")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{flag} {text!r} needs an offset, e.g. {text}+08:00")
    return moment


def simulate_command(args: argparse.Namespace) -> int:
    base, candidate, out = Path(args.base), Path(args.candidate), Path(args.out)
    if args.processes is not None and args.processes < 1:
        print("--processes must be at least 1", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="simulate-") as spool:
            until = None
            if args.from_topics:
                since, until = _moment(args.since, "--since"), _moment(args.until, "--until")
                from config.settings import Settings
                from memberflow.tools.simulate.history import record_history

                events = Path(spool) / "history.jsonl"
                lines = record_history(Settings.from_env(), since, until, events)
                print(f"read {lines} records from the input topics", file=sys.stderr)
            else:
                events = Path(args.events)
            if getattr(args, "tenant", None):
                from memberflow.tools.simulate.tenant import keep_tenant

                mine = Path(spool) / "tenant.jsonl"
                kept = keep_tenant(events, args.tenant, mine)
                print(f"kept {kept} lines of tenant {args.tenant}", file=sys.stderr)
                events = mine
            runs = simulate(base, candidate, events, daily=args.evaluate == "daily", processes=args.processes,
                            until=until)
    except RulesError as exc:
        print(f"invalid rules: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    report = compare(*runs, str(base), str(candidate))
    figures, page = write_report(report, out)
    diff = report["difference"]
    print(f"points issued {report['base']['points_issued']} -> {report['candidate']['points_issued']} "
          f"({diff['points_issued']:+}); members whose tier would differ: "
          f"{report['members_with_different_tier']['count']}")
    print(figures)
    print(page)
    return 0
