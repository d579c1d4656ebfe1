"""The command metric provider: run a local command (no shell) and read its outcome.

`output: exitCode` (the default) measures `[1]` when the command exits 0 and `[0]` otherwise, so a
condition reads `result[0] == 1`; a check script needs nothing more. `output: stdout` needs exit
code 0 and reads numbers from standard output: a JSON number or list (`null` is NaN), or numbers
separated by whitespace or commas; empty output is an empty result (no data).
A command that cannot start, or runs past its timeout (it is killed), is a MetricsError.
"""

from __future__ import annotations

import asyncio
import json
import os
import re

from serinus.core.analysis.spec import CommandSource
from serinus.core.errors import MetricsError

_SEPARATORS = re.compile(r"[\s,]+")


def parse_numbers(text: str, what: str) -> list[float]:
    stripped = text.strip()
    if not stripped:
        return []
    try:
        document = json.loads(stripped)
    except ValueError:
        document = None
    else:
        items = document if isinstance(document, list) else [document]
        if all(item is None or isinstance(item, int | float) for item in items):
            return [float("nan") if item is None else float(item) for item in items]
    try:
        return [float(word) for word in _SEPARATORS.split(stripped) if word]
    except ValueError:
        raise MetricsError(f"{what}: output is not numbers: {stripped[:200]!r}") from None


class CommandProvider:
    async def measure(self, source: CommandSource) -> list[float]:
        what = f"command {source.command[0]}"
        try:
            process = await asyncio.create_subprocess_exec(
                *source.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, **source.env},
            )
        except OSError as exc:
            raise MetricsError(f"{what}: cannot start: {exc}") from exc
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), source.timeout)
        except TimeoutError as exc:
            process.kill()
            await process.wait()
            raise MetricsError(f"{what}: still running after {source.timeout:g}s; killed") from exc
        finally:
            if process.returncode is None:  # cancelled: never leave the command behind
                process.kill()
                await process.wait()
        code = process.returncode
        if source.output == "exitCode":
            return [1.0 if code == 0 else 0.0]
        if code != 0:
            tail = stderr.decode(errors="replace").strip()[-300:]
            raise MetricsError(f"{what}: exit code {code}: {tail}")
        return parse_numbers(stdout.decode(errors="replace"), what)
