"""The working group's monthly report as a PDF (A4, French), drawn with reportlab: tables and
charts in pure Python, so nothing needs a browser.

Layout only: the figures come from `dashboards.report_data.MonthlyReport` and are formatted
with `dashboards.fmt`, as on the pages. DejaVu Sans (Debian's fonts-dejavu-core) carries the
euro sign, the narrow no-break space of French thousands and U+2212; without it the built-in
Helvetica is used and the characters it lacks are replaced by their nearest Latin-1 ones.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from contract.settlement import ALERT_LABELS_FR
from dashboards.fmt import fr_date, fr_eur, fr_number, fr_pct
from dashboards.report_data import MonthlyReport
from dashboards.savings_figures import ACTUAL, LOSS, SAVING, TARGET, month_label

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
NB_REVISION = ("nb_revision_1_season", "nb_revision_2_seasons")
WIDTH = A4[0] - 30 * mm


def _fonts() -> tuple[str, str]:
    """(regular, bold) font names: DejaVu Sans when the system has it, else Helvetica."""
    regular, bold = DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
        return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"


class _Text:
    """Strings for the chosen font: Helvetica (WinAnsi) lacks a few of French's typography."""

    def __init__(self, font: str):
        self.latin1 = font == "Helvetica"

    def __call__(self, value) -> str:
        text = "" if value is None else str(value)
        if self.latin1:
            text = text.replace("\u202f", "\u00a0").replace("\u2212", "-")
        return text


def _styles(font: str, bold: str) -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=font, fontSize=9, leading=12)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontName=bold, fontSize=16),
        "h1": ParagraphStyle(
            "h1", parent=base["Heading2"], fontName=bold, fontSize=12, spaceBefore=8, spaceAfter=4
        ),  # fmt: skip
        "h2": ParagraphStyle("h2", parent=base["Heading3"], fontName=bold, fontSize=10),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9),
        "head": ParagraphStyle("head", parent=body, fontName=bold, fontSize=7.5, leading=9),
    }


def _table(rows: list[list], widths: list[float], font: str, bold: str, right=()) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTNAME", (0, 0), (-1, 0), bold),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6ebef")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b8c4cc")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    style += [("ALIGN", (c, 1), (c, -1), "RIGHT") for c in right]
    table.setStyle(TableStyle(style))
    return table


def render_pdf(report: MonthlyReport, generated_on: dt.date | None = None) -> bytes:
    """The report's PDF bytes."""
    font, bold = _fonts()
    t = _Text(font)
    st = _styles(font, bold)
    generated_on = generated_on or dt.date.today()
    story: list = []

    def p(text: str, style: str = "body"):
        story.append(Paragraph(escape(t(text)), st[style]))

    def cells(rows: list[list], right) -> list[list]:
        """Headers and texts as paragraphs, wrapped in their column; figures as they are
        (right-aligned by the table style)."""
        head, *body = rows
        return [[Paragraph(escape(t(h)), st["head"]) for h in head]] + [
            [t(c) if i in right else Paragraph(escape(t(c)), st["cell"])
             for i, c in enumerate(row)]
            for row in body
        ]  # fmt: skip

    def table(rows, widths, right=()):
        right = set(right)
        story.append(_table(cells(rows, right), [w * mm for w in widths], font, bold, right))
        story.append(Spacer(1, 3 * mm))

    month = month_label(report.month)
    p(f"Rapport mensuel du groupe de travail — {month}", "title")
    p(
        f"Contrat {report.contract_code} · {report.contractor} · saison {report.season}. "
        f"Mois du {fr_date(report.period_from)} au {fr_date(report.period_to)} ; saison au "
        f"{fr_date(report.season_to)}. Édité le {fr_date(generated_on)}."
    )

    # --- the month and the season to date
    for title, payload, marker in (
        (f"Le mois : {month}", report.month_payload, report.month_closed),
        (f"La saison {report.season} au {fr_date(report.season_to)}", report.season_payload,
         report.season_closed),
    ):  # fmt: skip
        story.append(Paragraph(escape(t(title)), st["h1"]))
        if marker:
            p(f"Chiffres signés ({marker}) : ils ne changent plus.", "small")
        table(_settlement_rows(payload), [22, 18, 15, 19, 17, 13, 26, 22, 14], range(1, 9))
        total = payload["total"]
        p(
            f"Intéressement de l'exploitant : {fr_eur(total['bonus_eur'])} ; pénalité : "
            f"{fr_eur(total['penalty_eur'])} (prix P1 "
            f"{fr_number(payload['price_eur_per_mwh_pci'], 2)} € / MWh PCI)."
        )

    story.append(Paragraph(escape(t("Alertes de révision du NB")), st["h2"]))
    nb_alerts = [
        f"{r['building_code']} : {ALERT_LABELS_FR[a]}"
        for r in report.season_payload["buildings"]
        for a in r["alerts"]
        if a in NB_REVISION
    ]
    if nb_alerts:
        for line in nb_alerts:
            p(f"• {line}")
    elif not report.season_payload.get("season_complete"):
        p("Aucune : ces alertes ne sont levées que sur une saison complète.")
    else:
        p("Aucune révision du NB à envisager.")

    # --- charts
    story.append(Paragraph(escape(t("Consommation mensuelle et objectif corrigé")), st["h1"]))
    story.append(_bars(report.season_months, font, t))
    if report.cusum or report.cusum_notes:
        story.append(
            Paragraph(escape(t("CUSUM des bâtiments les plus au-dessus de leur objectif")),
                      st["h1"])
        )  # fmt: skip
        for code, frame in report.cusum.items():
            story.append(KeepTogether([_cusum(code, frame, font, t)]))
        for code, note in report.cusum_notes.items():
            p(f"{code} : pas de CUSUM ({note}).")

    # --- usage performance
    story.append(Paragraph(escape(t("Performance d'usage du mois")), st["h1"]))
    if report.comfort:
        rows = [["Bâtiment", "Réservations", "Temps à la consigne", "En retard",
                 "Écart max", "Chauffage MWh PCS", "Hors usage"]]  # fmt: skip
        for c in report.comfort:
            rows.append([
                c["building_code"], str(c["bookings"]), fr_pct(c["share_ok_pct"], 0),
                str(c["late_bookings"]),
                "—" if c["max_shortfall_c"] is None else f"{fr_number(c['max_shortfall_c'], 1)} °C",
                "—" if c["energy_kwh"] is None else fr_number(c["energy_kwh"] / 1000, 2),
                fr_pct(c["share_outside_pct"], 0),
            ])  # fmt: skip
        table(rows, [26, 25, 26, 18, 20, 34, 22], range(1, 7))
    else:
        p("Aucune réservation ni relevé de chauffage sur le mois.")

    # --- the carnet of the month
    story.append(Paragraph(escape(t("Alarmes et interventions du mois")), st["h1"]))
    for label, frame in (("Alarmes", report.alarms), ("Interventions", report.interventions)):
        _entries(story, p, table, label, frame)
    story.append(Paragraph(escape(t("Signalements")), st["h1"]))
    answered = report.signalements_answered
    p(
        f"{len(report.signalements_month)} signalement(s) reçu(s) dans le mois, dont "
        f"{len(answered)} répondu(s) ; {len(report.signalements_waiting)} en attente de "
        "réponse (toutes dates)."
    )
    if len(answered):
        table([["Date", "Bâtiment", "Signalement", "Réponse"]] + [
            [r.date, r.building_code, r.text, r.answer if isinstance(r.answer, str) else r.status_label]
            for r in answered.itertuples()
        ], [20, 22, 70, 68])  # fmt: skip
    if len(report.signalements_waiting):
        p("En attente :", "h2")
        table([["Date", "Bâtiment", "Signalement"]] + [
            [r.date, r.building_code, r.text] for r in report.signalements_waiting.itertuples()
        ], [20, 22, 138])  # fmt: skip

    story.append(Paragraph(escape(t("Obligations réglementaires")), st["h1"]))
    p(
        f"{len(report.obligations_overdue)} en retard, {len(report.obligations_due)} à échéance "
        "dans les 30 jours."
    )
    for label, frame in (("En retard", report.obligations_overdue),
                         ("À échéance", report.obligations_due)):  # fmt: skip
        if len(frame):
            p(label, "h2")
            table([["Bâtiment", "Obligation", "Échéance", "Retard (jours)"]] + [
                [r.building_code, r.label, fr_date(r.next_due_on),
                 str(int(r.days_overdue)) if r.overdue else ""]
                for r in frame.itertuples()
            ], [24, 106, 25, 25], (3,))  # fmt: skip

    story.append(Paragraph(escape(t("Travaux et ajustements")), st["h1"]))
    _entries(story, p, table, "Travaux", report.works, "aucun")
    if report.adjustments:
        table([["Bâtiment", "Nature", "Effet", "Justification", "État"]] + [
            [a["building_code"], a["kind_label"], _effect(a), a["justification"],
             "en attente" if a["status"] == "pending" else "appliqué"]
            for a in report.adjustments
        ], [22, 30, 38, 70, 20])  # fmt: skip
    else:
        p("Aucun ajustement de la référence sur le mois.")

    story.append(Paragraph(escape(t("Retours d'expérience ouverts")), st["h1"]))
    if len(report.rex):
        table([["N°", "Date", "Bâtiment", "Incident", "Récits", "Décisions à faire"]] + [
            [str(r.id), r.date, r.building_code, r.title, str(r.accounts), str(r.decisions_open)]
            for r in report.rex.itertuples()
        ], [10, 20, 22, 90, 15, 23], (4, 5))  # fmt: skip
        if len(report.decisions):
            p("Décisions à faire", "h2")
            table([["Retour", "Décision", "Qui", "Pour le", "État"]] + [
                [f"n° {d.rex_id}", d.text, d.owner, d.due,
                 "en retard" if d.overdue else d.status_label]
                for d in report.decisions.itertuples()
            ], [16, 88, 34, 22, 20])  # fmt: skip
    else:
        p("Aucun retour d'expérience ouvert.")

    story.append(Paragraph(escape(t("Données manquantes")), st["h1"]))
    if report.gaps:
        total = sum(g["days_missing"] for g in report.gaps)
        p(f"{total} jour(s) de consommation manquant(s) sur le mois : les chiffres de ces "
          "bâtiments sont incomplets.")  # fmt: skip
        for g in report.gaps:
            spans = f" ({', '.join(g['spans'])})" if g["spans"] else ""
            p(f"• {g['building_code']} : {g['days_missing']} jour(s) manquant(s){spans}")
    else:
        p("Aucun jour de consommation manquant sur le mois.")

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
        bottomMargin=15 * mm, title=t(f"Rapport mensuel {report.contract_code} {report.month}"),
        author="Carnet", lang="fr-FR",
    )  # fmt: skip

    def footer(canvas, doc_):
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawRightString(
            A4[0] - 15 * mm, 8 * mm,
            t(f"{report.contract_code} · {month} · page {doc_.page}"),
        )  # fmt: skip
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _settlement_rows(payload: dict) -> list[list]:
    rows = [["Bâtiment", "Réel MWh PCI", "DJU", "Objectif MWh PCI", "Écart MWh", "Écart %",
             "Intéressement €", "Pénalité €", "Jours manq."]]  # fmt: skip
    for rec in [*payload["buildings"], {"building_code": "TOTAL", **payload["total"]}]:
        rows.append([
            rec["building_code"],
            fr_number(rec["actual_mwh_pci"], 2),
            fr_number(rec["dju"], 1),
            fr_number(rec["target_mwh_pci"], 2),
            fr_number(rec["gap_mwh"], 2),
            fr_number(rec["gap_pct"], 1),
            fr_eur(rec["bonus_eur"]),
            fr_eur(rec["penalty_eur"]),
            str(int(rec.get("days_missing") or 0)),
        ])  # fmt: skip
    return rows


def _effect(a: dict) -> str:
    what = (
        f"NB × {fr_number(a['nb_factor'], 2)}" if a["nb_factor"] is not None
        else f"{fr_number(a['delta_mwh_pci'], 1)} MWh PCI"
    )  # fmt: skip
    until = f" au {fr_date(a['effective_to'])}" if a["effective_to"] else ""
    return f"{what} du {fr_date(a['effective_from'])}{until}"


def _entries(story, p, table, label: str, frame: pd.DataFrame, none: str = "aucune") -> None:
    if not len(frame):
        p(f"{label} : {none}.")
        return
    p(f"{label} : {len(frame)}", "h2")
    table([["Date", "Bâtiment", "Nature", "Texte", "État"]] + [
        [r.date, r.building_code, r.kind_label, r.text, r.status_label]
        for r in frame.itertuples()
    ], [20, 22, 32, 86, 20])  # fmt: skip


def _bars(months: pd.DataFrame, font: str, t) -> Drawing:
    """Real against corrected target, per month of the season (MWh PCI)."""
    drawing = Drawing(WIDTH, 62 * mm)
    if months.empty:
        drawing.add(String(10, 80, t("Pas encore de mois réglé dans la saison."), fontName=font))
        return drawing
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 35, WIDTH - 60, 62 * mm - 55
    chart.data = [
        [float(v) if pd.notna(v) else 0.0 for v in months["actual_mwh_pci"]],
        [float(v) if pd.notna(v) else 0.0 for v in months["target_mwh_pci"]],
    ]
    chart.categoryAxis.categoryNames = [t(month_label(m)) for m in months["month"]]
    chart.categoryAxis.labels.fontName = chart.valueAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labelTextFormat = lambda v: t(fr_number(v, 0))
    chart.bars[0].fillColor = colors.HexColor(ACTUAL)
    chart.bars[1].fillColor = colors.HexColor(TARGET)
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y, legend.fontName, legend.fontSize = 45, 62 * mm - 8, font, 7
    legend.alignment, legend.columnMaximum = "right", 1
    legend.colorNamePairs = [(colors.HexColor(ACTUAL), t("Réel (MWh PCI)")),
                             (colors.HexColor(TARGET), t("Objectif corrigé (MWh PCI)"))]  # fmt: skip
    drawing.add(legend)
    drawing.add(String(2, 62 * mm - 20, "MWh", fontName=font, fontSize=7))
    return drawing


def _cusum(code: str, frame: pd.DataFrame, font: str, t) -> Drawing:
    """The savings page's CUSUM of one building: running sum of (model - measured) over the
    season, in MWh PCS; green while it saves, red when it drifts."""
    drawing = Drawing(WIDTH, 50 * mm)
    days = pd.to_datetime(frame["day"])
    x = (days - days.iloc[0]).dt.days.astype(float).tolist()
    y = (frame["cusum"].astype(float).fillna(0.0) / 1000.0).tolist()
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 50, 25, WIDTH - 70, 50 * mm - 45
    plot.data = [list(zip(x, y, strict=True))]
    plot.lines[0].strokeColor = colors.HexColor(SAVING if y[-1] >= 0 else LOSS)
    plot.lines[0].strokeWidth = 1.2
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, max(x[-1], 1.0)
    plot.xValueAxis.labelTextFormat = lambda v: t(
        fr_date((days.iloc[0] + pd.Timedelta(days=int(v))).date())
    )
    plot.xValueAxis.labels.fontName = plot.yValueAxis.labels.fontName = font
    plot.xValueAxis.labels.fontSize = plot.yValueAxis.labels.fontSize = 7
    plot.yValueAxis.labelTextFormat = lambda v: t(fr_number(v, 1))
    drawing.add(plot)
    drawing.add(String(50, 50 * mm - 10, t(
        f"{code} : CUSUM des économies (modèle − mesuré), {fr_number(y[-1], 2)} MWh PCS "
        f"cumulés au {fr_date(days.iloc[-1].date())}"), fontName=font, fontSize=8))  # fmt: skip
    return drawing
