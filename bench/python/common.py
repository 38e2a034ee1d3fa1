"""Plumbing shared by the bench/python experiments (standard library only).

Contract:
- Books come from ``--source DIR`` (every ``*.txt``, named by its stem, in name order; ``--books``
  picks some of them, in the order given) or from ``--source`` as a URL template containing ``{}``
  plus ``--books a,b`` (each name percent-encoded into it). Without ``--source``: the seed's public
  URL template and its eight books.
- ``--mode sequential|threads|processes`` picks the executor; the workloads never branch on it.
  ``--mode async`` (I/O-bound experiments that give ``run`` a coroutine: wordfreq) runs every item
  as a coroutine on one thread's event loop, at most ``--workers`` at once, as the seed's asyncio
  cell does.
- Every input answers: a failing item is reported (stderr line or JSON ``errors`` entry, naming
  it) and every other item's result is still printed. Any failure makes the exit status 1.
- Text output is the seed's: one line per result (input order, or completion order with
  ``--as-completed``), then ``Elapsed time: 0.01 seconds``. ``--json`` prints one object instead:
  ``{"command","mode","workers","elapsed_seconds","work_seconds","results","errors"}``, results
  and errors in input order.
- ``elapsed_seconds`` (also the ``Elapsed time`` line) spans what the seed's ``tictoc`` cell spans:
  creating the pool, the work, printing, shutting the pool down. ``work_seconds`` spans only the
  work: from the first submit to the last result collected. Neither includes interpreter start-up
  or loading the inputs before the pool exists.
"""

import argparse
import asyncio
import concurrent.futures as cf
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

SEED_URL_TEMPLATE = "https://raw.githubusercontent.com/yoavram/Py4Eng/master/data/{}.txt"
SEED_BOOKS = (
    "Gulliver",
    "Alice in Wonderland",
    "Pride and prejudice",
    "Yellow wallpaper",
    "Metamorphosis",
    "A Tale of Two Cities",
    "The Importance of Being Earnest",
    "Frankenstein",
)
SEED_STOP_WORDS = (
    "https://github.com/Alir3z4/stop-words/raw/"
    "25c6a0aea665871e887f155b883e950c3743ce50/english.txt"
)
MODES = ("sequential", "threads", "processes", "async")
URL_TIMEOUT_SECONDS = 30


class UsageError(Exception):
    """Bad input found before any work started: one line on stderr, exit status 1."""


class TaskError(Exception):
    """A task failed; the message names the item. Plain and picklable, so it crosses processes."""


class InlineExecutor(cf.Executor):
    """Runs each task in the caller at submit time: the sequential baseline behind the same API."""

    def submit(self, fn, /, *args, **kwargs):
        future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as e:  # noqa: BLE001 - every failure belongs on its future
            future.set_exception(e)
        return future


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def parser(description, books=False):
    """An ArgumentParser with the flags every experiment shares (and the book flags if asked)."""
    p = argparse.ArgumentParser(description=description)
    if books:
        p.add_argument("--source", help="folder of *.txt books, or a URL template containing {}")
        p.add_argument("--books", help="comma-separated book names (required with a URL template)")
    p.add_argument("--mode", choices=MODES, default="sequential")
    p.add_argument("--workers", type=positive_int, default=None, help="default: CPU count")
    p.add_argument("--as-completed", action="store_true", help="print in completion order")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def workers_of(args):
    """The worker count the run uses (1 for sequential)."""
    if args.mode == "sequential":
        return 1
    return args.workers or os.cpu_count() or 1


def make_executor(args):
    """The executor chosen by ``--mode``."""
    if args.mode == "threads":
        return cf.ThreadPoolExecutor(workers_of(args))
    if args.mode == "processes":
        return cf.ProcessPoolExecutor(workers_of(args))
    return InlineExecutor()


def is_url(text):
    """Whether ``text`` names an http(s) resource rather than a local path."""
    return text.startswith(("http://", "https://"))


def books(args):
    """``[(name, location)]`` from ``--source``/``--books``: a Path or a URL per book."""
    names = [n.strip() for n in args.books.split(",") if n.strip()] if args.books else None
    source = args.source
    if source is None:
        return [(n, seed_url(SEED_URL_TEMPLATE, n)) for n in (names or SEED_BOOKS)]
    if is_url(source) and "{}" not in source:
        raise UsageError(f"URL template {source!r} has no {{}} for the book name")
    if "{}" in source:
        if not names:
            raise UsageError(f"--source {source!r} is a URL template: name the books with --books")
        return [(n, seed_url(source, n)) for n in names]
    folder = Path(source)
    if not folder.is_dir():
        raise UsageError(f"book folder {source!r} does not exist or is not a folder")
    if names:
        return [(n, folder / f"{n}.txt") for n in names]
    found = sorted((p.stem, p) for p in folder.glob("*.txt") if p.is_file())
    if not found:
        raise UsageError(f"book folder {source!r} holds no *.txt book")
    return found


def seed_url(template, name):
    """``template`` with ``name`` percent-encoded into its ``{}`` (a space becomes %20)."""
    return template.replace("{}", urllib.parse.quote(name, safe=""))


def open_binary(location):
    """A binary file object (iterable by lines) for a Path or a URL."""
    if isinstance(location, str) and is_url(location):
        return urllib.request.urlopen(location, timeout=URL_TIMEOUT_SECONDS)
    return open(location, "rb")


def describe(location):
    """How an error message names a book's location."""
    return f"URL {location}" if isinstance(location, str) else f"file {str(location)!r}"


def run(args, command, key, task, inputs, to_json, to_line, async_task=None):
    """Runs ``task(*arguments)`` for each ``(label, arguments)`` of ``inputs`` on the executor of
    ``--mode`` (or ``await async_task(*arguments)`` with ``--mode async``), prints as the module
    doc says, and returns the exit status."""
    if args.mode == "async" and async_task is None:
        raise UsageError(f"--mode async fits I/O-bound work only; {command} runs in sequential, threads or processes")
    results = [None] * len(inputs)
    errors = {}
    as_json = args.json

    def take(i, outcome):
        """Records item ``i``: ``outcome()`` returns its result or raises its error."""
        try:
            results[i] = outcome()
        except Exception as e:  # noqa: BLE001 - one failed item never loses the others
            errors[i] = str(e) if isinstance(e, TaskError) else f"{inputs[i][0]}: {e!r}"
            if not as_json:
                print(f"error: {errors[i]}", file=sys.stderr)
            return
        if not as_json:
            print(to_line(results[i]), flush=True)

    started = time.perf_counter()
    if args.mode == "async":
        work_started = time.perf_counter()
        asyncio.run(run_coroutines(async_task, inputs, workers_of(args), args.as_completed, take))
        work_seconds = time.perf_counter() - work_started
    else:
        with make_executor(args) as executor:
            work_started = time.perf_counter()
            futures = {executor.submit(task, *arguments): i for i, (_, arguments) in enumerate(inputs)}
            # Inline tasks finish in submission order, which cf.as_completed (a set) would scramble.
            completion_order = args.as_completed and not isinstance(executor, InlineExecutor)
            for future in cf.as_completed(futures) if completion_order else list(futures):
                take(futures[future], future.result)
            work_seconds = time.perf_counter() - work_started
    elapsed_seconds = time.perf_counter() - started
    if as_json:
        report = {
            "command": command,
            "mode": args.mode,
            "workers": workers_of(args),
            "elapsed_seconds": elapsed_seconds,
            "work_seconds": work_seconds,
            "results": [to_json(r) for r in results if r is not None],
            "errors": [{key: inputs[i][0], "error": errors[i]} for i in sorted(errors)],
        }
        print(json.dumps(report))
    else:
        print(f"Elapsed time: {elapsed_seconds:.2f} seconds")
    return 1 if errors else 0


async def run_coroutines(task, inputs, limit, completion_order, take):
    """Runs ``task(*arguments)`` for every input as one coroutine each, at most ``limit`` at once,
    handing each outcome to ``take`` in input order (or completion order)."""
    gate = asyncio.Semaphore(limit)

    async def one(arguments):
        async with gate:
            return await task(*arguments)

    tasks = [asyncio.ensure_future(one(arguments)) for _, arguments in inputs]
    if completion_order:
        pending = {t: i for i, t in enumerate(tasks)}
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                take(pending.pop(t), t.result)
    else:
        for i, t in enumerate(tasks):
            await asyncio.wait([t])
            take(i, t.result)


async def http_lines(url):
    """An async iterator over the body of ``url``'s GET, line by line (bytes, ends kept): a
    plain HTTP/1.0 request over asyncio streams, so the body ends when the server closes."""
    parts = urllib.parse.urlsplit(url)
    https = parts.scheme == "https"
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname, parts.port or (443 if https else 80), ssl=https or None),
        URL_TIMEOUT_SECONDS,
    )
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        writer.write(f"GET {target} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
        await writer.drain()
        status = (await reader.readline()).split()
        if len(status) < 2 or status[1] != b"200":
            raise OSError(f"HTTP status {b' '.join(status[1:]).decode(errors='replace') or 'missing'}")
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # headers
        while raw := await reader.readline():
            yield raw
    finally:
        writer.close()


def main(body):
    """Runs ``body()`` (which returns an exit status), turning a UsageError into one stderr line."""
    try:
        status = body()
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        status = 1
    sys.exit(status)
