"""A real Kamailio proxy with siptrace and sipp peers, for the integration tests and the bench."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

SCENARIOS = Path(__file__).parent / "scenarios"
HEP_CAPTURE_ID = 2001
HEP_AUTH_KEY = b"nextstep-test-key"
RING_TIMEOUT_MS = 2000

_TRACE = {
    # trace_mode=1: core callbacks mirror every message received and sent, both legs, as HEP v3.
    "hep": f"""
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", 3)
modparam("siptrace", "hep_capture_id", {HEP_CAPTURE_ID})
modparam("siptrace", "auth_key", "{HEP_AUTH_KEY.decode()}")
modparam("siptrace", "trace_mode", 1)
""",
    # trace_mode=4: the same mirror as plain SIP datagrams.
    "raw": """
modparam("siptrace", "hep_mode_on", 0)
modparam("siptrace", "trace_mode", 4)
""",
}

_CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:{port}

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "siptrace.so"

modparam("tm", "fr_inv_timer", {ring_timeout_ms})
modparam("siptrace", "trace_on", 1)
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:{capture_port}")
{trace}

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    t_check_trans();
    if (is_method("INVITE")) {{ record_route(); }}
    if (!t_relay()) {{ sl_reply_error(); }}
    exit;
}}
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Kamailio:
    port: int
    capture_port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_kamailio(workdir: Path, mode: str, capture_port: int) -> Kamailio:
    port = free_udp_port()
    cfg = workdir / f"kamailio-{mode}.cfg"
    cfg.write_text(
        _CONFIG.format(
            port=port,
            capture_port=capture_port,
            ring_timeout_ms=RING_TIMEOUT_MS,
            trace=_TRACE[mode],
        )
    )
    check = subprocess.run(
        ["kamailio", "-c", "-f", str(cfg)], capture_output=True, timeout=20, check=False
    )
    if check.returncode != 0:
        raise RuntimeError(f"kamailio -c failed: {check.stderr.decode()[-2000:]}")
    rundir = workdir / f"run-{mode}"
    rundir.mkdir()
    log = (workdir / f"kamailio-{mode}.log").open("wb")
    process = subprocess.Popen(
        ["kamailio", "-DD", "-E", "-m", "32", "-M", "4", "-f", str(cfg),
         "-Y", str(rundir), "-P", str(rundir / "kamailio.pid")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    proxy = Kamailio(port=port, capture_port=capture_port, process=process)
    try:
        _wait_ready(port)
    except BaseException:
        proxy.stop()
        raise
    return proxy


def _wait_ready(port: int, timeout: float = 10.0) -> None:
    """Kamailio answers anything (here 483 to an OPTIONS aimed at itself) once it listens."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        options = (
            f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{sock.getsockname()[1]};branch=z9hG4bKready\r\n"
            "From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: ready\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            sock.sendto(options, ("127.0.0.1", port))
            try:
                sock.recvfrom(65535)
                return
            except (TimeoutError, ConnectionRefusedError):
                continue
    raise RuntimeError("kamailio did not start listening")


SIPP_SECONDS = 15  # sipp's own -timeout; `finish` kills it by PID if that does not hold


async def run_sipp(args: list[str], cwd: Path) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        "sipp", *args, "-nostdin", "-timeout", f"{SIPP_SECONDS}s",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd=cwd,
    )  # fmt: skip
    return process


async def finish(process: asyncio.subprocess.Process) -> int:
    try:
        async with asyncio.timeout(SIPP_SECONDS + 5):
            return await process.wait()
    except TimeoutError:
        process.kill()
        return await process.wait()


async def place_call(
    proxy: Kamailio, uas: str, uac: str, workdir: Path, from_user: str = "101", to_user: str = "200"
) -> str:
    """Run one sipp callee and one sipp caller through the proxy; return the call's Call-ID.

    from_user and to_user are the user parts of From and To (an extension or a number).
    """
    uas_port, uac_port = free_udp_port(), free_udp_port()
    common = ["-i", "127.0.0.1", "-m", "1", "-trace_err"]
    callee = await run_sipp(
        ["-sf", str(SCENARIOS / uas), "-p", str(uas_port), *common], cwd=workdir
    )
    await asyncio.sleep(0.2)
    caller = await run_sipp(
        [f"127.0.0.1:{uas_port}", "-sf", str(SCENARIOS / uac), "-s", to_user,
         "-key", "caller", from_user, "-p", str(uac_port),
         "-rsa", f"127.0.0.1:{proxy.port}", *common],
        cwd=workdir,
    )  # fmt: skip
    caller_rc, callee_rc = await finish(caller), await finish(callee)
    if caller_rc != 0 or callee_rc != 0:
        raise AssertionError(f"sipp failed: caller {caller_rc}, callee {callee_rc}; see {workdir}")
    # sipp's [call_id] is "<call number>-<pid>@<local ip>".
    return f"1-{caller.pid}@127.0.0.1"

T = TypeVar("T")


class Inbox(Generic[T]):
    """What a capture run hands out (call records, notices), with a wait for the one expected."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._changed = asyncio.Condition()

    async def put(self, item: T) -> None:
        async with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    async def put_all(self, items: Sequence[T]) -> None:
        async with self._changed:
            self.items += items
            self._changed.notify_all()

    async def wait_for(self, wanted: Callable[[T], bool]) -> T:
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(lambda: any(wanted(item) for item in self.items))
        return next(item for item in self.items if wanted(item))
