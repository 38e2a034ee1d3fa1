"""Python's own pools on no-op tasks: the anchors for concur's thread- and process-pool benches.

Measures, with ``--workers`` workers (default 2), after a warm-up that starts every worker:
- ``round_trip``: submit one no-op, wait for its result, repeat ``--round-trips`` times; p50, p99
  and mean latency in microseconds (ProcessPoolExecutor, multiprocessing.Pool, ThreadPoolExecutor);
- ``map``: a chunked map of the no-op over ``--map-items`` integers with ``--chunksize``; seconds
  and tasks per second (ProcessPoolExecutor, multiprocessing.Pool);
- ``submit_result``: ThreadPoolExecutor, submit ``--thread-tasks`` no-ops, then wait for all;
  ``as_completed``: the same, then drain ``as_completed`` over all of them; seconds and
  microseconds per task.
Text output is one line per measurement; ``--json`` prints ``{"command","mode","workers",
"elapsed_seconds","work_seconds","results","errors"}`` with one result object per measurement.
"""

import argparse
import concurrent.futures as cf
import json
import math
import multiprocessing
import time


def noop(x):
    """The task: returns its input."""
    return x


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def latency(pool, call, n):
    """``call(i)`` (one round trip each) ``n`` times; a result object of p50/p99/mean in µs."""
    samples = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        call(i)
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    return {
        "pool": pool,
        "bench": "round_trip",
        "n": n,
        "p50_us": percentile(samples, 0.50) / 1e3,
        "p99_us": percentile(samples, 0.99) / 1e3,
        "mean_us": sum(samples) / n / 1e3,
        "seconds": sum(samples) / 1e9,
    }


def throughput(pool, bench, run, n, **extra):
    """Times ``run()`` that processes ``n`` tasks; a result object of seconds and rates."""
    t0 = time.perf_counter()
    run()
    seconds = time.perf_counter() - t0
    return {
        "pool": pool,
        "bench": bench,
        "n": n,
        **extra,
        "seconds": seconds,
        "tasks_per_second": n / seconds,
        "per_task_us": seconds / n * 1e6,
    }


def check(results, n):
    """Guards against measuring a map that lost or reordered items."""
    if results != list(range(n)):
        raise RuntimeError("a map returned wrong results")


def process_pool_executor(args):
    with cf.ProcessPoolExecutor(args.workers) as ex:
        list(ex.map(noop, range(4 * args.workers)))
        yield latency("ProcessPoolExecutor", lambda i: ex.submit(noop, i).result(), args.round_trips)
        yield throughput(
            "ProcessPoolExecutor",
            "map",
            lambda: check(list(ex.map(noop, range(args.map_items), chunksize=args.chunksize)), args.map_items),
            args.map_items,
            chunksize=args.chunksize,
        )


def multiprocessing_pool(args):
    with multiprocessing.Pool(args.workers) as pool:
        pool.map(noop, range(4 * args.workers), chunksize=1)
        yield latency("multiprocessing.Pool", lambda i: pool.apply(noop, (i,)), args.round_trips)
        yield throughput(
            "multiprocessing.Pool",
            "map",
            lambda: check(pool.map(noop, range(args.map_items), chunksize=args.chunksize), args.map_items),
            args.map_items,
            chunksize=args.chunksize,
        )


def thread_pool_executor(args):
    n = args.thread_tasks
    with cf.ThreadPoolExecutor(args.workers) as ex:
        list(ex.map(noop, range(4 * args.workers)))
        yield latency("ThreadPoolExecutor", lambda i: ex.submit(noop, i).result(), args.round_trips)

        def submit_then_wait():
            futures = [ex.submit(noop, i) for i in range(n)]
            cf.wait(futures)

        def submit_then_as_completed():
            futures = [ex.submit(noop, i) for i in range(n)]
            if sum(1 for _ in cf.as_completed(futures)) != n:
                raise RuntimeError("as_completed lost futures")

        yield throughput("ThreadPoolExecutor", "submit_result", submit_then_wait, n)
        yield throughput("ThreadPoolExecutor", "as_completed", submit_then_as_completed, n)


def line(result):
    if result["bench"] == "round_trip":
        figures = f"p50 {result['p50_us']:.1f} us  p99 {result['p99_us']:.1f} us  mean {result['mean_us']:.1f} us"
    else:
        figures = f"{result['seconds']:.3f} s  {result['tasks_per_second']:,.0f} tasks/s  {result['per_task_us']:.2f} us/task"
        if "chunksize" in result:
            figures += f"  (chunksize {result['chunksize']})"
    return f"{result['pool']:<21} {result['bench']:<13} n={result['n']:<8} {figures}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--round-trips", type=int, default=2000)
    p.add_argument("--map-items", type=int, default=1_000_000)
    p.add_argument("--chunksize", type=int, default=10_000)
    p.add_argument("--thread-tasks", type=int, default=100_000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    for name in ("workers", "round_trips", "map_items", "chunksize", "thread_tasks"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    started = time.perf_counter()
    results = []
    for bench in (process_pool_executor, multiprocessing_pool, thread_pool_executor):
        for result in bench(args):
            results.append(result)
            if not args.json:
                print(line(result), flush=True)
    elapsed = time.perf_counter() - started
    if args.json:
        report = {
            "command": "pools",
            "mode": "all",
            "workers": args.workers,
            "elapsed_seconds": elapsed,
            "work_seconds": sum(r["seconds"] for r in results),
            "results": results,
            "errors": [],
        }
        print(json.dumps(report))


if __name__ == "__main__":
    main()
