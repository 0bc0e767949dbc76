"""Beyond the report: experiments the report does not make, each in a file of its own.

judge.py   how good are random samples? A small CNN judge, the Frechet distance, and a
           mixture of Gaussians fitted to the AE's codes (explore.py calls it: the third
           claim of section 3.4)
labels.py  what pretraining buys when labels are few (run on its own:
           python -m beyond.labels)
"""
