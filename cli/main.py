"""The `nextstep` command. Each subcommand lives in its own module and is imported on use."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from cli.failures import run_command
from cli.logs import setup_logging
from config.settings import SUPPORTED_LANGS, SettingsError, load_settings
from crm.report_kinds import Kind
from crm.staff import INVITE_TTL
from storage.models import Role

DESCRIPTION = """nextstep: a CRM front in Telegram. Reps get each deal's next step as a card with
buttons, clients write to the bot, calls captured from the SIP server are logged on deals.
Settings come from NEXTSTEP_* variables or a .env file (`nextstep settings` lists them)."""
EPILOG = "`nextstep COMMAND --help` tells more about a command."
INVITE_DAYS = INVITE_TTL.days

# subcommand -> module in cli/ with `async def main(args, settings) -> int`
COMMANDS = {
    "run": "cli.run",
    "migrate": "cli.staff",
    "settings": "cli.settings",
    "invite": "cli.staff",
    "employees": "cli.staff",
    "import": "cli.data",
    "export": "cli.data",
    "report": "cli.report",
    "calls": "cli.calls",
    "sip-listen": "cli.calls",
    "demo": "cli.demo",
}
FAST_CLOCK = 60.0  # demo --fast: a minute of the product's time passes in a second


class Parser(argparse.ArgumentParser):
    """Usage errors in one line (argparse adds the whole usage), like every other failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; see {self.prog} --help\n")


def positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, not {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="nextstep", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="one of these:"
    )

    def command(name: str, summary: str, details: str = "") -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=summary,
            description=f"{summary[0].upper()}{summary[1:]}.{' ' + details if details else ''}",
        )

    demo = command(
        "demo", "the whole product in a web page, with no token and no network",
        "The real bot, store, scheduler and SIP listener against a stand-in for Telegram and a "
        "simulated phone, on a team with a few weeks of history; prints its URL.",
    )
    demo.add_argument("--listen", default="127.0.0.1:8080",
                      help="host:port of the demo's page (default: %(default)s)")
    demo.add_argument("--db", default="nextstep-demo.sqlite3",
                      help="the demo's own SQLite file, never the production one "
                      "(default: %(default)s)")
    demo.add_argument("--reset", action="store_true",
                      help="start over: delete the demo's database and seed it again")
    demo.add_argument("--fast", action="store_true",
                      help=f"start with the fast clock ({FAST_CLOCK:g}x: the ladder's minutes pass "
                      "as seconds); the page switches it too")
    command("run", "bot, scheduler, web server (/healthz, /metrics) and SIP listener in one "
            "process", "Runs until SIGTERM or Ctrl-C; needs NEXTSTEP_BOT_TOKEN.")
    command("migrate", "apply database migrations",
            "Every other command applies them too; this one applies them and exits.")
    command("settings", "list every NEXTSTEP_ setting, its value and where it came from",
            "Sources: default, .env (in the current folder), environment. Tokens, secrets and "
            "passwords in URLs are masked.")
    invite = command("invite", "make a one-time invite link for a new employee",
                     "He opens the link in Telegram and becomes an employee; it works for "
                     f"{INVITE_DAYS} days.")
    _staff_options(invite)
    employees = command("employees", "list employees, pending invites and who is unreachable",
                        "Without an action: the list. `add` and `disable` change it.")
    actions = employees.add_subparsers(
        dest="action", metavar="ACTION", help="what to do (default: list them)"
    )
    add = actions.add_parser(
        "add", help="make an employee at once, without Telegram",
        description="Make an employee at once, without Telegram: a SIP-only agent's calls are "
        "his from now on. Prints an invite link that links his Telegram account later.",
    )
    add.add_argument("--name", required=True, help="his name as the team sees it")
    _staff_options(add)
    disable = actions.add_parser(
        "disable", help="take an employee out of assignment, keeping his deals",
        description="Take an employee out of assignment: no leads, no cards, no bot. His open "
        "deals go to his team's queue (where /next claims them) or to the colleague --to names.",
    )
    disable.add_argument("employee", help="id, @username or name of the employee")
    disable.add_argument("--to", help="id, @username or name of the colleague of his team who "
                         "takes his open deals (default: the team's queue)")
    imp = command("import", "import contacts (and deals) from CSV",
                  "Columns are recognised by their headers (ru or en); bad rows are listed.")
    imp.add_argument("file", help="the CSV file")
    imp.add_argument("--duplicates", choices=["merge", "skip"], default="merge",
                     help="a contact already there (same phone or e-mail): merge the row into "
                     "it or skip the row (default: %(default)s)")
    imp.add_argument("--owner", help="employee (id, name or @username) who gets the deals")
    imp.add_argument("--team", help="team whose queue gets the deals (default: main)")
    exp = command("export", "export deals or contacts as CSV")
    exp.add_argument("what", choices=["deals", "contacts"], nargs="?", default="deals",
                     help="what to export (default: %(default)s)")
    exp.add_argument("-o", "--output", default="-",
                     help="the file to write (default: standard output)")
    exp.add_argument("--locale", choices=SUPPORTED_LANGS,
                     help="words and CSV format: ru is `;` and a decimal comma (default: settings)")
    rep = command("report", "analytics report, as the bot's Reports menu gives it",
                  "Prints the summary (or the CSV) and writes the chart with --png.")
    rep.add_argument("kind", nargs="?", default=Kind.FUNNEL, choices=list(Kind),
                     metavar="KIND", help=f"one of: {', '.join(Kind)} (default: %(default)s)")
    rep.add_argument("--days", type=positive, default=30,
                     help="the period: the last N days (default: %(default)s)")
    rep.add_argument("--team", help="only this team's deals (default: all teams)")
    rep.add_argument("--by", metavar="FIELD",
                     help="funnel or sources once per option of this choice field (e.g. product)")
    rep.add_argument("--csv", action="store_true", help="print the data as CSV instead")
    rep.add_argument("--png", help="write the chart to this file")
    rep.add_argument("--locale", choices=SUPPORTED_LANGS,
                     help="words and CSV format: ru is `;` and a decimal comma (default: settings)")
    calls = command("calls", "recent calls the SIP listener recorded, newest first")
    calls.add_argument("--last", type=positive, default=20,
                       help="how many calls (default: %(default)s)")
    calls.add_argument("--json", action="store_true",
                       help="as JSON: extension, both numbers as captured and as E.164, "
                       "direction, start, answer and end times")
    command("sip-listen", "only the SIP capture listener, with /healthz and /metrics",
            "Listens on NEXTSTEP_SIP_LISTEN and serves the web on NEXTSTEP_WEB_LISTEN; records "
            "calls without a bot (with NEXTSTEP_BOT_TOKEN it tells agents).")
    return parser


def _staff_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", choices=[str(r) for r in Role], required=True,
                        help="what he may do: a rep his own deals, a supervisor his team's, "
                        "an admin everything")
    parser.add_argument("--sip-ext", help="his SIP extension: calls on it are his")
    parser.add_argument("--team", default="main", help="his team (default: %(default)s)")


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
