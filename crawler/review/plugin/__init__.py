"""The analysts' review as a Datasette plugin (entry point `openness_review` in pyproject.toml; `review_app` also
registers it, so it is on however the package was installed): the home page at `/`, a model at `/-/model/<hub id>`
(a search box takes a Hub URL or an id), a flag at `/-/flag/<id>` with its verdict form. Reading follows
Datasette's `view-instance` / `view-database` permissions; recording a verdict needs the action VERDICT, which the
`permission_allowed` hook grants to a logged-in actor (datasette-auth-passwords signs one in); forms carry
Datasette's CSRF token. Datasette's own table views and JSON API stay as they are, for power users."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

from datasette import hookimpl
from datasette.utils import actor_matches_allow
from datasette.utils.asgi import Response

from crawler import table
from crawler.review import pages
from crawler.review.metadata import LOGGED_IN
from crawler.store import utcnow

NAME = __name__  # where Datasette serves this package's static/ (`/-/static-plugins/<NAME>/…`)
CONFIG = "openness-review"
VERDICT = "openness-record-verdict"  # the permission to write `reviews` rows
FORMS = ("/-/flag/", "/-/model/")  # the paths whose POST records a verdict


def store(datasette):
    return datasette.get_database()


def login_path(datasette, request) -> str:
    """Datasette's login page, returning to this page once logged in."""
    back = request.path + (f"?{request.query_string}" if request.query_string else "")
    return datasette.urls.path("/-/login") + "?next=" + quote(back, safe="")


async def render(datasette, request, template: str, context: dict, status: int = 200) -> Response:
    context = {**context, "css": datasette.urls.static_plugins(NAME, "review.css"), "colours": table.COLOUR,
               "glyph": table.GLYPH, "names": pages.NAMES,
               "login": login_path(datasette, request), "database": store(datasette).name,
               "can_record": await datasette.permission_allowed(request.actor, VERDICT, default=False)}
    return Response.html(await datasette.render_template(template, context, request=request), status=status)


async def refused(datasette, request, message: str, status: int) -> Response:
    return await render(datasette, request, "openness_refused.html", {"message": message, "status": status},
                        status)


async def may_read(datasette, request) -> bool:
    actor = request.actor
    return (await datasette.permission_allowed(actor, "view-instance", default=True)
            and await datasette.permission_allowed(actor, "view-database", store(datasette).name, default=True))


def reading(view):
    """A page that answers 403 with the login link to whoever may not read the store, and 404 with a message to an
    id the store does not hold."""
    async def guarded(datasette, request):
        if not await may_read(datasette, request):
            return await refused(datasette, request, "Log in to read the review.", 403)
        try:
            return await view(datasette, request)
        except pages.NotFound as exc:
            return await refused(datasette, request, str(exc), 404)
    return guarded


@reading
async def home(datasette, request):
    data = await store(datasette).execute_fn(pages.home)
    return await render(datasette, request, "openness_home.html", data)


@reading
async def search(datasette, request):
    text = (request.args.get("q") or "").strip()
    if not text:
        return Response.redirect(datasette.urls.path("/"))
    found = await store(datasette).execute_fn(lambda conn: pages.model(conn, text))
    return Response.redirect(datasette.urls.path(f"/-/model/{found['model']}"))


async def _post(datasette, request, page: str, record) -> Response | str:
    """A verdict form posted: refused (403 with the login link) without the VERDICT permission; else `record(conn,
    actor id, note, form)` writes in one transaction and the answer is a redirect to `page`, or the reason the form
    cannot be recorded (the caller shows the page again with it)."""
    if not await datasette.permission_allowed(request.actor, VERDICT, default=False):
        return await refused(datasette, request, "Log in to record a verdict.", 403)
    form = dict(await request.post_vars())
    try:
        written = await store(datasette).execute_write_fn(
            lambda conn: record(conn, request.actor["id"], form.get("note") or "", form), block=True)
    except pages.Refused as exc:
        return str(exc)
    datasette.add_message(request, f"Recorded: {written} review{'s' if written != 1 else ''}.")
    return Response.redirect(page, status=303)


async def _page(datasette, request, template: str, data: dict, record, page: str) -> Response:
    """A page with a verdict form: shown, or (POST) the form recorded."""
    error = None
    if request.method == "POST":
        answer = await _post(datasette, request, page, record)
        if isinstance(answer, Response):
            return answer
        error = answer
    return await render(datasette, request, template, {**data, "error": error}, 400 if error else 200)


@reading
async def model(datasette, request):
    text = request.url_vars["model"]
    data = await store(datasette).execute_fn(lambda conn: pages.model(conn, text))

    def record(conn, actor, note, form):
        chosen = {form["criterion"]: form.get("level") or ""} if form.get("criterion") in pages.NAMES else {}
        return pages.record(conn, actor, utcnow(), note, data["subject_id"],
                            overrides={k: v for k, v in chosen.items() if v})

    return await _page(datasette, request, "openness_model.html", data, record,
                       datasette.urls.path(f"/-/model/{data['model']}"))


@reading
async def flag(datasette, request):
    flag_id = request.url_vars["flag_id"]
    data = await store(datasette).execute_fn(lambda conn: pages.flag(conn, flag_id))
    row = data["flag"]

    def record(conn, actor, note, form):
        overrides = {p["key"]: form[f"level_{p['key']}"] for p in data["promises"] if form.get(f"level_{p['key']}")}
        return pages.record(conn, actor, utcnow(), note, row["subject_id"], row["id"], form.get("verdict"),
                            overrides)

    return await _page(datasette, request, "openness_flag.html", data, record,
                       datasette.urls.path(f"/-/flag/{row['id']}"))


def serving_a_review(datasette) -> bool:
    """Whether this Datasette is `openness review` (its metadata configures this plugin): installed by entry point,
    the plugin is in every Datasette of the environment, and leaves the others as they are."""
    return datasette.plugin_config(CONFIG) is not None


def web_link(url) -> str | None:
    """A URL fit for an `href`: http or https only. A card may name any scheme (`javascript:`, `data:`) as a link,
    and escaping does not make such a link safe to follow."""
    return url if isinstance(url, str) and urlsplit(url.strip()).scheme.lower() in ("http", "https") else None


def aspect_value(value, aspect: str):
    """A recorded value as people read it: a gate in the words `table.gating_label` gives it everywhere."""
    return table.gating_label(value) if aspect == "gated" else value


@hookimpl
def prepare_jinja2_environment(env, datasette):
    env.filters["web_link"] = web_link
    env.filters["aspect_value"] = aspect_value


@hookimpl
def register_routes(datasette):
    if not serving_a_review(datasette):
        return []
    return [(r"^/$", home), (r"^/-/model$", search), (r"^/-/model/(?P<model>.+)$", model),
            (r"^/-/flag/(?P<flag_id>[^/]+)$", flag)]


@hookimpl
def permission_allowed(datasette, actor, action):
    if action == VERDICT and serving_a_review(datasette):
        return actor_matches_allow(actor, (datasette.plugin_config(CONFIG) or {}).get("verdict_allow", LOGGED_IN))


def _carries_credentials(scope) -> bool:
    """Whether the request carries any credentials: an actor cookie (whatever its signature: Datasette reads the
    last of several, so none may be ruled out here) or an Authorization header."""
    headers = scope.get("headers") or []
    if any(name == b"authorization" for name, _ in headers):
        return True
    cookies = "; ".join(value.decode("latin-1") for name, value in headers if name == b"cookie")
    return any(part.strip().partition("=")[0] == "ds_actor" for part in cookies.split(";"))


@hookimpl
def skip_csrf(datasette, scope):
    # A form POST without any credentials writes nothing (the view refuses it): it reaches the view, which answers 403
    # with the login link rather than asgi-csrf's bare refusal. With any credentials, even forged, the CSRF check
    # stands.
    if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(FORMS) and \
            serving_a_review(datasette):
        return not _carries_credentials(scope)


def _next_page(scope) -> str | None:
    """The page the login form was opened for (`/-/login?next=PATH`, read from the form's Referer): a path of this
    site only."""
    referer = dict(scope.get("headers") or []).get(b"referer", b"").decode("latin-1")
    target = (parse_qs(urlsplit(referer).query).get("next") or [""])[0]
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and target.isprintable():
        return target
    return None


@hookimpl
def asgi_wrapper(datasette):
    """After a successful login (datasette-auth-passwords redirects to `/`), go back to the page that asked for it."""
    login = datasette.urls.path("/-/login")
    if not serving_a_review(datasette):
        return lambda app: app

    def wrap(app):
        async def returning(scope, receive, send):
            if scope["type"] != "http" or scope["path"] != login or scope["method"] != "POST":
                return await app(scope, receive, send)
            target = _next_page(scope)

            async def redirect(message):
                if target and message["type"] == "http.response.start" and message["status"] in (301, 302, 303):
                    message = {**message, "headers": [(k, target.encode() if k.lower() == b"location" else v)
                                                      for k, v in message.get("headers", [])]}
                await send(message)

            await app(scope, receive, redirect)
        return returning
    return wrap
