"""Keeps tune.py's Optuna storage safe across workers: a URL safe to print, heartbeats (a
killed worker's trial is failed), a resumed study checked to be of the same kind and settings,
every trial counted by its state, and a storage that fails (a full disk) one line."""
import contextlib
import re
import time
from pathlib import Path


def storage_urls(out, given):
    """(the URL to open, the URL to print and save): --storage with its password hidden,
    or sqlite:///OUT/optuna.db with the path escaped (a folder a?b or %41 stays itself).
    A --storage that is not a URL, or is an in-memory database, is one line."""
    import sqlalchemy
    if given is None:
        url = sqlalchemy.engine.URL.create("sqlite", database=str(Path(out) / "optuna.db"))
        return url.render_as_string(hide_password=False), url.render_as_string()
    try:
        url = sqlalchemy.make_url(given)
    except (sqlalchemy.exc.ArgumentError, ValueError) as e:  # not a URL; a port not a number
        shown = re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", given)  # its password hidden
        raise SystemExit(storage_error(shown, e))
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise SystemExit(f"error: --storage {shown} is an in-memory database: tune.py's workers "
                         "cannot share it and its trials are lost as the run ends; give a file "
                         "(sqlite:///PATH/optuna.db) or leave --storage out")
    return given, shown


HEARTBEAT_SECONDS = 10  # a running trial writes a heartbeat to the storage this often ...
GRACE_SECONDS = 120     # ... and Optuna fails it as stale (its worker died) after this long


def open_storage(url, shown):
    """The RDB storage at url, with heartbeats. Workers that start together on a new database
    all create its tables; those that lose that race find them on a second try."""
    import optuna
    for attempt in range(3):
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS,
                                              grace_period=GRACE_SECONDS)
        except Exception as e:
            if attempt == 2 or isinstance(e, ImportError):
                raise SystemExit(storage_error(shown, e))
            time.sleep(1 + attempt)


def storage_error(shown, e):
    """One line for a storage that cannot be opened or written, from the innermost cause
    (Optuna wraps a read-only file in "invalid data in the commit")."""
    causes = chain(e)
    if any(s in str(c).lower() for c in causes for s in ("disk is full", "no space left")):
        return (f"error: the disk holding the storage {shown} is full; free some space and "
                "run the same command again (the trials that ended are kept)")
    if any("readonly" in str(c).lower() for c in causes):
        return (f"error: the storage {shown}, or its folder, is read-only; choose another "
                "--storage or --out-dir")
    if isinstance(e, ImportError):  # Optuna hides the missing module in the cause
        return (f"error: --storage {shown} needs a database driver ({causes[-1]}); for "
                "postgresql:// URLs: pip install 'psycopg[binary]'")
    why = (str(e).strip() or type(e).__name__).splitlines()[0][:200]
    return f"error: cannot open the storage {shown} ({why})"


def chain(e):
    """[e, the exception it was raised from or while handling, and so on]."""
    causes = [e]
    while causes[-1].__cause__ or causes[-1].__context__:
        causes.append(causes[-1].__cause__ or causes[-1].__context__)
    return causes


@contextlib.contextmanager
def storage_errors(shown):
    """A storage that fails inside the block (a full disk, a server gone) is one line, not
    Optuna's chain of tracebacks, also when its error comes as the cause of another (Optuna's
    "Should not reach" as it tidies up); the cut trial is failed when the study is next opened."""
    import optuna
    import sqlalchemy
    kinds = (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError)
    try:
        yield
    except Exception as e:
        if not any(isinstance(c, kinds) for c in chain(e)):
            raise  # not the storage's: a bug, shown as one
        raise SystemExit(storage_error(shown, e))


def trial_counts(trials):
    """{"complete": n, ..., "waiting": n}: every trial held, by its state. Running: a worker is
    at it, or was killed less than GRACE_SECONDS ago; waiting: enqueued, not started."""
    states = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL",
              "running": "RUNNING", "waiting": "WAITING"}
    return {name: sum(t.state.name == state for t in trials) for name, state in states.items()}


def counts_text(counts):
    """ "3 complete, 1 pruned, 0 failed", and the running and waiting ones when there are."""
    return ", ".join(f"{n} {name}" for name, n in counts.items()
                     if n or name in ("complete", "pruned", "failed"))


def check_resumed(study, kind, direction, shown, settings):
    """Refuse to resume a study of another kind (ae, classifier, vae), or with other settings
    (subset, epochs, batch size), whose values would not compare; then record both in the study.
    Its kind is told by its trials' parameters, as an older study has only those."""
    names = {name for t in study.get_trials(deepcopy=False) for name in t.params}
    found = (("ae" if names & {"optimizer", "dropout"} else "classifier" if "no1" in names
              else "vae") if names else study.user_attrs.get("study"))
    if found not in (None, kind) or study.direction.name.lower() != direction:
        raise SystemExit(f"error: the study {study.study_name!r} in {shown} holds trials of "
                         f"tune.py {found or 'another study'}, not of tune.py {kind}; choose "
                         "another --study-name")
    if study.user_attrs.get("settings", settings) != settings:
        raise SystemExit(f"error: the study {study.study_name!r} in {shown} was run with "
                         f"{study.user_attrs['settings']}, not {settings}; use the same flags, "
                         "another --study-name, or another --storage")
    study.set_user_attr("study", kind)
    study.set_user_attr("settings", settings)
