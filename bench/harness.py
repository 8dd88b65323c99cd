#!/usr/bin/env python3
"""Berth vs CNCF Distribution, side by side on loopback (see bench/README.md).

Run through bench/run.sh, which checks the tools and publishes Berth in Release (ReadyToRun, like the release
package) first. This script starts
CNCF Distribution (filesystem storage in a temp folder), Berth (its default embedded configuration: SQLite +
filesystem, token authentication on) and nginx (the machine's own ceiling) on free loopback ports, measures
them in alternating A/B order over several rounds, prints one Markdown table of medians and ratios and
writes it to bench/results/<date>.md. Every server it starts and every temp file it makes is removed on
exit, also on Ctrl-C, SIGTERM or a failed step; every step is bounded in time.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

MIB = 1024 * 1024
REPO = "bench/app"
REPO_2K = "bench/app/tags2k"
REPO_100K = "bench/app/tags100k"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class BenchError(Exception):
    """A step failed: the message says which and why."""


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, timeout, **kwargs):
    """Runs a command to completion within `timeout` seconds; fails with its stderr otherwise."""
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{args[0]} did not finish within {timeout} s: {' '.join(map(str, args))}")
    except OSError as e:
        raise BenchError(f"cannot run {args[0]}: {e}")
    if result.returncode != 0:
        raise BenchError(f"{' '.join(map(str, args))} exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return result.stdout


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples VmRSS of some processes every 20 ms while active; keeps the maximum per pid."""

    def __init__(self, pids):
        self.pids = pids
        self.peak = {pid: rss_kib(pid) for pid in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], rss_kib(pid))
            self._stop.wait(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Server:
    """A registry (or nginx) process on a loopback port."""

    def __init__(self, name, port, workdir):
        self.name = name
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.workdir = workdir
        self.proc = None
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.log_file = None

    def command(self):
        raise NotImplementedError

    def auth_headers(self):
        return []

    def start(self, timeout=30):
        """Starts the process; returns seconds until it answered its first HTTP request."""
        self.log_file = open(self.log_path, "ab")
        started = time.monotonic()
        self.proc = subprocess.Popen(self.command(), stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir, start_new_session=True,
                                     env=self.env())
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode} while starting; log: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(f"GET {self.probe_path()} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                    if s.recv(16).startswith(b"HTTP/"):
                        return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.005)
        raise BenchError(f"{self.name} did not answer within {timeout} s; log: {self.log_tail()}")

    def env(self):
        return os.environ.copy()

    def probe_path(self):
        return "/v2/"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self.proc = None
        if self.log_file:
            self.log_file.close()
            self.log_file = None

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-1500:].decode(errors="replace")
        except OSError:
            return "(no log)"

    @property
    def pid(self):
        return self.proc.pid


class Distribution(Server):
    def __init__(self, workdir, binary):
        super().__init__("distribution", free_port(), workdir)
        self.root = os.path.join(workdir, "distribution-data")
        self.binary = binary
        self.config = os.path.join(workdir, "distribution.yml")
        os.makedirs(self.root, exist_ok=True)
        with open(self.config, "w") as f:
            # Debian's shipped configuration minus htpasswd (no authentication: the most favourable case for
            # Distribution), storage in the temp folder.
            f.write(f"""version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {self.root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{self.port}
  headers:
    X-Content-Type-Options: [nosniff]
""")

    def command(self):
        return [self.binary, "serve", self.config]

    def blob_path(self, digest):
        hex_ = digest.split(":", 1)[1]
        return os.path.join(self.root, "docker/registry/v2/blobs/sha256", hex_[:2], hex_, "data")

    def seed_tags(self, repo, digest, count):
        """Writes `count` tags the way Distribution stores them (a folder per tag holding link files)."""
        # A tag is the folder _manifests/tags/<tag> whose current/link names the manifest (the index/ history
        # folder only matters for deletes). The link files are hard links of one file: fast to make.
        tags = os.path.join(self.root, "docker/registry/v2/repositories", repo, "_manifests/tags")
        # (A new template every 50,000 links: ext4 allows 65,000 links per file.)
        template = None
        for i in range(count):
            if i % 50_000 == 0:
                template = os.path.join(self.workdir, f"tag-link-{repo.replace('/', '_')}-{i}")
                with open(template, "w") as f:
                    f.write(digest)
            current = os.path.join(tags, f"t{i:06d}", "current")
            os.makedirs(current)
            os.link(template, os.path.join(current, "link"))


class Berth(Server):
    def __init__(self, workdir, binary):
        super().__init__("berth", free_port(), workdir)
        self.data = os.path.join(workdir, "berth-data")
        self.binary = os.path.abspath(binary)
        self.pat = None
        self.service = None
        self.realm = None
        self._token = None
        self._token_at = 0.0

    def base_command(self):
        return [self.binary] if not self.binary.endswith(".dll") else ["dotnet", self.binary]

    def command(self):
        return self.base_command() + ["serve", "--urls", self.base, "--data-dir", self.data]

    def env(self):
        env = os.environ.copy()
        env["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1"
        env.pop("ASPNETCORE_ENVIRONMENT", None)
        env.pop("DOTNET_ENVIRONMENT", None)
        return env

    def create_admin_and_pat(self):
        """An administrator and a personal access token, through the admin CLI (before the first start)."""
        cli = self.base_command()
        run(cli + ["user", "create", "bench", "--email", "bench@example.invalid", "--admin", "--data-dir", self.data],
            timeout=60, cwd=self.workdir, env=self.env())
        self.pat = run(cli + ["token", "create", "bench", "--scopes", "api,read_registry,write_registry", "--name", "bench",
                              "--data-dir", self.data], timeout=60, cwd=self.workdir, env=self.env()).strip().splitlines()[-1].strip()
        if not self.pat:
            raise BenchError("berth token create printed no token")

    def basic(self):
        return "Basic " + base64.b64encode(f"bench:{self.pat}".encode()).decode()

    def discover_realm(self):
        try:
            urllib.request.urlopen(self.base + "/v2/", timeout=10)
            raise BenchError("berth answered /v2/ without authentication: token authentication is off")
        except urllib.error.HTTPError as e:
            challenge = e.headers.get("WWW-Authenticate", "")
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        self.realm, self.service = params.get("realm"), params.get("service")
        if not self.realm or not self.service:
            raise BenchError(f"berth's 401 has no token challenge: {challenge!r}")

    def token_url(self, scope=f"repository:{REPO}:pull,push"):
        return f"{self.realm}?service={urllib.parse.quote(self.service)}&scope={urllib.parse.quote(scope)}"

    def token(self):
        """A registry token with pull,push on bench/* (fetched once, renewed only when near its expiry)."""
        if self._token is None or time.monotonic() - self._token_at > 200:
            scopes = "&".join("scope=" + urllib.parse.quote(f"repository:{r}:pull,push") for r in (REPO, REPO_2K, REPO_100K))
            url = f"{self.realm}?service={urllib.parse.quote(self.service)}&{scopes}"
            req = urllib.request.Request(url, headers={"Authorization": self.basic()})
            with urllib.request.urlopen(req, timeout=30) as r:
                body = json.load(r)
            self._token = body.get("token") or body.get("access_token")
            self._token_at = time.monotonic()
        return self._token

    def auth_headers(self):
        return [f"Authorization: Bearer {self.token()}"]

    def create_project(self):
        data = json.dumps({"name": "app", "path": "app", "visibility": "private"}).encode()
        req = urllib.request.Request(self.base + "/api/v4/projects", data=data, method="POST",
                                     headers={"PRIVATE-TOKEN": self.pat, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
        except urllib.error.HTTPError as e:
            raise BenchError(f"berth: creating project bench/app failed: {e.code} {e.read()[:500]!r}")

    def blob_path(self, digest):
        hex_ = digest.split(":", 1)[1]
        return os.path.join(self.data, "storage/blobs/sha256", hex_[:2], hex_, "data")

    def seed_tags(self, repo, digest, count):
        """Inserts `count` tags into Berth's metadata database directly (one transaction)."""
        con = sqlite3.connect(os.path.join(self.data, "berth.db"), timeout=60)
        try:
            row = con.execute("SELECT t.RepositoryId, t.ManifestId FROM tags t JOIN repositories r ON r.Id = t.RepositoryId "
                              "WHERE r.Name = ? AND t.Name = 'latest'", (repo,)).fetchone()
            if row is None:
                raise BenchError(f"berth: {repo}:latest not found in the database")
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            with con:
                con.executemany("INSERT INTO tags (RepositoryId, Name, ManifestId, UpdatedAt) VALUES (?, ?, ?, ?)",
                                ((row[0], f"t{i:06d}", row[1], now) for i in range(count)))
        finally:
            con.close()


class Nginx(Server):
    def __init__(self, workdir, binary):
        super().__init__("nginx", free_port(), workdir)
        self.binary = binary
        self.www = os.path.join(workdir, "www")
        self.prefix = os.path.join(workdir, "nginx")
        os.makedirs(self.www, exist_ok=True)
        os.makedirs(self.prefix, exist_ok=True)
        self.config = os.path.join(self.prefix, "nginx.conf")
        p = self.prefix
        with open(self.config, "w") as f:
            f.write(f"""daemon off;
worker_processes auto;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path {p}/body; proxy_temp_path {p}/proxy; fastcgi_temp_path {p}/fastcgi;
  uwsgi_temp_path {p}/uwsgi; scgi_temp_path {p}/scgi;
  default_type application/octet-stream;
  server {{ listen 127.0.0.1:{self.port}; root {self.www}; }}
}}
""")

    def command(self):
        return [self.binary, "-p", self.prefix, "-c", self.config]

    def probe_path(self):
        return "/small.json"


# ---------------------------------------------------------------------------------------------- HTTP

def request(server, method, path_or_url, body=None, headers=None, timeout=60):
    url = path_or_url if path_or_url.startswith("http") else server.base + path_or_url
    h = dict(h.split(": ", 1) for h in server.auth_headers())
    h.update(headers or {})
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        raise BenchError(f"{server.name}: {method} {url} -> {e.code}: {e.read()[:500]!r}")


def curl(server, args, timeout=600):
    """curl with the server's auth headers; returns (http status, -w output fields)."""
    cmd = ["curl", "-sS", "--max-time", str(timeout), "-o", "/dev/null"]
    for h in server.auth_headers():
        cmd += ["-H", h]
    out = run(cmd + args, timeout=timeout + 10)
    return out.split()


def absolute(server, location):
    return urllib.parse.urljoin(server.base + "/", location)


def with_digest(location, digest):
    return location + ("&" if "?" in location else "?") + "digest=" + urllib.parse.quote(digest)


def start_upload(server, repo):
    status, headers, _ = request(server, "POST", f"/v2/{repo}/blobs/uploads/")
    if status != 202:
        raise BenchError(f"{server.name}: POST upload -> {status}")
    return absolute(server, headers["Location"])


def put_small_blob(server, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = start_upload(server, repo)
    request(server, "PUT", with_digest(location, digest), body=data, headers={"Content-Type": "application/octet-stream"})
    return digest


def push_monolithic(server, repo, path, digest):
    """POST + PUT of a file with curl (streamed, never buffered whole); returns seconds."""
    started = time.monotonic()
    location = start_upload(server, repo)
    status = curl(server, ["-w", "%{http_code}", "-X", "PUT", "-H", "Content-Type: application/octet-stream",
                           "-T", path, with_digest(location, digest)])[0]
    elapsed = time.monotonic() - started
    if status != "201":
        raise BenchError(f"{server.name}: monolithic PUT -> {status}")
    return elapsed


def push_chunked(server, repo, chunk_paths, digest):
    """POST, one PATCH per chunk file (with Content-Range), then PUT ?digest=; returns seconds."""
    started = time.monotonic()
    location = start_upload(server, repo)
    offset = 0
    header_file = os.path.join(os.path.dirname(chunk_paths[0]), "headers.txt")
    for chunk in chunk_paths:
        size = os.path.getsize(chunk)
        status = curl(server, ["-w", "%{http_code}", "-D", header_file, "-X", "PATCH",
                               "-H", "Content-Type: application/octet-stream",
                               "-H", f"Content-Range: {offset}-{offset + size - 1}", "-T", chunk, location])[0]
        if status != "202":
            raise BenchError(f"{server.name}: PATCH at {offset} -> {status}")
        with open(header_file) as f:
            loc = [l.split(":", 1)[1].strip() for l in f if l.lower().startswith("location:")]
        location = absolute(server, loc[-1])
        offset += size
    status = curl(server, ["-w", "%{http_code}", "-X", "PUT", "-H", "Content-Length: 0", with_digest(location, digest)])[0]
    elapsed = time.monotonic() - started
    if status != "201":
        raise BenchError(f"{server.name}: closing PUT -> {status}")
    return elapsed


def pull(server, url_path, expected_size):
    status, size, seconds = curl(server, ["-w", "%{http_code} %{size_download} %{time_total}", "-L", server.base + url_path])
    if status != "200" or int(size) != expected_size:
        raise BenchError(f"{server.name}: GET {url_path} -> {status}, {size} bytes (expected {expected_size})")
    return float(seconds)


def timed_get(server, url_path):
    """One GET; returns (seconds, body) measured by curl (connection set-up included, as a client sees it)."""
    out_file = os.path.join(server.workdir, f"{server.name}-body.json")
    cmd = ["curl", "-sS", "--max-time", "120", "-o", out_file, "-w", "%{http_code} %{time_total}"]
    for h in server.auth_headers():
        cmd += ["-H", h]
    status, seconds = run(cmd + [server.base + url_path], timeout=130).split()
    if status != "200":
        raise BenchError(f"{server.name}: GET {url_path} -> {status}")
    with open(out_file) as f:
        return float(seconds), json.load(f)


def ab_head(url, headers, seconds, connections, workdir):
    """ApacheBench HEAD requests (wrk cannot: its parser waits for a HEAD response's body) at `connections`
    keep-alive connections for `seconds`; returns (req/s, p50 ms, p99 ms). Fails on any error or non-2xx."""
    csv = os.path.join(workdir, "ab.csv")
    cmd = ["ab", "-i", "-k", "-q", "-c", str(connections), "-t", str(seconds), "-n", "100000000", "-e", csv]
    for h in headers:
        cmd += ["-H", h]
    out = run(cmd + [url], timeout=seconds + 60)
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    if "Non-2xx" in out or (failed and failed.group(1) != "0"):
        raise BenchError(f"ab HEAD {url}: errors:\n{out}")
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    with open(csv) as f:
        pct = dict(line.strip().split(",") for line in f if line[0].isdigit())
    return rps, float(pct["50"]), float(pct["99"])


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk(url, headers, seconds, connections, workdir, method="GET"):
    """wrk at `connections` connections for `seconds`; returns (req/s, p50 ms, p99 ms). Fails on any non-2xx."""
    script = os.path.join(workdir, f"wrk-{method}.lua")
    with open(script, "w") as f:
        f.write(f'wrk.method = "{method}"\n')
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s", "-s", script]
    for h in headers:
        cmd += ["-H", h]
    out = run(cmd + [url], timeout=seconds + 60)
    if "Non-2xx" in out or "Socket errors" in out:
        raise BenchError(f"wrk {method} {url}: errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict((p, float(v) * UNITS_MS[u]) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M))
    return rps, lat["50"], lat["99"]


# ------------------------------------------------------------------------------------------- results

class Results:
    def __init__(self):
        self.values = {}   # (metric, who) -> [values]
        self.notes = []

    def add(self, metric, who, value):
        self.values.setdefault((metric, who), []).append(value)

    def median(self, metric, who):
        v = self.values.get((metric, who))
        return statistics.median(v) if v else None


def fmt(v, digits=None):
    if v is None:
        return "–"
    if digits is None:
        digits = 0 if abs(v) >= 100 else (1 if abs(v) >= 10 else 2)
    return f"{v:,.{digits}f}"


def sh_version(args):
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception:
        return "?"


# -------------------------------------------------------------------------------------------- phases

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--berth", required=True, help="path of the built berth executable (or berth.dll)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--blob-mib", type=int, default=512, help="size of the pushed/pulled blob")
    ap.add_argument("--chunk-mib", type=int, default=32)
    ap.add_argument("--big-mib", type=int, default=4096, help="size of the blob pushed while RSS is watched (0: skip)")
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--tags", default="2000,100000", help="two tag counts")
    ap.add_argument("--out", help="results file (default bench/results/<UTC date>.md; never overwrites)")
    ap.add_argument("--budget", type=int, default=540, help="seconds; a phase that would start after it is skipped")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (debugging)")
    args = ap.parse_args()
    if args.rounds < 3:
        log("note: fewer than 3 rounds: medians are weak")

    began = time.monotonic()
    load_start = os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="berth-bench-")
    os.chmod(tmp, 0o755)   # nginx's workers run as an unprivileged user
    servers = []
    results = Results()
    counts = tuple(int(x) for x in args.tags.split(","))
    if len(counts) != 2 or min(counts) < 1:
        ap.error("--tags needs two positive counts, e.g. 2000,100000")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    try:
        dist = Distribution(tmp, shutil.which("docker-registry") or "/usr/bin/docker-registry")
        berth = Berth(tmp, args.berth)
        nginx = Nginx(tmp, shutil.which("nginx") or "/usr/sbin/nginx")
        servers += [dist, berth, nginx]
        pair = [berth, dist]

        def order(r):
            return pair if r % 2 == 0 else pair[::-1]

        def budget_left(phase):
            if time.monotonic() - began > args.budget:
                results.notes.append(f"{phase}: skipped, the time budget of {args.budget} s was used up")
                log(f"skipping {phase}: time budget used up")
                return False
            return True

        # --- test data (untimed): a random blob, its chunks, nginx's files
        log(f"temp folder {tmp}; writing a {args.blob_mib} MiB random file")
        blob = os.path.join(tmp, "blob.bin")
        run(["openssl", "rand", "-out", blob, str(args.blob_mib * MIB)], timeout=120)
        chunk_dir = os.path.join(tmp, "chunks")
        os.makedirs(chunk_dir)
        run(["split", "-b", f"{args.chunk_mib}M", "-d", "-a", "4", blob, os.path.join(chunk_dir, "c")], timeout=120)
        chunks = sorted(os.path.join(chunk_dir, c) for c in os.listdir(chunk_dir))
        os.chmod(blob, 0o644)
        os.link(blob, os.path.join(nginx.www, "blob.bin"))
        small = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "padding": "x" * 400}).encode()
        with open(os.path.join(nginx.www, "small.json"), "wb") as f:
            f.write(small)

        def fresh_variant():
            """Makes the blob (and its first chunk) new content: 32 random bytes at its start; returns its digest."""
            with open(blob, "r+b") as f:
                f.write(os.urandom(32))
            first_chunk = min(args.chunk_mib * MIB, args.blob_mib * MIB)
            with open(blob, "rb") as src, open(chunks[0], "wb") as dst:
                dst.write(src.read(first_chunk))
            started = time.monotonic()
            out = run(["openssl", "dgst", "-sha256", "-r", blob], timeout=120)
            results.add("sha", "openssl", args.blob_mib / (time.monotonic() - started))
            return "sha256:" + out.split()[0]

        # --- start-up: each server started fresh, alternately; time to its first /v2/ answer
        log("berth: admin user and personal access token through the CLI")
        berth.create_admin_and_pat()
        for r in range(args.rounds):
            for s in order(r):
                results.add("startup", s.name, s.start() * 1000)
                if r < args.rounds - 1:
                    s.stop()
        log("startup: berth %s ms, distribution %s ms" % (fmt(results.median("startup", "berth")), fmt(results.median("startup", "distribution"))))
        nginx.start()
        berth.discover_realm()
        berth.create_project()

        # --- small image in each repository: a config, a layer and an OCI manifest tagged latest
        manifests = {}
        for s in pair:
            for repo in (REPO, REPO_2K, REPO_100K):
                config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
                layer = os.urandom(1024)
                cd, ld = put_small_blob(s, repo, config), put_small_blob(s, repo, layer)
                manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
                                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": len(layer)}]}).encode()
                status, headers, _ = request(s, "PUT", f"/v2/{repo}/manifests/latest", body=manifest, headers={"Content-Type": OCI_MANIFEST})
                manifests[(s.name, repo)] = ("sha256:" + hashlib.sha256(manifest).hexdigest(), ld)

        # --- monolithic and chunked pushes of fresh content; openssl's SHA-256 on the same file
        for kind in ("push", "chunked"):
            if not budget_left(kind):
                continue
            for r in range(args.rounds):
                for s in order(r):
                    digest = fresh_variant()
                    run(["sync"], timeout=120)
                    seconds = push_monolithic(s, REPO, blob, digest) if kind == "push" else push_chunked(s, REPO, chunks, digest)
                    results.add(kind, s.name, args.blob_mib / seconds)
                    run(["sync"], timeout=120)
                    os.remove(s.blob_path(digest))   # keep the temp folder small; the bench never reads it again
            log(f"{kind}: berth {fmt(results.median(kind, 'berth'))} MiB/s, distribution {fmt(results.median(kind, 'distribution'))} MiB/s")

        # --- pull of one blob to /dev/null; nginx sendfile of the same bytes
        if budget_left("pull"):
            digest = fresh_variant()
            size = os.path.getsize(blob)
            for s in pair:
                push_monolithic(s, REPO, blob, digest)
            run(["sync"], timeout=120)
            for s in pair:   # warm each server's file into the page cache, like nginx's
                pull(s, f"/v2/{REPO}/blobs/{digest}", size)
            pull(nginx, "/blob.bin", size)
            for r in range(args.rounds):
                for s in order(r) + [nginx]:
                    path = "/blob.bin" if s is nginx else f"/v2/{REPO}/blobs/{digest}"
                    results.add("pull", s.name, args.blob_mib / pull(s, path, size))
            log(f"pull: berth {fmt(results.median('pull', 'berth'))} MiB/s, distribution {fmt(results.median('pull', 'distribution'))} MiB/s, nginx {fmt(results.median('pull', 'nginx'))} MiB/s")

        # --- manifest GET by tag, blob HEAD; nginx small static GET
        for kind in ("manifest", "head"):
            if not budget_left(kind):
                continue
            for r in range(args.rounds):
                for s in order(r) + [nginx]:
                    if s is nginx:
                        url, headers, method = nginx.base + "/small.json", [], ("GET" if kind == "manifest" else "HEAD")
                    elif kind == "manifest":
                        url, headers, method = f"{s.base}/v2/{REPO}/manifests/latest", s.auth_headers() + [f"Accept: {OCI_MANIFEST}"], "GET"
                    else:
                        url, headers, method = f"{s.base}/v2/{REPO}/blobs/{manifests[(s.name, REPO)][1]}", s.auth_headers(), "HEAD"
                    if method == "HEAD":
                        rps, p50, p99 = ab_head(url, headers, args.wrk_seconds, args.connections, tmp)
                    else:
                        rps, p50, p99 = wrk(url, headers, args.wrk_seconds, args.connections, tmp, method)
                    name = ("small" if kind == "manifest" else "smallhead") if s is nginx else kind
                    results.add(name + "_rps", s.name, rps)
                    results.add(name + "_p50", s.name, p50)
                    results.add(name + "_p99", s.name, p99)
            log(f"{kind}: berth {fmt(results.median(kind + '_rps', 'berth'))} req/s, distribution {fmt(results.median(kind + '_rps', 'distribution'))} req/s")

        # --- token issuance with a PAT (Berth only: Distribution has no token service)
        if budget_left("token"):
            for r in range(args.rounds):
                rps, p50, p99 = wrk(berth.token_url(), [f"Authorization: {berth.basic()}"], args.wrk_seconds, args.connections, tmp)
                results.add("token_rps", "berth", rps)
                results.add("token_p99", "berth", p99)
            log(f"token: berth {fmt(results.median('token_rps', 'berth'))} tokens/s")

        # --- tags list with many tags: full and first page
        small_count, large_count = counts
        if budget_left("tags"):
            for s in pair:
                started = time.monotonic()
                for repo, count in ((REPO_2K, small_count - 1), (REPO_100K, large_count - 1)):
                    s.seed_tags(repo, manifests[(s.name, repo)][0], count)
                log(f"{s.name}: seeded {small_count} + {large_count} tags in {time.monotonic() - started:.1f} s")
            for r in range(args.rounds):
                for s in order(r):
                    for repo, count in ((REPO_2K, small_count), (REPO_100K, large_count)):
                        for query, key in (("", "full"), ("?n=100", "n100")):
                            seconds, body = timed_get(s, f"/v2/{repo}/tags/list{query}")
                            got = len(body.get("tags") or [])
                            want = count if not query else 100
                            note = f"{s.name}: tags/list{query} on {count} tags returned {got} tags (not {want})"
                            if got != want and note not in results.notes:
                                results.notes.append(note)
                            results.add(f"tags_{count}_{key}", s.name, seconds * 1000)
            log(f"tags: berth full {fmt(results.median(f'tags_{large_count}_full', 'berth'))} ms, n=100 {fmt(results.median(f'tags_{large_count}_n100', 'berth'))} ms")

        # --- RSS while pushing a big blob (monolithic), each server in turn
        if args.big_mib > 0 and budget_left("big push"):
            big = os.path.join(tmp, "big.bin")
            os.remove(os.path.join(nginx.www, "blob.bin"))
            with open(big, "wb") as f:   # openssl rand makes at most 2 GiB - 1 per call
                for part in range(0, args.big_mib, 1024):
                    n = min(1024, args.big_mib - part) * MIB
                    if subprocess.run(["openssl", "rand", str(n)], stdout=f, timeout=300).returncode != 0:
                        raise BenchError("openssl rand failed writing the big blob")
            big_digest = "sha256:" + run(["openssl", "dgst", "-sha256", "-r", big], timeout=300).split()[0]
            for s in pair:
                before = rss_kib(s.pid)
                with RssSampler([s.pid]) as sampler:
                    seconds = push_monolithic(s, REPO, big, big_digest)
                results.add("big_mibs", s.name, args.big_mib / seconds)
                results.add("big_before", s.name, before / 1024)
                results.add("big_growth", s.name, (sampler.peak[s.pid] - before) / 1024)
                os.remove(s.blob_path(big_digest))
            os.remove(big)
            log(f"big push: berth RSS +{fmt(results.median('big_growth', 'berth'))} MiB, distribution +{fmt(results.median('big_growth', 'distribution'))} MiB")

        for s in pair:
            results.add("peak_rss", s.name, rss_kib(s.pid, "VmHWM") / 1024)
        write_report(args, results, load_start, began, counts)
        return 0
    except BenchError as e:
        log(f"FAILED: {e}")
        if results.values:   # what was measured before the failure is still worth a file, marked as failed
            results.notes.insert(0, f"**the run FAILED**: {e}")
            write_report(args, results, load_start, began, counts)
        return 1
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); cleaning up")
        return 130
    except Exception as e:
        import traceback
        log("FAILED with an unexpected error:\n" + traceback.format_exc())
        if results.values:
            results.notes.insert(0, f"**the run FAILED**: {type(e).__name__}: {e}")
            write_report(args, results, load_start, began, counts)
        return 1
    finally:
        for s in servers:
            s.stop()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def write_report(args, results, load_start, began, counts):
    elapsed = time.monotonic() - began
    report = render(args, results, load_start, os.getloadavg(), elapsed, *counts)
    print(report)
    out = args.out or default_out()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(report)
    log(f"wrote {out} ({elapsed:.0f} s)")


def default_out():
    here = os.path.dirname(os.path.abspath(__file__))
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    out = os.path.join(here, "results", f"{date}.md")
    n = 2
    while os.path.exists(out):
        out = os.path.join(here, "results", f"{date}-{n}.md")
        n += 1
    return out


def render(args, res, load_start, load_end, elapsed, small_count, large_count):
    m = res.median
    rows = []

    def ratio(a, b):
        return None if a is None or b in (None, 0) else a / b

    def verdict(ok):
        return "–" if ok is None else ("met" if ok else "**not met**")

    def row(label, unit, b, d, extra, target, ok):
        r = ratio(b, d)
        rows.append(f"| {label} | {unit} | {fmt(b)} | {fmt(d)} | {fmt(r, 2) + '×' if r is not None else '–'} | {extra} | {target} | {verdict(ok)} |")

    def both(*conds):
        return None if any(c is None for c in conds) else all(conds)

    sha = m("sha", "openssl")
    for kind, label in (("push", f"monolithic push, {args.blob_mib} MiB"), ("chunked", f"chunked push, {args.chunk_mib} MiB PATCHes")):
        b, d = m(kind, "berth"), m(kind, "distribution")
        ok = both(b and d and b >= 3 * d, b and sha and b >= 0.5 * sha)
        row(label, "MiB/s", b, d, f"OpenSSL SHA-256 {fmt(sha)} MiB/s → {fmt(ratio(b, sha) and ratio(b, sha) * 100)}%", "≥ 3× and ≥ 50% of SHA-256", ok)
    b, d, n = m("pull", "berth"), m("pull", "distribution"), m("pull", "nginx")
    row(f"blob pull, {args.blob_mib} MiB", "MiB/s", b, d, f"nginx sendfile {fmt(n)} MiB/s → {fmt(ratio(b, n) and ratio(b, n) * 100)}%", "≥ 1.2× and ≥ 90% of nginx",
        both(b and d and b >= 1.2 * d, b and n and b >= 0.9 * n))
    for kind, label in (("manifest", "manifest GET by tag (wrk)"), ("head", "blob HEAD (ab)")):
        small = m("small_rps" if kind == "manifest" else "smallhead_rps", "nginx")
        b, d = m(kind + "_rps", "berth"), m(kind + "_rps", "distribution")
        bp99, dp99 = m(kind + "_p99", "berth"), m(kind + "_p99", "distribution")
        row(f"{label}, {args.connections} conn.", "req/s", b, d, f"nginx small {'GET' if kind == 'manifest' else 'HEAD'} {fmt(small)} req/s → {fmt(ratio(b, small) and ratio(b, small) * 100)}%",
            "≥ 10× and ≥ 30% of nginx", both(b and d and b >= 10 * d, b and small and b >= 0.3 * small))
        row(f"{label}, p50", "ms", m(kind + "_p50", "berth"), m(kind + "_p50", "distribution"), "", "", None)
        row(f"{label}, p99", "ms", bp99, dp99, "", "≤ Distribution's p99", both(bp99 is not None and dp99 is not None and bp99 <= dp99))
    for count in (small_count, large_count):
        for key, label in (("full", "full"), ("n100", "n=100")):
            b, d = m(f"tags_{count}_{key}", "berth"), m(f"tags_{count}_{key}", "distribution")
            target, ok = "", None
            if count == large_count:
                limit = 1000 if key == "full" else 5
                target, ok = f"≤ {limit} ms", (None if b is None else b <= limit)
            row(f"tags list, {count:,} tags, {label}", "ms", b, d, "", target, ok)
    t = m("token_rps", "berth")
    row(f"token issuance with a PAT, {args.connections} conn.", "tokens/s", t, None, f"p99 {fmt(m('token_p99', 'berth'))} ms", "≥ 2,000/s", None if t is None else t >= 2000)
    b, d = m("peak_rss", "berth"), m("peak_rss", "distribution")
    row("peak RSS (whole run)", "MiB", b, d, "", "≤ 150 MiB", None if b is None else b <= 150)
    if args.big_mib:
        b, d = m("big_growth", "berth"), m("big_growth", "distribution")
        row(f"RSS growth pushing {args.big_mib / 1024:g} GiB", "MiB", b, d,
            f"from {fmt(m('big_before', 'berth'))} / {fmt(m('big_before', 'distribution'))} MiB; {fmt(m('big_mibs', 'berth'))} / {fmt(m('big_mibs', 'distribution'))} MiB/s",
            "< 50 MiB", None if b is None else b < 50)
    b = m("startup", "berth")
    row("start-up to first /v2/ answer", "ms", b, m("startup", "distribution"), "", "≤ 1,500 ms", None if b is None else b <= 1500)

    commit = sh_version(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"])
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [
        f"# Berth vs CNCF Distribution — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}",
        f"- load average at start {load_start[0]:.2f} / {load_start[1]:.2f} / {load_start[2]:.2f}, at end {load_end[0]:.2f} / {load_end[1]:.2f} / {load_end[2]:.2f} (1/5/15 min)",
        f"- Berth commit {commit} (Release, default embedded configuration, token authentication on); "
        f"{sh_version(['docker-registry', '--version'])} (no authentication); {sh_version(['nginx', '-v'])}; "
        f"{sh_version(['wrk', '-v'])}; {sh_version(['openssl', 'version'])}",
        f"- {args.rounds} rounds, A/B order alternating each round; medians; ratio = Berth / Distribution; "
        f"wrk {args.wrk_seconds} s at {args.connections} connections, 2 threads; run took {elapsed:.0f} s",
        "",
        "| metric | unit | Berth | Distribution | ratio | ceiling / detail | target | verdict |",
        "|---|---|---:|---:|---:|---|---|---|",
    ] + rows
    if res.notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in res.notes]
    lines += ["", "Raw values (one per round):", ""]
    for (metric, who), values in sorted(res.values.items()):
        lines.append(f"- {metric} / {who}: {', '.join(fmt(v) for v in values)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
