"""The file formats Carnet reads, in the order auto-detection tries them.

Each entry: name -> (detect(sniffed, routing) -> bool, parser factory(sniffed, routing)).
The specific formats come first: their headers are unmistakable; generic ones last.
"""

from __future__ import annotations

from ingest import profiles
from ingest.formats import enedis, generic, grdf, indices, logger, weather

FORMATS = {
    "enedis-load-curve": (enedis.detect_load_curve, enedis.LoadCurveParser),
    "enedis-daily-index": (enedis.detect_daily_index, enedis.DailyIndexParser),
    "grdf-daily": (grdf.detect, grdf.GrdfParser),
    "weather-daily": (weather.detect_daily, weather.DailyParser),
    "weather-hourly": (weather.detect_hourly, weather.HourlyParser),
    "indices": (indices.detect, indices.IndicesParser),
    "profile": (profiles.detect, generic.ProfileParser),
    "logger": (logger.detect, logger.LoggerParser),
    "generic-long": (generic.detect_long, generic.LongParser),
    "generic-wide": (generic.detect_wide, generic.WideParser),
}

# how people call each format (the name is the command line's: `--format grdf-daily`)
FORMAT_LABELS_FR = {
    "enedis-load-curve": "Enedis, courbe de charge",
    "enedis-daily-index": "Enedis, index quotidiens",
    "grdf-daily": "GRDF, relevés quotidiens",
    "weather-daily": "Météo quotidienne (TN, TX)",
    "weather-hourly": "Météo horaire",
    "indices": "Indices de révision des prix",
    "profile": "Profil d'import du patrimoine",
    "logger": "Enregistreur de chaufferie",
    "generic-long": "CSV générique, une ligne par relevé",
    "generic-wide": "CSV générique, une colonne par point",
}


def format_label(name: str | None) -> str:
    """« GRDF, relevés quotidiens » for `grdf-daily`; another origin (`demo`, `modbus`) as is."""
    return FORMAT_LABELS_FR.get(name or "", name or "—")


# what each format expects of a file's header, for the message of a file none recognises
EXPECTED = {
    "enedis-load-curve": "Identifiant PRM;… puis Horodate;Valeur",
    "enedis-daily-index": "Horodate;Type de releve;EAS F1;…;EAS T",
    "grdf-daily": "date, volume, énergie ou coefficient ou index",
    "weather-daily": "station, date, TN, TX",
    "weather-hourly": "station, horodate, T",
    "indices": "indice;mois;valeur",
    "profile": "l'en-tête d'un profil d'import déclaré (import_profiles: du fichier de patrimoine)",
    "logger": "l'en-tête d'un enregistreur déclaré (logger_maps du fichier de patrimoine)",
    "generic-long": generic.EXPECTED,
    "generic-wide": "horodatage puis une colonne par code de point",
}
