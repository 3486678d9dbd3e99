"""The shared page pieces render the classes the stylesheets and the browser tests rely on, and
the French sort order ignores accents and case without a locale."""

from __future__ import annotations

import pytest
from dash import html

from dashboards.components import alert, data_table, field, fr_sort_key, page_head


def test_french_order_ignores_accents_and_case():
    names = ["Gymnase", "école Jules Ferry", "Mairie", "Église Saint-Pierre", "eau", "Écoles"]
    assert sorted(names, key=fr_sort_key) == [
        "eau",
        "école Jules Ferry",
        "Écoles",
        "Église Saint-Pierre",
        "Gymnase",
        "Mairie",
    ]
    assert fr_sort_key("ÉCOLE") == fr_sort_key("école") == "ecole"
    assert fr_sort_key("Œuvre") == "œuvre"  # kept (not dropped, as an ASCII fold would)


def test_page_head_has_title_lead_and_extras():
    head = page_head("Alarmes", "2 alarme(s).", html.Span("x", id="extra"), lead_id="al-summary")
    assert head.className == "page-head"
    title, lead, extra = head.children
    assert isinstance(title, html.H1) and title.children == "Alarmes"
    assert (lead.className, lead.id, lead.children) == ("lead", "al-summary", "2 alarme(s).")
    assert extra.id == "extra"
    assert len(page_head("Seul").children) == 1


def test_alert_kinds_and_id():
    ok = alert("Enregistré.", "ok", "bp-add-ok")
    assert (ok.className, ok.id, ok.children) == ("alert alert-ok", "bp-add-ok", "Enregistré.")
    assert "id" not in alert("Refusé.").to_plotly_json()["props"]
    assert alert("Attention", "warn", role="alert").role == "alert"
    with pytest.raises(ValueError):
        alert("?", "danger")


def test_field_label_hint_and_width():
    plain = field("Titre", html.Span("control"))
    assert plain.className == "form-field"
    assert [getattr(c, "className", None) for c in plain.children] == ["field-label", None]
    hinted = field("Valeur", html.Span("control"), hint="facteur", wide=True)
    assert hinted.className == "form-field wide"
    assert hinted.children[-1].className == "field-hint"


def test_data_table_marks_numeric_columns():
    rows = [html.Tr([html.Td("MAIRIE"), html.Td("12,5", className="num")])]
    table = data_table(["Bâtiment", "MWh"], rows, numeric=(1,), id_="t", extra_class="q-table")
    assert (table.className, table.id) == ("data-table q-table", "t")
    thead, tbody = table.children
    assert [getattr(th, "className", None) for th in thead.children.children] == [None, "num"]
    assert tbody.children == rows


def test_a_datetime_field_gives_one_iso_local_time():
    from dashboards.components import TIME_OPTIONS, datetime_field, datetime_iso

    assert datetime_iso("2026-12-05", "19:30") == "2026-12-05T19:30"
    assert datetime_iso("2026-12-05T00:00:00", "7:05") == "2026-12-05T07:05"
    assert datetime_iso("2026-12-05", None) == "2026-12-05T00:00"
    assert datetime_iso(None, "19:30") is None
    with pytest.raises(ValueError, match="Heure illisible"):
        datetime_iso("2026-12-05", "25:00")
    assert TIME_OPTIONS[:2] == ["00:00", "00:15"] and TIME_OPTIONS[-1] == "23:45"
    field = datetime_field("x", "2026-12-05T19:30")
    date, time = field.children
    assert (date.id, date.date, date.display_format) == ("x", "2026-12-05", "DD/MM/YYYY")
    assert (time.id, time.value) == ("x-time", "19:30")


def test_every_dropdown_writes_its_own_words_in_french(tmp_path):
    from dash import dcc

    from dashboards.app import create_app

    create_app(f"sqlite:///{tmp_path / 'c.sqlite'}")
    props = dcc.Dropdown(options=["a"], id="x").to_plotly_json()["props"]
    assert props["labels"]["search"] == "Rechercher"
    assert props["labels"]["no_options_found"] == "Aucun choix ne correspond"
    own = dcc.Dropdown(options=["a"], labels={"search": "Chercher un bâtiment"})
    assert own.to_plotly_json()["props"]["labels"] == {"search": "Chercher un bâtiment"}
