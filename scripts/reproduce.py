"""The whole report, every table and figure, into outputs/ (outputs/quick/ with --quick), as the
report did it: each model trained with the values its own tuning found. The recipe is REPORT
below; outputs/summary.md puts the report's numbers beside ours at the end.

    python -m scripts.reproduce --quick       # a first look, every step on a tiny subset
    python -m scripts.reproduce               # the report's settings
    python -m scripts.reproduce --jobs 2      # two steps at once (see docs/speed.md)
    WORKERS=4 python -m scripts.reproduce --device cuda   # 4 workers a study, 3 steps at once
    python -m scripts.reproduce --seeds 3     # the above, then both configurations x 3 seeds

A step starts as soon as the steps that make its inputs have ended, up to --jobs at once. Its
whole output goes to OUT/logs/STEP.log; the console shows a line as it starts and as it ends,
and the end of its log if it fails. OUT/times.tsv holds each step's start, end and seconds,
counted from the run's start, and the run's wall time.

Every other flag goes to every step: use the common ones (--quick, --device, --seed,
--data-dir, --out-dir, --subset). Each is checked against every step before anything is
written, and a path is taken from the folder you run this in. One run at a time writes to a
folder: a second is refused. Ctrl-C or SIGTERM stop every running step, and the run exits 130
or 143; a failing step stops the others, and its exit status is the run's.
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
# --seeds N: one seed run, per seed S and configuration, into OUT/seeds/CONFIG/seedS/ (its
# OUT). "tuned" copies OUT/tuned_*.json there first; "tables" runs without --params (the
# report's Tables 4, 5 and 7).
SEED_RUN = [
    Step("refit_ae", ("ae.py", "--part", "refit", "--params", "OUT/tuned_ae.json"),
         (), ("ae.pt", "ae.json")),
    Step("classify", ("classify.py", "--seeds", "1", "--params", "OUT/tuned_classifier.json"),
         ("ae.pt",), ("classify.json",)),
    Step("vae", ("vae.py", "--params", "OUT/tuned_vae.json"), (), ("vae.pt", "vae.json")),
    Step("explore", ("explore.py",), ("ae.pt", "vae.pt"), ("explore.json",)),
    Step("samples", ("-m", "beyond.samples"), ("ae.pt", "vae.pt"), ("samples.json",)),
]
TUNED = ("tuned_ae.json", "tuned_classifier.json", "tuned_vae.json")
CONFIGS = ("tuned", "tables")
GPU_JOBS = 3  # the AE chain, the VAE chain and Adam against SGD share one GPU


def main(argv=None):
    stop.catch()  # from here on, Ctrl-C and SIGTERM reach every running step
    try:
        run = parse(argv, __doc__, REPORT + SEED_RUN, GPU_JOBS)  # every flag checked first
        with hold_lock(run.out) as run.lock:  # one run per folder, as long as it or a step lives
            clock = Clock(run.out / "times.tsv")
            run_steps(report_tasks(run), run, clock)
            clock.wall("wall time")
            run_steps([module("summary", run)], run)
            say(f"done: {run.out}/summary.md")
            if run.seeds > 1:
                run_steps(seed_tasks(run), run, clock)
                clock.wall("wall time, seed runs included")
                merge_seed_times(run.out)
                run_steps([module("seeds", run), module("summary", run, after=["seeds"])], run)
                say(f"done: {run.out}/seeds.md, {run.out}/summary.md")
    finally:
        stop.release()


def at(folder, command):
    """The command as a list of arguments, OUT/NAME as the path folder/NAME: a folder's name
    may hold spaces, quotes, any character."""
    return [str(folder / word[4:]) if word.startswith("OUT/") else word for word in command]


def report_tasks(run):
    """REPORT as tasks; a tuning step runs --workers processes, worker i --seed SEED + i - 1."""
    tasks = []
    for step in REPORT:
        command = at(run.out, step.command) + run.flags
        workers = run.workers if command[0] == "tune.py" else 1
        commands = [command + ["--seed", str(run.seed + i), "--out-dir", str(run.out)]
                    for i in range(workers)]
        tasks.append(Task(step.name, commands, run.out, after(step, REPORT)))
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
            if whole(folder, config, run):
                say(f"kept    {folder}: a whole seed run of these flags")
                continue
            fresh(folder, [out / f for f in TUNED] if config == "tuned" else [])
            (folder / "flags.txt").write_text(lines(run.flags))
            for step in SEED_RUN:
                command = at(folder, step.command)
                if config == "tables":
                    command = without(command, "--params")
                command += run.flags + ["--seed", str(s), "--out-dir", str(folder)]
                tasks.append(Task(f"{config}/seed{s}/{step.name}", [command], folder,
                                  [f"{config}/seed{s}/{a}" for a in after(step, SEED_RUN)],
                                  times=(folder / "times.tsv", f"{config}\t{s}\t{step.name}")))
    return tasks


def whole(folder, config, run):
    """A finished seed run of these flags (and, for "tuned", these tuned values): every file
    its steps make is there, as steps side by side may end in any order."""
    if not all((folder / f).exists() for f in made_by(SEED_RUN) + ("flags.txt",)):
        return False
    if (folder / "flags.txt").read_text() != lines(run.flags):
        return False
    return config == "tables" or all(same_values(folder / f, run.out / f) for f in TUNED)


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


def merge_seed_times(out):
    """OUT/seeds/times.tsv: every seed run's seconds, for scripts.seeds."""
    rows = [(folder / "times.tsv").read_text() for config in CONFIGS
            for folder in sorted((out / "seeds" / config).glob("seed*"),
                                 key=lambda f: int(f.name[4:]))
            if (folder / "times.tsv").exists()]
    (out / "seeds" / "times.tsv").write_text("config\tseed\tstep\tseconds\n" + "".join(rows))


def lines(flags):
    return "".join(f"{flag}\n" for flag in flags)


if __name__ == "__main__":
    main()
