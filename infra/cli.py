"""The ``mamori`` command: ``run``, ``migrate``, ``keys``, ``staff create``, ``purge``, ``events``
(parked events), ``edge nginx-config``."""

from __future__ import annotations

import argparse
import sys

from mamori_common.problems import Problem


def _staff_create(args: argparse.Namespace) -> int:
    from infra import services
    from mamori_common.clock import SystemClock
    from mamori_common.db import Database
    from services.auth.accounts.models import Role
    from services.auth.accounts.service import create_account
    from services.auth.config import AuthSettings
    from services.auth.credentials.encryption import Encryptor
    from services.auth.credentials.passwords import Passwords
    from services.auth.staff.second_factor import enrol_totp_at_creation
    from services.auth.totp.service import provisioning_uri

    services.migrate((services.AUTH,))
    settings = AuthSettings()
    database = Database(settings.resolved_database_url())
    passwords = Passwords(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)
    try:
        with database.session() as db:
            account = create_account(
                db,
                passwords,
                email=args.email,
                password=args.password,
                name=args.name or args.email.split("@", 1)[0],
                role=Role(args.role),
            )
            # Staff sign in with a second factor every time: TOTP is on from the start.
            secret = enrol_totp_at_creation(
                account, Encryptor.from_settings(settings.encryption_key, settings.data_dir), now=SystemClock().now()
            )
            db.commit()
            uri = provisioning_uri(secret, account_name=account.email, issuer=settings.totp_issuer)
            print(f"Created {args.role} {account.email} (account {account.id}).")
            print(
                "Staff sign in with a second factor. Add this TOTP secret to an authenticator app now "
                f"(it is not shown again):\n  secret: {secret}\n  {uri}\n"
                "Then sign in with the password and the app's code; add a passkey on the security page later."
            )
    except Problem as problem:
        print(f"Not created: {problem.detail or problem.code}", file=sys.stderr)
        return 2
    finally:
        database.dispose()
    return 0


def _purge() -> int:
    """Delete verification documents whose case ended more than the retention period ago."""
    from infra import services
    from mamori_common.clock import SystemClock
    from mamori_common.db import Database
    from services.verification.config import VerificationSettings
    from services.verification.documents.retention import purge
    from services.verification.main import document_store

    services.migrate((services.VERIFICATION,))
    settings = VerificationSettings()
    database = Database(settings.resolved_database_url())
    try:
        with database.session() as db:
            count = purge(db, document_store(settings), now=SystemClock().now(), retention_days=settings.retention_days)
            db.commit()
    finally:
        database.dispose()
    print(f"Purged {count} document(s) older than {settings.retention_days} days after their case ended.")
    return 0


def _events(args: argparse.Namespace) -> int:
    """List the events each service's dispatcher gave up on (parked), newest first."""
    import importlib

    from infra import services
    from mamori_common.db import Database
    from mamori_common.events import parked_events

    names = [args.service] if args.service else [spec.name for spec in services.DATABASE_SERVICES]
    found = 0
    for name in names:
        database = Database(services.database_url(name))
        table = importlib.import_module(f"services.{name}.database").outbox
        try:
            rows = parked_events(database, table, limit=args.limit)
        finally:
            database.dispose()
        for row in rows:
            found += 1
            error = (row["last_error"] or "").splitlines()[0][:120] if row["last_error"] else ""
            print(
                f"{name}\t{row['parked_at'].isoformat()}\t{row['event_type']}\t{row['event_id']}\t"
                f"-> {row['subscriber']}\t{row['attempts']} attempts\t{error}"
            )
    if not found:
        print("No parked events.")
    return 0


def _keys() -> int:
    """Each service's key pair under the data dir, made once (compose's ``keys`` one-shot):
    ``<name>/service.key`` for that service alone, ``public/<name>.pub`` for every service."""
    from mamori_common.service_keys import ensure_key_pairs, public_key_dir, public_key_file
    from mamori_common.settings import CommonSettings

    data_dir = CommonSettings().data_dir
    for name, path in ensure_key_pairs(data_dir).items():
        public = public_key_file(public_key_dir(data_dir), name)
        print(f"{name}: private key {path.relative_to(data_dir)}, public key {public.relative_to(data_dir)}")
    return 0


def _edge_nginx_config(args: argparse.Namespace) -> int:
    """Print (or write) the nginx configuration for the replicas the gateway settings name."""
    from gateway.config import GatewaySettings
    from gateway.nginx import EdgeLayout, render

    settings = GatewaySettings()
    layout = EdgeLayout(
        listen=args.listen,
        upstreams=settings.edge_upstreams(args.gateway),
        trusted_proxies=settings.trusted_proxies,
        runtime_dir=args.runtime_dir,
        access_log=args.access_log,
        error_log=args.error_log,
    )
    text = render(layout)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mamori", description="Mamori account protection suite")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start every service and the gateway")
    run.add_argument("--replicas", type=int, default=1, help="processes per service (default 1)")
    run.add_argument("--no-demo", action="store_true", help="do not seed the demo accounts")

    commands.add_parser("migrate", help="apply every service's database migrations")
    commands.add_parser("purge", help="delete case documents past their retention period")
    commands.add_parser("keys", help="make each service's key pair under the data dir (kept if there)")

    events = commands.add_parser("events", help="list events the dispatchers gave up on (parked)")
    events.add_argument("--service", choices=["auth", "verification", "orders"], default=None)
    events.add_argument("--limit", type=int, default=100)

    staff = commands.add_parser("staff", help="staff accounts")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True)
    create = staff_commands.add_parser("create", help="create a staff account")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--role", required=True, choices=["specialist", "support", "admin"])
    create.add_argument("--name", default=None)

    edge = commands.add_parser("edge", help="the public edge (nginx)")
    edge_commands = edge.add_subparsers(dest="edge_command", required=True)
    nginx = edge_commands.add_parser(
        "nginx-config",
        help="render nginx.conf from the route table; replicas from MAMORI_<SERVICE>_UPSTREAMS",
    )
    nginx.add_argument("--listen", default="0.0.0.0:8000", help="address:port nginx listens on")
    nginx.add_argument("--gateway", default="http://gateway:8000",
                       help="the Python gateway app serving /healthz, /openapi.json and /docs")  # fmt: skip
    nginx.add_argument("--runtime-dir", default="/tmp", help="pid file and temporary files")
    nginx.add_argument("--access-log", default="/dev/stdout")
    nginx.add_argument("--error-log", default="stderr")
    nginx.add_argument("--output", default=None, help="write here instead of standard output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        from infra.launcher import run

        if args.replicas < 1:
            print("--replicas must be at least 1", file=sys.stderr)
            return 2
        return run(replicas=args.replicas, seed_demo=not args.no_demo)
    if args.command == "migrate":
        from infra import services

        services.migrate()
        print("Migrations applied: " + ", ".join(spec.name for spec in services.DATABASE_SERVICES))
        return 0
    if args.command == "purge":
        return _purge()
    if args.command == "keys":
        return _keys()
    if args.command == "events":
        return _events(args)
    if args.command == "edge":
        return _edge_nginx_config(args)
    return _staff_create(args)


if __name__ == "__main__":
    sys.exit(main())
