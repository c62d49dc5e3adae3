"""One `nextstep run` worker of the cluster, and what its HTTP endpoints say."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import aiohttp


@dataclass
class Worker:
    name: str
    port: int
    log_path: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def metric(base: str, name: str) -> float | None:
    """A worker's /metrics figure, None if it does not answer."""
    try:
        async with aiohttp.ClientSession() as http, http.get(
            f"{base}/metrics", timeout=aiohttp.ClientTimeout(total=5)
        ) as response:
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return None
    found = re.search(rf"^nextstep_{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


async def health(url: str) -> int:
    try:
        async with aiohttp.ClientSession() as http, http.get(
            url, timeout=aiohttp.ClientTimeout(total=5), ssl=False
        ) as response:
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return 0
