"""Fuzzing the HTML site (issue #17): every URL pattern, every parameter its view reads,
hostile values, on PostgreSQL: no answer is a 5xx.

The review is the permission matrix's (records, a duplicate pair, votes, a conflict, a full
text, a pilot round, an invitation, a published form with extractions and a consensus), and
the requests are the owner's, who reaches the most code. Nothing is declared per view: the
parameters are discovered, so a new page is covered the day it is added.

- Every URL pattern of the resolver (but Django admin, the API, which the API fuzzing
  covers, and sign-out) is requested with GET and with POST. A middleware hands the view
  ``request.GET`` and ``request.POST`` as QueryDicts that note each name the view (or a
  Django form of it) looks up.
- Every page's HTML is read for its forms (``action`` or ``hx-post``) and links: their field
  names are parameters of the URL they go to, and their values (a select's first real
  option, say) make a valid request that the hostile value of one field is then added to,
  so that it reaches the code behind the first check (a filter that needs a stage and a
  status, a vote that needs a record).
- Each parameter then gets each hostile value (words for numbers, signs, numbers past a
  32-bit and a 64-bit column, 5,000 digits, NUL bytes raw and JSON-escaped, long text,
  unicode, markup, JSON, a parameter given twice; ``MALFORMED`` of the malformed-parameter
  test and more), alone on top of the valid request and all parameters at once.

Each request runs in a transaction that is rolled back, so a POST that deletes or votes does
not take the review away from the requests after it. ``FUZZ_VIEWS_ALL=1`` sends every hostile
value alone to every POST field too (by default a short list of them does).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from django.core.signals import got_request_exception
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.test import Client
from django.urls import get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from extraction.models import Extraction
from extraction.services.extractions import start_extraction
from extraction.services.forms import create_form, publish_form
from reviewflow.params import json_param, without_nul
from screening.models import Record
from tests.conftest import needs_postgresql
from tests.extraction.helpers import spec
from tests.reliability.test_api_fuzz import _connection_kept_across_requests
from tests.reliability.test_malformed_params import MALFORMED
from tests.reliability.test_permission_matrix import _build, _fill, _patterns

pytestmark = pytest.mark.django_db(transaction=True)  # the fixture's imports run on commit

# URL prefixes not swept, each with its reason.
SKIPPED_PREFIXES = {
    "admin/": "Django admin: staff only, Django's own forms",
    "api/": "the API: tests/reliability/test_api_fuzz.py fuzzes every operation",
    "accounts/logout/": "signs the client out, and every request after it would only redirect",
    "accounts/oidc/": "django-allauth's OpenID Connect views, which need a configured provider: "
    "tests/reviewflow/test_sso.py and tests/browser/test_sso_browser.py drive them against a "
    "real provider the tests start",
}

HOSTILE: list[str | list[str]] = [
    *MALFORMED,
    "-99999999999999999999",
    "2147483648",  # past a 32-bit column (PostgreSQL's integer)
    "32768",  # past a smallint
    "9223372036854775808",  # past a bigint
    "\\u0000",  # a NUL byte once JSON is decoded (PostgreSQL's jsonb refuses it)
    '{"title": "x\\u0000", "sections": []}',
    "[]",
    "{}",
    "[" * 100_000,  # past the nesting json.loads decodes (a RecursionError, not a ValueError)
    "null",
    "true",
    "2019-02-30",
    "\u2603\U0001f600 \u00fcn\u00efc\u00f6d\u00e9 \u202e",
    "' OR 1=1 --",
    "../../../etc/passwd",
]
# Sent alone in each parameter, on top of a valid request: the values that have broken
# something somewhere (every value of HOSTILE goes to all parameters at once anyway). A
# request costs about 15 ms; FUZZ_VIEWS_ALL=1 sends all of HOSTILE alone too.
EACH: list[str | list[str]] = [
    "abc",
    "1\x002",
    "2147483648",
    "99999999999999999999999",
    "9" * 5000,
]
if os.environ.get("FUZZ_VIEWS_ALL") == "1":
    EACH = HOSTILE


# ---------------------------------------------------------------------- what views read

_seen: dict[str, set[str]] = {"GET": set(), "POST": set()}


class _Noted(QueryDict):
    """A QueryDict that notes each name looked up in it (``kind`` is GET or POST)."""

    kind = ""

    def _note(self, key: Any) -> None:
        if isinstance(key, str):
            _seen[self.kind].add(key)

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)

    def getlist(self, key: str, default: Any = None) -> Any:
        self._note(key)
        return super().getlist(key, default)


class _NotedGET(_Noted):
    kind = "GET"


class _NotedPOST(_Noted):
    kind = "POST"


def _noted(cls: type[_Noted], params: QueryDict) -> _Noted:
    copy = cls(mutable=True, encoding=params.encoding)
    for key, values in params.lists():
        copy.setlist(key, values)
    copy._mutable = False
    return copy


class NoteParameterReads:
    """Middleware (added by the test only): the view gets noting QueryDicts."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.GET = _noted(_NotedGET, request.GET)
        if request.method == "POST":
            request.POST = _noted(_NotedPOST, request.POST)
        return self.get_response(request)


# ------------------------------------------------------------------ what pages send


class _Forms(HTMLParser):
    """The forms of a page, as (method, action, {name: valid value}), the options of
    each form's selects (``choices``, in the same order), and the page's links. An empty
    field that a script fills from the page's data (``json_script`` with the id
    ``<name>-data``, as the form builder's ``spec``) gets that data."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, str, dict[str, str]]] = []
        self.choices: list[dict[str, list[str]]] = []
        self.links: list[str] = []
        self.data: dict[str, str] = {}  # json_script id → its JSON
        self._form: tuple[str, str, dict[str, str]] | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._script: str | None = None

    def close(self) -> None:
        super().close()
        for _, _, fields in self.forms:
            for name, value in fields.items():
                if not value and f"{name}-data" in self.data:
                    fields[name] = self.data[f"{name}-data"]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name", "")
        if tag == "script" and a.get("type") == "application/json" and a.get("id"):
            self._script = a["id"]
            self.data[self._script] = ""
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            post = a.get("hx-post")
            method = "post" if post is not None else a.get("method", "get").lower()
            self._form = (method, post or a.get("action", ""), {})
            self.forms.append(self._form)
            self.choices.append({})
        elif tag == "button" and a.get("hx-post") is not None and self._form is None:
            self.forms.append(("post", a["hx-post"], {name: a.get("value", "")} if name else {}))
            self.choices.append({})
        elif tag == "option" and self._form is not None and self._select is not None:
            if a.get("value", "x"):
                self.choices[-1].setdefault(self._select, []).append(a.get("value", ""))
            # A select's first real option (the first is often "all" or "—").
            if not self._form[2].get(self._select) and a.get("value", "x"):
                self._form[2][self._select] = a.get("value", "")
        elif self._form is None or not name:
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "file":
                return
            value = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            # The first radio of a group, a checkbox's value: a value the view accepts.
            self._form[2].setdefault(name, value)
        elif tag == "button":
            self._form[2].setdefault(name, a.get("value", ""))
        elif tag == "select":
            self._select = name
            self._form[2].setdefault(name, "")
        elif tag == "textarea":
            self._textarea = name
            self._form[2].setdefault(name, "")

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.data[self._script] += data
        elif self._form is not None and self._textarea is not None:
            self._form[2][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "script":
            self._script = None


def _path_of(page: str, target: str) -> tuple[str, dict[str, str]]:
    """The path a form or link on ``page`` goes to, and the query it carries."""
    parts = urlsplit(urljoin(page, target))
    return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))


# ---------------------------------------------------------------------------- the sweep


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def _exceptions_noted(into: list[str]) -> Iterator[None]:
    def note(sender: Any, request: Any = None, **kwargs: Any) -> None:
        into.append(traceback.format_exc(limit=-3))

    got_request_exception.connect(note)
    try:
        yield
    finally:
        got_request_exception.disconnect(note)


@pytest.fixture
def noting(settings: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.NoteParameterReads"]


def _nul_in_strings(text: str) -> str | None:
    """A JSON value with a NUL byte in each of its strings (keys kept), or None for text
    that is not a JSON object or list."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict | list):
        return None

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return value + "\x00"
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return json.dumps(walk(data))


def _more(review: Any, owner: Any) -> list[dict[str, Any]]:
    """URL kwargs to sweep as well: a draft form (its builder saves), and a one-extractor
    form with the owner's own extraction (its page saves)."""
    key = Record.objects.get(pk=Extraction.objects.filter(form__review=review).first().record_id)
    draft = create_form(review=review, actor=owner, spec=spec(title="Draft"))
    solo = publish_form(
        form=create_form(review=review, actor=owner, spec=spec(extractors=1, title="Solo")),
        actor=owner,
    )
    start_extraction(form=solo, record=key, extractor=owner)
    return [{"form_id": draft.pk}, {"form_id": solo.pk}]


def test_every_page_answers_hostile_query_strings_and_form_posts_without_a_server_error(
    noting, review, owner, reviewer, reviewer2
):
    needs_postgresql()
    started = time.perf_counter()
    kwargs = _build(review, owner, reviewer, reviewer2)
    kwargs["uidb64"] = urlsafe_base64_encode(force_bytes(owner.pk))  # a password reset link
    variants = [{}, *_more(review, owner)]
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    built, cpu = time.perf_counter(), time.process_time()
    failures: list[str] = []
    tracebacks: list[str] = []
    sent = 0

    urls: dict[str, str] = {}  # path → URL name
    for route, pattern in _patterns(get_resolver()):
        if any(route.startswith(prefix) for prefix in SKIPPED_PREFIXES):
            continue
        for variant in variants:
            if set(variant) - set(pattern.pattern.converters):
                continue
            url = _fill(route, {**kwargs, **variant}, str(pattern.name), failures)
            if url is not None:
                urls[url] = str(pattern.name)

    get_keys: dict[str, set[str]] = {url: set() for url in urls}
    post_keys: dict[str, set[str]] = {url: set() for url in urls}
    get_base: dict[str, dict[str, str]] = {}
    # A filter form of a page (GET): its valid values, and the options of each select.
    options: dict[str, tuple[dict[str, str], dict[str, list[str]]]] = {}
    post_base: dict[str, dict[str, str]] = {}

    per_page: Counter[str] = Counter()
    refused: set[tuple[str, str]] = set()  # (method, URL) answered 405: not fuzzed

    def send(method: str, url: str, data: dict[str, Any]) -> HttpResponse:
        nonlocal sent
        per_page[f"{method.upper()} {urls.get(url, url)}"] += 1
        _seen["GET"].clear()
        _seen["POST"].clear()
        tracebacks.clear()
        sent += 1
        with transaction.atomic():
            try:
                response: HttpResponse = getattr(client, method)(url, data)
                if getattr(response, "streaming", False):
                    b"".join(response.streaming_content)  # a streamed body fails as it is read
            finally:
                transaction.set_rollback(True)
        if response.status_code >= 500:
            shown = "&".join(f"{k}={_short(v)}" for k, v in data.items())
            where = f"{method.upper()} {url} ({urls.get(url, '?')}) {shown}"
            failures.append(f"{where}: {response.status_code}\n{''.join(tracebacks[-1:])}")
        get_keys.setdefault(url, set()).update(_seen["GET"])
        post_keys.setdefault(url, set()).update(_seen["POST"])
        return response

    def harvest(page: str, response: HttpResponse) -> None:
        """Names and valid values from the forms and links of ``page``; the request with
        the most names is the base for each URL."""
        if "html" not in response.get("Content-Type", "") or response.status_code != 200:
            return
        parser = _Forms()
        parser.feed(response.content.decode("utf-8", "replace"))
        parser.close()
        found = [(*form, choices) for form, choices in zip(parser.forms, parser.choices)]
        found += [("get", href, {}, {}) for href in parser.links]
        for method, target, fields, choices in found:
            path, query = _path_of(page, target)
            if path not in urls:
                continue
            if method == "get" and choices:
                options[path] = (fields, choices)
            values = {**query, **fields}
            keys, bases = (post_keys, post_base) if method == "post" else (get_keys, get_base)
            keys[path] |= set(values)
            if len(values) > len(bases.get(path, {})):
                bases[path] = values

    with _connection_kept_across_requests(), _exceptions_noted(tracebacks):
        # Discovery: each page as it is, then with the fullest query its pages link to, and
        # each POST with what its form sends: the names read behind a first check too.
        for url in urls:
            response = send("get", url, {})
            harvest(url, response)
            if response.status_code == 405:
                refused.add(("get", url))
        for url in urls:
            if url in get_base:
                send("get", url, get_base[url])
            if send("post", url, post_base.get(url, {})).status_code == 405:
                refused.add(("post", url))

        # The sweep: of the URLs of one name (a view), the one whose page offered the most
        # names (the draft form's builder, the form the owner extracts with).
        fullest: dict[tuple[str, str], str] = {}
        for url, name in urls.items():
            for method, keys in (("get", get_keys), ("post", post_keys)):
                best = fullest.get((method, name))
                if (method, url) not in refused and (
                    best is None or len(keys[url]) > len(keys[best])
                ):
                    fullest[(method, name)] = url
        for (method, _), url in fullest.items():
            keys = (get_keys if method == "get" else post_keys)[url]
            base = (get_base if method == "get" else post_base).get(url, {})
            for key in sorted(keys - {"csrfmiddlewaretoken"}):
                for value in EACH:
                    send(method, url, {**base, key: value})
                # A JSON field (a form definition) with NUL bytes in its strings.
                nul_json = _nul_in_strings(base.get(key) or "")
                if nul_json is not None:
                    send(method, url, {**base, key: nul_json})
            if keys:
                for value in HOSTILE:
                    send(method, url, dict.fromkeys(sorted(keys), value))

        # A filter may read a text field for one option only (the records page reads the
        # exclusion reason for "excluded"): every option of each select of a filter form,
        # with NUL bytes and a long number in each text field.
        for url, (fields, choices) in options.items():
            texts = sorted(set(fields) - set(choices))
            for select, values in choices.items():
                for option in values:
                    for key in texts:
                        for value in ("1\x002", "9" * 5000):
                            send("get", url, {**fields, select: option, key: value})

    assert not failures, f"{len(failures)} of {sent} requests:\n" + "\n".join(failures)
    # The discovery found what it is for (or this test would pass by sending nothing).
    names: dict[str, list[str]] = {}
    for url, name in urls.items():
        names.setdefault(name, []).append(url)

    def read(keys: dict[str, set[str]], name: str) -> set[str]:
        return set().union(*(keys[url] for url in names[name]))

    assert {"i"} <= read(get_keys, "review-duplicates")
    assert {"q", "stage", "status", "reason", "page"} <= read(get_keys, "review-records")
    assert {"record", "decision", "reason"} <= read(post_keys, "screen-vote")
    assert {"action"} <= read(post_keys, "extraction-form-action")
    assert {"spec"} <= read(post_keys, "extraction-form")
    assert len(read(post_keys, "extraction-page")) > 5  # the form's fields
    assert {"extraction-home", "review-settings", "healthz", "login"} <= set(names)
    assert len(names["extraction-form"]) == 3  # the published form, the draft, the solo
    took, cpu = time.perf_counter() - built, time.process_time() - cpu
    print(
        f"\nView fuzzing: {len(urls)} URLs, {sent} requests in {took:.0f} s ({cpu:.0f} s of "
        f"this process's CPU; the review built in {built - started:.0f} s); most: "
        f"{per_page.most_common(8)}"
    )


def test_the_noting_query_dict_notes_names_looked_up_and_nothing_else():
    _seen["GET"].clear()
    params = _noted(_NotedGET, QueryDict("a=1&b=2&b=3"))
    assert params.get("a") == "1" and params.getlist("b") == ["2", "3"]
    assert "c" not in params and params.copy()["a"] == "1"
    assert _seen["GET"] == {"a", "b", "c"}
    with pytest.raises(AttributeError):
        params["z"] = "1"  # immutable, as the original


def test_forms_of_a_page_are_read_with_values_a_view_accepts():
    parser = _Forms()
    parser.feed(
        '<form method="get"><select name="stage"><option value="">—</option>'
        '<option value="title-abstract">TA</option></select><input name="q" value="x">'
        '<input type="file" name="f"></form>'
        '<form hx-post="/r/x/vote/"><input type="hidden" name="record" value="7">'
        '<button name="decision" value="include">In</button>'
        '<button name="decision" value="exclude">Out</button><textarea name="note">hi'
        "</textarea></form>"
        '<button hx-post="/r/x/undo/">Undo</button><a href="?i=2">next</a>'
        '<form method="post"><input type="hidden" name="spec"></form>'
        '<script type="application/json" id="spec-data">{"title": "T"}</script>'
    )
    parser.close()
    assert parser.forms == [
        ("get", "", {"stage": "title-abstract", "q": "x"}),
        ("post", "/r/x/vote/", {"record": "7", "decision": "include", "note": "hi"}),
        ("post", "/r/x/undo/", {}),
        ("post", "", {"spec": '{"title": "T"}'}),
    ]
    assert parser.choices == [{"stage": ["title-abstract"]}, {}, {}, {}]
    assert parser.links == ["?i=2"]
    assert _path_of("/r/x/duplicates/", "?i=2") == ("/r/x/duplicates/", {"i": "2"})
    assert json.loads(_nul_in_strings('{"t": "a", "n": [1, "b"]}') or "") == {
        "t": "a\x00",
        "n": [1, "b\x00"],
    }
    assert _nul_in_strings("7") is None and _nul_in_strings("{oops") is None


def test_json_param_reads_nul_bytes_as_spaces_and_refuses_what_is_not_json():
    def read(text: str) -> Any:
        params = QueryDict(mutable=True)
        params["spec"] = text
        return json_param(params, "spec")

    assert read('{"t": "a\\u0000b", "\\u0000k": ["\\u0000"]}') == {"t": "a b", " k": [" "]}
    assert read('"x\x00y"') == "x y"
    # An escaped backslash before u0000 is text, not a NUL byte.
    assert read('"\\\\u0000"') == "\\u0000" and read('"\\\\\\u0000"') == "\\ "
    for bad in ("[" * 100_000, "9" * 5000, "{oops", ""):
        with pytest.raises(ValueError):
            read(bad)


def test_without_nul_copies_every_value_with_nul_bytes_as_spaces():
    params = QueryDict("a=1%002&b=x&b=%00")
    assert dict(without_nul(params).lists()) == {
        "a": ["1 2"],
        "b": ["x", " "],
    }
    assert params["a"] == "1\x002"  # the request's own is left as it came
