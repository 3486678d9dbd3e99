"""The administration's pieces: one table per kind with « Modifier » (and the users' actions),
and one form per kind built from the portfolio file's schema (`carnet.admin.form_fields`), so
that a field the file gains appears in the form. They read neither the request nor the
database: they draw what `dashboards.admin_data` returned."""

from __future__ import annotations

from dash import dcc, html

from carnet.admin import form_fields, key_field
from carnet.buildings import EQUIPMENT_LABELS_FR
from carnet.portfolio_schema import BOOLEAN, OBJECT
from carnet.roles import ROLE_LABELS_FR
from dashboards.components import alert, data_table, field
from dashboards.fmt import fr_number

KIND_LABELS_FR = {
    "user": "Utilisateurs",
    "building": "Bâtiments",
    "room": "Salles",
    "equipment": "Équipements",
    "channel": "Points de mesure",
    "station": "Stations météo",
    "contract": "Contrats",
    "contract_building": "Contrats : bâtiments (NB)",
    "gateway": "Passerelles Modbus",
    "modbus_device": "Équipements Modbus",
}
ITEM_LABELS_FR = {
    "user": "un utilisateur",
    "building": "un bâtiment",
    "room": "une salle",
    "equipment": "un équipement",
    "channel": "un point de mesure",
    "station": "une station",
    "contract": "un contrat",
    "contract_building": "un bâtiment au contrat",
    "gateway": "une passerelle Modbus",
    "modbus_device": "un équipement Modbus",
}
PARENT_LABELS_FR = {
    "building": "Bâtiment",
    "station": "Station",
    "contract": "Contrat",
    "gateway": "Passerelle",
}
FIELD_LABELS_FR = {
    "code": "Code",
    "login": "Identifiant",
    "name": "Nom",
    "role": "Rôle",
    "contract": "Contrat",
    "active": "Actif",
    "email": "Adresse e-mail",
    "address": "Adresse",
    "usage": "Usage",
    "heated_area_m2": "Surface chauffée (m²)",
    "tertiary_area_m2": "Surface tertiaire (m²)",
    "year_built": "Année de construction",
    "erp_category": "Catégorie ERP",
    "erp_type": "Type ERP",
    "main_energy": "Énergie principale",
    "station": "Station météo",
    "schedule": "Horaires (YAML)",
    "notes": "Notes",
    "bookable": "Réservable",
    "capacity": "Capacité (personnes)",
    "area_m2": "Surface (m²)",
    "heating_zone": "Zone de chauffage",
    "kind": "Type",
    "parent": "Équipement parent",
    "room": "Salle",
    "make": "Marque",
    "model": "Modèle",
    "serial": "N° de série",
    "power_kw": "Puissance (kW)",
    "fuel": "Combustible",
    "installed_on": "Installé le",
    "removed_on": "Retiré le",
    "meter_size": "Calibre du compteur",
    "quantity": "Grandeur",
    "unit": "Unité",
    "kwh_per_unit": "kWh par unité (PCS)",
    "modulus": "Modulo du compteur",
    "external_ref": "Référence externe (PCE, PRM)",
    "description": "Description",
    "equipment": "Équipement",
    "max_kw": "Puissance maximale (kW)",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "contractor": "Exploitant",
    "starts_on": "Début",
    "ends_on": "Fin",
    "season.start": "Début de saison (MM-JJ)",
    "season.end": "Fin de saison (MM-JJ)",
    "degree_days.method": "Méthode DJU",
    "degree_days.base_c": "Base DJU (°C)",
    "degree_days.station": "Station des DJU",
    "price_eur_per_mwh_pci": "Prix P1 (€/MWh PCI)",
    "pcs_pci_ratio": "Rapport PCS/PCI",
    "sharing.franchise_pct": "Franchise (%)",
    "sharing.savings_share_contractor": "Part des économies à l'exploitant",
    "sharing.savings_cap_pct": "Plafond des économies (%)",
    "sharing.overrun_share_contractor": "Part des excès à l'exploitant",
    "guaranteed_savings_pct": "Économies garanties (%)",
    "nb_revision.one_season_pct": "Alerte révision NB, une saison (%)",
    "nb_revision.two_seasons_pct": "Alerte révision NB, deux saisons (%)",
    "terms": "Autres termes, dont formules de révision (YAML)",
    "building": "Bâtiment",
    "channel": "Point de mesure du comptage",
    "nb_mwh_pci": "NB (MWh PCI)",
    "dju_ref": "DJU de référence",
    "ecs_channel": "Point de mesure ECS",
    "q_ecs_mwh_per_m3": "q ECS (MWh/m³)",
    "reference_year": "Année de référence",
    "reference_kwh": "Consommation de référence (kWh)",
    "type": "Liaison (tcp, serial)",
    "host": "Hôte (adresse IP ou nom)",
    "port": "Port TCP ou port série",
    "framer": "Tramage",
    "timeout_s": "Délai de réponse (s)",
    "retries": "Nouvelles tentatives",
    "baudrate": "Débit (bauds)",
    "parity": "Parité",
    "stopbits": "Bits d'arrêt",
    "bytesize": "Bits de données",
    "modbus_device.unit": "Adresse d'esclave",  # a kind's own sense of a key comes first
    "map": "Table de registres",
    "poll_s": "Période de relève (s)",
    "channels": "Points Modbus → points de mesure (YAML « point: CODE »)",
    "_parent": "Rattachement",
}
# the fields naming another item, and the choices (`admin_data.choices`) they take
REFERENCES = {
    "station": "station",
    "degree_days.station": "station",
    "room": "room",
    "parent": "equipment",
    "equipment": "equipment",
    "building": "building",
    "channel": "channel",
    "ecs_channel": "channel",
    "contract": "contract",
    "quantity": "quantity",
    "unit": "unit",
    "modbus_device.unit": None,  # a slave address, typed
}
SUMMARY = {
    "user": ("name", "role", "contract", "active"),
    "building": ("name", "usage", "heated_area_m2"),
    "room": ("name", "capacity"),
    "equipment": ("kind", "name", "power_kw"),
    "channel": ("quantity", "kind", "unit"),
    "station": ("name",),
    "contract": ("contractor", "kind", "price_eur_per_mwh_pci"),
    "contract_building": ("nb_mwh_pci", "dju_ref", "channel"),
    "gateway": ("host", "port", "framer"),
    "modbus_device": ("map", "name", "equipment"),
}
CHOICE_LABELS = {"role": ROLE_LABELS_FR, "kind": EQUIPMENT_LABELS_FR}
YES_NO = [{"label": "Oui", "value": True}, {"label": "Non", "value": False}]


def parent_value(parent) -> str:
    return "" if not parent else f"{parent[0]}|{parent[1]}"


def parent_of(value: str | None):
    if not value or "|" not in value:
        return None
    kind, _, code = value.partition("|")
    return kind, code


def _cell(key: str, value) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if value is None:
        return "—"
    if key == "role":
        return ROLE_LABELS_FR.get(value, value)
    if isinstance(value, float):  # as many decimals as the value holds
        decimals = 0 if value.is_integer() else len(repr(value).split(".")[1])
        return fr_number(value, min(decimals, 6))
    if key == "price_eur_per_mwh_pci":  # exported as exact decimal text
        return str(value).replace(".", ",")
    return str(value)


def _user_actions(row: dict):
    login = row["key"]
    active = row["item"].get("active", True)
    return [
        html.Button(
            "Lien de mot de passe",
            id={"type": "adm-user", "action": "reset", "login": login},
            className="btn btn-secondary btn-small",
        ),
        html.Button(
            "Désactiver" if active else "Réactiver",
            id={"type": "adm-user", "action": "off" if active else "on", "login": login},
            className="btn btn-secondary btn-small",
        ),
    ]


def items_table(kind: str, rows: list[dict]):
    if not rows:
        return html.P("Rien pour l'instant.", className="muted", id="adm-empty")
    nested = any(r["parent"] for r in rows)
    key = key_field(kind)
    head = (["Rattachement"] if nested else []) + [label_of(kind, key)]
    head += [label_of(kind, k) for k in SUMMARY[kind]] + [""]
    body = []
    for r in rows:
        cells = [html.Td(r["parent"][1] if r["parent"] else "")] if nested else []
        cells.append(html.Td(r["key"], className="code"))
        cells += [html.Td(_cell(k, r["item"].get(k))) for k in SUMMARY[kind]]
        buttons = [
            html.Button(
                "Modifier",
                id={
                    "type": "adm-edit",
                    "kind": kind,
                    "parent": parent_value(r["parent"]),
                    "key": r["key"],
                },
                className="btn btn-secondary btn-small",
            )
        ]
        if kind == "user":
            buttons += _user_actions(r)
        cells.append(html.Td(buttons, className="actions"))
        body.append(html.Tr(cells, id=f"adm-row-{r['key']}"))
    return data_table(head, body, id_="adm-table")


def label_of(kind: str, key: str) -> str:
    return FIELD_LABELS_FR.get(f"{kind}.{key}") or FIELD_LABELS_FR.get(key, key)


def _options(kind: str, key: str, spec, choices: dict) -> list[dict] | None:
    if spec.kind == BOOLEAN:
        return YES_NO
    if spec.choices is not None:
        labels = CHOICE_LABELS.get(key, {})
        return [{"label": str(labels.get(c, c)), "value": c} for c in spec.choices]
    ref = REFERENCES.get(f"{kind}.{key}", REFERENCES.get(key))
    if ref is not None:
        return [{"label": label, "value": v} for v, label in choices[ref]]
    return None


def _control(kind: str, key: str, spec, value, choices: dict, disabled: bool):
    id_ = {"type": "adm-in", "field": key}
    options = _options(kind, key, spec, choices)
    if options is not None:
        return dcc.Dropdown(
            id=id_, options=options, value=value, disabled=disabled, placeholder="(aucun)"
        )
    if spec.kind == OBJECT:
        return dcc.Textarea(id=id_, value=value or "", rows=8, className="code-area")
    return dcc.Input(id=id_, type="text", value=value or "", disabled=disabled, debounce=False)


def _error(key: str):
    return html.Div(id={"type": "adm-err", "field": key}, className="field-error")


def item_form(
    kind: str,
    values: dict,
    choices: dict,
    *,
    new: bool,
    parent=None,
    parents=None,
    removable: bool = False,
) -> html.Div:
    """The form of one item: a new one (`new`) or the one `values` describes; the key of an
    existing item is read-only (changing it would name another item)."""
    key = key_field(kind)
    rows = []
    if parents is not None:
        options = [
            {"label": f"{PARENT_LABELS_FR[pk]} {label}", "value": f"{pk}|{code}"}
            for pk in parents
            for code, label in choices[pk]
        ]
        rows.append(
            html.Div(
                [
                    field(
                        FIELD_LABELS_FR["_parent"],
                        dcc.Dropdown(
                            id={"type": "adm-in", "field": "_parent"},
                            options=options,
                            value=parent_value(parent) or None,
                            disabled=not new,
                        ),
                    ),
                    _error("_parent"),
                ]
            )
        )
    for name, spec in form_fields(kind):
        label = label_of(kind, name) + (" *" if spec.required else "")
        control = _control(
            kind, name, spec, values.get(name), choices, disabled=(name == key and not new)
        )
        wide = spec.kind == OBJECT  # the grid's item is this block: it spans the form
        rows.append(
            html.Div([field(label, control), _error(name)], className="wide" if wide else None)
        )
    title = f"Ajouter {ITEM_LABELS_FR[kind]}" if new else f"Modifier « {values.get(key)} »"
    return html.Div(
        className="card form-card",
        id="adm-form-card",
        children=[
            html.H2(title),
            html.Div(rows, className="form-grid"),
            html.Div(
                className="form-actions",
                children=[
                    html.Button("Enregistrer", id="adm-save", className="btn btn-primary"),
                    *(
                        [html.Button("Supprimer", id="adm-remove", className="btn btn-danger")]
                        if removable and not new
                        else []
                    ),
                ],
            ),
            html.Div(id="adm-form-message"),
        ],
    )


def saved_message(lines: list[str]):
    return alert("Enregistré. " + " ; ".join(lines), "ok", "adm-saved")


def problems_message(general: list[str], fields: dict):
    text = "Rien n'a été enregistré : corrigez les champs signalés."
    if general:
        text = "Rien n'a été enregistré : " + " ; ".join(general)
    elif not fields:
        text = "Rien n'a été enregistré."
    return alert(text, "error", "adm-problems")
