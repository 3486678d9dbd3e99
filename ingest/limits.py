"""What one import may cost, stated once: the readers enforce these while streaming.

Every limit has its French name in `docs/import.md` (« Limites »), with what happens beyond
it. A line beyond a per-line limit is a rejected row with its reason; a file beyond a
per-file limit is refused as unreadable (exit 2) before anything is expanded or stored.
The chunk budgets are not user-facing: they keep the memory of one chunk bounded whatever
the shape of the lines (many short fields or few long ones).
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# --- per line (beyond: the row is rejected with its reason) --------------------------------
MAX_COLUMNS = 500  # colonnes par ligne
MAX_FIELD_CHARS = 4 * KIB  # caractères par champ
MAX_LINE_CHARS = 64 * KIB  # caractères par ligne (ou par enregistrement sur plusieurs lignes)
MAX_RECORD_LINES = 50  # lignes physiques d'un champ entre guillemets

# --- per batch: what is kept of the rejected rows ---------------------------------------------
MAX_REJECTED_KEPT = 1000  # lignes rejetées gardées en entier par lot
MAX_RAW_CHARS = 1 * KIB  # texte brut gardé par ligne rejetée (au-delà : tronqué, « … »)
MAX_REASON_CHARS = 500  # longueur d'un motif de rejet
MAX_REASON_GROUPS = 100  # motifs résumés au-delà des lignes gardées (puis « autres motifs »)

# --- per file ---------------------------------------------------------------------------------
# Formats that sort their rows at the end of the file (Enedis load curve, GRDF) keep them in
# memory as numbers: beyond this, the file is refused (cut it into several files).
MAX_DEFERRED_ROWS = 1_000_000
# Page uploads: the file travels base64-encoded (4/3) inside one JSON request; the web server's
# request limit (dashboards/app.py, MAX_CONTENT_LENGTH) must hold UPLOAD_REQUEST_BYTES.
MAX_UPLOAD_BYTES = 200 * MIB  # taille d'un envoi par la page Imports (tous fichiers confondus)
UPLOAD_REQUEST_BYTES = (MAX_UPLOAD_BYTES + 2) // 3 * 4 + 256 * KIB

# --- XLSX, checked from the zip directory before anything is expanded -------------------------
XLSX_MAX_UNCOMPRESSED_BYTES = 64 * MIB  # somme des tailles décompressées
XLSX_MAX_RATIO = 100  # taux de compression d'une partie (décompressée / compressée)
XLSX_RATIO_FROM_BYTES = 1 * MIB  # the ratio is checked for parts larger than this
XLSX_MAX_SHEET_BYTES = 48 * MIB  # XML d'une feuille
XLSX_MAX_SHARED_STRINGS_BYTES = 16 * MIB  # XML des chaînes partagées
XLSX_MAX_SHARED_STRINGS = 200_000  # nombre de chaînes partagées
XLSX_MAX_PART_BYTES = 8 * MIB  # toute autre partie XML (styles, classeur, relations...)
XLSX_MAX_PARTS = 1000  # parties dans l'archive

# --- timestamps -------------------------------------------------------------------------------
TS_MIN_YEAR = 1900  # horodatages admis : de 1900 à 2099 (au-delà : ligne rejetée)
TS_MAX_YEAR = 2099

# --- chunk budgets (internal: memory of one chunk) --------------------------------------------
CHUNK_CHARS = 8 * MIB  # characters of text per chunk
CHUNK_CELLS = 400_000  # fields per chunk (a chunk of many short fields is cut earlier)
READ_BLOCK_CHARS = 1 * MIB  # characters read from the file at a time
HEAD_LINES = 60  # lines looked at to recognise the format
HEAD_CHARS = 512 * KIB  # characters looked at to recognise the format


def fr_size(n_bytes: int) -> str:
    """A size for a French message: « 36 Mo », « 4 Ko »... (binary units, as enforced)."""
    if n_bytes >= 1024 * MIB:
        value, unit = n_bytes / (1024 * MIB), "Go"
    elif n_bytes >= MIB:
        value, unit = n_bytes / MIB, "Mo"
    elif n_bytes >= KIB:
        value, unit = n_bytes / KIB, "Ko"
    else:
        return f"{n_bytes} octets"
    text = f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text}\u00a0{unit}"


def fr_int(n: int) -> str:
    """1000 -> « 1 000 » (non-breaking space), for messages."""
    return f"{n:,}".replace(",", "\u00a0")
