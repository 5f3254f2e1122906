"""The one place that decides between a full page and an HTMX fragment, plus flash helpers."""

from __future__ import annotations

import json

from flask import flash, make_response, redirect, render_template, request
from flask.typing import ResponseReturnValue


def is_fragment_request() -> bool:
    """A plain HTMX request: not boosted and not a history restore (those need the whole page)."""
    headers = getattr(request, "htmx", None)  # set by htmx-flask's request class
    return bool(headers) and not headers.boosted and not headers.history_restore_request


def render(page: str, fragment: str | None = None, *, status: int = 200, **ctx) -> ResponseReturnValue:
    """Render the fragment for a plain HTMX request, the full page otherwise."""
    template = fragment if (fragment and is_fragment_request()) else page
    response = make_response(render_template(template, **ctx), status)
    response.vary.add("HX-Request")
    return response


def respond_changed(
    message: str,
    *,
    redirect_to: str,
    fragment: str | None = None,
    event: str | None = None,
    category: str = "success",
    **ctx,
) -> ResponseReturnValue:
    """After a change: 303 + flash without JS; the updated fragment + HX-Trigger events with HTMX."""
    if fragment is None or not is_fragment_request():
        flash(message, category)
        if is_fragment_request():
            # Never a redirect to XHR (it would swap a whole page into the target).
            response = make_response("", 204)
            response.headers["HX-Location"] = redirect_to
            return response
        return redirect(redirect_to, 303)
    response = make_response(render_template(fragment, **ctx))
    triggers = {"flash": {"message": message, "category": category}}
    if event:
        triggers[event] = True
    response.headers["HX-Trigger"] = json.dumps(triggers)
    response.vary.add("HX-Request")
    return response


def respond_refused(exc, page: str, fragment: str | None = None, **ctx) -> ResponseReturnValue:
    """A refused change: the page with the reason and the error's status; HTMX gets the fragment and a flash."""
    response = render(page, fragment, status=exc.status, error=exc.message, **ctx)
    response.headers["HX-Trigger"] = json.dumps({"flash": {"message": exc.message, "category": "error"}})
    return response


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"
