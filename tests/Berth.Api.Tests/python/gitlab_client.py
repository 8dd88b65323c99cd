#!/usr/bin/env python3
"""Drives Berth's /api/v4 with python-gitlab (Debian's python3-gitlab), the way GitLab users script it.

Usage: BERTH_URL=http://127.0.0.1:PORT BERTH_TOKEN=<root api token> python3 gitlab_client.py
Exits 0 when every step and assertion passed; prints what it did.
"""
import os
import sys
import uuid

import gitlab
import requests

url = os.environ["BERTH_URL"]
token = os.environ["BERTH_TOKEN"]
suffix = uuid.uuid4().hex[:8]


def step(message):
    print("-", message, flush=True)


gl = gitlab.Gitlab(url, private_token=token)
gl.auth()
assert gl.user.username == "root", gl.user.username
assert gl.user.is_admin is True
step(f"signed in as {gl.user.username}")

group = gl.groups.create({"name": f"Team {suffix}", "path": f"team-{suffix}", "visibility": "private"})
assert group.full_path == f"team-{suffix}", group.full_path
step(f"created group {group.full_path} (id {group.id})")

sub = gl.groups.create({"name": "Backend", "path": "backend", "parent_id": group.id})
assert sub.full_path == f"team-{suffix}/backend", sub.full_path
assert sub.parent_id == group.id
step(f"created subgroup {sub.full_path}")

subgroups = group.subgroups.list(get_all=True)
assert [g.full_path for g in subgroups] == [sub.full_path], subgroups
by_path = gl.groups.get(sub.full_path)
assert by_path.id == sub.id

project = gl.projects.create({"name": "API", "path": "api", "namespace_id": sub.id, "visibility": "private"})
assert project.path_with_namespace == f"team-{suffix}/backend/api", project.path_with_namespace
assert project.container_registry_enabled is True
assert project.container_registry_access_level == "enabled"
assert project.namespace["id"] == sub.id and project.namespace["kind"] == "group"
assert project.name_with_namespace == f"Team {suffix} / Backend / API", project.name_with_namespace
step(f"created project {project.path_with_namespace} (id {project.id})")

user = gl.users.create({
    "username": f"dev-{suffix}",
    "email": f"dev-{suffix}@example.com",
    "name": "Dev Eloper",
    "password": "correct horse battery",
    "skip_confirmation": True,
})
assert user.username == f"dev-{suffix}" and user.state == "active"
found = gl.users.list(username=f"dev-{suffix}")
assert len(found) == 1 and found[0].id == user.id
step(f"created user {user.username} (id {user.id})")

member = project.members.create({"user_id": user.id, "access_level": gitlab.const.AccessLevel.DEVELOPER})
assert member.access_level == 30
member = project.members.get(user.id)
member.access_level = gitlab.const.AccessLevel.MAINTAINER
member.save()
assert project.members.get(user.id).access_level == 40
assert [m.username for m in project.members.list(get_all=True)] == [user.username]
group_member = group.members.create({"user_id": user.id, "access_level": gitlab.const.AccessLevel.REPORTER})
assert group_member.access_level == 20
assert {m.username for m in group.members.list(get_all=True)} == {"root", user.username}
step("added the user as project Maintainer and group Reporter")

pat = user.personal_access_tokens.create({"name": "ci", "scopes": ["api", "read_registry"], "expires_at": "2099-01-01"})
assert pat.token.startswith("bpat-"), pat.token
assert sorted(pat.scopes) == ["api", "read_registry"]
step(f"created a personal access token for {user.username}")

as_user = gitlab.Gitlab(url, private_token=pat.token)
as_user.auth()
assert as_user.user.username == user.username
visible = as_user.projects.get(project.path_with_namespace)
assert visible.id == project.id
own_tokens = as_user.personal_access_tokens.list(get_all=True)
assert [t.name for t in own_tokens] == ["ci"], [t.name for t in own_tokens]
step("the user's token works and sees the project")

deploy = project.deploytokens.create({"name": "deploy", "scopes": ["read_registry"]})
assert deploy.token.startswith("bdt-"), deploy.token
assert deploy.username == f"berth+deploy-token-{deploy.id}", deploy.username
assert [t.name for t in project.deploytokens.list(get_all=True)] == ["deploy"]
step(f"created deploy token {deploy.username}")

project.container_registry_enabled = False
project.save()
assert gl.projects.get(project.id).container_registry_enabled is False
assert gl.projects.get(project.id).container_registry_access_level == "disabled"
project = gl.projects.get(project.id)
project.container_registry_access_level = "enabled"
project.save()
again = gl.projects.get(project.id)
assert again.container_registry_enabled is True and again.container_registry_access_level == "enabled"
step("toggled the container registry off and on")

# Pagination: python-gitlab follows the Link headers.
for i in range(3):
    gl.projects.create({"name": f"extra-{i}", "namespace_id": sub.id})
listed = sub.projects.list(get_all=True, per_page=2)
assert len(listed) == 4, [p.path for p in listed]
page = sub.projects.list(per_page=2, page=1)
assert len(page) == 2
step("paginated listing works")

# Errors come back as GitLab's exceptions.
try:
    gl.projects.get(f"team-{suffix}/missing")
    raise AssertionError("expected 404")
except gitlab.exceptions.GitlabGetError as e:
    assert e.response_code == 404, e.response_code
read_only = user.personal_access_tokens.create({"name": "ro", "scopes": ["read_api"]})
ro = gitlab.Gitlab(url, private_token=read_only.token)
try:
    ro.groups.create({"name": "nope", "path": f"nope-{suffix}"})
    raise AssertionError("expected 403")
except gitlab.exceptions.GitlabCreateError as e:
    assert e.response_code == 403, e.response_code
step("404 and 403 map onto python-gitlab's errors")

# The OAuth password grant gives a bearer token python-gitlab can use.
response = requests.post(f"{url}/oauth/token", data={"grant_type": "password", "username": user.username, "password": "correct horse battery"})
assert response.status_code == 200, response.text
oauth = gitlab.Gitlab(url, oauth_token=response.json()["access_token"])
oauth.auth()
assert oauth.user.username == user.username
step("the OAuth password grant works")

gl.personal_access_tokens.delete(pat.id)
revoked = [t for t in gl.personal_access_tokens.list(user_id=user.id, get_all=True) if t.id == pat.id]
assert len(revoked) == 1 and revoked[0].revoked is True and revoked[0].active is False
try:
    as_user.auth()
    raise AssertionError("expected 401 after revoking")
except gitlab.exceptions.GitlabAuthenticationError:
    pass
deploy.delete()
project.delete()
try:
    gl.projects.get(project.id)
    raise AssertionError("expected 404 after delete")
except gitlab.exceptions.GitlabGetError:
    pass
step("revoked the token, deleted the deploy token and the project")

print("python-gitlab: all checks passed")
sys.exit(0)
