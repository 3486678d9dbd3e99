"""The CLI starts light: `carnet --help` is written from the command table without importing a
command module (nor pandas or SQLAlchemy), `carnet CMD` imports only CMD's module and a command's
`--help` none of what its handler needs, a command loads what it uses and no more (checked in
modules, not seconds), no password is hashed at import, and Alembic runs only when the database
is not at the head revision."""

from __future__ import annotations

import argparse
import gc
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command as alembic_command

from carnet import db
from carnet_cli.main import COMMAND_MODULES, COMMANDS, build_parser, main
from tests.helpers.fresh_interpreter import modules_after as _modules_after

ROOT = Path(__file__).resolve().parent.parent


def _top(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_help_imports_neither_pandas_nor_sqlalchemy_nor_any_command():
    modules = _modules_after(
        "from carnet_cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    )
    assert "carnet_cli.main" in modules
    assert not {"pandas", "sqlalchemy", "alembic", "dash", "werkzeug"} & _top(modules)
    assert not set(COMMAND_MODULES) & modules


def test_a_command_imports_only_its_module():
    modules = _modules_after(
        "from carnet_cli.main import build_parser\nbuild_parser(['batches'])\n"
    )
    assert set(COMMAND_MODULES) & modules == {"carnet_cli.batches_cmd"}


def _command_modules(*argv: str) -> set[str]:
    """The modules `carnet ARGV` holds when done, run as the console script runs it (in a fresh
    interpreter, on the test database and home of the environment)."""
    return _modules_after(
        "import sys\nfrom carnet_cli.main import main\n"
        f"sys.argv = ['carnet', *{list(argv)!r}]\n"
        "try:\n    status = main()\nexcept SystemExit as exit_:\n    status = exit_.code\n"
        "assert status == 0, status\n"
    )


# what no command below needs: the dashboards, Modbus, spreadsheets, migrations, YAML files
NOT_FOR_THESE = {"dash", "plotly", "flask", "pymodbus", "openpyxl", "alembic", "yaml"}


@pytest.mark.parametrize("command", [["readings", "--help"], ["settle", "--help"]])
def test_a_commands_help_loads_neither_pandas_nor_sqlalchemy_nor_the_record(command):
    modules = _command_modules(*command)
    assert not {"pandas", "numpy", "sqlalchemy", "contract", "ingest"} & _top(modules)
    assert not {name for name in modules if name.startswith("carnet.")} - {
        "carnet.adjustment_kinds"
    }


def test_batches_loads_the_record_but_no_reader_dashboard_or_migration(engine):
    modules = _command_modules("batches")
    assert {"carnet.batches", "carnet.models", "pandas", "sqlalchemy"} <= modules
    assert not (NOT_FOR_THESE | {"ingest", "contract", "dashboards"}) & _top(modules)


def test_quarantine_list_loads_no_check_reader_dashboard_or_migration(engine):
    modules = _command_modules("quarantine", "list")
    assert {"carnet.quarantine", "carnet.models"} <= modules
    assert not (NOT_FOR_THESE | {"ingest", "contract"}) & _top(modules)


def test_the_console_script_freezes_its_start_up_for_the_collector_then_collects():
    script = (
        "import gc, sys\nfrom carnet_cli.main import main\n"
        "sys.argv = ['carnet', 'settle', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "True True"


def test_main_called_with_an_argv_leaves_the_collector_alone(capsys):
    frozen = gc.get_freeze_count()
    with pytest.raises(SystemExit):
        main(["settle", "--help"])
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_no_password_is_hashed_at_import():
    modules = _modules_after(
        "import carnet.users\n"
        "assert carnet.users._dummy_hash.cache_info().currsize == 0, 'hashed at import'\n"
    )
    assert "carnet.users" in modules


def test_help_lists_every_command_of_the_table(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    listed = [
        line.split()[0] for line in out.splitlines() if line.startswith("    ") and line[4] != " "
    ]
    assert listed == list(COMMANDS)
    # the same help, word for word, as when every module registers its own commands
    assert build_parser(["--help"]).format_help() == build_parser().format_help()


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_register_adds_exactly_the_commands_the_table_lists(module):
    sub = argparse.ArgumentParser(prog="carnet").add_subparsers(dest="command")
    importlib.import_module(module).register(sub)
    added = {action.dest: action.help for action in sub._choices_actions}
    assert list(sub.choices) == list(added)
    expected = {name: help_ for name, (mod, help_) in COMMANDS.items() if mod == module}
    assert list(added.items()) == list(expected.items())


def test_a_modules_commands_are_consecutive_in_the_table():
    order = [module for module, _help in COMMANDS.values()]
    assert [m for i, m in enumerate(order) if i == 0 or order[i - 1] != m] == COMMAND_MODULES


def test_lazy_parser_parses_like_the_full_one():
    argv = ["batches", "--limit", "1"]
    assert vars(build_parser(argv).parse_args(argv)) == vars(build_parser().parse_args(argv))


def test_second_engine_on_a_migrated_database_runs_no_migration(db_url, monkeypatch):
    calls: list[str] = []
    real_upgrade = db.upgrade
    real_alembic_upgrade = alembic_command.upgrade

    def counting_upgrade(engine, revision="head"):
        calls.append("db.upgrade")
        return real_upgrade(engine, revision)

    def counting_alembic_upgrade(*args, **kwargs):
        calls.append("alembic.upgrade")
        return real_alembic_upgrade(*args, **kwargs)

    monkeypatch.setattr(db, "upgrade", counting_upgrade)
    monkeypatch.setattr(alembic_command, "upgrade", counting_alembic_upgrade)

    engine = db.get_engine(db_url)  # empty database: brought up to date on first use
    assert calls == ["db.upgrade", "alembic.upgrade"]
    head = db.current_revision(engine)
    assert head is not None and not db.needs_upgrade(engine)

    calls.clear()
    db.reset_engines()  # as a new process would
    engine = db.get_engine(db_url)
    assert calls == []
    assert db.current_revision(engine) == head


def test_a_database_behind_the_head_is_still_upgraded_on_first_use(db_url):
    engine = db.get_engine(db_url)
    head = db.current_revision(engine)
    db.downgrade(engine, "0002")
    assert db.needs_upgrade(engine)
    db.reset_engines()
    assert db.current_revision(db.get_engine(db_url)) == head


def test_head_read_from_the_scripts_is_alembics():
    from alembic.script import ScriptDirectory

    assert db.head_revisions() == set(ScriptDirectory(str(db.MIGRATIONS_DIR)).get_heads())


def test_an_up_to_date_database_costs_no_alembic_import(tmp_path):
    url = f"sqlite:///{tmp_path / 'carnet.sqlite'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    modules = _modules_after(f"from carnet import db\ndb.get_engine({url!r})\n")
    assert "alembic" not in _top(modules)
