"""A person at a terminal: run a command on a pty, show or keep its output, and answer its prompt."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import typing as t

# Colour and cursor sequences; also the bare "ESC [" that ansible-core's pause writes before a carriage return.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]?")


# Seconds without output after the prompt before the answer is typed.
SETTLE = 0.5


def run_on_terminal(
    command: list[str],
    env: dict[str, str],
    prompt: str,
    answer: t.Callable[[str], str],
    echo: t.Callable[[str], None] = lambda text: None,
    cwd: str | os.PathLike | None = None,
    timeout: float = 600,
) -> tuple[int, str]:
    """Run ``command`` on a pty; once ``prompt`` shows, type what ``answer(output so far)`` returns and Enter.

    Returns the exit code and the whole output without colour codes.
    """
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the command
        if cwd is not None:
            os.chdir(cwd)
        os.execve(command[0], command, env)
    output, answered, prompted = "", False, False
    try:
        while True:
            # Once the prompt shows, the answer waits until the program has gone quiet: it switches the terminal
            # to its own mode after printing the prompt, and that switch (TCSAFLUSH) drops anything typed before.
            ready, _, _ = select.select([fd], [], [], SETTLE if prompted and not answered else timeout)
            if not ready and prompted and not answered:
                answered = True
                os.write(fd, answer(ANSI.sub("", output)).encode() + b"\r")
                continue
            if not ready:
                os.kill(pid, signal.SIGTERM)
                raise TimeoutError(f"{command[0]} printed nothing for {timeout} s")
            try:
                chunk = os.read(fd, 65536).decode(errors="replace")
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            echo(chunk)
            output += chunk
            prompted = prompted or prompt in ANSI.sub("", output)
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), ANSI.sub("", output)
