"""Keeps tuned values honest: a run trains with the report's table, then the file --params
names (each value checked as its flag is), then any flag given; and it says which."""
import argparse
from typing import NamedTuple

from plumbing.cli import (MAX_WIDTH, layer_width, non_negative_float, optimizer_name, path_text,
                          positive_float, probability)
from plumbing.files import read_json

# The check of every value the report's tables hold, for a flag and for a --params file alike
PARAM_TYPES = {"d": layer_width, "optimizer": optimizer_name, "lr": positive_float,
               "dropout": probability, "weight_decay": non_negative_float,
               "no1": layer_width, "no2": layer_width, "mlp_optimizer": optimizer_name,
               "mlp_lr": positive_float, "mlp_dropout": probability,
               "mlp_weight_decay": non_negative_float}


class Params(NamedTuple):
    """The values a run trains with, and their source ("report", a file, "command line [...]")."""
    values: dict
    source: str


def add_params_flag(parser, study):
    parser.add_argument("--params", metavar="FILE", type=path_text, default=None,
                        help=f"train with the tuned values in FILE (tuned_{study}.json, "
                             f"written by `python tune.py {study}`) instead of the report's "
                             "table; each value is checked as its flag is (widths d, no1, no2: "
                             f"1 to {MAX_WIDTH}); a flag given on the command line wins over both")


def resolve_params(args, table, study):
    """Params: the report's `table`, then the file --params names over it, then every flag
    given on the command line (a flag left at None was not given)."""
    params, sources = dict(table), []
    if args.params:
        params.update(read_params(args.params, study, table))
        sources.append(str(args.params))
    given = {k: getattr(args, k) for k in table if getattr(args, k, None) is not None}
    if given:
        params.update(given)
        sources.append(f"command line {sorted(given)}")
    return Params(params, " + ".join(sources) or "report")


def read_params(path, study, table):
    """The values of `table`'s keys in a file tune.py wrote ({"study": NAME, "params": {...},
    "value", "direction", "trials", "settings"}), each checked as its flag is: a missing,
    damaged or foreign file, or a bad value, is one line."""
    fix = f"pass a file written by `python tune.py {study}`"
    data = read_json(path, fix)
    if data.get("study") not in (study, None):
        raise SystemExit(f"error: {path} holds the tuned values of `tune.py {data['study']}`, "
                         f"not of `tune.py {study}`; {fix}")
    params = data.get("params")
    if not isinstance(params, dict):
        raise SystemExit(f"error: {path} is not a tuned-value file (no params); {fix}")
    missing = set(table) - set(params)
    if missing:
        raise SystemExit(f"error: {path} lacks {sorted(missing)}; {fix}")
    return {k: check_param(path, k, params[k]) for k in table}


def check_param(path, key, value, fix="fix the file or rerun tune.py"):
    """A value read from a file passes the check of its flag (PARAM_TYPES), or is one line."""
    check = PARAM_TYPES[key]
    kind = str if check is optimizer_name else int if check is layer_width else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):  # JSON's true is not 1
        what = {str: "a name", int: "a whole number"}.get(kind, "a number")
        raise SystemExit(f"error: {path}: {key} must be {what}, got {value!r}; {fix}")
    try:
        return check(str(value))
    except argparse.ArgumentTypeError as e:
        raise SystemExit(f"error: {path}: {key} {e}; {fix}")

