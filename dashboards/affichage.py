"""`/affichage/<jeton>`: the users' screen of a building, open without sign-in.

A screen in the hall or a phone cannot sign in: the secret token in the URL is the access right
(`carnet.display`). Plain server-rendered HTML, no script: it refreshes itself every few
minutes (kiosk mode), its type is large and it reads on a 390 px phone as across a room. An
unknown, malformed or revoked token gets the same French 404 page. GET and HEAD only.
"""

from __future__ import annotations

import flask
from markupsafe import escape

from dashboards import db
from dashboards.affichage_data import screen
from dashboards.fmt import fr_number, fr_pct

PREFIX = "/affichage/"
REFRESH_S = 300
WEATHER_FR = {
    "plus froid": "❄️ Ce mois-ci a été plus froid que l'an dernier.",
    "plus doux": "☀️ Ce mois-ci a été plus doux que l'an dernier.",
    "comparable": "Ce mois-ci, il a fait à peu près le même temps que l'an dernier.",
}

STYLE = """
*{box-sizing:border-box}body{margin:0;font-family:system-ui,sans-serif;font-size:clamp(18px,2.4vw,34px);
line-height:1.35;background:#f6f7f2;color:#1d2a1f}main{max-width:1400px;margin:0 auto;padding:1em}
h1{font-size:2em;margin:.2em 0 .6em}h2{font-size:1.25em;margin:1.2em 0 .4em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,14em),1fr));gap:.8em}
.card{background:#fff;border-radius:.6em;padding:.8em 1em;box-shadow:0 1px 3px #0002}
.big{font-size:2.2em;line-height:1.1}.good{color:#1f7a33}.bad{color:#b44a00}.muted{color:#5c665e}
ul{padding-left:1.2em;margin:.3em 0}li{margin:.3em 0}.answer{display:block;color:#1f5a7a}
.ok::before{content:"✔ ";color:#1f7a33}.ko::before{content:"✘ ";color:#b44a00}
footer{margin-top:2em;font-size:.7em;color:#5c665e}
"""


def _pct(fraction: float) -> str:
    return fr_pct(abs(fraction) * 100, 0)


def _comparison(label: str, value: float | None, against: str) -> str:
    if value is None:
        return (f'<div class="card"><div>{label}</div><div class="big muted">…</div>'
                f"<div>pas encore assez de relevés pour comparer à {against}</div></div>")  # fmt: skip
    if abs(value) < 0.02:
        icon, words, cls = "🟰", "autant que", ""
    elif value < 0:
        icon, words, cls = "🌿", f"{_pct(value)} de moins que", "good"
    else:
        icon, words, cls = "🔥", f"{_pct(value)} de plus que", "bad"
    return (f'<div class="card"><div>{label}</div><div class="big {cls}">{icon} {words}</div>'
            f"<div>{against}</div></div>")  # fmt: skip


def _energy(view: dict) -> str:
    week, month = view["week"], view["month"]
    if week is None:
        return '<p class="muted">Ce bâtiment n\'a pas encore de compteur suivi.</p>'
    cards = [
        _comparison("Cette semaine, le chauffage a consommé", week["vs_last_year"],
                    "la même semaine l'an dernier, à météo comparable"),
        _comparison("Ce mois-ci", month["vs_last_year"],
                    "le même mois l'an dernier, à météo comparable"),
        _comparison("Ce mois-ci, par rapport à l'objectif", month["vs_target"],
                    "ce que prévoit le contrat pour ce temps-là"),
    ]  # fmt: skip
    weather = month.get("weather")
    note = f'<p class="muted">{WEATHER_FR[weather]}</p>' if weather else ""
    return f'<div class="cards">{"".join(cards)}</div>{note}'


def _comfort(view: dict) -> str:
    if not view["comfort"]:
        return '<p class="muted">Pas de réservation suivie ces deux dernières semaines.</p>'
    items = "".join(
        f'<li class="{"ok" if c["ok"] else "ko"}">{escape(c["room"])}, {c["day"]} : '
        f"{fr_number(c['setpoint_c'], 1, trim=True)} °C demandés, "
        f"{'température atteinte à temps' if c['ok'] else 'température pas atteinte à temps'}</li>"
        for c in view["comfort"]
    )
    return f"<ul>{items}</ul>"


def _signalements(view: dict) -> str:
    def item(e: dict) -> str:
        what = escape(e["title"] or e["text"])
        answer = (
            f'<span class="answer">Réponse : {escape(e["answer"])}</span>' if e["answer"] else ""
        )
        return f"<li>{what}{answer}</li>"

    parts = []
    if view["open"]:
        parts.append(
            "<p>En cours de traitement :</p><ul>" + "".join(map(item, view["open"])) + "</ul>"
        )
    if view["answered"]:
        parts.append(
            "<p>Traités récemment :</p><ul>" + "".join(map(item, view["answered"])) + "</ul>"
        )
    return "".join(parts) or '<p class="muted">Aucun signalement en cours.</p>'


def _tips(view: dict) -> str:
    if not view["tips"]:
        return ""
    items = "".join(f"<li>👉 {escape(t)}</li>" for t in view["tips"])
    return f"<h2>Ce que vous pouvez faire ici</h2><ul>{items}</ul>"


def page(view: dict) -> str:
    name = escape(view["name"])
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{REFRESH_S}">
<meta name="robots" content="noindex">
<title>{name} · comment va le bâtiment</title><style>{STYLE}</style></head>
<body><main>
<h1>🏠 {name}</h1>
<h2>Le chauffage</h2>{_energy(view)}
<h2>Le confort pendant les dernières réservations</h2>{_comfort(view)}
<h2>Vos signalements</h2>{_signalements(view)}
{_tips(view)}
<footer>Mis à jour le {view["today"]:%d/%m/%Y} · cette page se rafraîchit toute seule.</footer>
</main></body></html>"""


GONE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Affichage indisponible</title></head>
<body style="font-family:system-ui,sans-serif;font-size:24px;padding:1em">
<h1>Affichage indisponible</h1>
<p>Cet affichage n'existe pas ou a été retiré par la commune.
Demandez la nouvelle adresse au service des bâtiments.</p></body></html>"""


def display_view(token: str):
    view = screen(db.engine(), token)
    if view is None:
        return not_found()
    return flask.Response(
        page(view),
        mimetype="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def not_found(rest: str = ""):
    return flask.Response(GONE, status=404, mimetype="text/html")


def register(server: flask.Flask) -> None:
    server.add_url_rule(PREFIX + "<token>", "display_screen", display_view, methods=["GET", "HEAD"])
    server.add_url_rule(PREFIX, "display_root", not_found, methods=["GET", "HEAD"])
    server.add_url_rule(PREFIX + "<path:rest>", "display_other", not_found, methods=["GET", "HEAD"])
