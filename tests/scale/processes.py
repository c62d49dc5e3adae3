"""The processes of the scale tests: the checkout they run from, waiting for one to listen, and
stopping one by its own PID within a time bound."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STOP_SECONDS = 15.0


async def wait_port(port: int, seconds: float, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if process.returncode is not None:
                raise AssertionError(f"exited with {process.returncode} before listening")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.05)


async def stop_process(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM,
                       seconds: float = STOP_SECONDS) -> int:
    """Signal one process by its PID and wait for it; kill -9 if it outstays `seconds`."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            async with asyncio.timeout(seconds):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode
