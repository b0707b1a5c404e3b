#!/usr/bin/env bash
# Deployment check (not part of the test suite): build the image, bring the compose stack up with the
# replay profile, wait for `newsmon status` healthy, see an alert in the outbox and stories in PostgreSQL,
# SIGKILL a worker and see it restarted and the next alert delivered once, then take it all down with
# its volumes. Prints the time of each step. Works with Docker (docker compose) or podman (podman-compose).
#
#   deploy/check.sh                                   # Docker, images from Docker Hub
# The image build uses the engine's cache: remove the image first (or pass BUILD_FLAGS=--no-cache) to
# time a build from nothing.
#   ENGINE=podman COMPOSE=podman-compose deploy/check.sh
#
# Overridable: ENGINE, COMPOSE, COMPOSE_WRAP (a prefix for compose commands, e.g. `nsenter --net=...`),
# BUILD_FLAGS, BASE_IMAGE, REDIS_IMAGE, POSTGRES_IMAGE, NEWSMON_IMAGE, TIMEOUT (seconds per wait, 300).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${ENGINE:-}" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=podman; fi
fi
if [ -z "${COMPOSE:-}" ]; then
  if [ "$ENGINE" = docker ]; then COMPOSE="docker compose"; else COMPOSE=podman-compose; fi
fi
COMPOSE_WRAP=${COMPOSE_WRAP:-}
TIMEOUT=${TIMEOUT:-300}
export NEWSMON_IMAGE=${NEWSMON_IMAGE:-localhost/newsmon:check}
export NEWSMON_CONFIG=./deploy/replay/config
export NEWSMON_WEB_TOKEN=${NEWSMON_WEB_TOKEN:-check-$RANDOM$RANDOM}
export NEWSMON_WEB_PORT=${NEWSMON_WEB_PORT:-18470}
project=newsmon-check

compose() { $COMPOSE_WRAP $COMPOSE -p "$project" --profile replay "$@"; }
cid() {  # the running container of a service (both compose tools set these labels)
  $ENGINE ps -q --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1" | head -n 1
}
in_service() { local c; c=$(cid "$1"); shift; [ -n "$c" ] && $ENGINE exec "$c" "$@"; }
started=$(date +%s.%N)
step_at=$started
declare -a report
step() {  # record how long the step took since the previous one
  local now; now=$(date +%s.%N)
  report+=("$(printf '%-34s %7.1f s  (at %6.1f s)' "$1" "$(echo "$now - $step_at" | bc)" "$(echo "$now - $started" | bc)")")
  step_at=$now
  echo "deploy check: $1 done"
}
wait_until() {  # wait_until WHAT COMMAND...: run COMMAND every 2 s until it succeeds or TIMEOUT passes
  local what=$1; shift
  local deadline=$(( $(date +%s) + TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "deploy check FAILED: no $what within ${TIMEOUT} s" >&2
      compose ps >&2 || true
      compose logs --tail 40 >&2 || true
      exit 1
    fi
    sleep 2
  done
}
down() { compose down -v >/dev/null 2>&1 || true; }
trap down EXIT

outbox_count() {  # stories in the outbox, and none twice (the same story and topics delivered again)
  in_service worker python3 -c '
import json, sys
lines = [json.loads(l) for l in open("/data/outbox/alerts.jsonl", encoding="utf-8") if l.strip()]
keys = [(r.get("url"), tuple(r.get("topics") or ()), r.get("desk"), r.get("channel")) for r in lines
        if r.get("kind") != "health"]
if len(set(keys)) != len(keys):
    sys.exit("doubled: " + repr([k for k in set(keys) if keys.count(k) > 1]))
print(len(keys))'
}
healthy() {  # `newsmon status` healthy with the scheduler alive and exactly $1 live worker(s) listed (the
  # start-up grace hides a missing role from the level, so the roles are counted here)
  in_service scheduler sh -c "newsmon status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = d[\"level\"] == \"healthy\" and d[\"scheduler\"][\"alive\"] and len(d[\"workers\"]) == $1
sys.exit(0 if ok else 1)'"
}
at_least() { local n; n=$(outbox_count) && [ "$n" -ge "$1" ]; }
has_title() { in_service worker grep -q "$1" /data/outbox/alerts.jsonl; }

volumes_before=$($ENGINE volume ls -q | wc -l)
down
format=()
[ "$ENGINE" = podman ] && format=(--format docker)  # podman's default OCI format drops HEALTHCHECK
$ENGINE build "${format[@]}" ${BUILD_FLAGS:-} --build-arg "BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}" -t "$NEWSMON_IMAGE" .
step "build the image"
compose up -d
step "compose up"
wait_until "healthy status" healthy 1
step "status healthy"
wait_until "alert in the outbox" at_least 1
step "first alert in the outbox"
stories=$(in_service postgres psql -U newsmon -d newsmon -tAc "select count(*) from stories")
[ "${stories:-0}" -gt 0 ] || { echo "deploy check FAILED: no story in PostgreSQL" >&2; exit 1; }
echo "deploy check: $stories stories in PostgreSQL"
old=$(cid worker)
# SIGKILL to the role's process, as the kernel's OOM killer sends it (`$ENGINE kill` would count as an
# admin's stop, which the restart policy may respect); needs the right to signal it from here
kill -KILL "$($ENGINE inspect -f '{{.State.Pid}}' "$old")"
restarted() { [ "$($ENGINE inspect -f '{{.State.Running}}' "$old")" = true ] && $ENGINE exec "$old" newsmon healthcheck; }
wait_until "worker restarted" restarted
step "worker killed (SIGKILL), back, healthy"
wait_until "status listing the restarted worker alone" healthy 1
step "status healthy again, one worker"
title="K-1 deployment check $(date +%s)"
in_service worker python3 -c '
import json, sys, urllib.request
story = {"feed": "/kurdistan24/ar/rss.xml", "path": "/ar/story/check/" + sys.argv[1].split()[-1],
         "title": "صواريخ تسقط قرب قاعدة كيه-1 في كركوك " + sys.argv[1],
         "paragraphs": ["سقطت ثلاثة صواريخ فجر اليوم قرب قاعدة كيه-1 الجوية شمال غرب كركوك حيث تتمركز قوات التحالف.",
                        "وقال مصدر أمني إن الهجوم لم يسفر عن إصابات وإن التحقيق جار لمعرفة الجهة المسؤولة عن الهجوم " + sys.argv[1]]}
request = urllib.request.Request("http://replay:8080/_publish", data=json.dumps(story).encode(),
                                 headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(request, timeout=10).read().decode().strip())' "$title"
wait_until "the next alert" has_title "$title"
copies=$(in_service worker grep -c "$title" /data/outbox/alerts.jsonl)
after=$(outbox_count)  # fails if any story was delivered twice
[ "$copies" -eq 1 ] || { echo "deploy check FAILED: the new story was delivered $copies times" >&2; exit 1; }
step "next alert delivered once"
trap - EXIT
compose down -v
left=$(( $($ENGINE volume ls -q | wc -l) - volumes_before ))
[ "$left" -le 0 ] || { echo "deploy check FAILED: $left volume(s) left after down -v" >&2; exit 1; }
step "compose down -v, no volume left"
echo
echo "deploy check passed ($ENGINE, $COMPOSE): $stories stories archived, $after alerts, none doubled"
printf '%s\n' "${report[@]}"
