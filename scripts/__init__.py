"""The whole report and what it found, each run as a module from the project's folder:

reproduce.py  every step of the report, side by side (python -m scripts.reproduce)
summary.py    the report's numbers beside ours, in OUT/summary.md (python -m scripts.summary)
seeds.py      both configurations over seeds, and the verdicts (python -m scripts.seeds)
seed_runs.py  the numbers of a seed run or a study, read from its folder, for seeds.py
"""
