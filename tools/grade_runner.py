"""Run one prepared hand-in notebook and write what it handed over: the grader's inside half.

    python grade_runner.py NOTEBOOK RESULT TIME_LIMIT

tools/grade.py starts this file inside the sandbox, alone (no other file of tools/ is there), on a
notebook it prepared: the student's cells, with each check cell replaced by a hand-over cell (its
metadata names the exercise). Every code cell runs in order in one kernel; after each cell RESULT
is rewritten (atomically) with which cells ran, which raised (the exception's name only) and the
answers handed over so far, as plain JSON. Nothing here decides a verdict: the student's code runs
in this same sandbox and could rewrite RESULT, so the grader treats it as the student's answers and
nothing more, and judges them outside.
"""

from __future__ import annotations

import json
import os
import sys
import time
from queue import Empty

# jsonschema builds an IRI grammar on import when rfc3987-syntax is installed (about a second, for each
# notebook graded); nbformat's schemas check no IRI, so the runner does without it.
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402 - after the line above, which it needs
from nbclient import NotebookClient  # noqa: E402 - after the line above, which it needs
from nbclient.exceptions import CellTimeoutError, DeadKernelError  # noqa: E402 - after the line above, which it needs

HAND_OVER_MIME = "application/vnd.cnn-course.answer+json"  # course_utils.exercises.HAND_OVER_MIME
POLL_SECONDS = 1.0


def _write(path: str, result: dict) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(temporary, path)


def _handed_over(cell) -> dict | None:
    records = [o["data"][HAND_OVER_MIME] for o in cell.get("outputs", [])
               if o.get("output_type") in ("display_data", "execute_result") and HAND_OVER_MIME in o.get("data", {})]
    return records[-1] if records else None


def poll_in_slices(channel, seconds: float = POLL_SECONDS) -> None:
    """Make `channel.get_msg(timeout)` wait in slices of `seconds`, polling again after each.

    nbclient waits for a cell's reply with one poll of the shell socket that lasts the whole cell
    timeout, while another task reads the IOPub socket; a reply that arrives meanwhile is sometimes
    not noticed until that poll times out (jupyter/nbclient#312, seen with cells that display
    widgets: a 3-cell notebook once in 25 runs, a site build that waited out its 1,800 s timeout).
    A new poll looks at the socket again, so a missed wake-up costs at most `seconds`.
    """
    original = channel.get_msg

    async def get_msg(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = seconds if deadline is None else min(seconds, max(0.0, deadline - time.monotonic()))
            try:
                return await original(timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg


class PatientClient(NotebookClient):
    """nbclient's NotebookClient, waiting for replies in slices (see poll_in_slices)."""

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        poll_in_slices(client.shell_channel)
        return client


def run(notebook: str, result_path: str, time_limit: float) -> dict:
    nb = nbformat.read(notebook, as_version=4)
    result = {"cells": {}, "answers": {}, "stopped": None, "finished": False}
    _write(result_path, result)
    started = time.monotonic()
    client = PatientClient(nb, timeout=max(1, int(time_limit)), kernel_name="python3", allow_errors=True,
                            shutdown_kernel="immediate", resources={"metadata": {"path": os.getcwd()}})
    try:
        with client.setup_kernel(env=dict(os.environ)):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = time_limit - (time.monotonic() - started)
                if remaining <= 0:
                    result["stopped"] = {"why": "time", "cell": index}
                    break
                client.timeout = max(1, int(remaining))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    result["stopped"] = {"why": "time", "cell": index}
                    break
                except DeadKernelError:
                    result["stopped"] = {"why": "kernel died", "cell": index}
                    break
                error = next((o.get("ename", "Error") for o in cell.outputs if o.get("output_type") == "error"), None)
                result["cells"][str(index)] = error or "ok"
                exercise = cell.metadata.get("grader", {}).get("exercise")
                if exercise:
                    result["answers"][exercise] = _handed_over(cell)
                _write(result_path, result)
    except DeadKernelError:
        result["stopped"] = result["stopped"] or {"why": "kernel died", "cell": None}
    except RuntimeError:  # the kernel did not start
        result["stopped"] = {"why": "kernel did not start", "cell": None}
    result["finished"] = True
    _write(result_path, result)
    return result


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], float(sys.argv[3]))
