#!/usr/bin/env python3
"""A minimal Open Work Protocol worker, written from docs/PROTOCOL.md alone.

Python 3 standard library only. It runs the contributor journey against any OWP 0.1 relay:
register, claim-next, heartbeat, do the work, submit the pull request, and when the relay says
`lease-lost` it drops that task and claims the next one. Each step is printed as one JSON line.

    python3 owp_worker.py --url http://127.0.0.1:8787 --token "$OWP_TOKEN" \
        --skills docs --work-cmd './do-the-work.sh' --pr-url 'https://github.com/{repo}/pull/{issue}'

The work command runs with OWP_TASK_ID, OWP_TASK_REPO, OWP_TASK_TITLE, OWP_FENCING_TOKEN and
OWP_LEASE_EXPIRES_AT set; exit 0 means "submit", anything else means "fail" (with its output
as the reason). While it runs, the worker heartbeats every third of the lease's ttlMs
(OWP-LEASE-8); on lease-lost it stops the command and never submits for that task.
"""
import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

PROTOCOL = "0.1"


class Refused(Exception):
    """The relay answered with an error body: {"error": {"code", "message", ...}}."""

    def __init__(self, status, code, message):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


class Relay:
    def __init__(self, url, token):
        self.url, self.token = url.rstrip("/"), token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        # The protocol this client speaks: a relay of another major version refuses (OWP-VER-3).
        req.add_header("OWP-Protocol", PROTOCOL)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                return res.status, res.headers, json.loads(res.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read()).get("error", {})
            except ValueError:
                err = {}
            raise Refused(e.code, err.get("code", "upstream-error"), err.get("message", str(e))) from None

    def task_path(self, task_id, action):
        return "/api/tasks/" + urllib.parse.quote(task_id, safe="") + "/" + action


def say(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def check_protocol(relay):
    _, headers, health = relay.call("GET", "/healthz")
    spoken = health.get("protocol") or headers.get("OWP-Protocol")
    if spoken is None or spoken.split(".")[0] != PROTOCOL.split(".")[0]:
        raise SystemExit(f"owp_worker: the relay speaks protocol {spoken}, this worker {PROTOCOL}")
    say("relay", protocol=spoken, version=health.get("version"))


def work(relay, args, task, lease):
    """Run the work command, heartbeating every third of the lease's ttlMs while it runs."""
    if not args.work_cmd:
        return 0, ""
    env = dict(os.environ, OWP_TASK_ID=task["id"], OWP_TASK_REPO=task["repo"], OWP_TASK_TITLE=task.get("title", ""),
               OWP_FENCING_TOKEN=str(lease["fencingToken"]), OWP_LEASE_EXPIRES_AT=str(lease["expiresAt"]))
    every = max(1.0, lease["ttlMs"] / 3000.0)
    proc = subprocess.Popen(args.work_cmd, shell=True, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while True:
            try:
                output, _ = proc.communicate(timeout=every)
                return proc.returncode, (output or "").strip()[-1000:]
            except subprocess.TimeoutExpired:
                relay.call("POST", relay.task_path(task["id"], "heartbeat"), {"fencingToken": lease["fencingToken"]})
                say("heartbeat", taskId=task["id"])
    finally:
        if proc.poll() is None:
            proc.kill()  # lease-lost (or any refusal) mid-work: the work is abandoned
            proc.communicate()


def one_task(relay, args):
    """Claim the best task and carry it to a PR. False when there was nothing to claim."""
    try:
        _, _, got = relay.call("POST", "/api/claim", {"intentId": str(uuid.uuid4())})
    except Refused as e:
        if e.code in ("no-matching-task", "max-concurrent", "cooldown", "daily-quota"):
            say("idle", code=e.code)
            return False
        raise
    task, lease = got["task"], got["lease"]
    fencing = lease["fencingToken"]
    say("claimed", taskId=task["id"], fencingToken=fencing, expiresAt=lease["expiresAt"])
    try:
        _, _, beat = relay.call("POST", relay.task_path(task["id"], "heartbeat"), {"fencingToken": fencing})
        say("heartbeat", taskId=task["id"])
        code, output = work(relay, args, task, beat.get("lease") or lease)
        relay.call("POST", relay.task_path(task["id"], "heartbeat"), {"fencingToken": fencing})
        if code == 0:
            pr = args.pr_url.format(repo=task["repo"], issue=task.get("issueNumber") or 1, id=task["id"])
            _, _, r = relay.call("POST", relay.task_path(task["id"], "submit"),
                                 {"fencingToken": fencing, "prUrl": pr, "intentId": str(uuid.uuid4())})
            say("submitted", taskId=task["id"], prUrl=pr, state=r["runtime"]["state"])
        else:
            relay.call("POST", relay.task_path(task["id"], "fail"),
                       {"fencingToken": fencing, "reason": output or f"exit {code}", "intentId": str(uuid.uuid4())})
            say("failed", taskId=task["id"])
    except Refused as e:
        if e.code != "lease-lost":
            raise
        # Someone else holds the task now (expired, requeued or cancelled): never touch it again.
        say("lease-lost", taskId=task["id"], message=e.message)
    return True


def main():
    p = argparse.ArgumentParser(description="A minimal OWP worker (Python standard library only).")
    p.add_argument("--url", default=os.environ.get("OWP_URL", "http://127.0.0.1:8787"))
    p.add_argument("--token", default=os.environ.get("OWP_TOKEN"))
    p.add_argument("--name", default=None)
    p.add_argument("--skills", default="", help="comma separated, e.g. docs,python")
    p.add_argument("--capacity", type=int, default=3)
    p.add_argument("--work-cmd", default=None, help="shell command that does the work")
    p.add_argument("--pr-url", default="https://github.com/{repo}/pull/{issue}", help="PR link template")
    p.add_argument("--max-tasks", type=int, default=0, help="stop after this many claims (0: until idle)")
    args = p.parse_args()
    if not args.token:
        p.error("no token: pass --token or set OWP_TOKEN")
    relay = Relay(args.url, args.token)
    try:
        check_protocol(relay)
        profile = {"skills": [s for s in args.skills.split(",") if s], "capacity": args.capacity}
        if args.name:
            profile["name"] = args.name
        _, _, reg = relay.call("POST", "/api/workers/register", profile)
        say("registered", workerId=reg["worker"]["id"])
        claimed = 0
        while one_task(relay, args):
            claimed += 1
            if args.max_tasks and claimed >= args.max_tasks:
                break
    except Refused as e:
        print(f"owp_worker: {e.code}: {e.message}", file=sys.stderr)
        return 1
    except urllib.error.URLError as e:
        print(f"owp_worker: upstream-error: cannot reach {args.url}: {e.reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
