"""The `nextstep` command. Each subcommand lives in its own module and is imported on use."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from cli.failures import run_command
from cli.logs import setup_logging
from config.settings import SUPPORTED_LANGS, SettingsError, load_settings

# subcommand -> module in cli/ with `async def main(args, settings) -> int`
COMMANDS = {
    "run": "cli.run",
    "migrate": "cli.staff",
    "invite": "cli.staff",
    "employees": "cli.staff",
    "import": "cli.data",
    "export": "cli.data",
    "report": "cli.report",
    "calls": "cli.calls",
    "sip-listen": "cli.calls",
}


class Parser(argparse.ArgumentParser):
    """Usage errors in one line (argparse adds the whole usage), like every other failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; see {self.prog} --help\n")


def positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, not {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="nextstep", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="bot, scheduler and SIP listener in one process")
    sub.add_parser("migrate", help="apply database migrations")
    invite = sub.add_parser("invite", help="make a one-time invite link for an employee")
    invite.add_argument("--role", choices=["rep", "supervisor", "admin"], required=True)
    invite.add_argument("--sip-ext", help="the employee's SIP extension")
    invite.add_argument("--team", default="main")
    sub.add_parser("employees", help="list employees")
    imp = sub.add_parser("import", help="import contacts (and deals) from CSV")
    imp.add_argument("file")
    imp.add_argument("--duplicates", choices=["merge", "skip"], default="merge")
    imp.add_argument("--owner", help="employee (id, name or @username) who gets the deals")
    imp.add_argument("--team", help="team whose queue gets the deals (default: main)")
    exp = sub.add_parser("export", help="export deals or contacts as CSV")
    exp.add_argument("what", choices=["deals", "contacts"], nargs="?", default="deals")
    exp.add_argument("-o", "--output", default="-")
    exp.add_argument("--locale", choices=SUPPORTED_LANGS,
                     help="words and CSV format: ru is `;` and a decimal comma (default: settings)")
    rep = sub.add_parser("report", help="analytics report")
    rep.add_argument("kind", nargs="?", default="funnel")
    rep.add_argument("--days", type=int, default=30)
    rep.add_argument("--team")
    rep.add_argument("--csv", action="store_true")
    rep.add_argument("--png", help="write the chart to this file")
    rep.add_argument("--locale", choices=SUPPORTED_LANGS,
                     help="words and CSV format: ru is `;` and a decimal comma (default: settings)")
    calls = sub.add_parser("calls", help="recent calls")
    calls.add_argument("--last", type=positive, default=20)
    calls.add_argument("--json", action="store_true")
    sub.add_parser("sip-listen", help="only the SIP capture listener")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"nextstep: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_format, verbose=args.verbose)
    module = importlib.import_module(COMMANDS[args.command])
    return run_command(module.main(args, settings), args, settings)


if __name__ == "__main__":
    sys.exit(main())
