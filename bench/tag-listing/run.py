#!/usr/bin/env python3
"""Tag listing at scale: GET /v2/<name>/tags/list on a repository with N tags (default 500,000).

Starts Berth (the Release build, embedded SQLite + filesystem, auth off) on a free loopback port in a temp
folder, pushes one small image, seeds the remaining tags straight into the metadata database with SQL (one
transaction; pushing 500,000 manifests would take hours and measure something else), then times from the
client side over one keep-alive HTTP/1.1 connection:

  * pages of n=100 (measured first): first page, pages starting at 25 %, 50 %, 75 % and at the end (last=<tag>), and a walk of
    PAGES consecutive pages following the Link header; median, p95 and max per request;
  * then the full listing (no n): status, bytes, tag count checked, wall time; RUNS runs, median and max.

Writes a Markdown report (default bench/results/tag-listing-<UTC date>.md). Bounded: one server, N rows,
RUNS + ~PAGES + 50 requests. Usage: python3 bench/tag-listing/run.py [--tags N] [--runs R] [--pages P] [--out FILE]
"""
import argparse, hashlib, http.client, json, os, platform, shutil, socket, sqlite3, statistics, subprocess, sys, tempfile, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DLL = os.path.join(ROOT, "src", "Berth.Server", "bin", "Release", "net10.0", "berth.dll")
REPO = "bench/tags/app"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, dict(r.getheaders()), data


def push_seed_image(conn):
    def blob(content):
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        status, _, body = request(conn, "POST", f"/v2/{REPO}/blobs/uploads/?digest={digest}", content, {"Content-Type": "application/octet-stream"})
        assert status == 201, (status, body)
        return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": len(content)}
    config = blob(b'{"architecture":"amd64","os":"linux"}')
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    layer = blob(os.urandom(512))
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]}).encode()
    status, _, body = request(conn, "PUT", f"/v2/{REPO}/manifests/seed", manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert status == 201, (status, body)


def tag_name(i):
    # Realistic mix: CI-style build tags, versions, branch-like names. All valid tags, all distinct.
    kind = i % 4
    if kind == 0: return f"build-{i:07d}"
    if kind == 1: return f"v{i % 13}.{(i // 13) % 100}.{i}"
    if kind == 2: return f"feature-{i % 997}-{i:x}"
    return f"{hashlib.sha1(str(i).encode()).hexdigest()[:12]}-{i}"


def seed(db_path, count):
    con = sqlite3.connect(db_path, timeout=60)
    repo_id, manifest_id = con.execute(
        'SELECT t."RepositoryId", t."ManifestId" FROM tags t JOIN repositories r ON r."Id" = t."RepositoryId" WHERE r."Name" = ? AND t."Name" = ?',
        (REPO, "seed")).fetchone()
    start = time.perf_counter()
    with con:
        con.executemany('INSERT INTO tags ("RepositoryId", "Name", "ManifestId", "UpdatedAt") VALUES (?, ?, ?, ?)',
                        ((repo_id, tag_name(i), manifest_id, "2026-01-01 00:00:00") for i in range(count - 1)))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return time.perf_counter() - start


def timed(conn, path):
    t0 = time.perf_counter()
    status, headers, body = request(conn, "GET", path)
    return time.perf_counter() - t0, status, headers, body


def ms(seconds):
    return f"{seconds * 1000:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tags", type=int, default=500_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if not os.path.exists(DLL):
        sys.exit(f"{DLL} is missing: dotnet build Berth.slnx -c Release")

    work = tempfile.mkdtemp(prefix="berth-tag-bench-")
    port = free_port()
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen(["dotnet", DLL, "serve", "--urls", f"http://127.0.0.1:{port}", "--data-dir", os.path.join(work, "data"),
                               "--Auth:Mode", "none", "--Registry:GarbageCollection:Enabled", "false", "--Logging:LogLevel:Default", "Warning"],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                if request(conn, "GET", "/v2/")[0] == 200: break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None: sys.exit("server did not start; see " + log.name)
            time.sleep(0.5)

        push_seed_image(conn)
        seed_seconds = seed(os.path.join(work, "data", "berth.db"), args.tags)
        expected = sorted([tag_name(i) for i in range(args.tags - 1)] + ["seed"])  # ordinal order of ASCII names
        assert len(expected) == args.tags

        load_before = "/".join(f"{x:.1f}" for x in os.getloadavg())
        def page(last=None):
            q = "n=100" + (f"&last={urllib.parse.quote(last, safe='')}" if last else "")
            seconds, status, headers, body = timed(conn, f"/v2/{REPO}/tags/list?{q}")
            assert status == 200, status
            return seconds, headers, json.loads(body)["tags"]

        for _ in range(20): page()  # warm-up
        positions = {"first page": None, "at 25 %": expected[args.tags // 4], "at 50 %": expected[args.tags // 2],
                     "at 75 %": expected[3 * args.tags // 4], "last page": expected[-50]}
        spot = {name: [] for name in positions}
        starts = {name: 0 if last is None else expected.index(last) + 1 for name, last in positions.items()}
        for _ in range(10):  # interleaved, so a burst of load on the machine does not land on one position only
            for name, last in positions.items():
                seconds, _, tags = page(last)
                assert tags == expected[starts[name]:starts[name] + 100], name
                spot[name].append(seconds)
        walk = []
        path = f"/v2/{REPO}/tags/list?n=100"
        seen = []
        for _ in range(args.pages):
            seconds, status, headers, body = timed(conn, path)
            walk.append(seconds)
            seen.extend(json.loads(body)["tags"])
            link = headers.get("Link")
            if not link: break
            path = link[1:link.index(">")]
        assert seen == expected[:len(seen)], "paged walk out of order"

        # Full listings after the pages, so their garbage does not land in the page timings. Warm-up first.
        timed(conn, f"/v2/{REPO}/tags/list")
        full = []
        size = 0
        for _ in range(args.runs):
            seconds, status, headers, body = timed(conn, f"/v2/{REPO}/tags/list")
            assert status == 200, status
            tags = json.loads(body)["tags"]
            assert tags == expected, "full listing incomplete or out of order"
            full.append(seconds)
            size = len(body)

        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
        date = time.strftime("%Y-%m-%d", time.gmtime())
        out = args.out or os.path.join(ROOT, "bench", "results", f"tag-listing-{date}.md")
        pages_all = walk + [t for v in spot.values() for t in v]
        lines = [
            f"# Tag listing, {args.tags:,} tags — {date}",
            "",
            f"Measured with `python3 bench/tag-listing/run.py --tags {args.tags} --runs {args.runs} --pages {args.pages}` on {cpu}, "
            f"{os.cpu_count()} cores, Berth Release build, embedded SQLite + filesystem, auth off, client on the same machine "
            "(one keep-alive HTTP/1.1 connection; times are wall time from request to the last body byte).",
            f"Load average during the run: {load_before} before, {'/'.join(f'{x:.1f}' for x in os.getloadavg())} after (1/5/15 min; "
            "other jobs shared the machine, so maxima are noisy).",
            f"Tags seeded with SQL in {seed_seconds:.1f} s (one transaction). Every answer was checked: complete, ordinal order, right page contents.",
            "",
            "| request | runs | median ms | p95 ms | max ms | target |",
            "|---|---|---|---|---|---|",
            f"| full list (`/v2/<name>/tags/list`, {size / 1e6:.1f} MB JSON) | {len(full)} | {ms(statistics.median(full))} | — | {ms(max(full))} | < 2000 |",
        ]
        for name, times in spot.items():
            lines.append(f"| `n=100`, {name} | {len(times)} | {ms(statistics.median(times))} | — | {ms(max(times))} | < 20 |")
        lines.append(f"| `n=100`, walk of {len(walk)} consecutive pages via `Link` | {len(walk)} | {ms(statistics.median(walk))} | {ms(statistics.quantiles(walk, n=20)[18])} | {ms(max(walk))} | < 20 |")
        lines.append(f"| `n=100`, all page requests | {len(pages_all)} | {ms(statistics.median(pages_all))} | {ms(statistics.quantiles(pages_all, n=20)[18])} | {ms(max(pages_all))} | < 20 |")
        lines.append("")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f: f.write("\n".join(lines))
        print("\n".join(lines))
        print(f"written to {out}")
    finally:
        server.terminate()
        try: server.wait(30)
        except subprocess.TimeoutExpired: server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
