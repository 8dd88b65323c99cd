#!/usr/bin/env python3
"""Drives Berth's container registry REST API with python-gitlab (Debian's python3-gitlab), then checks the result
with skopeo, the way an operator scripts registry housekeeping.

Usage: BERTH_URL=http://127.0.0.1:PORT BERTH_TOKEN=<root api token> BERTH_ROOT_PASSWORD=<pw> python3 registry_client.py
Pushes small images through /v2 (HTTP Basic as root), lists repositories and tags, deletes a tag, runs bulk deletes
with keep_n and name_regex_delete, and checks what is left with `skopeo list-tags`. Exits 0 when all checks passed.
"""
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid

import gitlab
import requests

url = os.environ["BERTH_URL"]
token = os.environ["BERTH_TOKEN"]
password = os.environ["BERTH_ROOT_PASSWORD"]
host = url.split("://", 1)[1]
suffix = uuid.uuid4().hex[:8]
auth = ("root", password)


def step(message):
    print("-", message, flush=True)


def upload(repository, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = requests.post(f"{url}/v2/{repository}/blobs/uploads/", params={"digest": digest}, data=data, auth=auth,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, (r.status_code, r.text)
    return digest


def push(repository, tag):
    layer = f"layer of {repository}:{tag}\n".encode()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                         "comment": f"{repository}:{tag}"}).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": upload(repository, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": upload(repository, layer), "size": len(layer)}],
    }).encode()
    r = requests.put(f"{url}/v2/{repository}/manifests/{tag}", data=manifest, auth=auth,
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201, (r.status_code, r.text)


def skopeo_tags(repository):
    out = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", "--creds", f"root:{password}", f"docker://{host}/{repository}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return sorted(json.loads(out.stdout)["Tags"])


gl = gitlab.Gitlab(url, private_token=token)
gl.auth()
group = gl.groups.create({"name": f"Registry {suffix}", "path": f"registry-{suffix}"})
project = gl.projects.create({"name": "images", "path": "images", "namespace_id": group.id})
app = f"{project.path_with_namespace}/app"
worker = f"{project.path_with_namespace}/worker"
# Tags pushed in order, one second apart, so "most recent" is well defined for keep_n.
for tag in ["v1", "v2", "v3", "v4", "v5", "latest", "stable"]:
    push(app, tag)
    time.sleep(1.05)
push(worker, "1.0")
step(f"pushed {app} (7 tags) and {worker} through /v2")

repositories = project.repositories.list(get_all=True, tags_count=True, tags=True)
by_path = {r.path: r for r in repositories}
assert sorted(by_path) == sorted([app, worker]), sorted(by_path)
repository = by_path[app]
assert repository.name == "app" and repository.project_id == project.id
assert repository.tags_count == 7, repository.tags_count
assert [t["name"] for t in repository.attributes["tags"]] == ["latest", "stable", "v1", "v2", "v3", "v4", "v5"], repository.attributes["tags"]
assert repository.location == f"{host}/{app}", repository.location
group_repositories = group.registry_repositories.list(get_all=True)
assert sorted(r.path for r in group_repositories) == sorted([app, worker])
details = gl.registry_repositories.get(repository.id, size=True)
assert details.size > 0
step(f"listed repositories of the project and the group; {app} has {repository.tags_count} tags, {details.size} bytes")

tags = repository.tags.list(get_all=True)
assert sorted(t.name for t in tags) == ["latest", "stable", "v1", "v2", "v3", "v4", "v5"], [t.name for t in tags]
paged = repository.tags.list(get_all=True, per_page=2)
assert len(paged) == 7
v1 = repository.tags.get("v1")
assert v1.digest.startswith("sha256:") and v1.total_size > 0, v1.attributes
step("listed tags (also two at a time) and read one")

repository.tags.delete("v1")
try:
    repository.tags.get("v1")
    raise AssertionError("expected 404 after deleting v1")
except gitlab.exceptions.GitlabGetError as e:
    assert e.response_code == 404
assert skopeo_tags(app) == ["latest", "stable", "v2", "v3", "v4", "v5"], skopeo_tags(app)
step("deleted tag v1; skopeo agrees")

# v.* matches v2..v5 (full match); keep_n=2 keeps the two most recent (v4, v5); latest and stable do not match.
repository.tags.delete_in_bulk(name_regex_delete="v.*", keep_n=2)
assert skopeo_tags(app) == ["latest", "stable", "v4", "v5"], skopeo_tags(app)
step("bulk delete name_regex_delete=v.* keep_n=2 left latest, stable, v4, v5")

# .* with keep_n=1: the newest (stable) stays, latest is never deleted by a bulk delete.
repository.tags.delete_in_bulk(name_regex_delete=".*", keep_n=1)
assert skopeo_tags(app) == ["latest", "stable"], skopeo_tags(app)
try:
    repository.tags.delete_in_bulk(name_regex_delete="(")
    raise AssertionError("expected 400 for an invalid regex")
except gitlab.exceptions.GitlabDeleteError as e:
    assert e.response_code == 400, e.response_code
assert skopeo_tags(worker) == ["1.0"]
step("bulk delete name_regex_delete=.* keep_n=1 kept stable and latest; an invalid regex is a 400")

# Deleting a repository is asynchronous: it shows delete_scheduled (or is already gone), then disappears.
by_path[worker].delete()
deadline = time.time() + 90
while True:
    left = {r.path: r for r in project.repositories.list(get_all=True)}
    if worker not in left:
        break
    assert left[worker].status in ("delete_scheduled", "delete_failed"), left[worker].status
    assert time.time() < deadline, "the repository was not deleted in time"
    time.sleep(0.5)
step("deleted the worker repository (asynchronously)")

print("python-gitlab registry: all checks passed")
sys.exit(0)
