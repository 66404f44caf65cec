"""A small LMS on 127.0.0.1 built on the ``lti1p3platform`` package, for testing the tool over real HTTP.

It does what an LMS does in an LTI 1.3 Advantage exchange: starts OIDC logins, signs
id_tokens (resource-link and deep-linking launches), publishes its JWKS, issues
OAuth2 access tokens to the tool (checking the tool's signed client assertion
against the tool's JWKS URL), stores line items and scores (AGS), serves a roster
(NRPS) and receives Deep Linking responses (checked against the tool's JWKS).

``lti1p3platform.framework`` needs ``pkg_resources`` (gone from current setuptools),
so the framework-neutral classes are used with a plain ``http.server``.
"""

from __future__ import annotations

import html
import json
import threading
import typing as t
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.exceptions import LineItemNotFoundException, LtiException
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    NamesRoleProvisioningService,
)

LIS = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTRUCTOR = [f"{LIS}Instructor"]
TA = [f"{LIS}Instructor", "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"]
LEARNER = [f"{LIS}Learner"]


def _rsa_pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class Scenario:
    """One launch the platform will perform (looked up by the OIDC lti_message_hint)."""

    user_id: str
    roles: list[str]
    context_id: str = "course-101"
    context_title: str = "Biology 101"
    resource_link_id: str = "rl-1"
    deep_link: bool = False
    custom: dict[str, str] = field(default_factory=dict)
    lineitem_url: str | None = None
    name: str = ""
    email: str = ""
    # Tampering knobs for the negative tests.
    claims: dict[str, t.Any] = field(default_factory=dict)
    expires_in: int = 300
    resign_with_other_key: bool = False
    deployment_id: str | None = None


class _RawRequest(Request):
    def build_metadata(self, request: dict) -> dict:
        return request


class _Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: t.Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class _Launch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict, **kwargs: t.Any) -> dict:
        return launch_data


class _Conf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: t.Any) -> None:
        self._platform = kwargs["platform"]
        self._deployment_id = kwargs.get("deployment_id")

    def get_registration_by_params(self, **kwargs: t.Any) -> Registration:
        return self._platform.registration(deployment_id=self._deployment_id)


class _Ags(AssignmentsGradesService):
    def __init__(self, request, platform: TestPlatform, context_id: str) -> None:
        conf = _Conf(platform=platform)
        conf.get_registration()
        super().__init__(request, conf, lineitems_url=platform.lineitems_url(context_id))
        self.platform = platform
        self.context_id = context_id

    def _items(self) -> dict[str, dict]:
        return self.platform.line_items.setdefault(self.context_id, {})

    def find_lineitems(
        self, page=1, limit=None, line_item_id=None, resource_link_id=None, resource_id=None, tag=None, **kwargs
    ):
        items = [
            i
            for i in self._items().values()
            if (resource_id is None or i.get("resourceId") == resource_id)
            and (resource_link_id is None or i.get("resourceLinkId") == resource_link_id)
            and (tag is None or i.get("tag") == tag)
        ]
        return {"content": items, "has_next": False}

    def find_lineitem(self, line_item_id):
        if line_item_id not in self._items():
            raise LineItemNotFoundException(line_item_id)
        return self._items()[line_item_id]

    def create_lineitem(self, creation_data):
        return self.platform.line_item_add(self.context_id, dict(creation_data))

    def update_lineitem(self, update_data):
        item = self.find_lineitem(update_data["id"])
        item.update(update_data)
        return item

    def delete_lineitem(self, line_item_id):
        self._items().pop(line_item_id, None)

    def update_score(self, line_item_id, score):
        self.find_lineitem(line_item_id)
        with self.platform.lock:
            if self.platform.score_failures:
                status = self.platform.score_failures.pop(0)
                raise _HttpError(status, f"platform says {status}")
            self.platform.scores.append({"line_item": line_item_id, **score})
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id, page=1, limit=None, user_id=None):
        return {"content": [], "has_next": False}


class _Nrps(NamesRoleProvisioningService):
    def __init__(self, request, platform: TestPlatform, context_id: str) -> None:
        conf = _Conf(platform=platform)
        conf.get_registration()
        super().__init__(request, conf, platform.memberships_url(context_id))
        self.platform = platform
        self.context_id = context_id

    def get_member_data_page(self, page=1, limit=None, role=None, since=None, **kwargs):
        return {"content": [dict(m) for m in self.platform.members.get(self.context_id, [])], "has_next": False}

    def get_context_by_id(self) -> Context:
        return Context(id=self.context_id, label=self.context_id, title=self.context_id)


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class TestPlatform:
    """The LMS. ``tool_*`` URLs are filled in by the test once the tool's live server runs."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.client_id = "eduplatform-tool-client"
        self.deployment_id = "deployment-1"
        self.private_key, self.public_key = _rsa_pem_pair()
        self.other_private_key, _ = _rsa_pem_pair()
        self.tool_login_url = self.tool_launch_url = self.tool_jwks_url = ""
        self.scenarios: dict[str, Scenario] = {}
        self.line_items: dict[str, dict[str, dict]] = {}
        self.scores: list[dict] = []
        self.score_failures: list[int] = []  # statuses to answer the next score posts with
        self.members: dict[str, list[dict]] = {}
        self.deep_link_items: list[dict] = []
        self.placed_links: list[dict] = []  # resource links created from deep-link items
        self.token_requests = 0
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.issuer = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> TestPlatform:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- configuration the tool registers -----------------------------------------------------
    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.url}/ags/{context_id}/lineitems"

    def memberships_url(self, context_id: str) -> str:
        return f"{self.url}/nrps/{context_id}/memberships"

    def registration(self, deployment_id: str | None = None) -> Registration:
        return (
            Registration()
            .set_iss(self.issuer)
            .set_client_id(self.client_id)
            .set_deployment_id(deployment_id or self.deployment_id)
            .set_oidc_login_url(self.tool_login_url)
            .set_launch_url(self.tool_launch_url)
            .set_deeplink_launch_url(self.tool_launch_url)
            .set_platform_public_key(self.public_key)
            .set_platform_private_key(self.private_key)
            .set_tool_key_set_url(self.tool_jwks_url)
        )

    # --- test helpers -------------------------------------------------------------------------
    def start_url(self, scenario: Scenario) -> str:
        """The link a user clicks in the LMS."""
        hint = uuid.uuid4().hex
        self.scenarios[hint] = scenario
        return f"{self.url}/start?{urlencode({'hint': hint})}"

    def line_item_add(self, context_id: str, data: dict) -> dict:
        with self.lock:
            items = self.line_items.setdefault(context_id, {})
            item_id = f"{self.lineitems_url(context_id)}/{len(items) + 1}"
            items[item_id] = {**data, "id": item_id}
            return items[item_id]

    # --- endpoints ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, form: dict, body_json, headers) -> tuple[int, str, str]:
        req = _RawRequest(
            {
                "method": method,
                "form_data": form,
                "get_data": dict(query),
                "headers": headers,
                "content_type": headers.get("Content-Type"),
                "path": path,
                "json": body_json,
            }
        )
        parts = [p for p in path.split("/") if p]
        if path == "/start":
            return self._start(req, query)
        if path == "/auth":
            return self._auth(req, query)
        if path == "/jwks":
            return _json(200, {"keys": self.registration().get_jwks()})
        if path == "/token" and method == "POST":
            return self._token(form)
        if path == "/deep_link_return" and method == "POST":
            return self._deep_link_return(form)
        if parts[:1] == ["ags"] and len(parts) >= 3:
            return self._ags(req, method, parts)
        if parts[:1] == ["nrps"] and len(parts) == 3:
            svc = _Nrps(req, self, parts[1])
            return _service(svc.handle_resp(svc.handle_get_members))
        return _json(404, {"error": f"no route {method} {path}"})

    def _start(self, req, query) -> tuple[int, str, str]:
        scenario = self.scenarios[query["hint"]]
        login = _Login(req, _Conf(platform=self, deployment_id=scenario.deployment_id))
        login.set_lti_message_hint(hint=query["hint"])
        return 302, login.initiate_login(scenario.user_id), ""

    def _auth(self, req, query) -> tuple[int, str, str]:
        scenario = self.scenarios.get(query.get("lti_message_hint", ""))
        if scenario is None:
            return _json(400, {"error": "unknown lti_message_hint"})
        launch = _Launch(req, _Conf(platform=self, deployment_id=scenario.deployment_id))
        launch.set_user_data(
            scenario.user_id, scenario.roles, full_name=scenario.name or None, email_address=scenario.email or None
        )
        launch.set_launch_context_claim(
            scenario.context_id,
            ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            scenario.context_title,
            scenario.context_id.upper(),
        )
        if scenario.deep_link:
            launch.set_dl(
                f"{self.url}/deep_link_return",
                title="Add content",
                accept_types={"ltiResourceLink"},
                extra_data={"opaque": "platform-state-42"},
            )
        else:
            launch.set_resource_link_claim(scenario.resource_link_id, title="Assignment link")
        if scenario.custom:
            launch.set_custom_parameters_claim(scenario.custom)
        launch.set_ags(self.lineitems_url(scenario.context_id), scenario.lineitem_url, allow_creating_lineitems=True)
        launch.set_nrps(self.memberships_url(scenario.context_id))
        launch.set_id_token_expiration(scenario.expires_in)
        try:
            data = launch.lti_launch()
        except Exception as exc:  # noqa: BLE001 - a bad preflight (wrong client_id, no nonce): the LMS says so
            return _json(400, {"error": f"preflight refused: {exc!r}"})
        id_token = data["id_token"]
        if scenario.claims or scenario.resign_with_other_key:
            header = jwt.get_unverified_header(id_token)
            payload = {**jwt.decode(id_token, options={"verify_signature": False}), **scenario.claims}
            key = self.other_private_key if scenario.resign_with_other_key else self.private_key
            id_token = jwt.encode(payload, key, algorithm="RS256", headers={"kid": header["kid"]})
        return 200, "", _auto_form(data["launch_url"], {"id_token": id_token, "state": data["state"]})

    def _token(self, form: dict) -> tuple[int, str, str]:
        with self.lock:
            self.token_requests += 1
        conf = _Conf(platform=self)
        conf.get_registration()
        try:
            return _json(200, conf.get_access_token(form))
        except Exception as exc:  # noqa: BLE001 - the tool's client assertion did not check out
            return _json(400, {"error": "invalid_client", "error_description": repr(exc)})

    def _deep_link_return(self, form: dict) -> tuple[int, str, str]:
        conf = _Conf(platform=self)
        conf.get_registration()
        try:
            payload = conf.tool_validate_and_decode(form["JWT"])
            items = conf.validate_deeplinking_resp(form)
        except Exception as exc:  # noqa: BLE001
            return _json(400, {"error": f"deep linking response refused: {exc!r}"})
        with self.lock:
            self.deep_link_items.extend(items)
            self.deep_link_data = payload.get("https://purl.imsglobal.org/spec/lti-dl/claim/data")
        for item in items:  # like an LMS: place each link, create its gradebook column
            link_id = f"rl-dl-{len(self.placed_links) + 1}"
            line_item = None
            if item.get("lineItem"):
                line_item = self.line_item_add("course-101", {**item["lineItem"], "resourceLinkId": link_id})
            self.placed_links.append(
                {
                    "resource_link_id": link_id,
                    "custom": item.get("custom") or {},
                    "lineitem_url": line_item["id"] if line_item else None,
                    "title": item.get("title"),
                }
            )
        return 200, "", "<p>Content added to the course.</p>"

    def _ags(self, req, method: str, parts: list[str]) -> tuple[int, str, str]:
        svc = _Ags(req, self, parts[1])
        try:
            if len(parts) == 3 and method == "GET":
                return _service(svc.handle_resp(svc.handle_get_lineitems))
            if len(parts) == 3 and method == "POST":
                return _service(svc.handle_resp(svc.handle_create_lineitem))
            line_item_id = f"{self.lineitems_url(parts[1])}/{parts[3]}"
            if len(parts) == 4:
                return _service(svc.handle_resp(svc.handle_get_lineitem, line_item_id=line_item_id))
            if len(parts) == 5 and parts[4] == "scores":
                return _service(svc.handle_resp(svc.handle_update_score, line_item_id=line_item_id))
        except _HttpError as exc:
            return _json(exc.status, {"error": str(exc)})
        except LtiException as exc:
            return _json(400, {"error": str(exc)})
        return _json(404, {"error": "no such AGS route"})


def _json(status: int, data) -> tuple[int, str, str]:
    return status, "application/json", json.dumps(data)


def _service(resp) -> tuple[int, str, str]:
    if 200 <= resp.code < 300:
        data = resp.result["content"] if isinstance(resp.result, dict) and "content" in resp.result else resp.result
        return resp.code, resp.media_type, json.dumps(data) if data is not None else ""
    return resp.code, "application/json", json.dumps({"error": resp.message})


def _auto_form(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    return (
        f'<form id="f" method="POST" action="{html.escape(action)}">{inputs}</form>'
        '<script>document.getElementById("f").submit()</script>'
    )


def _handler_for(platform: TestPlatform):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _dispatch(self, method: str) -> None:
            split = urlsplit(self.path)
            query = dict(parse_qsl(split.query))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ctype = self.headers.get("Content-Type") or ""
            form = dict(parse_qsl(raw.decode())) if "form-urlencoded" in ctype else {}
            body_json = json.loads(raw) if raw and "json" in ctype else None
            try:
                status, ctype_or_location, body = platform.handle(
                    method, split.path, query, form, body_json, self.headers
                )
            except Exception as exc:  # noqa: BLE001 - surface platform bugs as 500 with the reason
                status, ctype_or_location, body = 500, "text/plain", repr(exc)
            self.send_response(status)
            if status in (301, 302, 303):
                self.send_header("Location", ctype_or_location)
                ctype_or_location = "text/html"
            self.send_header("Content-Type", ctype_or_location or "text/html; charset=utf-8")
            data = body.encode()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

    return Handler
