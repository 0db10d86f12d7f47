"""Benchmark: how fast the dashboard's pages are drawn in a real browser, beside a static page of
the same size from the same server, and the p95 latency of the JSON endpoints their panels read.

Serves the store of ``RWA_DUCKDB_PATH`` (``rwa demo`` builds it) and the lake of
``RWA_LAKE_ROOT`` (the status page) with ``rwa serve``, as users do, with a throwaway admin in
a temporary operational database. Then, in Debian's chromium driven by Playwright (the browser
tests' settings), for each page (overview, an asset, the screener, the alerts page with a few
rules written in plain language, the portfolios page with a portfolio of seven demo assets,
the status page), ``--runs``
times in a fresh browser context (no cache: the worst case):

* **drawn**: milliseconds from navigation until every panel has its data on screen (the page
  sets ``<body data-drawn>`` two animation frames after its last panel was drawn);
* **static**: the load time of a static HTML page of the same size as everything the page
  transferred (HTML, scripts, styles, JSON), served by the same server in the same run, and
  the ratio of the two.

Then each JSON request the pages made is repeated ``--requests`` times over one keep-alive
connection with the session's cookie: p50 and p95 per endpoint. Targets (issue 13, a 2-core
machine): every page drawn in under 1 s, panel endpoints p95 under 50 ms.

    .venv/bin/python bench/dashboard.py [--runs 5] [--requests 50] [--screenshots docs/screenshots]
        [--pages overview,asset,screener,alerts,portfolios,status]

``--screenshots DIR`` also saves a full-page PNG of each page, drawn, on a laptop-sized window.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
from playwright.sync_api import Browser, BrowserContext, sync_playwright

REPO = Path(__file__).resolve().parents[1]
# The browser tests' chromium and its flags, defined once (tests/fixtures/browser.py).
sys.path.insert(0, str(REPO))
# Started and stopped like the API latency benchmark's server (this folder is on sys.path).
from api_latency import server  # noqa: E402

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT  # noqa: E402

EMAIL = "bench-admin@example.com"
PASSWORD = "bench-password-not-secret"
#: Written into the (git-ignored) vendor folder of the static files for the run, then removed.
BASELINE = REPO / "api" / "web" / "static" / "vendor" / "bench-baseline.html"
DRAWN_TARGET_MS = 1000.0
#: The alerts page's rules, written as users write them (POST /alerts/parse, then saved).
ALERT_SENTENCES = {
    "email me if BTC rises above 10000": {},
    "tell me if USDC drops below 0.999": {},
    "alert me when BUIDL's premium goes over 50 bps": {},
    "warn me if any stablecoin's risk score goes above 60": {},
    "ping me on telegram if BTC moves 5% in an hour": {"type": "telegram", "chat_id": "123456789"},
}
P95_TARGET_MS = 50.0
#: The portfolios page's portfolio: (kind, asset, quantity, price, days before now); the
#: demo serves the last 90 days.
PORTFOLIO_TRADES = (
    ("buy", "ousg", "50", "110", 80),
    ("buy", "buidl", "20000", "1", 80),
    ("buy", "btc", "0.4", "40000", 75),
    ("buy", "eth", "5", "1700", 70),
    ("buy", "paxg", "3", "2100", 60),
    ("buy", "usdc", "10000", "1", 50),
    ("buy", "realt-4680-buckingham", "100", "50", 45),
    ("sell", "btc", "0.1", "45000", 30),
)


@dataclass
class PageRun:
    drawn_ms: list[float] = field(default_factory=list)
    #: The same page opened again in the same context: scripts and styles from the cache.
    warm_ms: list[float] = field(default_factory=list)
    static_ms: list[float] = field(default_factory=list)
    bytes: int = 0
    api_paths: set[str] = field(default_factory=set)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_admin(env: dict[str, str]) -> None:
    rwa = [sys.executable, "-m", "pipelines.cli"]
    create = [*rwa, "users", "create", "--email", EMAIL, "--admin"]
    subprocess.run(
        [*create, "--password-stdin"],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        input=f"{PASSWORD}\n".encode(),
    )


def logged_in(browser: Browser, base: str) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    answer = context.request.post(
        f"{base}/auth/login", data={"email": EMAIL, "password": PASSWORD, "use_cookies": True}
    )
    if answer.status != 200:
        raise SystemExit(f"login refused: {answer.status} {answer.text()}")
    return context


def seed_alerts(browser: Browser, base: str) -> None:
    """The admin's alert rules, read from sentences and saved as the alerts page does."""
    context = logged_in(browser, base)
    for sentence, channel in ALERT_SENTENCES.items():
        parsed = context.request.post(f"{base}/alerts/parse", data={"text": sentence})
        if parsed.status != 200:
            raise SystemExit(f"{sentence!r} not understood: {parsed.text()}")
        rule = parsed.json()["rule"]
        rule["channels"] += [channel] if channel else []
        saved = context.request.post(f"{base}/alerts/rules", data=rule)
        if saved.status != 201:
            raise SystemExit(f"rule refused: {saved.status} {saved.text()}")
    context.close()


def seed_portfolio(browser: Browser, base: str) -> None:
    """The admin's portfolio, written through the API as the portfolios page writes it."""
    context = logged_in(browser, base)
    made = context.request.post(f"{base}/portfolios", data={"name": "Core", "cost_method": "fifo"})
    if made.status != 201:
        raise SystemExit(f"portfolio refused: {made.status} {made.text()}")
    now = dt.datetime.now(dt.UTC)
    for kind, asset_id, quantity, price, days in PORTFOLIO_TRADES:
        trade = {
            "kind": kind,
            "asset_id": asset_id,
            "quantity": quantity,
            "price": price,
            "fee": "0",
            "executed_at": (now - dt.timedelta(days=days)).isoformat(),
        }
        added = context.request.post(
            f"{base}/portfolios/{made.json()['id']}/transactions", data=trade
        )
        if added.status != 201:
            raise SystemExit(f"transaction refused: {added.status} {added.text()}")
    context.close()


def evaluate_alerts(env: dict[str, str]) -> None:
    """What follows a serving load (``rwa load``): the rules evaluated on the served data, so
    the alerts page has firings (their notifications stay pending: no worker runs)."""
    code = (
        "from api.after_load import after_serving_load\n"
        "from pipelines.core.settings import get_settings\n"
        "print(after_serving_load(get_settings()).summary())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, check=True, capture_output=True, text=True
    )
    print(done.stdout.strip())


def measure_page(browser: Browser, base: str, path: str, run: PageRun, shot: Path | None) -> None:
    context = logged_in(browser, base)
    page = context.new_page()
    sizes: list[int] = []
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def on_response(response: object) -> None:
        url = urlparse(response.url)  # type: ignore[attr-defined]
        if url.path == "/events/stream":
            return  # the live events: a stream open as long as the page, not a panel's read
        with contextlib.suppress(Exception):
            sizes.append(len(response.body()))  # type: ignore[attr-defined]
        # The panels' JSON reads (a failed one is a console error above, not a latency).
        if not url.path.startswith("/dashboard") and response.status == 200:  # type: ignore[attr-defined]
            run.api_paths.add(url.path + (f"?{url.query}" if url.query else ""))

    page.on("response", on_response)
    page.goto(base + path)
    page.wait_for_selector("body[data-drawn]", state="attached", timeout=60_000)
    run.drawn_ms.append(float(page.eval_on_selector("body", "b => b.dataset.drawn")))
    if shot is not None:
        page.screenshot(path=str(shot), full_page=True)
    page.goto(base + path)
    page.wait_for_selector("body[data-drawn]", state="attached", timeout=60_000)
    run.warm_ms.append(float(page.eval_on_selector("body", "b => b.dataset.drawn")))
    if errors:
        print(f"  console errors on {path}: {errors[:3]}")
    run.bytes = max(run.bytes, sum(sizes) // 2)  # two visits
    context.close()


def measure_static(browser: Browser, base: str, run: PageRun) -> None:
    filler = "x" * 100
    lines = "\n".join(filler for _ in range(max(1, run.bytes // 101)))
    BASELINE.write_text(f"<!doctype html><title>baseline</title><pre>{lines}</pre>\n")
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{base}/dashboard/static/vendor/{BASELINE.name}", wait_until="load")
    loaded = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    run.static_ms.append(float(loaded))
    context.close()


def endpoint_latency(
    base: str, cookies: dict[str, str], paths: set[str], n: int
) -> list[tuple[str, float, float]]:
    out = []
    with httpx.Client(base_url=base, cookies=cookies, timeout=30) as client:
        for path in sorted(paths):
            times = []
            for _ in range(n):
                began = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - began) * 1000)
                if answer.status_code != 200:
                    raise SystemExit(f"{path}: {answer.status_code} {answer.text[:200]}")
            times.sort()
            out.append((path, statistics.median(times), times[int(0.95 * (n - 1))]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--asset", default="ousg")
    parser.add_argument("--screenshots", type=Path)
    parser.add_argument("--pages", help="comma-separated page names (default: every page)")
    args = parser.parse_args()

    pages = {
        "overview": "/dashboard",
        "asset": f"/dashboard/assets/{args.asset}",
        "screener": "/dashboard/screener",
        "alerts": "/dashboard/alerts",
        "portfolios": "/dashboard/portfolios",
        "status": "/dashboard/status",
    }
    if args.pages:
        pages = {name: pages[name] for name in args.pages.split(",")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {
            **os.environ,
            "RWA_OPS_DB_URL": f"sqlite:///{work / 'ops.db'}",
            "RWA_JWT_KEY_FILE": str(work / "jwt.key"),
            "RWA_API_HOST": "127.0.0.1",
            "RWA_API_PORT": str(port),
        }
        make_admin(env)
        results: dict[str, PageRun] = {name: PageRun() for name in pages}
        serve = [sys.executable, "-m", "pipelines.cli", "serve"]
        with (
            server(serve, env, f"{base}/health", work / "server.log", REPO),
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                seed_alerts(browser, base)
                seed_portfolio(browser, base)
                evaluate_alerts(env)
                for path in pages.values():  # a first visit warms the server's caches
                    measure_page(browser, base, path, PageRun(), None)
                for i in range(args.runs):
                    for name, path in pages.items():
                        shot = None
                        if args.screenshots is not None and i == args.runs - 1:
                            args.screenshots.mkdir(parents=True, exist_ok=True)
                            shot = args.screenshots / f"{name}.png"
                        measure_page(browser, base, path, results[name], shot)
                        measure_static(browser, base, results[name])
                context = logged_in(browser, base)
                cookies = {c["name"]: c["value"] for c in context.cookies() if c["path"] == "/"}
                context.close()
            finally:
                browser.close()
                BASELINE.unlink(missing_ok=True)
            paths = set().union(*(r.api_paths for r in results.values()))
            latencies = endpoint_latency(base, cookies, paths, args.requests)
    report(results, latencies, args)


def report(
    results: dict[str, PageRun], latencies: list[tuple[str, float, float]], args: argparse.Namespace
) -> None:
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\nmachine: {platform.platform()}, {os.cpu_count()} cores, load average {load}")
    print(f"runs per page: {args.runs} (fresh browser context each: no cache)\n")
    print("| page | drawn, no cache: median (max) ms | static page, same size (ms) | ratio", end="")
    print(" | drawn again, cached: median (max) ms | bytes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    pages_ok = True
    for name, run in results.items():
        drawn, static = statistics.median(run.drawn_ms), statistics.median(run.static_ms)
        pages_ok &= max(run.drawn_ms) < DRAWN_TARGET_MS
        warm = f"{statistics.median(run.warm_ms):.0f} ({max(run.warm_ms):.0f})"
        cells = [
            f"{drawn:.0f} ({max(run.drawn_ms):.0f})",
            f"{static:.0f}",
            f"{drawn / static:.1f}x",
        ]
        print(f"| {name} | {' | '.join(cells)} | {warm} | {run.bytes:,} |")
    print(f"\n| panel endpoint ({args.requests} requests each) | p50 (ms) | p95 (ms) |")
    print("| --- | ---: | ---: |")
    for path, p50, p95 in latencies:
        print(f"| `{path}` | {p50:.1f} | {p95:.1f} |")
    worst = max((p95 for _, _, p95 in latencies), default=0.0)
    verdict = "yes" if pages_ok else "NO"
    print(f"\nevery page drawn under {DRAWN_TARGET_MS:.0f} ms without a cache: {verdict}")
    verdict = "yes" if worst < P95_TARGET_MS else "NO"
    print(f"worst endpoint p95: {worst:.1f} ms (target < {P95_TARGET_MS:.0f} ms): {verdict}")


if __name__ == "__main__":
    main()
