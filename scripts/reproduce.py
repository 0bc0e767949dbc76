"""The whole report, every table and figure, into outputs/ (outputs/quick/ with --quick), as the
report did it: each model trained with the values its own tuning found. The recipe is REPORT
below; outputs/summary.md puts the report's numbers beside ours at the end.

    python -m scripts.reproduce --quick       # a first look, every step on a tiny subset
    python -m scripts.reproduce               # the report's settings
    python -m scripts.reproduce --jobs 2      # two steps at once (see docs/speed.md)
    WORKERS=4 python -m scripts.reproduce --device cuda   # 4 workers a study, 3 steps at once
    python -m scripts.reproduce --seeds 3     # the above, then both configurations x 3 seeds
    python -m scripts.reproduce --studies 3   # the above, then 2 more tuning runs, each measured

A step starts once the steps that make its inputs have ended, up to --jobs at once; its output
goes to OUT/logs/STEP.log, its start, end and seconds to OUT/times.tsv. Every other flag goes
to every step (--quick, --device, --seed, --data-dir, --out-dir, --subset), checked against each
before anything is written; a path is taken from the folder you run this in. One run at a time
writes to a folder. Ctrl-C or SIGTERM stop every step (exit 130 or 143); a failing step stops
the others, and its exit status is the run's.
"""
import json
import shutil
from typing import NamedTuple

from plumbing.steps import Clock, Task, fresh, hold_lock, parse, run_steps, say, stop, without


class Step(NamedTuple):
    name: str        # its log: OUT/logs/NAME.log
    command: tuple   # `python COMMAND FLAGS`, run in the project's folder; OUT/: the output folder
    needs: tuple     # files it reads that other steps of its table write
    makes: tuple     # files it writes that a later step or a rerun looks for


# The report: two chains (the AE's, the VAE's) and Adam against SGD, then the latent spaces
REPORT = [
    Step("tune_ae", ("tune.py", "ae"), (), ("tuned_ae.json",)),
    Step("refit_ae", ("ae.py", "--part", "refit", "--params", "OUT/tuned_ae.json"),
         ("tuned_ae.json",), ("ae.pt", "ae.json")),
    Step("tune_classifier", ("tune.py", "classifier"), ("ae.pt",), ("tuned_classifier.json",)),
    Step("classify", ("classify.py", "--params", "OUT/tuned_classifier.json"),
         ("tuned_classifier.json",), ("classify.json",)),
    Step("tune_vae", ("tune.py", "vae"), (), ("tuned_vae.json",)),
    Step("vae", ("vae.py", "--params", "OUT/tuned_vae.json"),
         ("tuned_vae.json",), ("vae.pt", "vae.json")),
    Step("compare", ("ae.py", "--part", "compare"), (), ("ae.json",)),  # its own entry of ae.json
    Step("explore", ("explore.py",), ("ae.pt", "vae.pt"), ("explore.json",)),
    Step("samples", ("-m", "beyond.samples"), ("ae.pt", "vae.pt"), ("samples.json",)),
]
# --seeds N: a seed run per seed S and configuration, into OUT/seeds/CONFIG/seedS/ (its OUT):
# "tuned" with OUT/tuned_*.json copied there, "tables" without --params (Tables 4, 5 and 7).
SEED_RUN = [
    Step("refit_ae", ("ae.py", "--part", "refit", "--params", "OUT/tuned_ae.json"),
         ("tuned_ae.json",), ("ae.pt", "ae.json")),
    Step("classify", ("classify.py", "--seeds", "1", "--params", "OUT/tuned_classifier.json"),
         ("ae.pt", "tuned_classifier.json"), ("classify.json",)),
    Step("vae", ("vae.py", "--params", "OUT/tuned_vae.json"), ("tuned_vae.json",),
         ("vae.pt", "vae.json")),
    Step("explore", ("explore.py",), ("ae.pt", "vae.pt"), ("explore.json",)),
    Step("samples", ("-m", "beyond.samples"), ("ae.pt", "vae.pt"), ("samples.json",)),
]
# --studies N: study K (1 .. N-1) tunes again, with sampler seeds of its own (SEED + K x W
# onwards, W: --workers), then refits and measures its tuned values at SEED as a "tuned" seed
# run does, into OUT/studies/studyK/ (its OUT): only the tuning differs. Study 0 is the report.
STUDY_RUN = [step for step in REPORT if step.name.startswith("tune_")] + SEED_RUN
TUNED = ("tuned_ae.json", "tuned_classifier.json", "tuned_vae.json")
CONFIGS = ("tuned", "tables")
GPU_JOBS = 3  # the AE chain, the VAE chain and Adam against SGD share one GPU


def main(argv=None):
    stop.catch()  # from here on, Ctrl-C and SIGTERM reach every running step
    try:
        run = parse(argv, __doc__, REPORT + SEED_RUN, GPU_JOBS)  # every flag checked first
        with hold_lock(run.out) as run.lock:  # one run per folder, as long as it or a step lives
            clock = Clock(run.out / "times.tsv")
            run_steps(table_tasks(REPORT, run.out, run, run.seed, run.seed), run, clock)
            clock.wall("wall time")
            run_steps([module("summary", run)], run)
            say(f"done: {run.out}/summary.md")
            if run.seeds > 1 or run.studies > 1:
                tasks = (study_tasks(run) if run.studies > 1 else []) + (
                    seed_tasks(run) if run.seeds > 1 else [])  # 1: that folder is left alone
                run_steps(tasks, run, clock)
                clock.wall("wall time, seed runs and studies included")
                run_steps([module("seeds", run), module("summary", run, after=["seeds"])], run)
                say(f"done: {run.out}/seeds.md, {run.out}/summary.md")
    finally:
        stop.release()


def at(folder, command):
    """The command as a list of arguments, OUT/NAME as folder/NAME (which may hold any
    character)."""
    return [str(folder / word[4:]) if word.startswith("OUT/") else word for word in command]


def table_tasks(table, folder, run, tune_seed, seed, prefix="", times=None):
    """A table's steps as tasks into folder, named prefix + step; a tuning step runs --workers
    processes, worker i with --seed tune_seed + i - 1, every other step --seed seed."""
    tasks = []
    for step in table:
        command = at(folder, step.command) + run.flags
        seeds = [tune_seed + i for i in range(run.workers)] if command[0] == "tune.py" else [seed]
        tasks.append(Task(prefix + step.name,
                          [command + ["--seed", str(s), "--out-dir", str(folder)] for s in seeds],
                          folder, [prefix + name for name in after(step, table)],
                          times=times and (times[0], f"{times[1]}\t{step.name}")))
    return tasks


def module(name, run, after=()):
    """python -m scripts.NAME --out-dir OUT as a task: summary, seeds."""
    return Task(name, [["-m", f"scripts.{name}", "--out-dir", str(run.out)]], run.out, after)


def seed_tasks(run):
    """The seed runs' tasks. Old seed runs outside SEED .. SEED+N-1 go now; the tuned run at
    SEED is the report's own, copied; a whole run of these flags and tuned values is kept."""
    out, seeds_dir = run.out, run.out / "seeds"
    for old in sorted(seeds_dir.glob("*/seed*")):
        s = old.name.removeprefix("seed")
        if old.parent.name in CONFIGS and not (
                s.isdigit() and run.seed <= int(s) < run.seed + run.seeds):
            shutil.rmtree(old)
    for name in ("seeds.md", "seeds.json"):
        (out / name).unlink(missing_ok=True)
    tasks = []
    for s in range(run.seed, run.seed + run.seeds):  # seed by seed: stopped, both configurations
        for config in CONFIGS:
            folder = seeds_dir / config / f"seed{s}"
            if config == "tuned" and s == run.seed:  # exactly the report above: copy it
                fresh(folder, [out / f for f in TUNED + made_by(SEED_RUN)])
                (folder / "times.tsv").write_text("".join(f"{config}\t{s}\t{step.name}\treused\n"
                                                          for step in SEED_RUN))
                continue
            if whole(folder, SEED_RUN, run, config):
                say(f"kept    {folder}: a whole seed run of these flags")
                continue
            fresh(folder, [out / f for f in TUNED] if config == "tuned" else [])
            (folder / "flags.txt").write_text(lines(run.flags))
            table = SEED_RUN if config == "tuned" else [
                step._replace(command=tuple(without(step.command, "--params")))
                for step in SEED_RUN]
            tasks += table_tasks(table, folder, run, s, s, f"{config}/seed{s}/",
                                 times=(folder / "times.tsv", f"{config}\t{s}"))
    return tasks


def study_tasks(run):
    """The studies' tasks. Old studies past N-1 go now; study 0 is the report's own, copied;
    a whole study of these flags is kept."""
    studies = run.out / "studies"
    for old in studies.glob("study*"):
        if not (old.name[5:].isdigit() and int(old.name[5:]) < run.studies):
            shutil.rmtree(old)
    tasks = []
    for k in range(run.studies):
        folder = studies / f"study{k}"
        if k == 0:
            fresh(folder, [run.out / f for f in made_by(STUDY_RUN)])
        elif whole(folder, STUDY_RUN, run):
            say(f"kept    {folder}: a whole study of these flags")
        else:
            fresh(folder, [])
            (folder / "flags.txt").write_text(lines(run.flags))
            tasks += table_tasks(STUDY_RUN, folder, run, run.seed + k * run.workers, run.seed,
                                 f"study{k}/", times=(folder / "times.tsv", f"study{k}"))
    return tasks


def whole(folder, table, run, config="tables"):
    """A finished run of the table with these flags (and, for "tuned", these tuned values):
    every file its steps make is there, as steps side by side may end in any order."""
    return (all((folder / f).exists() for f in made_by(table) + ("flags.txt",))
            and (folder / "flags.txt").read_text() == lines(run.flags)
            and (config == "tables" or all(same_values(folder / f, run.out / f) for f in TUNED)))


def same_values(a, b):
    """Two tuned-value files hold the same values (their times may differ)."""
    try:
        return json.loads(a.read_text())["params"] == json.loads(b.read_text())["params"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def after(step, table):
    """The names of the steps of `table` that make what `step` needs."""
    return [other.name for other in table if set(other.makes) & set(step.needs)]


def made_by(table):
    return tuple(dict.fromkeys(f for step in table for f in step.makes))


def lines(flags):
    return "".join(f"{flag}\n" for flag in flags)


if __name__ == "__main__":
    main()
