"""A small fake Canvas LMS: the REST endpoints ``zengrad-kit lms canvas-push`` uses, over real HTTP on 127.0.0.1.

Endpoints (as Canvas's API documents them): ``GET /api/v1/courses/:id``,
``GET /api/v1/courses/:id/users`` and ``/search_users`` (``enrollment_type[]``),
``GET /api/v1/courses/:id/assignments``,
``GET /api/v1/courses/:id/assignments/:aid/submissions``, ``GET`` and ``PUT
/api/v1/courses/:id/assignments/:aid/submissions/:user_id`` (form field ``submission[posted_grade]``).
Lists are paginated with ``Link: <...>; rel="next"`` (``per_page``, default 10). A bad bearer token
gets 401 with ``WWW-Authenticate``; unknown ids 404. ``throttle(n, retry_after)`` makes the next
``n`` requests answer 429 with that ``Retry-After``. Every request is logged (``requests``).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "fake-canvas-token"


@dataclass
class FakeCanvas:
    course_id: int
    users: list[dict[str, Any]]  # id, name, login_id, sis_user_id, email
    assignments: list[dict[str, Any]]  # id, name, points_possible
    scores: dict[tuple[int, int], float | None] = field(default_factory=dict)  # (assignment id, user id) -> score
    excused: set[tuple[int, int]] = field(default_factory=set)  # (assignment id, user id)
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status)
    throttled: int = 0
    retry_after: str = "1"
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def throttle(self, n: int, retry_after: str = "1") -> None:
        with self.lock:
            self.throttled, self.retry_after = n, retry_after

    def count(self, method: str | None = None, status: int | None = None) -> int:
        return sum(1 for m, _, s in self.requests
                   if (method is None or m == method) and (status is None or s == status))

    def submission(self, aid: int, uid: int) -> dict[str, Any]:
        score = self.scores.get((aid, uid))
        return {"id": aid * 100000 + uid, "assignment_id": aid, "user_id": uid, "score": score,
                "grade": None if score is None else f"{score:g}",
                "workflow_state": "unsubmitted" if score is None else "graded", "excused": (aid, uid) in self.excused}

    def start(self) -> FakeCanvas:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _handler(fake: FakeCanvas) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            fake.requests.append((self.command, urlsplit(self.path).path, status))

        def _page(self, items: list[Any], query: dict[str, list[str]]) -> None:
            per_page = int(query.get("per_page", ["10"])[0])
            page = int(query.get("page", ["1"])[0])
            chunk = items[(page - 1) * per_page: page * per_page]
            headers = {}
            if page * per_page < len(items):
                rest = {k: v for k, v in query.items() if k != "page"}
                nxt = urlencode({**{k: v[0] for k, v in rest.items() if len(v) == 1}, "page": page + 1})
                headers["Link"] = f'<{fake.url}{urlsplit(self.path).path}?{nxt}>; rel="next"'
            self._send(200, chunk, headers)

        def _route(self) -> None:
            with fake.lock:
                if fake.throttled > 0:
                    fake.throttled -= 1
                    self._send(429, {"errors": [{"message": "Rate Limit Exceeded"}]},
                               {"Retry-After": fake.retry_after})
                    return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"errors": [{"message": "Invalid access token."}]},
                           {"WWW-Authenticate": 'Bearer realm="canvas-lms"'})
                return
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if self.command == "PUT":
                length = int(self.headers.get("Content-Length") or 0)
                query.update(parse_qs(self.rfile.read(length).decode()))
            seg = parts.path.strip("/").split("/")
            not_found = {"errors": [{"message": "The specified resource does not exist."}]}
            if seg[:3] != ["api", "v1", "courses"] or len(seg) < 4 or seg[3] != str(fake.course_id):
                self._send(404, not_found)
                return
            rest = seg[4:]
            aids = {a["id"]: a for a in fake.assignments}
            uids = {u["id"] for u in fake.users}
            if not rest and self.command == "GET":
                self._send(200, {"id": fake.course_id, "name": "zengrad"})
            elif rest in (["users"], ["search_users"]) and self.command == "GET":  # canvasapi uses the latter
                self._page(fake.users, query)
            elif rest == ["assignments"] and self.command == "GET":
                self._page([{**a, "course_id": fake.course_id} for a in fake.assignments], query)
            elif len(rest) >= 3 and rest[0] == "assignments" and rest[2] == "submissions" and rest[1].isdigit() \
                    and int(rest[1]) in aids:
                aid = int(rest[1])
                if len(rest) == 3 and self.command == "GET":
                    self._page([fake.submission(aid, u["id"]) for u in fake.users], query)
                elif len(rest) == 4 and rest[3].isdigit() and int(rest[3]) in uids:
                    uid = int(rest[3])
                    if self.command == "PUT":
                        grade = query.get("submission[posted_grade]", [""])[0]
                        fake.scores[(aid, uid)] = float(grade) if grade != "" else None
                    self._send(200, fake.submission(aid, uid))
                else:
                    self._send(404, not_found)
            else:
                self._send(404, not_found)

        do_GET = do_PUT = _route  # noqa: N815 - http.server's naming

    return Handler
