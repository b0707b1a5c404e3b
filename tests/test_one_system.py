"""One system on one machine: every command finds what `newsmon run` started (no REDIS_URL), read-only
commands never start a server of their own, nothing leaves a `redis-server` behind, health tells the
truth about unreachable sources, and the logs stay at a line per poll."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from newsmon.app.replay import ReplaySite
from tests.conftest import (
    add_feed,
    feed_source,
    free_port,
    make_article,
    start_web_process,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.e2e

CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "NEWSMON_DATA_DIR",
                                                              "NEWSMON_CONFIG_DIR")}


def newsmon(cwd: Path, *args: str, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A newsmon command run from `cwd` as a user would: no REDIS_URL, default ./config and ./var."""
    return subprocess.run(
        [sys.executable, "-m", "newsmon", *args],
        cwd=cwd,
        env={**CLEAN_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def redis_servers_under(directory: Path) -> list[psutil.Process]:
    """Live redis-server processes whose config lies under `directory`."""
    found = []
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            if (
                "redis-server" in cmdline
                and str(directory) in cmdline
                and process.info["status"] != psutil.STATUS_ZOMBIE
            ):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def start_run(cwd: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen([sys.executable, "-m", "newsmon", "run", *args], cwd=cwd, env=CLEAN_ENV,
                                stdout=handle, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes], signum: int = signal.SIGINT) -> int:
    process.send_signal(signum)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_run_in_an_empty_directory_is_found_by_every_command(replay: ReplaySite, tmp_path: Path) -> None:
    add_feed(replay, "/k24/rss", [make_article("/k24/1", "Rockets near K-1 base", [
        "Two rockets landed near the K-1 base west of Kirkuk on Friday, a security source said.",
        "The coalition troops who once used the base left years ago."])])
    home = tmp_path / "home"
    outbox, health = home / "alerts.jsonl", home / "health.jsonl"
    alerts = {"channels": {"box": {"type": "outbox", "path": str(outbox)},
                           "ops": {"type": "outbox", "path": str(health)}},
              "routes": [{"id": "desk", "topics": ["k1_base"], "channels": ["box"]}],
              "admin": {"channels": ["ops"]}}
    write_config(home / "config", [feed_source("k24", f"{replay.base_url}/k24/rss", interval=5)], alerts)
    run = start_run(home, tmp_path / "run.log", "--workers", "1")
    try:
        wait_for(lambda: outbox.exists() and outbox.read_text().strip(), timeout=90, what="the first alert")
        # every command run from the same directory finds the system that `run` started
        def ready() -> bool:
            found = newsmon(home, "status", "--json")
            data = json.loads(found.stdout) if found.stdout else {}
            return bool(data.get("scheduler", {}).get("alive") and data.get("workers"))

        wait_for(ready, timeout=60, what="scheduler and worker in status")
        status = json.loads(newsmon(home, "status", "--json").stdout)
        assert status["sources"][0]["id"] == "k24" and status["sources"][0]["status"] in ("ok", "unchanged")
        assert {q for w in status["workers"] for q in w["queues"]} == {"process", "alerts"}
        assert [r["role"] for r in status["roles"]] == ["crawler", "scheduler", "worker-1"]
        reload = newsmon(home, "keywords", "reload")
        assert reload.returncode == 0 and "1 live worker(s)" in reload.stdout, reload.stdout + reload.stderr
        assert "unix://" in reload.stdout and str(home / "var" / "redis") in reload.stdout
        # a keywords file edited after the publish is not what the workers run
        keywords = yaml.safe_load((home / "config" / "keywords.yaml").read_text())
        keywords["topics"]["k1_base"]["none"] = ["rockets"]
        (home / "config" / "keywords.yaml").write_text(yaml.safe_dump(keywords, allow_unicode=True))
        replay.publish("/k24/rss", make_article("/k24/2", "More rockets near K-1 base", [
            "Three more rockets hit the K-1 base area near Kirkuk on Saturday, police said.",
            "Nobody was hurt, the statement added."]))
        wait_for(lambda: len(outbox.read_text().splitlines()) == 2, timeout=60, what="the second alert")
        listing = newsmon(home, "sources", "list")
        assert listing.returncode == 0 and "k24" in listing.stdout and "no poll yet" not in listing.stdout
        # a healthy start raises no health alert: health has been judged since every role reported in
        checks = json.loads(newsmon(home, "status", "--json").stdout)["scheduler"]["health_checks"]
        wait_for(lambda: json.loads(newsmon(home, "status", "--json").stdout)["scheduler"]["health_checks"]
                 > checks, timeout=90, interval=1, what="a health check")
        assert not health.exists() or not health.read_text().strip(), health.read_text()
        assert json.loads(newsmon(home, "status", "--json").stdout)["level"] == "healthy"
        assert redis_servers_under(home), "the embedded redis-server runs while `run` runs"
    finally:
        code = stop(run)
    assert code == 0
    wait_for(lambda: not redis_servers_under(home), timeout=30, what="the embedded redis-server to stop")
    assert (home / "var" / "redis" / "redis.db").exists()  # saved on the way out
    after = newsmon(home, "status")
    assert after.returncode == 2 and after.stdout == ""
    assert after.stderr.strip() == (
        "newsmon status: nothing is running under ./var: start it with `newsmon run` "
        "(or set REDIS_URL and DATABASE_URL)"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("status", "--json"),
        ("web", "--port", "0"),
        ("failed", "list"),
        ("explain", "abc"),
        ("search", "كركوك"),
        ("keywords", "reload"),
        ("alerts", "failed"),
    ],
)
def test_read_only_commands_never_start_a_server(tmp_path: Path, args: tuple[str, ...]) -> None:
    write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss")],
                 {"channels": {"c": {"type": "console"}}, "routes": []})
    result = newsmon(tmp_path, *args, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "under ./var" in result.stderr and "start" in result.stderr and "`newsmon run`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "var" / "redis").exists() and not (tmp_path / "var" / "archive.sqlite").exists()
    assert not redis_servers_under(tmp_path)


def test_sources_list_without_a_running_system_lists_the_catalogue_and_says_so(tmp_path: Path) -> None:
    write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss")],
                 {"channels": {"c": {"type": "console"}}, "routes": []})
    result = newsmon(tmp_path, "sources", "list")
    assert result.returncode == 1 and result.stdout.splitlines()[2].startswith("s ")
    assert "nothing is running under ./var" in result.stderr and not (tmp_path / "var").exists()


def test_no_redis_server_outlives_its_owner(tmp_path: Path) -> None:
    write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss", interval=3600)],
                 {"channels": {"c": {"type": "console"}}, "routes": []})
    run = start_run(tmp_path, tmp_path / "run.log", "--workers", "1")
    try:
        wait_for(
            lambda: (tmp_path / "var" / "redis" / "server.json").exists(), timeout=30, what="the server file"
        )
        servers = wait_for(
            lambda: redis_servers_under(tmp_path), timeout=30, what="the embedded redis-server"
        )
        # a second `run` in the same directory refuses instead of starting a second server
        second = newsmon(tmp_path, "run", timeout=60)
        assert second.returncode == 1 and "already running under ./var" in second.stderr
        # a command killed by SIGPIPE or SIGTERM leaves nothing behind (it never started a server)
        web = subprocess.Popen(
            [sys.executable, "-m", "newsmon", "web", "--port", "0"],
            cwd=tmp_path,
            env=CLEAN_ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shell = subprocess.run(f"{sys.executable} -m newsmon status | head -c 1", shell=True, cwd=tmp_path,
                               env=CLEAN_ENV, capture_output=True, timeout=60, check=False)
        assert shell.stdout == b"n"
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
        assert redis_servers_under(tmp_path) == servers
    finally:
        run.kill()  # SIGKILL: no handler runs; the kernel's death signal stops the server
        run.wait(timeout=30)
    wait_for(lambda: not redis_servers_under(tmp_path), timeout=30, what="the orphaned redis-server to stop")

    def roles_left() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["cmdline", "cwd", "status"]):
            try:
                cmdline = " ".join(process.info["cmdline"] or [])
                if ("-m newsmon" in cmdline and process.info["cwd"] == str(tmp_path)
                        and process.info["status"] != psutil.STATUS_ZOMBIE):
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found

    deadline = time.monotonic() + 60
    while roles_left() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [(p.pid, p.info["cmdline"][-1], p.info["status"]) for p in roles_left()]
    assert not left, f"the killed run's roles did not stop within 60 s of its death signal: {left}"


def test_unreachable_sources_make_status_unhealthy_with_named_failures_and_quiet_logs(tmp_path: Path) -> None:
    closed = free_port()
    sources = [feed_source(f"dns-{i}", f"http://no-such-host-{i}.invalid/rss", interval=5) for i in range(10)]
    sources += [feed_source(f"port-{i}", f"http://127.0.0.1:{closed}/rss/{i}", interval=5) for i in range(10)]
    write_config(tmp_path / "config", sources, {"channels": {"c": {"type": "console"}}, "routes": []})
    run = start_run(tmp_path, tmp_path / "run.log", "--workers", "1")
    started = time.monotonic()
    try:
        def unhealthy() -> dict | None:
            result = newsmon(tmp_path, "status", "--json")
            data = json.loads(result.stdout) if result.stdout else {}
            return data if result.returncode == 2 and data.get("level") == "unhealthy" else None

        status = wait_for(unhealthy, timeout=60, interval=1, what="status to turn unhealthy")
        assert time.monotonic() - started < 30  # within two poll intervals of the first polls (and start-up)
        kinds = {p["kind"]: p for p in status["problems"]}
        assert (
            "sources-all-failing" in kinds
            and "is the network down?" in kinds["sources-all-failing"]["message"]
        )
        assert "dns" in kinds["sources-all-failing"]["message"]
        assert "connection" in kinds["sources-all-failing"]["message"]
        failures = {row["id"]: row["failure"] for row in status["sources"] if row["status"]}
        assert {f for s, f in failures.items() if s.startswith("dns-")} == {"dns"}
        assert {f for s, f in failures.items() if s.startswith("port-")} == {"connection"}
        table = newsmon(tmp_path, "status")
        assert (
            table.returncode == 2
            and "UNHEALTHY" in table.stdout
            and "[unhealthy] sources-all-failing" in table.stdout
        )
        wait_for(lambda: time.monotonic() - started > 30, timeout=40, interval=1, what="30 s of running")
    finally:
        assert stop(run) == 0
    log = (tmp_path / "run.log").read_text(errors="replace")
    lines = [line for line in log.splitlines() if line.strip()]
    polls = [line for line in lines if "poll done" in line]
    assert "Traceback" not in log
    assert len(polls) >= 20
    problems = [line for line in lines if "health problem started" in line]
    # the health check runs every 30 s: at most one problem was logged by now, and not one per source
    assert len(problems) <= 1 and all("every source failing" in line for line in problems)
    other = [line for line in lines if "poll done" not in line and line not in problems]
    assert len(other) <= 12, "\n".join(other)  # start and stop lines only
    assert all("failure=dns" in p or "failure=connection" in p for p in polls)


def test_a_role_that_keeps_restarting_and_a_broken_config_show_in_status(
    replay: ReplaySite, tmp_path: Path
) -> None:
    add_feed(replay, "/k24/rss", [make_article("/k24/1", "Rockets near K-1 base", [
        "Two rockets landed near the K-1 base west of Kirkuk on Friday, a security source said."])])
    write_config(tmp_path / "config", [feed_source("k24", f"{replay.base_url}/k24/rss", interval=5)],
                 {"channels": {"c": {"type": "console"}}, "routes": []})
    run = start_run(tmp_path, tmp_path / "run.log", "--workers", "1")
    try:
        def worker_pid() -> int | None:
            result = newsmon(tmp_path, "status", "--json")
            data = json.loads(result.stdout) if result.stdout else {}
            return next((r["pid"] for r in data.get("roles", []) if r["role"] == "worker-1"), None) \
                if data.get("workers") else None

        pid = wait_for(worker_pid, timeout=60, what="the worker to report in")
        (tmp_path / "config" / "alerts.yaml").write_text("channels: [unclosed\n")  # a broken file on disk
        os.kill(pid, signal.SIGKILL)  # the worker dies; every restart now fails on the broken file

        def restarting() -> dict | None:
            data = json.loads(newsmon(tmp_path, "status", "--json").stdout or "{}")
            kinds = {p["kind"] for p in data.get("problems", [])}
            return data if {"role-restarting", "config-invalid"} <= kinds else None

        status = wait_for(restarting, timeout=90, interval=1, what="status to report the restarting worker")
        assert status["level"] == "unhealthy"
        problem = next(p for p in status["problems"] if p["kind"] == "role-restarting")
        assert "worker-1" in problem["message"] and "last exit code 2" in problem["message"]
        assert (
            "alerts.yaml" in next(p for p in status["problems"] if p["kind"] == "config-invalid")["message"]
        )
    finally:
        assert stop(run) == 0
    log = (tmp_path / "run.log").read_text(errors="replace")
    assert "worker-1 (pid" in log and "exited with code 2; restarting in" in log


def printed(cwd: Path, line: str) -> subprocess.CompletedProcess[str]:
    """A command line the demo printed, run as printed, in a shell."""
    return subprocess.run(["bash", "-c", line.strip()], cwd=cwd, env=CLEAN_ENV, capture_output=True,
                          text=True, timeout=120, check=False)


def test_demo_keeps_what_it_found_and_leads_into_the_product(tmp_path: Path) -> None:
    demo = newsmon(tmp_path, "demo", timeout=180)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "What the demo found is kept in ./var/demo, apart from what `newsmon run` keeps" in demo.stdout
    steps = {line.split()[-1] if " search " in line else line.split()[-2]: line
             for line in demo.stdout.splitlines() if line.startswith("  NEWSMON_DATA_DIR=./var/demo ")}
    assert "demo --serve" in demo.stdout and set(steps) >= {"كركوك", "explain", "alerts"}, demo.stdout
    assert not redis_servers_under(tmp_path)
    found = printed(tmp_path, steps["كركوك"] + " --json")
    assert found.returncode == 0 and "Kurdistan24" in found.stdout, found.stderr
    explained = printed(tmp_path, steps["explain"])
    assert explained.returncode == 0, explained.stderr
    assert "tagged when processed" in explained.stdout and "dedupe: a new story" in explained.stdout
    assert "alert records and routing: nothing is running" in explained.stdout
    # what was sent is in the demo's archive after it ended: the delivery log answers
    assert "alerted by this story (from the archive's delivery log)" in explained.stdout, explained.stdout
    assert "delivery log: sent instant via outbox" in explained.stdout
    sent = printed(tmp_path, steps["alerts"])
    assert sent.returncode == 0 and sent.stdout.count("sent instant via outbox") == demo.stdout.count("\n* [")
    # nothing of the demo's is where `newsmon run` keeps real data
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["demo"]
    # a second demo clears the first one's data and finds the same alerts again
    again = newsmon(tmp_path, "demo", "--json", timeout=180)
    assert again.returncode == 0 and len(again.stdout.splitlines()) == demo.stdout.count("\n* [")
    # a demo directory without its marker (something else wrote there) is never cleared by the demo
    (tmp_path / "var" / "demo" / "DEMO").unlink()
    refused = newsmon(tmp_path, "demo", timeout=60)
    assert refused.returncode == 1 and "holds a real newsmon's data" in refused.stderr
    # an older newsmon's demo data in ./var itself: `run` refuses it, with the way out
    (tmp_path / "old" / "var").mkdir(parents=True)
    (tmp_path / "old" / "var" / "DEMO").write_text("made by `newsmon demo`\n")
    old = newsmon(tmp_path / "old", "run", timeout=60)
    assert old.returncode == 2 and "holds a demo's data" in old.stderr and "NEWSMON_DATA_DIR" in old.stderr


DEMO_ENV = {"NEWSMON_DATA_DIR": "./var/demo"}  # as the demo prints its next steps


def test_demo_serve_keeps_running_and_publishes_until_interrupted(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with log.open("wb") as handle:
        serve = subprocess.Popen(
            [sys.executable, "-m", "newsmon", "demo", "--serve"],
            cwd=tmp_path,
            env=CLEAN_ENV,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        def processed() -> int:
            result = newsmon(tmp_path, "status", "--json", env=DEMO_ENV)
            if not result.stdout:
                return 0
            return len([s for s in json.loads(result.stdout)["sources"] if s["status"]])

        wait_for(lambda: processed() == 5, timeout=90, interval=1, what="every demo source polled")
        assert "NEWSMON_DATA_DIR=./var/demo " in log.read_text() and " status\n" in log.read_text()
        assert "Ctrl-C stops everything" in log.read_text()
        # the first served story (app/demo_live.py: story 1) is published 4 s in and polled within 5 s
        first = "Makhmour: Peshmerga repel ISIS attack near Makhmour"
        wait_for(
            lambda: first in newsmon(tmp_path, "search", "Makhmour", "--json", env=DEMO_ENV).stdout,
            timeout=60,
            interval=2,
            what="a served story in the archive",
        )
        web, web_port = start_web_process(["web"], {**CLEAN_ENV, **DEMO_ENV}, tmp_path / "web.log",
                                          cwd=tmp_path)
        try:
            import urllib.request

            def page() -> str:
                try:
                    return urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=5).read().decode()
                except OSError:
                    return ""

            assert first in wait_for(page, timeout=30, what="the status page")
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=30)
    finally:
        code = stop(serve)
    assert code == 0
    wait_for(lambda: not redis_servers_under(tmp_path), timeout=30, what="the demo's redis-server to stop")


def test_status_with_redis_down_is_one_line_and_a_crawler_that_loses_redis_exits_non_zero(
    tmp_path: Path,
) -> None:
    from newsmon.redis_conn import EmbeddedRedis

    closed = free_port()
    env = {**CLEAN_ENV, "REDIS_URL": f"redis://127.0.0.1:{closed}/0"}
    write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss")],
                 {"channels": {"c": {"type": "console"}}, "routes": []})
    down = subprocess.run(
        [sys.executable, "-m", "newsmon", "status"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (
        down.returncode == 2 and len(down.stderr.strip().splitlines()) == 1 and "Traceback" not in down.stderr
    )
    assert "does not answer" in down.stderr
    server = EmbeddedRedis(tmp_path / "private").start()
    crawler = subprocess.Popen([sys.executable, "-m", "newsmon", "crawler"], cwd=tmp_path,
                               env={**CLEAN_ENV, "REDIS_URL": server.url}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        # readiness: the spiders are taking poll requests (a client's last command is LPOP); losing Redis
        # before that is a start-up failure (exit 2), not the crawler losing Redis while it runs
        wait_for(lambda: any(c.get("cmd") == "lpop" for c in server.connection().client_list()),
                 timeout=60, what="the crawler's spiders to poll Redis")
        server.stop(save=False)
        assert crawler.wait(timeout=90) == 3
    finally:
        if crawler.poll() is None:
            crawler.kill()
        server.stop(save=False)
    output = crawler.stdout.read().decode(errors="replace") if crawler.stdout else ""
    assert "Redis unreachable for 30 s: the crawler exits" in output and "Traceback" not in output


def test_the_embedded_redis_starts_under_a_data_directory_too_deep_for_a_unix_socket(tmp_path: Path) -> None:
    """A unix socket's path holds at most 107 bytes: under a deeper data directory the server listens on a
    short socket elsewhere (it once listened on a truncated path, and `run` gave up after 15 s)."""
    from newsmon.redis_conn import SOCKET_PATH_MAX, EmbeddedRedis, find_embedded

    deep = tmp_path / ("d" * 60) / ("e" * 60) / "var"
    assert len(str(deep / "redis" / "redis.sock")) > SOCKET_PATH_MAX
    server = EmbeddedRedis(deep, persist=False).start()
    try:
        assert not str(server.socket_file).startswith(str(deep))
        assert find_embedded(deep) == server.url and server.connection().ping()
    finally:
        server.stop(save=False)
    assert find_embedded(deep) is None
