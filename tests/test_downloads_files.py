"""What a download holds, from a table as the page draws it: spans repeated, action columns
left out, numbers with one unit typed (the unit in the header), French CSV and typed XLSX."""

from __future__ import annotations

import datetime as dt
import io

from dash import html
from openpyxl import load_workbook

from dashboards import downloads as dl


def _table():
    head = html.Thead(html.Tr([html.Th(h) for h in ("Code", "Surface", "Point", "Relevé", "")]))
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td("MAIRIE", rowSpan=2),
                    html.Td("1\u202f234,5\u00a0m²", rowSpan=2),
                    html.Td("MAIRIE-GAZ"),
                    html.Td("16/01/2025 08:00"),
                    html.Td(html.Button("Clore")),
                ]
            ),
            html.Tr([html.Td("MAIRIE-T"), html.Td("—"), html.Td(html.Button("Clore"))]),
            html.Tr(
                [
                    html.Td("ECOLE; « A »"),
                    html.Td("—"),
                    html.Td("Aucun point de mesure", colSpan=2),
                    html.Td(""),
                ]
            ),
        ]
    )
    return html.Div(html.Table([head, body]))


def test_rows_as_shown_with_spans_and_without_action_columns():
    header, rows = dl.table_rows(_table())
    assert header == ["Code", "Surface", "Point", "Relevé"]
    assert rows == [
        ["MAIRIE", "1\u202f234,5\u00a0m²", "MAIRIE-GAZ", "16/01/2025 08:00"],
        ["MAIRIE", "1\u202f234,5\u00a0m²", "MAIRIE-T", "—"],
        ["ECOLE; « A »", "—", "Aucun point de mesure", ""],
    ]


def test_french_csv_and_typed_xlsx():
    header, rows = dl.typed_columns(*dl.table_rows(_table()))
    assert header[1] == "Surface (m²)" and [r[1] for r in rows] == [1234.5, 1234.5, None]
    text = dl.to_csv(header, rows).decode("utf-8")
    assert text.startswith("\ufeffCode;Surface (m²);Point;Relevé\r\n")
    assert "MAIRIE;1234,5;MAIRIE-GAZ;16/01/2025 08:00\r\n" in text
    assert '"ECOLE; « A »";;Aucun point de mesure;\r\n' in text
    sheet = load_workbook(io.BytesIO(dl.to_xlsx(header, rows, "essai"))).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][1] == 1234.5 and values[1][3] == dt.datetime(2025, 1, 16, 8, 0)
    assert sheet.cell(2, 4).number_format == "dd/mm/yyyy hh:mm"


def test_numbers_signs_and_units():
    assert dl.number_and_unit("+12,5\u00a0%") == (12.5, "%")
    assert dl.number_and_unit("−3\u202f000\u00a0€") == (-3000, "€")
    assert dl.number_and_unit("42") == (42, "")
    assert dl.number_and_unit("MAIRIE-T") is None
    assert dl.number_and_unit("12,3 °C et plus") is None
    header, rows = dl.typed_columns(["Valeur"], [["12,3\u00a0°C"], ["4\u00a0kWh"]])
    assert rows == [["12,3\u00a0°C"], ["4\u00a0kWh"]]  # two units: kept as shown


def test_a_view_with_several_tables_gives_the_one_asked_for():
    def one(code):
        return html.Table(
            [html.Thead(html.Tr([html.Th("Code")])), html.Tbody(html.Tr([html.Td(code)]))]
        )

    view = html.Div(
        [
            html.Div(one("TERMES"), **{"data-download": "contract-terms"}),
            html.Div(one("MAIRIE"), **{"data-download": "contract-buildings"}),
        ]
    )
    assert dl.table_rows(dl.narrowed(view, "contract-buildings")) == (["Code"], [["MAIRIE"]])
    assert dl.table_rows(dl.narrowed(view, "contract-terms")) == (["Code"], [["TERMES"]])
