"""The ``memberflow`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def tune_gc(threshold: int) -> None:
    """Collect young objects less often and never scan what start-up built.

    A batch allocates tens of thousands of short-lived objects (events, outputs,
    models); at Python's default threshold (700) the collector ran hundreds of
    times per batch: ~15% of the engine's time, measured in-process.  Freezing moves the
    modules, rules and schemas built so far out of every later collection."""
    import gc

    if threshold > 0:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(threshold, gen1, gen2)
    gc.freeze()


def cmd_worker(args: argparse.Namespace) -> int:
    from faust.worker import Worker as FaustWorker

    from agents.kafka.admin import create_topics
    from config.settings import Settings
    from streams import create_app

    settings = Settings.from_env()
    create_topics(settings)
    worker = create_app(settings)
    tune_gc(settings.gc_threshold)
    FaustWorker(worker.app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False).execute_from_commandline()
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from agents.kafka.admin import all_topics, create_topics
    from config.settings import Settings

    settings = Settings.from_env()
    created = create_topics(settings)
    for name, partitions in all_topics(settings).items():
        print(f"{name}\t{partitions}\t{'created' if name in created else 'exists'}")
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    from config.rules import RuleBook, RulesError

    try:
        book = RuleBook.from_path(Path(args.path))
    except RulesError as exc:
        print(f"invalid rules: {exc}", file=sys.stderr)
        return 1
    tenants = ", ".join(["default", *book.tenants]) if Path(args.path).is_dir() else book.default.tenant_id
    print(f"ok: {args.path} ({tenants})")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from memberflow.tools.schemas import check_schemas, write_schemas

    out = Path(args.out)
    if args.check:
        stale = check_schemas(out)
        for name in stale:
            print(f"stale: {out / name}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas(out):
        print(path)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from memberflow.tools.replay import replay_file

    return replay_file(Path(args.events), Path(args.rules) if args.rules else None, sys.stdout)


def cmd_simulate(args: argparse.Namespace) -> int:
    from config.settings import Settings
    from memberflow.tools.simulate.command import simulate_command

    tune_gc(Settings.from_env().gc_threshold)
    return simulate_command(args)


def cmd_readmodel(args: argparse.Namespace) -> int:
    from memberflow.readmodel.service import rebuild, run_projector

    return rebuild() if args.readmodel_command == "rebuild" else run_projector()


def cmd_admin(args: argparse.Namespace) -> int:
    from memberflow.admin.service import serve, token_create, write_openapi

    if getattr(args, "admin_command", None) == "token":
        return token_create(args.tenant, args.role, args.name, args.reason)
    if getattr(args, "admin_command", None) == "openapi":
        return write_openapi(Path(args.out), args.check)
    return serve()


def cmd_import(args: argparse.Namespace) -> int:
    from memberflow.admin.service import import_file

    return import_file(Path(args.file), args.tenant, args.format)


def cmd_service_token(args: argparse.Namespace) -> int:
    from config.settings import Settings
    from memberflow.web.auth import add_token, new_token, read_tokens, revoke_token

    path = Path(args.file) if args.file else Settings.from_env().service_tokens_file
    if args.token_command == "create":
        token, stored = new_token(args.name, None if args.tenant == "*" else args.tenant)
        add_token(path, stored)
        print(f"service token {stored.token_id} ({args.name}, tenant {stored.tenant_id or 'every tenant'}) in "
              f"{path}; shown once, keep it:")
        print(token)
        return 0
    if args.token_command == "revoke":
        if not revoke_token(path, args.token_id):
            print(f"no token {args.token_id} in {path}", file=sys.stderr)
            return 1
        print(f"revoked {args.token_id}")
        return 0
    for stored in read_tokens(path):
        print(f"{stored.token_id}\t{stored.tenant_id or '*'}\t{stored.name}\t{stored.created_at.isoformat()}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from memberflow.dev.run import run

    return run(members=args.members, rate=args.rate, port=args.broker_port)


def cmd_demo(args: argparse.Namespace) -> int:
    from memberflow.dev.demo.feed import feed

    return feed(members=args.members, rate=args.rate, limit=args.limit)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="memberflow", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("worker", help="run a worker (settings from MEMBERFLOW_* env)").set_defaults(fn=cmd_worker)
    topics = sub.add_parser("topics", help="topic tools").add_subparsers(dest="topics_command", required=True)
    topics.add_parser("create", help="create every topic with its partition count (idempotent)").set_defaults(
        fn=cmd_topics
    )
    rules = sub.add_parser("rules", help="rules tools").add_subparsers(dest="rules_command", required=True)
    check = rules.add_parser("check", help="validate a rules file or directory")
    check.add_argument("path")
    check.set_defaults(fn=cmd_rules_check)
    schemas = sub.add_parser("schemas", help="export a JSON Schema per topic")
    schemas.add_argument("--out", default="schemas")
    schemas.add_argument("--check", action="store_true", help="exit 1 if the exported files are stale")
    schemas.set_defaults(fn=cmd_schemas)
    replay = sub.add_parser("replay", help="run events.jsonl through the engine offline, print outputs as JSONL")
    replay.add_argument("--rules", help="rules file or directory (default: the shipped rules)")
    replay.add_argument("events")
    replay.set_defaults(fn=cmd_replay)
    simulate = sub.add_parser("simulate", help="what-if: the recorded history under base and candidate rules, "
                              "and a report of the difference (HTML + JSON)")
    simulate.add_argument("--base", required=True, help="rules file or directory in force")
    simulate.add_argument("--candidate", required=True, help="rules file or directory to try")
    source = simulate.add_mutually_exclusive_group(required=True)
    source.add_argument("--events", help="the history as JSONL (the replay's input lines)")
    source.add_argument("--from-topics", action="store_true",
                        help="read the input topics from MEMBERFLOW_BROKER_URL by time (--since, --until)")
    simulate.add_argument("--since", help="with --from-topics: from this moment (ISO 8601 with offset)")
    simulate.add_argument("--until", help="with --from-topics: up to this moment (ISO 8601 with offset)")
    simulate.add_argument("--evaluate", choices=["schedule", "daily"], default="schedule",
                          help="periodic evaluation at each rule set's schedule (default) or every local midnight")
    simulate.add_argument("--tenant", help="only this tenant's lines (events and definitions naming it)")
    simulate.add_argument("--out", default="simulation", help="directory for report.html and report.json")
    simulate.add_argument("--processes", type=int, default=None,
                          help="processes to run in (default: one per core): the two rule sets side by side, "
                          "beyond two their members split by hash")
    simulate.set_defaults(fn=cmd_simulate)
    readmodel = sub.add_parser("readmodel", help="the operators' read model (MEMBERFLOW_READMODEL_URL)")
    rm = readmodel.add_subparsers(dest="readmodel_command", required=True)
    rm.add_parser("run", help="follow the output topics and the member changelog into the read model").set_defaults(
        fn=cmd_readmodel)
    rm.add_parser("rebuild", help="drop the projection and replay the topics from the start, then exit").set_defaults(
        fn=cmd_readmodel)
    admin = sub.add_parser("admin", help="the admin service (MEMBERFLOW_ADMIN_PORT); `admin token create` makes a "
                           "token")
    admin.set_defaults(fn=cmd_admin)
    admin_sub = admin.add_subparsers(dest="admin_command")
    token = admin_sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    create = token.add_parser("create", help="create a token and print it once (the first admin token)")
    create.add_argument("--tenant", required=True, help="the tenant it may act on, or '*' for every tenant")
    create.add_argument("--role", required=True, choices=["viewer", "operator", "approver", "admin"])
    create.add_argument("--name", default="first admin", help="who holds it")
    create.add_argument("--reason", default="created with memberflow admin token create")
    create.set_defaults(fn=cmd_admin)
    openapi = admin_sub.add_parser("openapi", help="write the admin service's OpenAPI document")
    openapi.add_argument("--out", default="docs/openapi.json")
    openapi.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    openapi.set_defaults(fn=cmd_admin)
    imported = sub.add_parser("import", help="import members (profile, tier, points lots, growth) from a CSV or "
                              "JSONL file: one import command per good row; bad rows reported by line")
    imported.add_argument("file")
    imported.add_argument("--tenant", default="default", help="the tenant the members belong to")
    imported.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file's suffix")
    imported.set_defaults(fn=cmd_import)
    service = sub.add_parser("service-token", help="the member API's service tokens (MEMBERFLOW_SERVICE_TOKENS_FILE)")
    service_sub = service.add_subparsers(dest="token_command", required=True)
    made = service_sub.add_parser("create", help="add a token to the file and print it once")
    made.add_argument("--tenant", required=True, help="the tenant it answers for, or '*' for every tenant")
    made.add_argument("--name", required=True, help="who holds it, e.g. shop")
    gone = service_sub.add_parser("revoke", help="remove a token from the file")
    gone.add_argument("token_id")
    listed = service_sub.add_parser("list", help="the tokens in the file (never their secrets)")
    for command in (made, gone, listed):
        command.add_argument("--file", help="the tokens file (default: MEMBERFLOW_SERVICE_TOKENS_FILE)")
        command.set_defaults(fn=cmd_service_token)
    run = sub.add_parser("run", help="embedded broker + worker + demo feed, with live console")
    run.add_argument("--members", type=int, default=1000)
    run.add_argument("--rate", type=float, default=200.0, help="demo events per second")
    run.add_argument("--broker-port", type=int, default=None)
    run.set_defaults(fn=cmd_run)
    demo = sub.add_parser("demo", help="publish the synthetic demo feed to MEMBERFLOW_BROKER_URL")
    demo.add_argument("--members", type=int, default=1000)
    demo.add_argument("--rate", type=float, default=200.0)
    demo.add_argument("--limit", type=int, default=None)
    demo.set_defaults(fn=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # faust's Worker parses sys.argv itself; hand it only the program name.
    sys.argv = sys.argv[:1]
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
