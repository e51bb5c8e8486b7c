"""Load: simulated users chatting with the real app at once, over HTTP on loopback (issue 14, section 6).

The app is started as a subprocess (`python app.py --port N` plus `--app-args`) and killed at the end.
Every simulated user is its own `gradio_client.Client` (its own session) and sends one chat through
the public `/chat` API: its own prompt and seed, `max_new_tokens = min_new_tokens = --tokens` (every
reply is exactly that long), the other parameters at the app's defaults.

1. Solo: a warm-up chat (not counted), then each prompt alone in turn: the 1-user row (tok/s = all
   tokens / the sum of their latencies) and the reference replies.
2. A round per `--users` count > 1, all users submitting at once (a barrier): aggregate tok/s (tokens /
   first submit to last reply) and its ratio to the 1-user row, time to first token (submit to the
   first streamed update with a non-empty reply) and total latency p50/p95, failures (exceptions such
   as "Queue is full", warning statuses, empty replies), crossed replies (another user's prompt in the
   history, or a reply nearer another user's solo reply than its own), replies that differ from their
   solo run without being crossed, and the server's RSS (the app and its children) after the round.
   Also the round's CPU time: the server's per token, and the share the bench's own clients took (they run
   on the same cores as the server; a real room's browsers do not).
3. `--sessions N`: N sessions (a few at a time), a `--session-tokens` reply each; server RSS before,
   after (sessions open) and `--session-wait` seconds after closing them.

Only `/chat` runs: a browser would also run the plot refresh after each reply; the client does not.

    python bench/load.py [--users 1,4,8,16] [--tokens 32] [--sessions 50 --session-tokens 200]
                         [--app-args "--batch-size 8"] [--out load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ["the sea", "mountains", "a red bicycle", "coffee", "the moon", "winter", "a lost cat", "trains",
          "volcanoes", "chess", "bread", "thunderstorms", "a lighthouse", "bees", "the desert", "robots"]
POLL = 0.01  # seconds between looks at a job's streamed outputs (the resolution of the time to first token)


# --- pure helpers -----------------------------------------------------------------------------------
def percentile(xs: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between the closest ranks (numpy's default); None when empty."""
    xs = sorted(xs)
    if not xs:
        return None
    at = (len(xs) - 1) * q / 100
    lo, hi = int(at), min(int(at) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (at - lo)


def prompt(i: int) -> str:
    extra = f" Start with the number {i}." if i >= len(TOPICS) else ""
    return f"Write two sentences about {TOPICS[i % len(TOPICS)]}.{extra}"


def tokens_in(status: str) -> int | None:
    """The reply length from the final status line ("... · 32 tokens · 14.1 tokens/s ..."), None if absent."""
    m = re.search(r"(\d+) tokens(?!/)", status or "")
    return int(m.group(1)) if m else None


def text_of(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return content.get("text", "") if isinstance(content, dict) else str(content or "")


def reply_of(history: list | None) -> str:
    """The last assistant message's text ('' when the history does not end with one)."""
    return text_of(history[-1]) if history and history[-1].get("role") == "assistant" else ""


def common_prefix(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


def classify(i: int, user_turn: str, reply: str, refs: dict[int, str]) -> str:
    """'ok' (equals user i's solo reply), 'crossed' (another user's prompt or closer to another user's solo
    reply) or 'differs' (not equal, but nearest to its own)."""
    if user_turn != prompt(i):
        return "crossed"
    if reply == refs.get(i) or i not in refs:  # no solo reply (it failed): nothing to compare with
        return "ok" if i in refs else "differs"
    own = common_prefix(reply, refs.get(i, ""))
    return "crossed" if any(common_prefix(reply, r) > own for j, r in refs.items() if j != i) else "differs"


def fmt(x, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def table(rows: list[dict]) -> str:
    """The rounds as a markdown table."""
    head = ["users", "tok/s", "vs 1 user", "TTFT p50", "TTFT p95", "total p50", "total p95", "failures", "crossed",
            "differs", "server RSS", "server CPU ms/token", "clients' CPU share"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        cells = [str(r["users"]), fmt(r["tok_s"], ".1f"), fmt(r["ratio"], ".2f") + "x", fmt(r["ttft_p50"]) + " s",
                 fmt(r["ttft_p95"]) + " s", fmt(r["total_p50"]) + " s", fmt(r["total_p95"]) + " s", str(r["failures"]),
                 str(r["crossed"]), str(r["differs"]), fmt(r["rss_mb"], ".0f") + " MB", fmt(r.get("server_cpu_ms_per_token"), ".1f"),
                 fmt(None if r.get("clients_cpu_share") is None else 100 * r["clients_cpu_share"], ".0f") + "%"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- the server -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def tree_rss_mb(pid: int) -> float:
    """VmRSS of `pid` and all its descendants, in MB."""
    total = 0
    for p in tree(pid):
        try:
            m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text())
        except OSError:
            continue
        total += int(m.group(1)) if m else 0
    return total / 1024


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) spent so far by `pid` and its live descendants."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / tick


class CPU:
    """The CPU seconds the server (its process tree) and this bench process (the simulated users' clients) spend
    inside a `with` block: the clients share the machine's cores with the server, so their share says how
    much of the round's wall time the bench itself took."""

    def __init__(self, pid: int):
        self.pid = pid

    def __enter__(self):
        self.server0, self.clients0 = tree_cpu_s(self.pid), time.process_time()
        return self

    def __exit__(self, *exc):
        self.server, self.clients = tree_cpu_s(self.pid) - self.server0, time.process_time() - self.clients0


def start_app(port: int, app_args: str, log) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    cmd = [sys.executable, "app.py", "--port", str(port), *shlex.split(app_args)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url + "config", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"the app did not answer on {url} within {timeout:.0f} s")


# --- the users --------------------------------------------------------------------------------------
@dataclass
class Result:
    user: int
    start: float = 0.0
    end: float = 0.0
    ttft: float | None = None
    tokens: int = 0
    reply: str = ""
    user_turn: str = ""
    error: str | None = None


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def values_for(tokens: int, seed: int) -> list:
    from playground.params import build
    from playground.ui import controls

    return controls.to_values(build(max_new_tokens=tokens, min_new_tokens=tokens, seed=seed))


def chat(c, i: int, tokens: int, barrier: threading.Barrier | None = None) -> Result:
    """User i sends its prompt on client `c` and follows the streamed reply to the end."""
    values, res = values_for(tokens, 1000 + i), Result(i)
    if barrier is not None:
        barrier.wait()
    res.start = time.perf_counter()
    try:
        job = c.submit(prompt(i), [], "", *values, api_name="/chat")
        while True:
            done = job.done()
            outs = job.outputs()
            if res.ttft is None and outs and reply_of(outs[-1][0]):
                res.ttft = time.perf_counter() - res.start
            if done:
                break
            time.sleep(POLL)
        history, _, status = job.result()[:3]
        res.end = time.perf_counter()
    except Exception as e:  # "Queue is full", a dropped connection, an app error: a failure of this user
        res.end, res.error = time.perf_counter(), f"{type(e).__name__}: {e}"[:200]
        return res
    res.reply, res.tokens = reply_of(history), tokens_in(status) or 0
    res.user_turn = text_of(history[0]) if history else ""
    if not res.reply or str(status).startswith("⚠️"):
        res.error = f"status {status!r}"[:200]
    return res


def summarize(n: int, results: list[Result], refs: dict[int, str], rss: float, solo: bool = False, cpu: CPU | None = None) -> dict:
    good = [r for r in results if r.error is None]
    kinds = [classify(r.user, r.user_turn, r.reply, refs) for r in good]
    tokens = sum(r.tokens for r in good)
    # one at a time: the time spent is the sum of the latencies; at once: first submit to last reply
    wall = sum(r.end - r.start for r in results) if solo else max(r.end for r in results) - min(r.start for r in results)
    ttfts = [r.ttft for r in good if r.ttft is not None]
    totals = [r.end - r.start for r in good]
    r3 = lambda x: None if x is None else round(x, 3)  # noqa: E731
    return dict(users=n, replies=len(results), tokens=tokens, wall_s=round(wall, 2), tok_s=r3(tokens / wall if wall else None),
                ratio=None, ttft_p50=r3(percentile(ttfts, 50)), ttft_p95=r3(percentile(ttfts, 95)),
                total_p50=r3(percentile(totals, 50)), total_p95=r3(percentile(totals, 95)), failures=len(results) - len(good),
                crossed=kinds.count("crossed"), differs=kinds.count("differs"), rss_mb=round(rss, 1),
                server_cpu_ms_per_token=r3(1000 * cpu.server / tokens) if cpu and tokens else None,
                clients_cpu_share=r3(cpu.clients / (cpu.clients + cpu.server)) if cpu and cpu.clients + cpu.server else None,
                errors=sorted({r.error for r in results if r.error})[:3])


def concurrent(url: str, n: int, tokens: int, offset: int = 0, at_once: int | None = None,
               keep: list | None = None) -> list[Result]:
    """Users offset..offset+n-1, each on its own Client; `at_once` None: all submit together (a barrier).
    The clients are closed at the end, unless `keep` is given: then they are added to it (sessions stay open)."""
    clients = [client(url) for _ in range(n)]
    barrier = None if at_once else threading.Barrier(n)
    try:
        with ThreadPoolExecutor(at_once or n) as ex:
            return list(ex.map(lambda k: chat(clients[k], offset + k, tokens, barrier), range(n)))
    finally:
        if keep is None:
            for c in clients:
                c.close()
        else:
            keep.extend(clients)


def sessions_phase(url: str, a: argparse.Namespace, pid: int) -> dict:
    """N sessions, `at_once` at a time; server RSS before, after (still open) and a wait after closing them."""
    before, kept = tree_rss_mb(pid), []
    res = concurrent(url, a.sessions, a.session_tokens, offset=1000, at_once=a.session_at_once, keep=kept)
    after = tree_rss_mb(pid)
    for c in kept:
        c.close()
    time.sleep(a.session_wait)
    return dict(count=a.sessions, tokens=a.session_tokens, failures=sum(r.error is not None for r in res),
                rss_before_mb=round(before, 1), rss_after_mb=round(after, 1), rss_after_wait_mb=round(tree_rss_mb(pid), 1),
                wait_s=a.session_wait, per_session_mb=round((after - before) / a.sessions, 2))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--users", default="1,4,8,16", help="concurrent users per round (1 = the solo phase, always run)")
    p.add_argument("--tokens", type=int, default=32, help="tokens per reply (max_new_tokens = min_new_tokens)")
    p.add_argument("--sessions", type=int, default=0, help="sessions for the memory check (0: skip)")
    p.add_argument("--session-tokens", type=int, default=200)
    p.add_argument("--session-at-once", type=int, default=4, help="sessions running at the same time")
    p.add_argument("--session-wait", type=float, default=30, help="seconds after closing the sessions, then RSS again")
    p.add_argument("--app-args", default="", help='extra flags for app.py, e.g. "--batch-size 8"')
    p.add_argument("--start-timeout", type=float, default=300)
    p.add_argument("--out", help="also write the JSON summary here")
    a = p.parse_args(argv)
    counts = sorted({int(x) for x in a.users.split(",") if x.strip()} - {1})
    sys.path.insert(0, str(ROOT))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tempfile.NamedTemporaryFile("w+", prefix="load-app-", suffix=".log", delete=False)
    proc = start_app(port, a.app_args, log)
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    summary = dict(cpus=os.cpu_count(), load_avg_start=round(os.getloadavg()[0], 2), tokens=a.tokens, app_args=a.app_args,
                   commit=git, rounds=[], sessions=None)
    rows = summary["rounds"]
    say = lambda *x: print(*x, file=sys.stderr, flush=True)  # noqa: E731
    try:
        wait_ready(url, proc, a.start_timeout)
        c = client(url)
        params = c.view_api(return_format="dict", print_info=False)["named_endpoints"]["/chat"]["parameters"]
        want = 3 + len(values_for(a.tokens, 0))
        if len(params) != want:
            raise RuntimeError(f"/chat takes {len(params)} parameters, but the bench sends {want}: update bench/load.py")
        say(f"app up on {url}; warm-up")
        chat(c, len(TOPICS) * 10, a.tokens)
        c.close()
        say(f"solo: {max(counts, default=1)} prompts one at a time")
        with CPU(proc.pid) as cpu:
            solo = [concurrent(url, 1, a.tokens, offset=i)[0] for i in range(max(counts, default=1))]
        refs = {r.user: r.reply for r in solo if r.error is None}
        rows.append(summarize(1, solo, refs, tree_rss_mb(proc.pid), solo=True, cpu=cpu))
        for n in counts:
            say(f"round: {n} users at once")
            with CPU(proc.pid) as cpu:
                results = concurrent(url, n, a.tokens)
            rows.append(summarize(n, results, refs, tree_rss_mb(proc.pid), cpu=cpu))
        for r in rows:
            r["ratio"] = round(r["tok_s"] / rows[0]["tok_s"], 3) if r["tok_s"] and rows[0]["tok_s"] else None
        if a.sessions:
            say(f"sessions: {a.sessions} x {a.session_tokens} tokens, {a.session_at_once} at a time")
            summary["sessions"] = sessions_phase(url, a, proc.pid)
    except BaseException:
        log.flush()
        say(f"the app's log ({log.name}), last lines:\n" + "".join(Path(log.name).read_text().splitlines(True)[-20:]))
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    os.unlink(log.name)
    summary["load_avg_end"] = round(os.getloadavg()[0], 2)
    report(summary, a.out)
    return summary


def report(summary: dict, out: str | None) -> None:
    """The table, the sessions line, the JSON line (also to `out`)."""
    print(table(summary["rounds"]))
    s = summary["sessions"]
    if s:
        print(f"\nsessions: {s['count']} x {s['tokens']} tokens, {s['failures']} failed; server RSS {s['rss_before_mb']:.0f} MB "
              f"before, {s['rss_after_mb']:.0f} MB after ({s['per_session_mb']:.1f} MB/session), "
              f"{s['rss_after_wait_mb']:.0f} MB {s['wait_s']:.0f} s after closing them")
    line = json.dumps(summary)
    print(line)
    if out:
        Path(out).write_text(line + "\n")


if __name__ == "__main__":
    main()
