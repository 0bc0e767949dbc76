"""The whole report, every table and figure, into outputs/ (outputs/quick/ with --quick), as the
report did it: each model trained with the values its own tuning found. The recipe is REPORT
below; outputs/summary.md puts the report's numbers beside ours at the end.

    python scripts/reproduce.py --quick       # a first look, every step on a tiny subset
    python scripts/reproduce.py               # the report's settings
    python scripts/reproduce.py --jobs 2      # two steps at once (see docs/speed.md)
    WORKERS=4 python scripts/reproduce.py --device cuda   # 4 workers a study, 3 steps at once
    python scripts/reproduce.py --seeds 3     # the above, then both configurations x 3 seeds

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
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the lessons, for the flag check


class Step(NamedTuple):
    name: str       # its log: OUT/logs/NAME.log
    command: str    # `python COMMAND FLAGS`, run in the project's folder; OUT: the output folder
    needs: tuple    # files it reads that other steps of its table write
    makes: tuple    # files it writes that a later step or a rerun looks for


# The report: two chains (the AE's, the VAE's) and Adam against SGD, then the latent spaces
REPORT = [
    Step("tune_ae", "tune.py ae", (), ("tuned_ae.json",)),
    Step("refit_ae", "ae.py --part refit --params OUT/tuned_ae.json",
         ("tuned_ae.json",), ("ae.pt", "ae.json")),
    Step("tune_classifier", "tune.py classifier", ("ae.pt",), ("tuned_classifier.json",)),
    Step("classify", "classify.py --params OUT/tuned_classifier.json",
         ("tuned_classifier.json",), ("classify.json",)),
    Step("tune_vae", "tune.py vae", (), ("tuned_vae.json",)),
    Step("vae", "vae.py --params OUT/tuned_vae.json", ("tuned_vae.json",), ("vae.pt", "vae.json")),
    Step("compare", "ae.py --part compare", (), ("ae.json",)),  # its own entry of ae.json
    Step("explore", "explore.py", ("ae.pt", "vae.pt"), ("explore.json",)),
    Step("samples", "-m beyond.samples", ("ae.pt", "vae.pt"), ("samples.json",)),
]
# --seeds N: one seed run, per seed S and configuration, into OUT/seeds/CONFIG/seedS/ (its
# OUT). "tuned" copies OUT/tuned_*.json there first; "tables" runs without --params (the
# report's Tables 4, 5 and 7).
SEED_RUN = [
    Step("refit_ae", "ae.py --part refit --params OUT/tuned_ae.json", (), ("ae.pt", "ae.json")),
    Step("classify", "classify.py --seeds 1 --params OUT/tuned_classifier.json",
         ("ae.pt",), ("classify.json",)),
    Step("vae", "vae.py --params OUT/tuned_vae.json", (), ("vae.pt", "vae.json")),
    Step("explore", "explore.py", ("ae.pt", "vae.pt"), ("explore.json",)),
    Step("samples", "-m beyond.samples", ("ae.pt", "vae.pt"), ("samples.json",)),
]
TUNED = ("tuned_ae.json", "tuned_classifier.json", "tuned_vae.json")
GPU_JOBS = 3  # the AE chain, the VAE chain and Adam against SGD share one GPU


def main(argv=None):
    stop.catch()  # from here on, Ctrl-C and SIGTERM reach every running step
    try:
        run = parse(sys.argv[1:] if argv is None else argv)  # every flag checked first
        if stop.signum:  # stopped during the flag check: nothing written
            raise SystemExit(128 + stop.signum)
        lock = hold_lock(run.out)  # one run per folder, for as long as this process lives
        clock = Clock(run.out / "times.tsv")
        run_steps(report_tasks(run), run, clock)
        clock.wall("wall time")
        run_steps([script("summary.py", run)], run)
        say(f"done: {run.out}/summary.md")
        if run.seeds > 1:
            run_steps(seed_tasks(run), run, clock)
            clock.wall("wall time, seed runs included")
            merge_seed_times(run.out)
            run_steps([script("seeds.py", run), script("summary.py", run, after=["seeds"])], run)
            say(f"done: {run.out}/seeds.md, {run.out}/summary.md")
        lock.close()
    finally:
        stop.release()


def report_tasks(run):
    """REPORT as tasks; a tuning step runs --workers processes, worker i --seed SEED + i - 1."""
    tasks = []
    for step in REPORT:
        command = step.command.replace("OUT", str(run.out)).split() + run.flags
        workers = run.workers if command[0] == "tune.py" else 1
        commands = [command + ["--seed", str(run.seed + i), "--out-dir", str(run.out)]
                    for i in range(workers)]
        tasks.append(Task(step.name, commands, run.out, after(step, REPORT)))
    return tasks


def script(name, run, after=()):
    """scripts/NAME --out-dir OUT as a task: summary.py, seeds.py."""
    return Task(name[:-3], [[f"scripts/{name}", "--out-dir", str(run.out)]], run.out, after)


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
                command = step.command.replace("OUT", str(folder)).split()
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


# -----------------------------------------------------------------------------
# Plumbing: flags, the lock, signals, and running steps side by side. A student may stop here.

import argparse
import ctypes
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time

CONFIGS = ("tuned", "tables")


def parse(argv):
    """The run: flags for every step (less --seed and --out-dir), seeds, jobs, workers,
    threads, out (OUT) and seed (SEED); every flag is checked against every step first."""
    from plumbing.cli import Parser, positive_int
    parser = Parser(prog="reproduce.py", description=__doc__.split("\n\n")[0],
                    epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                        help="then retrain every trained step for seeds SEED .. SEED+N-1 (SEED: "
                             "--seed), with the report's tables and with the tuned values, "
                             "into OUT/seeds/CONFIG/seedS/; scripts/seeds.py writes OUT/seeds.md. "
                             "A rerun keeps each seed run that finished with the same flags and "
                             "tuned values (default: 1, the report only)")
    parser.add_argument("--jobs", type=positive_int, metavar="N",
                        help="steps at once (a study's workers count as one), seed runs "
                             "too, each as soon as its inputs exist "
                             f"(default: 1 on a CPU; {GPU_JOBS} on a GPU, with --device cuda or "
                             "auto: the AE chain, the VAE chain and Adam against SGD each use a "
                             "small share of it). A step gets cores / N threads; at --quick one, "
                             "so that no number depends on --jobs")
    parser.add_argument("--workers", type=positive_int, default=os.environ.get("WORKERS", "1"),
                        metavar="W", help="tuning processes per study against one Optuna "
                        "storage, worker i with --seed SEED + i - 1 (its own sampler); they "
                        "stop at the study's trials between them, up to W - 1 more (default: "
                        "$WORKERS, else 1). SEED + W - 1 must be below 2**32: checked before "
                        "any step starts, never taken mod 2**32")
    own, flags = parser.parse_known_args(argv)
    flags = absolute_paths(flags)
    args = check_flags(flags)
    for count, what in ((own.workers, "tuning workers (--workers, WORKERS)"),
                        (own.seeds, "seed runs (--seeds)")):
        if args.seed + count - 1 >= 2**32:
            raise SystemExit(f"error: --seed {args.seed} with {count} {what} gives the last one "
                             f"the seed {args.seed + count - 1}, past 2**32 - 1; use a --seed of "
                             f"at most {2**32 - count}")
    jobs = own.jobs or (GPU_JOBS if uses_gpu(args.device) else 1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = "1" if args.quick else os.environ.get("OMP_NUM_THREADS", str(max(1, cores // jobs)))
    return argparse.Namespace(flags=without(flags, "--seed", "--out-dir"), seeds=own.seeds,
                              jobs=jobs, workers=own.workers, threads=threads,
                              out=ROOT / args.out_dir,  # a default is the project's outputs/
                              seed=args.seed)


def absolute_paths(flags):
    """Every path flag taken from the caller's folder, as the steps run in the project's."""
    flags = list(flags)
    paths = ("--out-dir", "--data-dir", "--params", "--checkpoint", "--storage")
    for i, flag in enumerate(flags):
        name, eq, value = flag.partition("=")
        if eq and name in paths:
            flags[i] = f"{name}={absolute(name, value)}"
        elif i > 0 and flags[i - 1] in paths:
            flags[i] = absolute(flags[i - 1], flag)
    return flags


def absolute(name, value):
    if not value.strip():  # empty: the step's check refuses it
        return value
    if name != "--storage":
        return str(Path(value).expanduser().absolute())
    if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(value.removeprefix("sqlite:///")).absolute())
    return value  # a database server's URL, not a path


def without(flags, *names):
    """flags less every NAME VALUE and NAME=VALUE of `names`."""
    kept, skip = [], False
    for flag in flags:
        if not skip and flag.partition("=")[0] not in names:
            kept.append(flag)
        skip = flag in names and not skip
    return kept


def lines(flags):
    return "".join(f"{flag}\n" for flag in flags)


def check_flags(flags):
    """Every flag against the parser of every step, as the step will run, before anything is
    written: a mistyped flag stops here, not after the training of the step before. Returns
    the first step's parsed flags."""
    import importlib
    from plumbing.cli import parse_args
    checked = {}
    for step in REPORT + SEED_RUN:
        words = without(step.command.split(), "--params")  # its file is not there yet
        name, extra = (words[1], words[2:]) if words[0] == "-m" else (words[0][:-3], words[1:])
        if (name, *extra) not in checked:
            module = importlib.import_module(name)
            parser = module.build_parser()
            parser.prog = f"reproduce.py: {' '.join(words)}"
            checked[(name, *extra)] = parse_args(parser, module.QUICK, extra + flags)
    return next(iter(checked.values()))


def uses_gpu(device):
    import torch
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def hold_lock(out):
    """OUT/.reproduce.lock, locked (flock) for as long as this process lives, however it ends:
    a second run into OUT meanwhile is refused in one line."""
    from plumbing.files import out_dir
    lock = open(out_dir(out) / ".reproduce.lock", "a+")  # not inherited by the steps
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise SystemExit(f"error: {out} is in use by another reproduce.py run (pid {holder}); "
                         "wait for it to end, or choose another --out-dir")
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


class Stop:
    """SIGINT and SIGTERM, noted here; run_steps forwards them to every running step."""
    signum = None

    def catch(self):
        self.signum = None
        self.saved = {s: signal.signal(s, self.note) for s in (signal.SIGINT, signal.SIGTERM)}

    def note(self, signum, frame):
        self.signum = self.signum or signum

    def release(self):
        for s, handler in self.saved.items():
            signal.signal(s, handler)


stop = Stop()


class Clock:
    """OUT/times.tsv: each step's start, end and seconds from the run's start; the wall time."""

    def __init__(self, path):
        self.path, self.t0 = path, time.monotonic()
        path.write_text("step\tstart\tend\tseconds\n")

    def row(self, name, start, end):  # start, end: time.monotonic()
        with open(self.path, "a") as f:
            f.write(f"{name}\t{start - self.t0:.1f}\t{end - self.t0:.1f}\t{end - start:.1f}\n")

    def wall(self, name):
        self.row(name, self.t0, time.monotonic())


class Task:
    """A step to run: its processes' commands, where their logs go, the tasks it waits for,
    and where its seconds go (a seed run's times.tsv and its row's first cells; else
    OUT/times.tsv)."""

    def __init__(self, name, commands, folder, after=(), times=None):
        self.name, self.commands, self.after, self.times = name, commands, set(after), times
        base = folder / "logs" / name.split("/")[-1]
        self.logs = [Path(f"{base}_worker{i + 1}.log" if i else f"{base}.log")
                     for i in range(len(commands))]
        self.procs, self.status, self.failed_log = [], None, None


def run_steps(tasks, run, clock=None):
    """Run the tasks, each once those it waits for have ended, up to run.jobs at once. The
    first failure or a signal starts no more: every running step gets the signal (SIGTERM for
    a failure) and is waited for. Exit status: the failing step's own, or 128 + the signal."""
    waiting, running, ended, failed = list(tasks), [], set(), None
    while (waiting or running) and failed is None and not stop.signum:
        for task in [t for t in waiting if t.after <= ended][:run.jobs - len(running)]:
            waiting.remove(task)
            running.append(start(task, run))
        time.sleep(0.05)
        for task in list(running):
            codes = [p.poll() for p in task.procs]
            if any(codes) and task.status is None:  # its first failure is its status
                i = next(i for i, c in enumerate(codes) if c)
                task.status, task.failed_log = exit_status(codes[i]), task.logs[i]
                failed = failed or task
            if None not in codes:
                running.remove(task)
                ended.add(task.name)
                report(task, clock)
    for task in running:
        for p in task.procs:
            if p.poll() is None:
                os.killpg(p.pid, stop.signum or signal.SIGTERM)
    for task in running:
        for p in task.procs:
            p.wait()
        report(task, clock, stopped=task is not failed)
    if stop.signum:
        say(f"stopped by {signal.Signals(stop.signum).name}; no step is running")
        raise SystemExit(128 + stop.signum)
    if failed is not None:
        raise SystemExit(failed.status)


def start(task, run):
    task.began = time.monotonic()
    env = {**os.environ, "OMP_NUM_THREADS": run.threads}
    for command, log in zip(task.commands, task.logs):
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as f:
            f.write(f"$ python {' '.join(command)}\n")
            f.flush()
            task.procs.append(subprocess.Popen(  # its own process group: signals come from here
                [sys.executable, *command], cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, process_group=0, preexec_fn=die_with_parent))
    workers = f" ({len(task.procs)} workers)" if len(task.procs) > 1 else ""
    say(f"start   {task.name}{workers}  pid {' '.join(str(p.pid) for p in task.procs)}  "
        f"log {task.logs[0]}")
    return task


def report(task, clock, stopped=False):
    """The line of a task that ended, and its seconds; a failing one's log tail."""
    end = time.monotonic()
    seconds = end - task.began
    if task.status and not stopped:
        say(f"FAILED  {task.name}  exit {task.status} after {seconds:.0f} s; its log ends:")
        tail = task.failed_log.read_text(errors="replace").splitlines()[-15:]
        print("\n".join(f"    {line}" for line in tail), flush=True)
    elif stopped:
        say(f"stopped {task.name}  after {seconds:.0f} s")
    else:
        say(f"done    {task.name}  {seconds:.0f} s")
        if task.times:
            with open(task.times[0], "a") as f:
                f.write(f"{task.times[1]}\t{seconds:.0f}\n")
        elif clock:
            clock.row(task.name, task.began, end)


def exit_status(code):
    return 128 - code if code < 0 else code  # -15: killed by SIGTERM, 143 as a shell says


def fresh(folder, copies):
    """An empty folder, then the files `copies` copied into it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in copies:
        shutil.copy(path, folder / path.name)


def merge_seed_times(out):
    """OUT/seeds/times.tsv: every seed run's seconds, for scripts/seeds.py."""
    rows = [(folder / "times.tsv").read_text() for config in CONFIGS
            for folder in sorted((out / "seeds" / config).glob("seed*"),
                                 key=lambda f: int(f.name[4:]))
            if (folder / "times.tsv").exists()]
    (out / "seeds" / "times.tsv").write_text("config\tseed\tstep\tseconds\n" + "".join(rows))


LIBC = ctypes.CDLL(None) if sys.platform == "linux" else None


def die_with_parent():
    """Linux: a step gets SIGTERM when the orchestrator dies, even of SIGKILL."""
    if LIBC is not None:
        LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def say(text):
    print(f"{time.strftime('%H:%M:%S')}  {text}", flush=True)


if __name__ == "__main__":
    main()
