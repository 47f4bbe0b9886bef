"""A Jira-compatible HTTP server for tests, on 127.0.0.1, speaking the REST endpoints
``vulnpipe jira sync`` uses with Jira's documented request and response shapes:

* Cloud (``/rest/api/3``): ``POST search/jql`` (``nextPageToken`` paging; ``startAt`` is
  refused as the real one refuses it), descriptions and comment bodies in ADF (checked
  node by node), users by ``accountId``, ``user/search?query=``, basic auth e-mail:token;
* Data Center (``/rest/api/2``): ``POST search`` (``startAt``/``total``), wiki markup
  strings, users by ``name``, ``user/search?username=``, ``Authorization: Bearer``;
* both: ``POST issue``, ``PUT issue/{key}`` (``fields`` and ``update.labels``),
  ``GET``/``POST issue/{key}/transitions`` (a small workflow: To Do, In Progress, Done),
  ``POST issue/{key}/comment``.

Malformed requests get Jira's 400 answer (``errorMessages``/``errors``); a wrong token 401.
``fail(method, path_pattern, status, times=1, headers=...)`` makes the next matching
requests fail (429 with ``Retry-After``, 500, ...). ``requests`` records what was asked.
"""
from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

STATUSES = {"To Do": ("1", "new"), "In Progress": ("3", "indeterminate"), "Done": ("10001", "done")}
TRANSITIONS = {  # from status category -> transitions offered
    "new": [("11", "Start", "In Progress"), ("31", "Done", "Done")],
    "indeterminate": [("31", "Done", "Done"), ("21", "Stop", "To Do")],
    "done": [("41", "Reopen", "To Do")],
}
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
ISSUE_TYPES = ("Task", "Bug")
ADF_BLOCKS = {"paragraph", "heading", "bulletList", "orderedList", "listItem", "codeBlock"}
ADF_INLINE = {"text", "hardBreak"}
ADF_MARKS = {"strong", "em", "code"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLAUSE = re.compile(
    r'^(?:(project|labels) = ("(?:[^"\\]|\\.)*")|cf\[(\d+)\] (is not EMPTY|~ ("(?:[^"\\]|\\.)*")))$')


class BadRequest(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def _bad(message: str, field_name: str | None = None) -> BadRequest:
    if field_name:
        return BadRequest(400, {"errorMessages": [], "errors": {field_name: message}})
    return BadRequest(400, {"errorMessages": [message], "errors": {}})


def check_adf(node: Any, where: str = "doc", top: bool = True) -> None:
    """Raise BadRequest unless ``node`` is a valid ADF document of the nodes a sync uses."""
    if not isinstance(node, dict):
        raise _bad(f"{where}: ADF node must be an object")
    kind = node.get("type")
    if top:
        if kind != "doc" or node.get("version") != 1 or not isinstance(node.get("content"), list):
            raise _bad(f"{where}: not an ADF document (type doc, version 1, content)")
        if set(node) - {"type", "version", "content"}:
            raise _bad(f"{where}: unknown keys in doc")
        for i, child in enumerate(node["content"]):
            if child.get("type") not in ADF_BLOCKS - {"listItem"}:
                raise _bad(f"{where}.content[{i}]: {child.get('type')!r} is not a top-level block")
            check_adf(child, f"{where}.content[{i}]", top=False)
        return
    allowed_keys = {"type", "content", "attrs", "text", "marks"}
    if set(node) - allowed_keys:
        raise _bad(f"{where}: unknown keys {sorted(set(node) - allowed_keys)}")
    if kind == "text":
        if not isinstance(node.get("text"), str) or not node["text"]:
            raise _bad(f"{where}: a text node needs non-empty text")
        for mark in node.get("marks", []):
            if not isinstance(mark, dict) or mark.get("type") not in ADF_MARKS or set(mark) - {"type"}:
                raise _bad(f"{where}: mark {mark!r} not allowed")
        return
    if kind == "hardBreak":
        return
    if kind not in ADF_BLOCKS:
        raise _bad(f"{where}: unknown node type {kind!r}")
    content = node.get("content", [])
    if not isinstance(content, list):
        raise _bad(f"{where}: content must be a list")
    if kind == "heading" and (node.get("attrs") or {}).get("level") not in range(1, 7):
        raise _bad(f"{where}: heading needs attrs.level 1-6")
    if kind in ("paragraph", "heading") and any(c.get("type") not in ADF_INLINE for c in content):
        raise _bad(f"{where}: {kind} holds inline nodes only")
    if kind == "codeBlock" and any(c.get("type") != "text" or c.get("marks") for c in content):
        raise _bad(f"{where}: codeBlock holds unmarked text only")
    if kind in ("bulletList", "orderedList") and (not content or any(c.get("type") != "listItem" for c in content)):
        raise _bad(f"{where}: a list holds one or more listItem")
    if kind == "listItem":
        if not content or content[0].get("type") not in ("paragraph", "codeBlock"):
            raise _bad(f"{where}: a listItem starts with a paragraph or codeBlock")
        if any(c.get("type") not in ("paragraph", "codeBlock", "bulletList", "orderedList") for c in content):
            raise _bad(f"{where}: listItem content not allowed")
    for i, child in enumerate(content):
        check_adf(child, f"{where}.content[{i}]", top=False)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


@dataclass
class User:
    id: str                 # accountId (Cloud) or name (Data Center)
    email: str
    display: str
    hidden_email: bool = False


@dataclass
class Fault:
    method: str
    pattern: str
    status: int
    times: int
    headers: dict = field(default_factory=dict)


class FakeJira:
    def __init__(self, *, cloud: bool = True, project: str = "SEC", user: str = "bot@example.com",
                 token: str = "s3cr3t-t0ken-never-shown", users: list[User] | None = None,
                 custom_field: str = "customfield_10050", page_size: int = 7) -> None:
        self.cloud = cloud
        self.api = "3" if cloud else "2"
        self.project = project
        self.user = user
        self.token = token
        self.users = users or []
        self.custom_field = custom_field
        self.page_size = page_size
        self.issues: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.faults: list[Fault] = []
        self._next = 1
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- control ---------------------------------------------------------------------------
    def start(self) -> "FakeJira":
        jira = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"      # keep-alive, as Jira: one connection per client
            disable_nagle_algorithm = True     # headers and body go out at once

            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                jira._handle(self, "GET")

            def do_POST(self) -> None:
                jira._handle(self, "POST")

            def do_PUT(self) -> None:
                jira._handle(self, "PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # stop() waits for the serving loop to look at its flag: every 20 ms, not 0.5 s
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, method: str, pattern: str, status: int, *, times: int = 1,
             headers: dict | None = None) -> None:
        self.faults.append(Fault(method, pattern, status, times, dict(headers or {})))

    def mutations(self) -> list[dict]:
        """Requests that change something (create, edit, transition, comment)."""
        return [r for r in self.requests if r["method"] in ("POST", "PUT")
                and not r["path"].endswith(("/search", "/search/jql"))]

    def by_ticket(self, ticket_key: str) -> list[dict]:
        """Issues carrying ``ticket_key`` (as a label or in the custom field)."""
        return [i for i in self.issues.values()
                if ticket_key in i["fields"].get("labels", [])
                or i["fields"].get(self.custom_field) == ticket_key]

    def add_issue(self, fields: dict, status: str = "To Do") -> str:
        """An issue made by hand (e.g. an old CSV import)."""
        with self._lock:
            return self._store_new(dict(fields), status)

    # -- the HTTP side -----------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        record = {"method": method, "path": parts.path, "query": parse_qs(parts.query),
                  "raw": raw, "headers": dict(h.headers)}
        with self._lock:
            self.requests.append(record)
            fault = next((f for f in self.faults if f.times > 0 and f.method == method
                          and re.search(f.pattern, parts.path)), None)
            if fault is not None:
                fault.times -= 1
                self._send(h, fault.status, {"errorMessages": [f"injected {fault.status}"]},
                           fault.headers)
                return
            try:
                self._authorise(h)
                body = None
                if method in ("POST", "PUT"):
                    if not (h.headers.get("Content-Type") or "").startswith("application/json"):
                        raise BadRequest(415, {"errorMessages": ["Unsupported Media Type"]})
                    try:
                        body = json.loads(raw.decode("utf-8"))
                    except (UnicodeDecodeError, ValueError):
                        raise _bad("Unexpected character: the body is not JSON") from None
                    record["body"] = body
                status, answer = self._route(method, parts.path, parse_qs(parts.query), body)
            except BadRequest as exc:
                status, answer = exc.status, exc.body
        self._send(h, status, answer)

    def _send(self, h: BaseHTTPRequestHandler, status: int, answer: Any,
              headers: dict | None = None) -> None:
        data = b"" if answer is None else json.dumps(answer).encode("utf-8")
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if data:
            h.send_header("Content-Type", "application/json;charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _authorise(self, h: BaseHTTPRequestHandler) -> None:
        got = h.headers.get("Authorization") or ""
        if self.cloud:
            wanted = "Basic " + base64.b64encode(f"{self.user}:{self.token}".encode()).decode()
        else:
            wanted = f"Bearer {self.token}"
        if got != wanted:
            raise BadRequest(401, {"errorMessages": ["You are not authenticated. "
                                                     "Authentication required to perform this operation."]})

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        prefix = f"/rest/api/{self.api}/"
        if not path.startswith(prefix):
            return 404, {"errorMessages": [f"no REST resource {path}"]}
        tail = path[len(prefix):]
        if self.cloud and tail == "search" :
            return 410, {"errorMessages": ["The requested API has been removed. Please migrate "
                                           "to the /rest/api/3/search/jql API."]}
        if method == "POST" and tail == ("search/jql" if self.cloud else "search"):
            return 200, self._search(body)
        if method == "POST" and tail == "issue":
            return 201, self._create(body)
        if method == "GET" and tail == "user/search":
            return 200, self._user_search(query)
        m = re.fullmatch(r"issue/([A-Z][A-Z0-9]*-\d+)(/transitions|/comment)?", tail)
        if not m:
            return 404, {"errorMessages": [f"no REST resource {path}"]}
        issue = self.issues.get(m.group(1))
        if issue is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
        sub = m.group(2)
        if sub is None and method == "PUT":
            self._edit(issue, body)
            return 204, None
        if sub == "/transitions" and method == "GET":
            return 200, {"transitions": [self._transition_json(t) for t in self._offered(issue)]}
        if sub == "/transitions" and method == "POST":
            self._transition(issue, body)
            return 204, None
        if sub == "/comment" and method == "POST":
            return 201, self._comment(issue, body)
        return 405, {"errorMessages": ["Method Not Allowed"]}

    # -- search --------------------------------------------------------------------------------
    def _search(self, body: Any) -> dict:
        if not isinstance(body, dict) or not isinstance(body.get("jql"), str):
            raise _bad("Invalid request payload. Refer to the REST API documentation and try again.")
        allowed = ({"jql", "fields", "maxResults", "nextPageToken", "expand", "properties"}
                   if self.cloud else {"jql", "fields", "maxResults", "startAt", "expand"})
        if set(body) - allowed:
            raise _bad("Invalid request payload. Refer to the REST API documentation and try again.")
        fields = body.get("fields") or ["*navigable"]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise _bad("fields must be a list of field names")
        size = min(int(body.get("maxResults") or 50), self.page_size)
        matches = [i for i in sorted(self.issues.values(), key=lambda i: int(i["id"]))
                   if self._jql_match(body["jql"], i)]
        if self.cloud:
            token = body.get("nextPageToken")
            start = int(token) if token else 0
            page = matches[start:start + size]
            out: dict = {"issues": [self._issue_json(i, fields) for i in page]}
            if start + size < len(matches):
                out["nextPageToken"] = str(start + size)
            else:
                out["isLast"] = True
            return out
        start = int(body.get("startAt") or 0)
        page = matches[start:start + size]
        return {"startAt": start, "maxResults": size, "total": len(matches),
                "issues": [self._issue_json(i, fields) for i in page]}

    def _jql_match(self, jql: str, issue: dict) -> bool:
        f = issue["fields"]
        ok = True
        for clause in jql.split(" AND "):
            m = _CLAUSE.match(clause.strip())
            if not m:
                raise _bad(f"Error in the JQL Query: cannot parse {clause.strip()!r}")
            if m.group(1) == "project":
                ok &= f["project"]["key"] == _unquote(m.group(2))
            elif m.group(1) == "labels":
                ok &= _unquote(m.group(2)).casefold() in {x.casefold() for x in f.get("labels", [])}
            else:
                value = f.get(f"customfield_{m.group(3)}")
                if m.group(4) == "is not EMPTY":
                    ok &= bool(value)
                else:
                    ok &= bool(value) and _unquote(m.group(5)).casefold() in str(value).casefold()
        return ok

    def _issue_json(self, issue: dict, fields: list[str]) -> dict:
        f = issue["fields"]
        out: dict = {}
        for name in fields:
            if name == "status":
                sid, cat = STATUSES[issue["status"]]
                out["status"] = {"id": sid, "name": issue["status"],
                                 "statusCategory": {"key": cat}}
            elif name == "assignee":
                out["assignee"] = self._user_json(f.get("assignee"))
            elif name in f:
                out[name] = f[name]
            else:
                out[name] = None
        return {"id": issue["id"], "key": issue["key"],
                "self": f"{self.url}/rest/api/{self.api}/issue/{issue['id']}", "fields": out}

    def _user_json(self, user_id: str | None) -> dict | None:
        user = next((u for u in self.users if u.id == user_id), None)
        if user is None:
            return None
        if self.cloud:
            out = {"accountId": user.id, "displayName": user.display, "active": True}
        else:
            out = {"name": user.id, "key": user.id.lower(), "displayName": user.display,
                   "active": True}
        if not user.hidden_email:
            out["emailAddress"] = user.email
        return out

    # -- users ---------------------------------------------------------------------------------
    def _user_search(self, query: dict) -> list:
        param = "query" if self.cloud else "username"
        if param not in query or not query[param][0]:
            raise _bad(f"The '{param}' query parameter is required.")
        q = query[param][0].casefold()
        return [self._user_json(u.id) for u in self.users
                if u.email.casefold().startswith(q) or u.display.casefold().startswith(q)]

    # -- create and edit -------------------------------------------------------------------------
    def _check_field(self, name: str, value: Any) -> Any:
        if name == "summary":
            if not isinstance(value, str) or not value.strip() or len(value) > 255 or "\n" in value:
                raise _bad("Summary must be one line of at most 255 characters.", "summary")
        elif name == "description":
            if self.cloud:
                check_adf(value, "description")
                value = json.loads(json.dumps(value))
                for node in value["content"]:       # Jira adds attrs when it stores ADF
                    if node["type"] == "orderedList":
                        node.setdefault("attrs", {"order": 1})
            elif not isinstance(value, str):
                raise _bad("Operation value must be a string", "description")
        elif name == "priority":
            if not isinstance(value, dict) or value.get("name") not in PRIORITIES:
                raise _bad("The priority selected is invalid.", "priority")
            value = {"name": value["name"], "id": str(PRIORITIES.index(value["name"]) + 1)}
        elif name == "duedate":
            if value is not None and (not isinstance(value, str) or not DATE.match(value)):
                raise _bad("Error parsing date string: " + str(value), "duedate")
        elif name == "labels":
            if not isinstance(value, list) or not all(self._label_ok(x) for x in value):
                raise _bad("The label must not contain spaces and be at most 255 characters.", "labels")
        elif name == "assignee":
            key = "accountId" if self.cloud else "name"
            if value is not None and (not isinstance(value, dict) or set(value) != {key}
                                      or not any(u.id == value[key] for u in self.users)):
                raise _bad(f"User '{value}' does not exist.", "assignee")
            value = value[key] if value else None
        elif name == self.custom_field:
            if not isinstance(value, str):
                raise _bad("Operation value must be a string", name)
        else:
            raise _bad(f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown.",
                       name)
        return value

    @staticmethod
    def _label_ok(label: Any) -> bool:
        return isinstance(label, str) and 0 < len(label) <= 255 and not any(c.isspace() for c in label)

    def _create(self, body: Any) -> dict:
        if not isinstance(body, dict) or set(body) - {"fields", "update"} or not isinstance(body.get("fields"), dict):
            raise _bad("Invalid request payload: fields required")
        fields = dict(body["fields"])
        project = fields.pop("project", None)
        issuetype = fields.pop("issuetype", None)
        if not isinstance(project, dict) or project.get("key") != self.project:
            raise _bad("valid project is required", "project")
        if not isinstance(issuetype, dict) or issuetype.get("name") not in ISSUE_TYPES:
            raise _bad("The issue type selected is invalid.", "issuetype")
        if "summary" not in fields:
            raise _bad("You must specify a summary of the issue.", "summary")
        checked = {name: self._check_field(name, value) for name, value in fields.items()}
        checked["project"] = {"key": self.project}
        checked["issuetype"] = {"name": issuetype["name"]}
        key = self._store_new(checked, "To Do")
        issue = self.issues[key]
        return {"id": issue["id"], "key": key, "self": f"{self.url}/rest/api/{self.api}/issue/{issue['id']}"}

    def _store_new(self, fields: dict, status: str) -> str:
        number = self._next
        self._next += 1
        key = f"{self.project}-{number}"
        fields.setdefault("labels", [])
        self.issues[key] = {"id": str(10000 + number), "key": key, "fields": fields,
                            "status": status, "comments": []}
        return key

    def _edit(self, issue: dict, body: Any) -> None:
        if not isinstance(body, dict) or not body or set(body) - {"fields", "update"}:
            raise _bad("Invalid request payload: give fields and/or update")
        fields = body.get("fields") or {}
        update = body.get("update") or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise _bad("fields and update must be objects")
        both = set(fields) & set(update)
        if both:
            raise _bad(f"Field {sorted(both)[0]} appears in both fields and update")
        if set(fields) & {"project", "issuetype"}:
            raise _bad("project and issue type cannot be edited here")
        checked = {name: self._check_field(name, value) for name, value in fields.items()}
        labels = list(issue["fields"].get("labels", []))
        for name, ops in update.items():
            if name != "labels" or not isinstance(ops, list):
                raise _bad(f"Field '{name}' cannot be updated that way.", name)
            for op in ops:
                if not isinstance(op, dict) or len(op) != 1 or next(iter(op)) not in ("add", "remove", "set"):
                    raise _bad("Each label operation is one of add, remove, set.", "labels")
                verb, value = next(iter(op.items()))
                if verb == "set":
                    if not isinstance(value, list) or not all(self._label_ok(x) for x in value):
                        raise _bad("bad label", "labels")
                    labels = list(value)
                    continue
                if not self._label_ok(value):
                    raise _bad("The label must not contain spaces.", "labels")
                if verb == "add" and value not in labels:
                    labels.append(value)
                elif verb == "remove" and value in labels:
                    labels.remove(value)
        issue["fields"].update(checked)
        issue["fields"]["labels"] = labels

    # -- workflow and comments -------------------------------------------------------------------
    def _offered(self, issue: dict) -> list[tuple[str, str, str]]:
        return TRANSITIONS[STATUSES[issue["status"]][1]]

    def _transition_json(self, t: tuple[str, str, str]) -> dict:
        tid, name, to = t
        sid, cat = STATUSES[to]
        return {"id": tid, "name": name, "hasScreen": False,
                "to": {"id": sid, "name": to, "statusCategory": {"key": cat}}}

    def _transition(self, issue: dict, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("transition"), dict) \
                or not isinstance(body["transition"].get("id"), str):
            raise _bad("Missing 'transition' identifier")
        tid = body["transition"]["id"]
        match = next((t for t in self._offered(issue) if t[0] == tid), None)
        if match is None:
            raise _bad(f"Transition id '{tid}' is not valid for this issue.")
        issue["status"] = match[2]
        issue.setdefault("transitions", []).append(match[1])

    def _comment(self, issue: dict, body: Any) -> dict:
        if not isinstance(body, dict) or set(body) - {"body", "visibility", "properties"} or "body" not in body:
            raise _bad("Comment body can not be empty!")
        if self.cloud:
            check_adf(body["body"], "body")
        elif not isinstance(body["body"], str) or not body["body"].strip():
            raise _bad("Comment body can not be empty!")
        comment = {"id": str(20000 + len(self.requests)), "body": body["body"]}
        issue["comments"].append(comment)
        return comment
