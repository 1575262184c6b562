# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft Graph over msal and requests: token, retries and throttling, paging, $batch.

Internal to the collection; no stable API. I/O only: queries are built in ``_graph_query``,
retry decisions made in ``_graph_retry``, errors typed in ``_graph_errors``.

One ``requests`` session carries every call, msal's token requests included, so TLS
settings apply everywhere. msal keeps the token and hands out a new one near expiry.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import (
    ConfigurationError,
    HybridIdentityError,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_auth import credential_for
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_clouds import (
    CLOUDS,
    PUBLIC_AUTHORITY_HOST,
    PUBLIC_GRAPH_ENDPOINT,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_errors import (
    GraphError,
    GraphUnreachable,
    Throttled,
    graph_error,
    header,
    token_error,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_query import MAX_BATCH, chunked, query_string
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_retry import (
    RetryPolicy,
    next_wait,
    retry_after_seconds,
    retryable,
)

try:
    import msal  # pylint: disable=unused-import  # imported so that the modules report it missing
    import requests
    from msal.exceptions import MsalServiceError

    GRAPH_IMPORT_ERROR = None
except ImportError as import_error:  # reported by the module with missing_required_lib
    msal = requests = None
    MsalServiceError = RuntimeError  # never raised: the module stops at missing_required_lib first
    GRAPH_IMPORT_ERROR = import_error

API_VERSION = "v1.0"
TIMEOUT = (10, 60)  # seconds to connect, seconds between bytes of the answer
USER_AGENT = "hybrid.identity (Ansible collection)"
# msal keeps a throttled (429) or failed (5xx) token answer this many seconds when it names no Retry-After,
# and answers from that memory until then: a token retry waits at least as long.
MSAL_THROTTLE_SECONDS = 5.0
# A token answer with one of these statuses is the identity platform being busy, not a refusal.
TRANSIENT_TOKEN_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class GraphSettings:
    """The Graph connection options (doc fragment ``hybrid.identity.graph_auth``), checked."""

    tenant_id: str
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    client_certificate: str | None = None
    client_certificate_password: str | None = field(default=None, repr=False)
    federated_token_file: str | None = None
    managed_identity: str | None = None
    authority_host: str = PUBLIC_AUTHORITY_HOST
    graph_endpoint: str = PUBLIC_GRAPH_ENDPOINT
    ca_cert: str | None = None
    validate_certs: bool = True

    def __post_init__(self) -> None:
        if not self.tenant_id:
            raise ConfigurationError("tenant_id is not set", hint="set tenant_id or AZURE_TENANT_ID")
        # A system-assigned managed identity is the host's own: it has no client ID to give.
        if not self.client_id and self.managed_identity != "system":
            raise ConfigurationError("client_id is not set", hint="set client_id or AZURE_CLIENT_ID")
        object.__setattr__(self, "authority_host", _service_root("authority_host", self.authority_host))
        object.__setattr__(self, "graph_endpoint", _service_root("graph_endpoint", self.graph_endpoint))

    @classmethod
    def from_params(cls, params: Mapping) -> GraphSettings:
        cloud = cloud_endpoints(params.get("cloud"))
        return cls(
            tenant_id=params["tenant_id"],
            client_id=params.get("client_id"),
            client_secret=params.get("client_secret"),
            client_certificate=params.get("client_certificate"),
            client_certificate_password=params.get("client_certificate_password"),
            federated_token_file=params.get("federated_token_file"),
            managed_identity=params.get("managed_identity"),
            # Endpoints given explicitly (or through their environment variables) win over the cloud's.
            authority_host=params.get("authority_host") or cloud.authority_host,
            graph_endpoint=params.get("graph_endpoint") or cloud.graph_endpoint,
            ca_cert=params.get("graph_ca_cert"),
            validate_certs=params.get("graph_validate_certs", True),
        )

    @property
    def verify(self) -> bool | str:
        """What requests checks the server against: the CA file, the default trust store, or nothing."""
        if not self.validate_certs:
            return False
        return self.ca_cert or True

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def scope(self) -> str:
        # National clouds name their own Graph host in the scope (Graph "national cloud deployments").
        return f"{self.graph_endpoint}/.default"


def cloud_endpoints(name: str | None):
    """The identity platform and Graph of the named cloud; the public cloud when none is named."""
    if name is None or name == "":
        return CLOUDS["public"]
    try:
        return CLOUDS[name]
    except KeyError:
        raise ConfigurationError(f"cloud {name!r} is not one of {', '.join(CLOUDS)}",
                                 hint="name the tenant's cloud, or set authority_host and graph_endpoint") from None


def _service_root(option: str, url: str) -> str:
    # A bare host is https, as in azure-identity's AZURE_AUTHORITY_HOST constants (login.microsoftonline.us).
    parts = urlsplit(url if "://" in (url or "") else f"https://{url or ''}")
    # rule book §8: msal needs an https authority; a bearer token never goes over plain http either.
    if parts.scheme != "https" or not parts.netloc or parts.path.strip("/") or parts.query:
        raise ConfigurationError(f"{option} must be an https service root such as https://host, not {url!r}",
                                 hint=f"give only scheme and host in {option} (no tenant, no /v1.0)")
    # Host names compare without case; Graph writes its next links in lower case.
    return f"https://{parts.netloc.lower()}"


@dataclass(frozen=True)
class BatchRequest:
    """One request inside a $batch; ``url`` is relative to the API version (``/users?$filter=...``)."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    listing: bool = False  # the answer is a page of a collection: a body without a value list is retried

    def as_json(self, request_id: str) -> dict:
        entry = {"id": request_id, "method": self.method, "url": self.url}
        if self.headers:
            entry["headers"] = dict(self.headers)
        return entry


@dataclass(frozen=True)
class BatchResponse:
    status: int
    headers: Mapping[str, str]
    body: object

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


if requests is not None:

    class GraphHttpSession(requests.Session):
        """A requests session with a timeout on every call and its own ``verify`` on every call.

        Passing ``verify`` each time keeps a ``REQUESTS_CA_BUNDLE`` in the environment from
        overriding ``graph_ca_cert`` (requests prefers it to the session's setting).
        """

        def __init__(self, verify: bool | str, watched_host: str = "") -> None:
            super().__init__()
            self.verify = verify
            self.headers["User-Agent"] = USER_AGENT
            self.watched_host = watched_host
            # (status, Retry-After) of the newest answer from watched_host: msal hides both from its caller
            self.last_watched: tuple[int, str | None] | None = None

        def request(self, method, url, **kwargs):
            kwargs.setdefault("timeout", TIMEOUT)
            kwargs.setdefault("verify", self.verify)
            response = super().request(method, url, **kwargs)
            if self.watched_host and url.startswith(self.watched_host):
                self.last_watched = (response.status_code, response.headers.get("Retry-After"))
            return response


class GraphClient:
    """Microsoft Graph v1.0 for one app in one tenant. Use as a context manager, or call ``close()``."""

    def __init__(self, settings: GraphSettings, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self._credential = credential_for(settings)
        self._session = GraphHttpSession(settings.verify, watched_host=f"{settings.authority_host}/")
        self._random = random.Random()  # noqa: S311 - backoff jitter, not a secret

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # --- token --------------------------------------------------------------------------

    def token(self) -> str:
        """An access token for Graph; msal serves it from its cache until it is close to expiry.

        rule book §8: a busy identity platform (429, 5xx, for the tenant's discovery or the token
        itself) is asked again after its Retry-After, within the retry policy; a refusal is not.
        """
        started = time.monotonic()
        # Not cleared between tries: msal answers a retry from its memory of the busy answer, without a request.
        self._session.last_watched = None
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                result = self._network("the identity platform", self._acquire_token)
            except _BusyIdentityPlatform:
                result = None
            if result is not None and "access_token" in result:
                return result["access_token"]
            busy = self._busy_identity_answer()
            if busy is None:
                if result is None:  # pragma: no cover - _BusyIdentityPlatform is raised only when busy
                    raise GraphError("the identity platform failed without an answer")
                credential = self._credential
                raise token_error(result, self.settings.client_id or "(system-assigned)", credential.label,
                                  self.settings.client_secret, hint=credential.refused_hint)
            status, asked = busy
            wait = next_wait(self.retry, attempt, time.monotonic() - started,
                             max(asked if asked is not None else MSAL_THROTTLE_SECONDS, 0.0), self._random.random())
            if wait is None:
                break
            time.sleep(wait)
        raise Throttled(f"the identity platform at {self.settings.authority_host} still answered {status} after "
                        f"{attempt} tries in {time.monotonic() - started:.0f} s",
                        hint="the identity platform is busy or throttling this application: run again later",
                        status=status)

    def _busy_identity_answer(self) -> tuple[int, float | None] | None:
        """(status, Retry-After seconds) when the newest identity-platform answer was a busy one, else None."""
        answer = self._session.last_watched
        if answer is None or answer[0] not in TRANSIENT_TOKEN_STATUSES:
            return None
        return answer[0], retry_after_seconds(answer[1])

    def _acquire_token(self) -> dict:
        try:
            return self._credential.acquire_token(self.settings, self._session)
        except (HybridIdentityError, ValueError, MsalServiceError):
            # msal raises on a 5xx answer, and a failed tenant discovery reads as an unknown tenant: when the
            # session saw the identity platform busy, it is that, whatever msal made of it.
            if self._busy_identity_answer() is None:
                raise
            raise _BusyIdentityPlatform() from None

    # --- requests -----------------------------------------------------------------------

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        query = f"?{query_string(params)}" if params else ""
        return f"{self.settings.graph_endpoint}/{API_VERSION}{path}{query}"

    def get(self, path: str, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None) -> dict:
        """One GET, retried as needed; the JSON body, or a typed error."""
        return self._json("GET", path, self._send("GET", self.url(path, params), headers))

    def send(self, method: str, path: str, body: Mapping | None = None) -> dict:
        """``method`` (PATCH, POST) on ``path`` with ``body`` as JSON; the answer, ``{}`` for 204.

        rule book §8: a 429 is retried after its ``Retry-After`` like a read; a write is never
        replayed after a dropped connection, since Graph may have acted on it.
        """
        json_body = dict(body) if body is not None else None
        return self._json(method, path, self._send(method, self.url(path), json_body=json_body))

    def pages(self, path: str, params: Mapping[str, str] | None = None,
              headers: Mapping[str, str] | None = None) -> Iterator[list]:
        """The ``value`` of every page of a collection, following ``@odata.nextLink`` to the end."""
        yield from self.following(self.first_page(path, params, headers), path, headers)

    def first_page(self, path: str, params: Mapping[str, str] | None = None,
                   headers: Mapping[str, str] | None = None) -> dict:
        """The first page of a listing, whole (``@odata.count`` included), fetched again while it is not a page."""
        return self._listing_page(path, self.url(path, params), headers)

    def following(self, page: Mapping, path: str, headers: Mapping[str, str] | None = None) -> Iterator[list]:
        """The ``value`` of ``page`` and of every page after it.

        rule book §8: the next link is used whole, and headers such as ``ConsistencyLevel``
        go with every page. A page that is not a listing (no ``value`` list) is fetched again
        and then fails the read: it never ends a listing early.
        """
        seen: set[str] = set()
        while True:
            problem = page_problem(page)
            if problem:
                raise MalformedAnswer(f"GET {path}: Microsoft Graph answered {problem} where a page of the listing "
                                      "was due", hint=MALFORMED_HINT)
            yield page["value"]
            link = page.get("@odata.nextLink")
            if not link:
                return
            self._check_next_link(link, seen)
            page = self._listing_page(path, link, headers)

    def count(self, path: str) -> int:
        """The ``$count`` of a collection (an advanced query: ``ConsistencyLevel: eventual``)."""
        url = self.url(f"{path}/$count")
        started = time.monotonic()
        for attempt in range(1, self.retry.max_attempts + 1):
            response = self._send("GET", url, {"ConsistencyLevel": "eventual", "Accept": "text/plain"})
            if response.status_code >= 400:
                raise self._error("GET", f"{path}/$count", response)
            text = response.text.strip()
            if text.isdigit():
                return int(text)
            if not self._wait_after_malformed(attempt, started):
                break
        raise MalformedAnswer(f"GET {path}/$count: Microsoft Graph answered {text[:60]!r}, not a number, "
                              f"{attempt} times", hint=MALFORMED_HINT)

    def _listing_page(self, path: str, url: str, headers: Mapping[str, str] | None) -> dict:
        """One page of a listing, fetched again (within the retry policy) while its body is not a listing."""
        started = time.monotonic()
        for attempt in range(1, self.retry.max_attempts + 1):
            response = self._send("GET", url, headers)
            if response.status_code >= 400:
                raise self._error("GET", path, response)
            problem, page = answer_problem(response)
            problem = problem or page_problem(page)
            if problem is None:
                return page
            if not self._wait_after_malformed(attempt, started):
                break
        raise MalformedAnswer(f"GET {path}: Microsoft Graph answered {problem} where a page of the listing was due, "
                              f"{attempt} times; the listing is incomplete, so nothing is concluded from it",
                              hint=MALFORMED_HINT, status=response.status_code,
                              request_id=response.headers.get("request-id") or "")

    def _wait_after_malformed(self, attempt: int, started: float) -> bool:
        """Sleep before fetching a malformed answer again; False when the policy says to stop."""
        wait = next_wait(self.retry, attempt, time.monotonic() - started, None, self._random.random())
        if wait is None:
            return False
        time.sleep(wait)
        return True

    def _check_next_link(self, link: str, seen: set[str]) -> None:
        # The token goes with the next request: only to our own Graph endpoint, and never in a circle.
        if not link.startswith(f"{self.settings.graph_endpoint}/"):
            raise GraphError(f"Graph sent a next page link outside {self.settings.graph_endpoint}: {link[:200]}",
                             hint="check graph_endpoint")
        if link in seen:
            raise GraphError("Graph sent the same next page link twice", hint="report it with the request-id")
        seen.add(link)

    def batch(self, batch_requests: Sequence[BatchRequest]) -> list[BatchResponse]:
        """The answers to many requests, in request order, sent through $batch at most 20 at a time.

        rule book §8: inner requests are throttled on their own, so only the inner requests that
        came back 429/503/504 are sent again, after their ``Retry-After``.
        """
        answers: list[BatchResponse] = []
        for chunk in chunked(batch_requests, MAX_BATCH):
            answers += self._batch_chunk(chunk)
        return answers

    def _batch_chunk(self, chunk: list[BatchRequest]) -> list[BatchResponse]:
        answers: dict[int, BatchResponse] = {}
        pending = list(range(len(chunk)))
        replay_safe = all(request.method == "GET" for request in chunk)
        started = time.monotonic()
        for attempt in range(1, self.retry.max_attempts + 1):
            body = {"requests": [chunk[index].as_json(str(index)) for index in pending]}
            reply = self._json("POST", "/$batch", self._send("POST", self.url("/$batch"), json_body=body,
                                                             replay_safe=replay_safe), allow_malformed=True)
            malformed = batch_problem(reply)
            for item in [] if malformed else reply["responses"]:
                index = int(item["id"])
                answers[index] = BatchResponse(int(item["status"]), item.get("headers") or {}, item.get("body"))
            pending = [index for index in pending
                       if index not in answers or self._retry_inner(chunk[index], answers[index])]
            if not pending:
                return [answers[index] for index in range(len(chunk))]
            if malformed is None and all(index in answers and answers[index].ok for index in pending):
                malformed = "a listing page without a value list inside the $batch"
            waits = [retry_after_seconds(header(answers[index].headers, "Retry-After"))
                     for index in pending if index in answers]
            asked = max((wait for wait in waits if wait is not None), default=None)
            wait = next_wait(self.retry, attempt, time.monotonic() - started, asked, self._random.random())
            if wait is None:
                break
            time.sleep(wait)
        if malformed is not None:
            raise MalformedAnswer(f"POST /$batch: Microsoft Graph answered {malformed}, {attempt} times; "
                                  f"{len(pending)} of {len(chunk)} requests have no usable answer",
                                  hint=MALFORMED_HINT)
        raise Throttled(f"Microsoft Graph still throttled {len(pending)} of {len(chunk)} requests in a $batch "
                        f"after {attempt} tries in {time.monotonic() - started:.0f} s",
                        hint="run again later, or with fewer values at a time", status=429)

    @staticmethod
    def _retry_inner(request: BatchRequest, response: BatchResponse) -> bool:
        """Whether an inner answer is worth sending its request again: busy, or a listing page that is not one."""
        if retryable(response.status, request.method == "GET"):
            return True
        return request.listing and response.ok and page_problem(response.body) is not None

    def raise_for(self, response: BatchResponse, request: BatchRequest) -> None:
        """Raise the typed error for a failed inner $batch response."""
        if not response.ok:
            raise graph_error(request.method, request.url, response.status, response.headers, response.body)

    # --- the wire -----------------------------------------------------------------------

    def _send(self, method: str, url: str, headers: Mapping[str, str] | None = None, json_body: dict | None = None,
              replay_safe: bool | None = None) -> requests.Response:
        """One request with bounded retries on 429/503/504 and dropped connections."""
        replay_safe = method == "GET" if replay_safe is None else replay_safe
        started = time.monotonic()
        for attempt in range(1, self.retry.max_attempts + 1):
            call_headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json",
                            "client-request-id": str(uuid.uuid4()), **(headers or {})}
            last = self._network("Microsoft Graph", self._session.request, method, url, headers=call_headers,
                                 json=json_body, retry_connection=replay_safe)
            if isinstance(last, requests.Response) and not retryable(last.status_code, replay_safe):
                return last
            asked = retry_after_seconds(last.headers.get("Retry-After")) if isinstance(last, requests.Response) \
                else None
            wait = next_wait(self.retry, attempt, time.monotonic() - started, asked, self._random.random())
            if wait is None:
                break
            time.sleep(wait)
        raise self._gave_up(method, url, last, attempt, time.monotonic() - started)

    def _network(self, peer: str, call, *args, retry_connection: bool = False, **kwargs):
        """``call(*args, **kwargs)``; TLS failures raise at once, other connection failures too unless retryable.

        A retryable connection failure is returned (not raised) for ``_send`` to retry.
        """
        try:
            return call(*args, **kwargs)
        except requests.exceptions.SSLError as err:
            raise GraphUnreachable(
                f"TLS verification of {peer} failed: {_reason(err)}",
                hint="set graph_ca_cert to the CA file that vouches for the server (graph_validate_certs: false "
                     "only in an isolated lab)") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError) as err:
            if retry_connection:
                return err
            raise GraphUnreachable(f"no answer from {peer}: {_reason(err)}",
                                   hint="check the host names, the network path and any proxy "
                                        "(HTTPS_PROXY) from the controller") from None

    def _gave_up(self, method: str, url: str, last, attempts: int, elapsed: float) -> Exception:
        path = urlsplit(url).path
        if not isinstance(last, requests.Response):
            return GraphUnreachable(f"{method} {path}: the connection kept failing ({_reason(last)}) "
                                    f"after {attempts} tries in {elapsed:.0f} s",
                                    hint="check the network path from the controller and run again")
        asked = last.headers.get("Retry-After")
        wanted = f"; Graph asked to wait {asked} s more" if asked else ""
        return Throttled(f"{method} {path}: Microsoft Graph still answered {last.status_code} after {attempts} tries "
                         f"in {elapsed:.0f} s{wanted}",
                         hint="the app's throttling budget is shared by everything that uses it: run again later, "
                              "or when fewer jobs use the app", status=last.status_code,
                         request_id=last.headers.get("request-id") or "")

    @staticmethod
    def _error(method: str, path: str, response: requests.Response) -> GraphError:
        """The typed error for an error answer (4xx, 5xx)."""
        problem, body = answer_problem(response)
        return graph_error(method, path, response.status_code, response.headers,
                           body if problem is None else response.text[:300])

    @staticmethod
    def _json(method: str, path: str, response: requests.Response, allow_malformed: bool = False) -> dict:
        """The JSON object of an answer; ``{}`` for an empty one. ``allow_malformed`` hands back what was
        read when the body is not a JSON object, for the caller to judge."""
        if response.status_code >= 400:
            raise GraphClient._error(method, path, response)
        problem, body = answer_problem(response)
        if problem is not None and response.content:
            if allow_malformed:
                return {}
            raise GraphError(f"{method} {path}: Microsoft Graph answered {response.status_code} with {problem}",
                             hint="check that graph_endpoint names Microsoft Graph", status=response.status_code)
        return body if problem is None else {}


class _BusyIdentityPlatform(Exception):
    """The identity platform answered 429 or 5xx (its status is on the session): ask again later."""


class MalformedAnswer(GraphError):
    """Graph answered 2xx with a body that is not what the request is due (no listing, not JSON, cut off)."""


MALFORMED_HINT = ("a gateway or proxy between the controller and Microsoft Graph may be cutting answers short; "
                  "run again, and check any proxy (HTTPS_PROXY) if it persists")


def answer_problem(response) -> tuple[str | None, dict]:
    """(None, the JSON object) for an answer whose body is one, else (what is wrong, {})."""
    if not response.content:
        return "an empty body", {}
    try:
        body = response.json()
    except ValueError:
        kind = (response.headers.get("Content-Type") or "").split(";")[0].strip() or "no content type"
        return f"a body that is not JSON ({kind}, {len(response.content)} bytes: cut off, or a gateway's page)", {}
    if not isinstance(body, dict):
        return f"JSON that is not an object ({type(body).__name__})", {}
    return None, body


def page_problem(page) -> str | None:
    """What makes ``page`` no page of a listing (a JSON object with a ``value`` list), or None."""
    if not isinstance(page, Mapping):
        return "an empty body" if page in (None, "", b"") else f"a {type(page).__name__} instead of a JSON object"
    if not isinstance(page.get("value"), list):
        return "a JSON object without a value list"
    return None


def batch_problem(reply: Mapping) -> str | None:
    """What makes ``reply`` no $batch answer (a ``responses`` list of items with id and status), or None."""
    items = reply.get("responses") if isinstance(reply, Mapping) else None
    if not isinstance(items, list) or not items:
        return "a $batch answer without responses"
    for item in items:
        if not isinstance(item, Mapping) or not str(item.get("id", "")).isdigit() or \
                not str(item.get("status", "")).isdigit():
            return "a $batch answer whose responses lack an id or a status"
    return None


def _reason(err: BaseException) -> str:
    """The innermost cause of a requests error, short (the URL is said elsewhere)."""
    cause = err
    for _depth in range(8):
        inner = getattr(cause, "reason", None)
        if not isinstance(inner, BaseException):
            inner = cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None
        if inner is None:
            break
        cause = inner
    return str(cause)[-300:]
