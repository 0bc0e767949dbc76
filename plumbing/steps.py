"""Runs a table of steps side by side, each as soon as its inputs exist: what keeps
scripts/reproduce.py safe, and teaches nothing of the report.

What it keeps safe:
- Every flag is checked against every step's own parser, every seed it will give (tuning
  workers, seed runs) against 2**32, and the studies' storage against SQLite's longest
  path, before anything is written.
- A path is taken from the caller's folder (a default --out-dir too), as the steps run in
  the project's; a step's command is a list of arguments, so a path may hold any character.
- One run per folder: OUT/.reproduce.lock is locked (flock) by an open file that every step
  inherits, so the lock lasts as long as the run or any of its steps lives, and goes with the
  last of them however it ends. A second run into OUT is refused in one line.
- Ctrl-C and SIGTERM reach every running step (each in a process group of its own), each is
  waited for, and the run exits 130 or 143. A failing step starts no more steps and stops the
  others; its exit status is the run's (a step killed by signal N: 128 + N, as a shell says).
- Each process's whole output goes to OUT/logs/STEP.log; the console gets a line as a step
  starts and ends, and OUT/times.tsv its start, end and seconds. A console that goes away
  (`| head -n 1`) ends nothing: the steps go on.
"""
import argparse
import fcntl
import importlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from plumbing.cli import Parser, parse_args, positive_int

ROOT = Path(__file__).resolve().parent.parent  # the project's folder: every step runs there
SQLITE_MAX_PATH = 512  # bytes of a path SQLite opens (its MAX_PATHNAME), "-journal" included


# -----------------------------------------------------------------------------
# Flags: the run's own, and every other one checked against every step

def parse(argv, doc, table, gpu_jobs):
    """The run: flags for every step (less --seed and --out-dir), seeds, jobs, workers,
    threads, out (OUT) and seed (SEED); every flag is checked against every step of `table`
    first."""
    description, _, epilog = doc.partition("\n\n")  # the card's first paragraph, then the rest
    parser = Parser(prog="reproduce.py", description=description, epilog=epilog)
    parser.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                        help="then retrain every trained step for seeds SEED .. SEED+N-1 (SEED: "
                             "--seed), with the report's tables and with the tuned values, into "
                             "OUT/seeds/CONFIG/seedS/, and write OUT/seeds.md; a rerun keeps each "
                             "whole seed run (default: 1, the report only)")
    parser.add_argument("--studies", type=positive_int, default=1, metavar="N",
                        help="then tune N - 1 more times, each study K with sampler seeds of its "
                             "own, refit and measure its values into OUT/studies/studyK/, and "
                             "write the tuning noise into OUT/seeds.md; a rerun keeps each whole "
                             "study (default: 1, the report's study only)")
    parser.add_argument("--jobs", type=positive_int, metavar="N",
                        help="steps at once, seed runs too (a study's workers count as one; "
                             f"default: 1 on a CPU, {gpu_jobs} on a GPU). A step gets cores / N "
                             "threads; at --quick one, so that no number depends on --jobs")
    parser.add_argument("--workers", type=positive_int,
                        default=os.environ.get("WORKERS") or "1",  # empty: unset
                        metavar="W", help="tuning processes per study, one Optuna storage, "
                        "worker i with --seed SEED + i - 1; they share the study's trials "
                        "(default: $WORKERS, else 1)")
    own, flags = parser.parse_known_args(argv)
    flags = absolute_paths(flags)
    args = check_flags(flags, table)
    for count, what in ((own.workers, "tuning workers (--workers, WORKERS)"),
                        (own.seeds, "seed runs (--seeds)"),
                        (own.studies * own.workers, "studies x workers (--studies)")):
        if args.seed + count - 1 >= 2**32:
            raise SystemExit(f"error: --seed {args.seed} with {count} {what} gives the last one "
                             f"the seed {args.seed + count - 1}, past 2**32 - 1; use a --seed of "
                             f"at most {2**32 - count}")
    out = Path(args.out_dir).absolute()  # a default, outputs/ or outputs/quick/, from here too
    check_storage_path(out / "studies" / f"study{own.studies - 1}" if own.studies > 1 else out,
                       "OUT/studies/studyK/optuna.db" if own.studies > 1 else "OUT/optuna.db")
    jobs = own.jobs or (gpu_jobs if uses_gpu(args.device) else 1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = "1" if args.quick else os.environ.get("OMP_NUM_THREADS", str(max(1, cores // jobs)))
    if stop.signum:  # stopped during the flag check: nothing written
        raise SystemExit(128 + stop.signum)
    return argparse.Namespace(flags=without(flags, "--seed", "--out-dir"), seeds=own.seeds,
                              studies=own.studies,
                              jobs=jobs, workers=own.workers, threads=threads, out=out,
                              seed=args.seed)


def absolute_paths(flags):
    """--out-dir and --data-dir taken from the caller's folder, as the steps run in the
    project's (every step must accept a flag, so no other path flag reaches them)."""
    flags = list(flags)
    for i, flag in enumerate(flags):
        name, eq, value = flag.partition("=")
        if eq and name in ("--out-dir", "--data-dir"):
            flags[i] = f"{name}={absolute(value)}"
        elif i > 0 and flags[i - 1] in ("--out-dir", "--data-dir"):
            flags[i] = absolute(flag)
    return flags


def absolute(value):
    """The path from the caller's folder; an empty one as it is, for the step's check to refuse."""
    return str(Path(value).expanduser().absolute()) if value.strip() else value


def without(flags, *names):
    """flags less every NAME VALUE and NAME=VALUE of `names`."""
    kept, skip = [], False
    for flag in flags:
        if not skip and flag.partition("=")[0] not in names:
            kept.append(flag)
        skip = flag in names and not skip
    return kept


def check_flags(flags, table):
    """Every flag against the parser of every step, as the step will run, before anything is
    written: a mistyped flag stops here, not after the training of the step before. A step's
    parser is its module's build_parser(). Returns the first step's parsed flags."""
    checked = {}
    for step in table:
        words = without(step.command, "--params")  # its file is not there yet
        name, extra = (words[1], words[2:]) if words[0] == "-m" else (words[0][:-3], words[1:])
        if (name, *extra) not in checked:
            module = importlib.import_module(name)
            parser = module.build_parser()
            parser.prog = f"reproduce.py: {' '.join(words)}"
            checked[(name, *extra)] = parse_args(parser, module.QUICK, extra + flags)
    return next(iter(checked.values()))


def check_storage_path(out, name):
    """The studies share out/optuna.db (the steps take no --storage: ae.py would refuse it),
    and SQLite refuses a longer path than its limit: the first study would stop with
    "unable to open database file"."""
    size, most = len(os.fsencode(out / "optuna.db")), SQLITE_MAX_PATH - len("-journal")
    if size > most:
        raise SystemExit(f"error: --out-dir is too long for SQLite: the studies' storage, "
                         f"{name}, would be a path of {size} bytes, and SQLite opens at "
                         f"most {most}; choose a shorter --out-dir (tune.py on its own can keep "
                         "its study elsewhere, with --storage)")


def uses_gpu(device):
    import torch
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


# -----------------------------------------------------------------------------
# One run per folder, and the signals that stop it

def hold_lock(out):
    """OUT/.reproduce.lock, locked (flock), as an open file: every step inherits it, so the
    lock lasts as long as the run or any of its steps lives. A second run into OUT meanwhile
    is refused in one line."""
    from plumbing.files import out_dir
    path = out_dir(out) / ".reproduce.lock"
    try:
        lock = open(path, "a+")
    except OSError as e:  # a folder of that name, say
        raise SystemExit(f"error: cannot use {path} as the lock of one run per folder "
                         f"({e.strerror.lower()}); move it away, or choose another --out-dir")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise SystemExit(f"error: {out} is in use by another reproduce.py run (pid {holder}, "
                         "or a step it started); wait for it to end, or choose another --out-dir")
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


# -----------------------------------------------------------------------------
# Steps side by side: processes, logs, times

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
    """A step to run: its processes' commands (lists of arguments to python), where their
    logs go, the tasks it waits for, and where its seconds go (a seed run's times.tsv and its
    row's first cells; else OUT/times.tsv)."""

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
                code = next(c for c in codes if c)  # killed by signal N: -N (128 + N in a shell)
                task.status = 128 - code if code < 0 else code
                task.failed_log = task.logs[codes.index(code)]
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
    """The task's processes, each `python COMMAND` in the project's folder, in a process group
    of its own (signals come from run_steps), holding run.lock."""
    task.began = time.monotonic()
    env = {**os.environ, "OMP_NUM_THREADS": run.threads}
    for command, log in zip(task.commands, task.logs):
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as f:
            f.write(f"$ python {shlex.join(command)}\n")
            f.flush()
            task.procs.append(subprocess.Popen(
                [sys.executable, *command], cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, process_group=0, pass_fds=[run.lock.fileno()]))
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
        for line in task.failed_log.read_text(errors="replace").splitlines()[-15:]:
            say(f"    {line}", stamp=False)
    elif stopped:
        say(f"stopped {task.name}  after {seconds:.0f} s")
    else:
        say(f"done    {task.name}  {seconds:.0f} s")
        if task.times:
            with open(task.times[0], "a") as f:
                f.write(f"{task.times[1]}\t{seconds:.0f}\n")
        elif clock:
            clock.row(task.name, task.began, end)


def fresh(folder, copies):
    """An empty folder, then the files `copies` copied into it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in copies:
        shutil.copy(path, folder / path.name)


def say(text, stamp=True):
    """A console line. A console that went away (`| head -n 1`) stops no step: the lines
    after it go to /dev/null, as Python's documentation of SIGPIPE advises."""
    try:
        print(f"{time.strftime('%H:%M:%S')}  {text}" if stamp else text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        try:
            print("note: the console is closed; the run goes on, each step's output in its "
                  "log", file=sys.stderr, flush=True)
        except BrokenPipeError:  # stderr went with it (2>&1 | head)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
