"""nginx in front of the workers: Debian's, with deploy/'s site config rendered by
deploy/render-nginx and a self-signed certificate for its TLS listener."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from tests.e2e.harness import free_port
from tests.scale.processes import ROOT, stop_process, wait_port

WEBHOOK_PATH = "/telegram/webhook"


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


class Nginx:
    """nginx with deploy/'s site config, rendered by deploy/render-nginx from an env file."""

    def __init__(self, folder: Path, worker_ports: list[int], static_root: Path) -> None:
        self.folder = folder
        self.worker_ports = worker_ports
        self.static_root = static_root
        self.https_port = free_port()
        self.local_port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def local(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    async def start(self) -> None:
        cert, key = await asyncio.to_thread(_certificate, self.folder)
        env_file = self.folder / "nextstep.env"
        env_file.write_text(
            f'NEXTSTEP_WORKERS="{" ".join(map(str, self.worker_ports))}"\n'
            "NEXTSTEP_SERVER_NAME=127.0.0.1\n"
            f"NEXTSTEP_HTTPS_LISTEN=127.0.0.1:{self.https_port}\n"
            f"NEXTSTEP_LOCAL_LISTEN=127.0.0.1:{self.local_port}\n"
            f"NEXTSTEP_TLS_CERT={cert}\nNEXTSTEP_TLS_KEY={key}\n"
            f"NEXTSTEP_WEBHOOK_PATH={WEBHOOK_PATH}\nNEXTSTEP_STATIC_ROOT={self.static_root}\n"
        )
        site = (await asyncio.to_thread(
            subprocess.run, [str(ROOT / "deploy" / "render-nginx"), str(env_file)],
            check=True, capture_output=True, text=True, timeout=30,
        )).stdout
        (self.folder / "site.conf").write_text(site)
        temp = self.folder / "temp"
        temp.mkdir(exist_ok=True)
        paths = " ".join(
            f"{kind}_temp_path {temp}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                           "uwsgi", "scgi")
        )
        (self.folder / "nginx.conf").write_text(
            f"worker_processes 1;\nerror_log {self.folder}/error.log;\nevents {{}}\n"
            f"http {{\n include /etc/nginx/mime.types;\n access_log off;\n {paths}\n"
            f" include {self.folder}/site.conf;\n}}\n"
        )
        self.process = await asyncio.create_subprocess_exec(
            "/usr/sbin/nginx", "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
            "-g", f"daemon off; pid {self.folder}/nginx.pid;",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        await wait_port(self.local_port, 20, self.process)

    async def stop(self) -> None:
        if self.process is not None:
            await stop_process(self.process)
